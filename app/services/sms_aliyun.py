"""The Alibaba Cloud SMS backend (dysmsapi 2017-05-25) through the official SDK.

Reply Codes map to our statuses: "OK" -> SENT; flow control -> FLOW_CONTROLLED (the beat job
retries later with backoff); any other Code -> FAILED with Code and Message kept. Alibaba's
SendSms is not idempotent, so transport errors are split by whether the request could have
reached Alibaba:
- the connection was never made (refused, DNS, connect timeout): nothing was sent -> RETRY;
- anything later (read timeout, connection dropped, HTTP 5xx, unreadable reply): the SMS may
  have gone out -> FAILED with provider_code UNKNOWN_RESULT, never resent automatically. An
  operator sees it in the admin; a delivery receipt that arrives later still settles it.
"""
import json
import threading

from alibabacloud_dysmsapi20170525 import models as dysms
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions

from app.services.errors import DomainError
from app.services.sms_backend import SendResult, params_json

UNKNOWN_RESULT = "UNKNOWN_RESULT"
CONNECT_ERROR = "CONNECT_ERROR"
# Codes meaning "not now": the request was refused before sending, so a later retry is safe.
FLOW_CONTROL_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "Throttling.Api",
                      "Throttling.AllocationQuota", "ServiceUnavailable.Throttling"}
_clients = threading.local()


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

