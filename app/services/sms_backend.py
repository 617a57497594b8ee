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
