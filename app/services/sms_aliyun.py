"""The Alibaba Cloud SMS backend (dysmsapi 2017-05-25) through the official SDK.

Reply Codes map to our statuses: "OK" -> SENT; flow control -> FLOW_CONTROLLED (the beat job
retries later with backoff); any other Code -> FAILED with Code and Message kept. Alibaba's
SendSms is not idempotent, so transport errors are split by whether the request could have
reached Alibaba:
- the connection was never made (refused, DNS, connect timeout): nothing was sent -> RETRY;
- anything later (read timeout, connection dropped, HTTP 5xx, unreadable reply): the SMS may
  have gone out -> FAILED with provider_code UNKNOWN_RESULT, never resent automatically. An
  operator sees it in the admin; a delivery receipt that arrives later still settles it.

lookup() settles such unknown results from Alibaba's own record: QuerySendDetails by phone and
send day (yyyyMMdd, China time), pages of 50, matched by OutId (every SendSms carries the message's
out_id, every SendBatchSms its call's). Any failure to read that record (transport error, flow
control, another Code, which also comes as HTTP 200) proves nothing: the message stays unknown.
"""
import json
import threading

from alibabacloud_dysmsapi20170525 import models as dysms
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions

from app.services.errors import DomainError
from app.services.sms_backend import Finding, SendResult, params_json

UNKNOWN_RESULT = "UNKNOWN_RESULT"
CONNECT_ERROR = "CONNECT_ERROR"
# Codes meaning "not now": the request was refused before sending, so a later retry is safe.
FLOW_CONTROL_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "Throttling.Api",
                      "Throttling.AllocationQuota", "ServiceUnavailable.Throttling"}
_clients = threading.local()
QUERY_PAGE_SIZE = 50  # QuerySendDetails' largest page
QUERY_MAX_PAGES = 10  # 500 messages to one number in one day: beyond that we say "not checked"
PROVIDER_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class _QueryStopped(Exception):
    """The provider's record cannot be read now (down, slow, flow control): stop this run."""


class _QueryRefused(Exception):
    """A Code other than OK for this one query: this message stays unchecked."""


def _provider_time(value):
    from datetime import datetime

    try:
        return datetime.strptime(str(value), PROVIDER_TIME_FORMAT) if value else None
    except ValueError:
        return None


def finding_for(dto) -> Finding:
    """SmsSendDetailDTO -> Finding: SendStatus 1 waiting for a receipt, 2 failed, 3 delivered."""
    try:
        send_status = int(dto.send_status)
    except (TypeError, ValueError):
        send_status = 1
    status = {3: "DELIVERED", 2: "UNDELIVERED"}.get(send_status, "SENT")
    return Finding(status, (dto.err_code or None) if send_status in (2, 3) else None,
                   _provider_time(dto.send_date), _provider_time(dto.receive_date) if send_status in (2, 3) else None)


def result_for_code(code, message=None, biz_id=None, request_id=None) -> SendResult:
    if code == "OK":
        return SendResult("SENT", code, message, biz_id or None, request_id)
    status = "FLOW_CONTROLLED" if code in FLOW_CONTROL_CODES else "FAILED"
    return SendResult(status, code, message, None, request_id)


def _chain(exc):
    """The exception, the SDK's wrapped inner exception and their causes, outermost first."""
    seen, todo = [], [exc]
    while todo:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen) or not isinstance(item, BaseException):
            continue
        seen.append(item)
        todo += [getattr(item, "inner_exception", None), item.__cause__, item.__context__,
                 getattr(item, "reason", None)]
        todo += [a for a in getattr(item, "args", ()) if isinstance(a, BaseException)]
    return seen


def _never_connected(chain) -> bool:
    from requests.exceptions import ConnectTimeout
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    return any(isinstance(e, (ConnectTimeout, ConnectTimeoutError, NewConnectionError)) for e in chain)


def result_for_exception(exc) -> SendResult:
    chain = _chain(exc)
    for item in chain:
        if isinstance(item, ThrottlingException):
            return SendResult("FLOW_CONTROLLED", item.code, str(item.message)[:255], None, item.request_id)
        if isinstance(item, ClientException):  # HTTP 4xx: Alibaba answered and refused
            return result_for_code(item.code, str(item.message)[:255], None, item.request_id)
        if isinstance(item, ServerException):  # HTTP 5xx: may or may not have been processed
            return SendResult("FAILED", UNKNOWN_RESULT, f"HTTP {item.status_code} {item.code}"[:255],
                              None, item.request_id)
    if _never_connected(chain):
        return SendResult("RETRY", CONNECT_ERROR, _describe(chain))
    return SendResult("FAILED", UNKNOWN_RESULT, _describe(chain))


def _describe(chain):
    inner = chain[-1] if chain else None
    return f"{type(inner).__name__}: {inner}"[:255]


class AliyunBackend:
    def __init__(self, client, sign_name, runtime=None):
        self.client, self.sign_name = client, sign_name
        self.runtime = runtime or RuntimeOptions()

    @classmethod
    def from_config(cls, config):
        key_id, secret = config.get("ALIYUN_ACCESS_KEY_ID"), config.get("ALIYUN_ACCESS_KEY_SECRET")
        if not key_id or not secret:
            raise DomainError("sms_aliyun_not_configured")
        settings = (key_id, secret, config["ALIYUN_SMS_ENDPOINT"], config["ALIYUN_SMS_PROTOCOL"],
                    int(config.get("ALIYUN_SMS_CONNECT_TIMEOUT_MS", 5000)),
                    int(config.get("ALIYUN_SMS_READ_TIMEOUT_MS", 10000)))
        cache = getattr(_clients, "cache", None)
        if cache is None:
            cache = _clients.cache = {}
        client = cache.get(settings)
        if client is None:
            # No retry_options: the SDK then never retries on its own (SendSms is not idempotent).
            client = cache[settings] = Client(Config(
                access_key_id=key_id, access_key_secret=secret, endpoint=settings[2],
                protocol=settings[3], connect_timeout=settings[4], read_timeout=settings[5]))
        return cls(client, config["SMS_SIGN_NAME"])

    def send(self, message, template) -> SendResult:
        request = dysms.SendSmsRequest(
            phone_numbers=message.phone, sign_name=self.sign_name,
            template_code=template.provider_template_code,
            template_param=params_json(message.params), out_id=message.out_id)
        return self._call(lambda: self.client.send_sms_with_options(request, self.runtime))

    def send_batch(self, messages, template, out_id=None) -> SendResult:
        """One SendBatchSms call (at most 100 numbers, one template): one Code for the whole call."""
        request = dysms.SendBatchSmsRequest(
            phone_number_json=json.dumps([m.phone for m in messages]),
            sign_name_json=json.dumps([self.sign_name] * len(messages), ensure_ascii=False),
            template_code=template.provider_template_code,
            template_param_json=json.dumps([{k: str(v) for k, v in m.params.items()} for m in messages],
                                           ensure_ascii=False),
            out_id=out_id)
        return self._call(lambda: self.client.send_batch_sms_with_options(request, self.runtime))

    def lookup(self, lookups) -> dict:
        """{message id: Finding, or None when Alibaba's record of those days has no such OutId for
        that phone}. A message missing from the answer could not be checked (try again later)."""
        found, pages = {}, {}
        for item in lookups:
            try:
                details = []
                for day in item.days:
                    key = (item.phone, day)
                    if key not in pages:
                        pages[key] = self._details(item.phone, day)
                    details.extend(pages[key])
            except _QueryRefused:
                continue
            except _QueryStopped:
                break
            if details is None or any(d is None for d in details):
                continue  # more pages than we read: absence proves nothing
            match = [d for d in details if d.out_id in item.out_ids and
                     (d.phone_num or item.phone) == item.phone]
            found[item.message_id] = finding_for(_best(match)) if match else None
        return found

    def _details(self, phone, day) -> list:
        """Every SmsSendDetailDTO of one phone and day; a trailing None when there were more pages."""
        details = []
        for page in range(1, QUERY_MAX_PAGES + 1):
            request = dysms.QuerySendDetailsRequest(phone_number=phone, send_date=day.strftime("%Y%m%d"),
                                                    page_size=QUERY_PAGE_SIZE, current_page=page)
            try:
                response = self.client.query_send_details_with_options(request, self.runtime)
            except Exception as exc:
                result = result_for_exception(exc)
                if result.status == "FAILED" and result.code not in (UNKNOWN_RESULT, CONNECT_ERROR):
                    raise _QueryRefused(result.code) from exc  # an HTTP 4xx about this query
                raise _QueryStopped(result.code) from exc
            body = response.body
            code = body.code if body is not None else None
            if code != "OK":  # Alibaba answers refusals with HTTP 200 and another Code
                if code is None or code in FLOW_CONTROL_CODES:
                    raise _QueryStopped(code)
                raise _QueryRefused(code)
            rows = body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else []
            details.extend(rows or [])
            try:
                total = int(body.total_count or 0)
            except (TypeError, ValueError):
                total = 0
            if len(rows or []) < QUERY_PAGE_SIZE or page * QUERY_PAGE_SIZE >= total:
                return details
        return details + [None]

    @staticmethod
    def _call(call) -> SendResult:
        try:
            response = call()
        except Exception as exc:  # the SDK wraps every failure; classify what could have been sent
            return result_for_exception(exc)
        body = response.body
        if body is None or not body.code:
            return SendResult("FAILED", UNKNOWN_RESULT, f"HTTP {response.status_code} without Code")
        return result_for_code(body.code, (body.message or "")[:255], body.biz_id, body.request_id)


def _best(details):
    """Of several records of one OutId and phone (a batch with the number twice), the most settled."""
    rank = {3: 2, 2: 1}
    return max(details, key=lambda d: rank.get(_int(d.send_status), 0))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
