"""The fixtures of the SMS tests that talk to the fake dysms (tests/fake_dysms.py) through the real
Alibaba SDK: `frozen` (the clock stopped at NOW) and `fake` (the portal on the Alibaba backend, the fake
knowing the seed's templates). A test module imports them by name."""
from datetime import datetime

import pytest
import time_machine

from app.extensions import db
from app.models.sms import SmsTemplate
from app.services import clock
from tests.fake_dysms import FakeDysms

NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=clock.ZONE)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def fake(app, seeded, monkeypatch):
    """The portal on the Alibaba backend, talking to a fake dysms that knows the seed's templates."""
    with FakeDysms() as server:
        for template in db.session.query(SmsTemplate):
            server.register_template(template.provider_template_code, template.content)
        for key, value in {"SMS_BACKEND": "aliyun", "ALIYUN_ACCESS_KEY_ID": "test-ak",
                           "ALIYUN_ACCESS_KEY_SECRET": "test-secret", "ALIYUN_SMS_ENDPOINT": server.endpoint,
                           "ALIYUN_SMS_PROTOCOL": "HTTP", "ALIYUN_SMS_READ_TIMEOUT_MS": 800}.items():
            monkeypatch.setitem(app.config, key, value)
        yield server
