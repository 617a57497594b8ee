"""Settling unknown SMS results (issue 14, item 5), the service's rules: the outbox settles itself,
a lookup reads every page, one refused query does not stop the others, a receipt has the last word."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models.sms import SmsMessage
from app.services import clock, sms
from app.services.errors import DomainError
from tests.dysms_fixtures import NOW, fake, frozen  # noqa: F401 (fixtures)
from tests.fake_dysms import FakeRequest

INVITE = {"name": "张德强", "title": "先生", "product": "爱心人寿心享未来年金保险", "link": "http://x/s/abc"}


def unknown(phone="13800138000"):
    """A message whose send ended with an unknown result (now)."""
    message = sms.queue("EREVISIT_INVITE", phone, INVITE, purpose="EREVISIT")
    db.session.flush()
    db.session.execute(update(SmsMessage).where(SmsMessage.id == message.id).values(
        status="FAILED", provider_code=sms.UNKNOWN_RESULT, send_attempts=1, updated_at=clock.now()))
    db.session.commit()
    return message.id


def reload(message_id):
    db.session.commit()
    return db.session.get(SmsMessage, message_id)


def accepted(fake, phone, out_id, at):
    """A SendSms the fake accepted earlier (without sending it through the portal)."""
    request = FakeRequest("SendSms", {"PhoneNumbers": phone, "OutId": out_id, "TemplateCode": "SMS_X"}, {},
                          biz_id=f"{len(fake.requests) + 1:012d}^0", code="OK", at=at)
    fake.requests.append(request)
    return request


def test_the_outbox_settles_what_it_wrote(seeded, frozen):
    message_id = queue = sms.queue("EREVISIT_INVITE", "13800138000", INVITE).id
    db.session.commit()
    assert sms._claim(queue)  # the worker died mid-send
    frozen.shift(timedelta(minutes=11))
    assert sms.flag_stuck() == 1
    assert sms.settle_unknown() == {"SENT": 1}
    message = reload(message_id)
    assert (message.status, message.provider_code) == ("SENT", sms.CONFIRMED_SENT)
    with pytest.raises(DomainError) as refused:
        sms.resend(message_id)
    assert refused.value.status == 409 and "不能重新发送" in refused.value.message


def test_the_lookup_reads_every_page_of_a_busy_number(fake, frozen):
    message_id = unknown()
    out_id = reload(message_id).out_id
    accepted(fake, "13800138000", out_id, datetime(2026, 11, 25, 9, 59, 59))
    for i in range(60):  # sixty later SMS to the same number that day: ours is on page 2
        accepted(fake, "13800138000", f"other-{i}", datetime(2026, 11, 25, 10, 0, 1) + timedelta(seconds=i))
    frozen.shift(timedelta(minutes=3))
    assert sms.settle_unknown() == {"DELIVERED": 1}
    assert [q["CurrentPage"] for q in fake.queries] == ["1", "2"]
    assert reload(message_id).provider_code == sms.CONFIRMED_SENT


def test_around_midnight_both_days_are_asked(fake, frozen):
    frozen.move_to(datetime(2026, 11, 26, 0, 1, 0, tzinfo=clock.ZONE))
    message_id = unknown()
    accepted(fake, "13800138000", reload(message_id).out_id, datetime(2026, 11, 25, 23, 59, 58))
    frozen.shift(timedelta(minutes=3))
    assert sms.settle_unknown() == {"DELIVERED": 1}
    assert sorted(q["SendDate"] for q in fake.queries) == ["20261125", "20261126"]


def test_one_refused_query_does_not_stop_the_others(fake, frozen):
    bad = unknown("1380013")  # the provider refuses to look this number up (HTTP 200, another Code)
    good = unknown("13900139000")
    accepted(fake, "13900139000", reload(good).out_id, datetime(2026, 11, 25, 10, 0, 0))
    frozen.shift(timedelta(minutes=30))
    assert sms.settle_unknown() == {"unchecked": 1, "DELIVERED": 1}
    assert reload(bad).provider_code == sms.UNKNOWN_RESULT  # never "not received" on a refusal
    with pytest.raises(DomainError):
        sms.resend(bad)


def test_flow_control_on_the_lookup_stops_the_run(fake, frozen):
    ids = [unknown(p) for p in ("13800138000", "13900139000")]
    frozen.shift(timedelta(minutes=30))
    fake.answer("Throttling.User")
    assert sms.settle_unknown() == {"unchecked": 2}
    assert len(fake.queries) == 1
    assert sms.settle_unknown() == {sms.NOT_AT_PROVIDER: 2}
    assert all(reload(i).provider_code == sms.NOT_AT_PROVIDER for i in ids)


def test_a_receipt_after_no_record_still_has_the_last_word(client, fake, frozen):
    message_id = unknown()
    frozen.shift(timedelta(minutes=11))
    sms.settle_unknown()
    message = reload(message_id)
    assert message.provider_code == sms.NOT_AT_PROVIDER
    receipt = {"phone_number": "13800138000", "send_time": "2026-11-25 10:00:00",
               "report_time": "2026-11-25 10:00:04", "success": True, "err_code": "DELIVERED",
               "err_msg": "用户接收成功", "biz_id": "1^0", "out_id": message.out_id}
    assert client.post("/sms/report", json=[receipt]).get_json()["matched"] == 1
    message = reload(message_id)
    assert (message.status, message.provider_code) == ("DELIVERED", sms.CONFIRMED_SENT)
    assert message.sent_at == datetime(2026, 11, 25, 10, 0, 0)
    with pytest.raises(DomainError) as refused:
        sms.resend(message_id)
    assert "短信平台已收到" in refused.value.message


def test_an_unknown_result_older_than_the_providers_record_is_not_looked_up(fake, frozen):
    message_id = unknown()
    frozen.shift(timedelta(days=26))
    assert sms.settle_unknown() == {} and fake.queries == []
    assert reload(message_id).provider_code == sms.UNKNOWN_RESULT
    again = sms.resend(message_id)  # beyond the record: an operator checks with the customer and decides
    assert sms.send(again.id) == "SENT" and fake.received_by("13800138000") == 1
