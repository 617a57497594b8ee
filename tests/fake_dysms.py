"""A fake Alibaba Cloud SMS (dysms, API 2017-05-25) server on loopback for the real SDK.

The SDK (alibabacloud_dysmsapi20170525, ACS3 signature) POSTs to "/": the action is in the
`x-acs-action` header, SendSms puts its parameters in the query string, SendBatchSms puts
TemplateCode in the query string and the *Json parameters in a form body. A non-"OK" Code is
answered with HTTP 200, as Alibaba does. Every request is recorded; tests tell the fake which
Code to answer per phone number or for the next calls, and can delay a reply (a timeout after
the request was received) or answer with an HTTP error.
"""
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

MOBILE = re.compile(r"^1[3-9]\d{9}$")
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
MESSAGES = {
    "OK": "OK",
    "isv.BUSINESS_LIMIT_CONTROL": "触发号码天级流控Permits:10",
    "isv.MOBILE_NUMBER_ILLEGAL": "非法手机号",
    "isv.TEMPLATE_MISSING_PARAMETERS": "模板变量缺少对应参数值",
    "isv.AMOUNT_NOT_ENOUGH": "账户余额不足",
    "isv.SMS_TEMPLATE_ILLEGAL": "该账号下找不到对应模板",
    "isv.SMS_SIGNATURE_ILLEGAL": "该账号下找不到对应签名",
}


@dataclass
class FakeRequest:
    action: str
    params: dict
    headers: dict
    biz_id: str = None
    code: str = None

    @property
    def phones(self):
        if self.action == "SendBatchSms":
            return json.loads(self.params.get("PhoneNumberJson", "[]"))
        return [p for p in self.params.get("PhoneNumbers", "").split(",") if p]

    @property
    def template_params(self):
        if self.action == "SendBatchSms":
            return json.loads(self.params.get("TemplateParamJson", "[]"))
        return [json.loads(self.params.get("TemplateParam") or "{}")]


@dataclass
class _Override:
    code: str = "OK"
    delay: float = 0.0
    http_status: int = 200


@dataclass
class FakeDysms:
    """Start with `with FakeDysms() as fake:`; point the SDK at `fake.endpoint` over HTTP."""
    templates: dict = field(default_factory=dict)  # provider template code -> text with ${...}
    requests: list = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._next = []  # overrides for the next calls, in order
        self._by_phone = {}  # phone -> Code answered whenever that number is in a request
        self._ids = itertools.count(1)
        self._server = None

    # --- control ---------------------------------------------------------
    def answer(self, code, phone=None, times=1, delay=0.0, http_status=200):
        """Answer `code` for `phone` (always), or for the next `times` calls."""
        with self._lock:
            if phone is not None:
                self._by_phone[phone] = code
            else:
                self._next.extend(_Override(code, delay, http_status) for _ in range(times))

    def register_template(self, provider_code, text):
        self.templates[provider_code] = text

    def calls(self, action=None):
        with self._lock:
            return [r for r in self.requests if action is None or r.action == action]

    def sent_to(self, phone):
        """How many requests carried this number (what the customer's phone would receive if OK)."""
        return sum(r.phones.count(phone) for r in self.calls())

    def report_for(self, request, phone=None, success=True, err_code=None, err_msg=None,
                   report_time="2026-11-25 10:00:05"):
        """The SmsReport item Alibaba would push for one number of a recorded request."""
        phone = phone or request.phones[0]
        return {"phone_number": phone, "send_time": "2026-11-25 10:00:00", "report_time": report_time,
                "success": success, "err_code": err_code or ("DELIVERED" if success else "MK:0001"),
                "err_msg": err_msg or ("用户接收成功" if success else "用户关机"),
                "sms_size": "1", "biz_id": request.biz_id, "out_id": request.params.get("OutId")}

    # --- server ----------------------------------------------------------
    @property
    def endpoint(self):
        return f"127.0.0.1:{self._server.server_port}"

    def __enter__(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
                if "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
                    params.update(parse_qsl(body, keep_blank_values=True))
                status, reply, delay = fake._handle(self.headers.get("x-acs-action"), params,
                                                    dict(self.headers))
                if delay:
                    time.sleep(delay)
                data = json.dumps(reply, ensure_ascii=False).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (read timeout): the request still counts

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-dysms").start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, action, params, headers):
        request = FakeRequest(action, params, headers)
        with self._lock:
            self.requests.append(request)
            override = self._next.pop(0) if self._next else None
            by_phone = next((self._by_phone[p] for p in request.phones if p in self._by_phone), None)
        request_id = str(uuid.uuid4()).upper()
        if override and override.http_status != 200:
            request.code = "ServiceUnavailable" if override.http_status >= 500 else "Forbidden.RAM"
            return override.http_status, {"Code": request.code, "Message": "fake HTTP error",
                                          "RequestId": request_id}, override.delay
        if action not in ("SendSms", "SendBatchSms"):
            request.code = "InvalidAction.NotFound"
            return 404, {"Code": request.code, "Message": action, "RequestId": request_id}, 0
        code = (override.code if override else None) or by_phone or self._validate(request)
        request.code = code
        reply = {"Code": code, "Message": MESSAGES.get(code, code), "RequestId": request_id}
        if code == "OK":
            request.biz_id = f"{next(self._ids):012d}^0"
            reply["BizId"] = request.biz_id
        return 200, reply, override.delay if override else 0

    def _validate(self, request):
        """What Alibaba itself checks: numbers, the template's variables."""
        if not request.phones or any(not MOBILE.match(p) for p in request.phones):
            return "isv.MOBILE_NUMBER_ILLEGAL"
        if request.action == "SendBatchSms":
            signs = json.loads(request.params.get("SignNameJson", "[]"))
            if len(signs) != len(request.phones) or len(request.template_params) != len(request.phones):
                return "isv.INVALID_JSON_PARAM"
            if len(request.phones) > 100:
                return "isv.BATCH_LIMIT_CONTROL"
        text = self.templates.get(request.params.get("TemplateCode"))
        if text is not None:
            needed = set(PLACEHOLDER.findall(text))
            for values in request.template_params:
                if not needed <= set(values) or not all(isinstance(v, str) for v in values.values()):
                    return "isv.TEMPLATE_MISSING_PARAMETERS"
        return "OK"
