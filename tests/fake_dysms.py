"""A fake Alibaba Cloud SMS (dysms, API 2017-05-25) server on loopback for the real SDK.

The SDK (alibabacloud_dysmsapi20170525, ACS3 signature) POSTs to "/": the action is in the
`x-acs-action` header, SendSms puts its parameters in the query string, SendBatchSms puts
TemplateCode in the query string and the *Json parameters in a form body. A non-"OK" Code is
answered with HTTP 200, as Alibaba does. Every request is recorded; tests tell the fake which
Code to answer per phone number or for the next calls, and can delay a reply (a timeout after
the request was received) or answer with an HTTP error.

QuerySendDetails (PhoneNumber, SendDate yyyyMMdd, PageSize at most 50, CurrentPage, BizId optional)
answers from what the fake accepted (Code OK) in the real shape: TotalCount and
SmsSendDetailDTOs.SmsSendDetailDTO with PhoneNum, SendStatus (1 waiting, 2 failed, 3 delivered),
ErrCode, TemplateCode, Content, SendDate, ReceiveDate, OutId. Queries are kept in `queries`, apart
from the sends in `requests`. reports() are the SmsReport items Alibaba would push for what it
accepted; push_reports() posts them to the portal's /sms/report (a URL, or a callable such as a test
client's post).
"""
import itertools
import json
import re
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

ZONE = ZoneInfo("Asia/Shanghai")  # Alibaba's dates are China time
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
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
    at: datetime = None  # when the fake received it (China time, naive)

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
        self.queries = []  # QuerySendDetails calls: their parameters
        self._outcomes = {}  # phone -> (SendStatus, ErrCode) of what it accepted for that number
        self._pushed = set()  # (id(request), phone) whose receipt push_reports() posted

    # --- control ---------------------------------------------------------
    def answer(self, code, phone=None, times=1, delay=0.0, http_status=200):
        """Answer `code` for `phone` (always), or for the next `times` calls."""
        with self._lock:
            if phone is not None:
                self._by_phone[phone] = code
            else:
                self._next.extend(_Override(code, delay, http_status) for _ in range(times))

    def delivery(self, phone, send_status=3, err_code=None):
        """What QuerySendDetails and reports() say happened to the SMS accepted for `phone`:
        3 delivered (the default), 2 failed (err_code, e.g. MK:0001), 1 waiting for the receipt."""
        with self._lock:
            self._outcomes[phone] = (send_status, err_code)

    def received_by(self, phone):
        """How many SMS the fake accepted (Code OK) for this number: what the phone really got."""
        return sum(r.phones.count(phone) for r in self.calls() if r.code == "OK")

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

    def reports(self, only_new=True):
        """The SmsReport items for every number of every accepted request whose SMS is no longer
        waiting (SendStatus 2 or 3); only_new: those push_reports() has not posted yet."""
        items = []
        for request in self.calls():
            if request.code != "OK":
                continue
            for phone in request.phones:
                status, err_code = self._outcome(phone)
                if status == 1 or (only_new and (id(request), phone) in self._pushed):
                    continue
                item = self.report_for(request, phone, success=status == 3, err_code=err_code,
                                       report_time=(request.at + timedelta(seconds=3)).strftime(TIME_FORMAT))
                item["send_time"] = request.at.strftime(TIME_FORMAT)
                items.append((id(request), phone, item))
        return items

    def push_reports(self, target):
        """Post the new receipts as Alibaba does (one JSON array) to `target`: a URL or a callable
        taking the list (e.g. lambda items: client.post("/sms/report", json=items)). Returns the
        answer (parsed JSON) or None when there was nothing to push."""
        found = self.reports()
        if not found:
            return None
        items = [item for _key, _phone, item in found]
        if callable(target):
            answer = target(items)
            answer = answer.get_json() if hasattr(answer, "get_json") else answer
        else:
            data = json.dumps(items, ensure_ascii=False).encode("utf-8")
            post = urllib.request.Request(target, data=data, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(post, timeout=10) as reply:
                answer = json.loads(reply.read())
        if isinstance(answer, dict) and answer.get("code") == 0:
            with self._lock:
                self._pushed.update((key, phone) for key, phone, _item in found)
        return answer

    def _outcome(self, phone):
        with self._lock:
            return self._outcomes.get(phone, (3, None))

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
        if action == "QuerySendDetails":
            return self._query(params)
        request = FakeRequest(action, params, headers, at=datetime.now(ZONE).replace(tzinfo=None, microsecond=0))
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

    def _query(self, params):
        """QuerySendDetails, answered from the requests this fake accepted."""
        request_id = str(uuid.uuid4()).upper()
        with self._lock:
            self.queries.append(dict(params))
            override = self._next.pop(0) if self._next else None
        if override and override.http_status != 200:
            code = "ServiceUnavailable" if override.http_status >= 500 else "Forbidden.RAM"
            return override.http_status, {"Code": code, "Message": "fake HTTP error", "RequestId": request_id}, \
                override.delay
        delay = override.delay if override else 0
        if override and override.code != "OK":  # a refusal: HTTP 200 and another Code, as Alibaba does
            return 200, {"Code": override.code, "Message": MESSAGES.get(override.code, override.code),
                         "RequestId": request_id}, delay
        phone, day = params.get("PhoneNumber", ""), params.get("SendDate", "")
        try:
            size, page = int(params.get("PageSize", "")), int(params.get("CurrentPage", ""))
        except ValueError:
            size = page = 0
        if not MOBILE.match(phone):
            return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": MESSAGES["isv.MOBILE_NUMBER_ILLEGAL"],
                         "RequestId": request_id}, delay
        if not re.fullmatch(r"\d{8}", day) or not 1 <= size <= 50 or page < 1:
            return 200, {"Code": "isv.INVALID_PARAMETERS", "Message": "参数异常", "RequestId": request_id}, delay
        details = []
        for request in self.calls():
            if request.code != "OK" or request.at.strftime("%Y%m%d") != day or phone not in request.phones:
                continue
            if params.get("BizId") and params["BizId"] != request.biz_id:
                continue
            index = request.phones.index(phone)
            status, err_code = self._outcome(phone)
            template = self.templates.get(request.params.get("TemplateCode"), "")
            values = request.template_params[index] if index < len(request.template_params) else {}
            details.append({
                "PhoneNum": phone, "SendStatus": status,
                "ErrCode": err_code or ("DELIVERED" if status == 3 else "MK:0001" if status == 2 else ""),
                "TemplateCode": request.params.get("TemplateCode"),
                "Content": PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), template),
                "SendDate": request.at.strftime(TIME_FORMAT),
                "ReceiveDate": (request.at + timedelta(seconds=3)).strftime(TIME_FORMAT) if status != 1 else "",
                "OutId": request.params.get("OutId")})
        details.sort(key=lambda d: d["SendDate"], reverse=True)  # newest first, as Alibaba lists them
        shown = details[(page - 1) * size:page * size]
        return 200, {"Code": "OK", "Message": "OK", "RequestId": request_id, "TotalCount": len(details),
                     "SmsSendDetailDTOs": {"SmsSendDetailDTO": shown}}, delay
