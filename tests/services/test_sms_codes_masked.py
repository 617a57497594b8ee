"""Staff cannot read customers' codes (issue 13, item 6): a verification-code SMS is stored and shown
with the code masked; the code exists only as its hash and in the text handed to the SMS provider at
send time; in the embedded default a development-only page shows the last codes, production 404s."""
import json
from datetime import datetime

import pytest
import time_machine

from app.extensions import db
from app.models import SmsMessage, VerificationCode
from app.services import clock, codes, sms, unit
from tests.conftest import login

NOW = datetime(2026, 11, 20, 10, 0, 0, tzinfo=clock.ZONE)
PHONE = "13700137004"


@pytest.fixture
def frozen(seeded):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _send():
    with unit.work():
        codes.send(PHONE, "SIGN_IN")
    db.session.commit()  # end our snapshot: the eager task sent it in its own session
    return db.session.query(SmsMessage).filter(SmsMessage.phone_is(PHONE)).filter_by(purpose="CODE").one()


def test_the_stored_message_has_the_code_masked_and_the_provider_gets_it(frozen, app):
    handed = []
    original = sms.OutboxBackend.send

    def spy(self, message, template):
        handed.append((message.content, dict(message.params)))
        return original(self, message, template)

    sms.OutboxBackend.send = spy
    try:
        message = _send()
    finally:
        sms.OutboxBackend.send = original
    code = codes.development_code(message)
    assert code and len(code) == 6 and code.isdigit()
    assert message.status == "SENT"
    assert message.content.startswith("您的验证码为******,") and code not in message.content
    assert message.params["code"] == "******" and code not in json.dumps(message.params)
    # the backend was handed the real text
    assert handed == [(f"您的验证码为{code},5分钟内有效,请勿泄露给他人。", {"code": code, "minutes": "5"})]
    # the code is nowhere in the database but as its hash
    row = db.session.query(VerificationCode).one()
    assert code not in row.code_hash and len(row.code_hash) == 64
    with unit.work():
        assert codes.verify(PHONE, "SIGN_IN", code) == PHONE


def test_a_code_whose_secret_is_gone_is_never_sent_masked(frozen, app):
    """The beat's retries cannot send it (they have no code), and a resend is refused in Chinese."""
    with unit.work():
        codes.issue(PHONE, "SIGN_IN")  # queued, its send task never ran
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(PHONE)).one()
    calls, singles = sms.due_work()
    assert message.id not in singles and all(message.id not in c for c in calls)
    assert sms.send(message.id) == "FAILED"  # a send without the sealed code
    db.session.expire_all()
    failed = db.session.get(SmsMessage, message.id)
    assert (failed.status, failed.provider_code) == ("FAILED", sms.SECRET_LOST)
    assert "重新获取验证码" in failed.provider_message


def test_staff_see_the_code_masked_and_the_development_page_shows_it(frozen, client, app):
    message = _send()
    code = codes.development_code(message)
    login(client, "admin")
    listing = client.get("/smsmessageview/list/").get_data(as_text=True)
    shown = client.get(f"/smsmessageview/show/{message.id}").get_data(as_text=True)
    for html in (listing, shown):
        assert "您的验证码为******" in html and code not in html
    assert "开发环境:查看最近的验证码" in shown
    page = client.get("/smsmessageview/development-codes")
    assert page.status_code == 200 and f"您的验证码为{code}" in page.get_data(as_text=True)


def test_production_refuses_the_development_page_and_keeps_no_code(frozen, client, app):
    message = _send()
    login(client, "admin")
    app.config["PORTAL_ENV"] = "production"
    try:
        page = client.get("/smsmessageview/development-codes")
        assert page.status_code == 404 and "Not Found" not in page.get_data(as_text=True)
        assert codes.development_code(message) is None and sms.development_outbox() == []
        shown = client.get(f"/smsmessageview/show/{message.id}").get_data(as_text=True)
        assert "开发环境:查看最近的验证码" not in shown
    finally:
        app.config["PORTAL_ENV"] = "development"
