"""What an SMS provider call returns, shared by services/sms.py and the Alibaba backend
(services/sms_aliyun.py) without the two importing each other."""
import json


class SendResult:
    """What one provider call did: status SENT / FAILED / FLOW_CONTROLLED / RETRY (not sent)."""

    def __init__(self, status, code=None, message=None, biz_id=None, request_id=None):
        self.status, self.code, self.message = status, code, message
        self.biz_id, self.request_id = biz_id, request_id

    def __repr__(self):
        return f"SendResult({self.status}, {self.code})"


def params_json(params) -> str:
    return json.dumps(params, ensure_ascii=False)


class Finding:
    """What the provider's own record says about one message it received (settling an unknown
    result): status SENT (received, no receipt yet) / DELIVERED / UNDELIVERED."""

    def __init__(self, status, err_code=None, sent_at=None, received_at=None):
        self.status, self.err_code = status, err_code
        self.sent_at, self.received_at = sent_at, received_at

    def __repr__(self):
        return f"Finding({self.status}, {self.err_code})"


class Lookup:
    """One message to look up at the provider: its phone, the OutIds it may have been sent with
    (its own, or its SendBatchSms call's) and the days (date objects) it may have been sent on."""

    def __init__(self, message_id, phone, out_ids, days):
        self.message_id, self.phone = message_id, phone
        self.out_ids, self.days = set(out_ids), sorted(set(days))
