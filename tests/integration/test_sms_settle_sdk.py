"""Unknown SMS results settle themselves (issue 14, item 5): the real Alibaba SDK against the fake dysms
on loopback, the beat job (sms.settle_unknown) asking QuerySendDetails, receipts pushed like Alibaba's.
Every test counts what the fake accepted per phone: nobody gets an SMS twice."""
from datetime import datetime, timedelta

import pytest

from app.extensions import db
from app.models.sms import SmsMessage
from app.services import sms
from app.services.errors import DomainError
from tests.conftest import csrf_token, login
from tests.dysms_fixtures import NOW, fake, frozen  # noqa: F401 (fixtures)

INVITE = {"name": "张德强", "title": "先生", "product": "爱心人寿心享未来年金保险",
          "link": "http://127.0.0.1:5000/s/AbCdEf123456"}
PHONE = "13800138000"


def queue(phone=PHONE):
    message = sms.queue("EREVISIT_INVITE", phone, INVITE, purpose="EREVISIT")
    db.session.commit()
    return message.id


def reload(message_id):
    db.session.commit()
    return db.session.get(SmsMessage, message_id)


def settle():
    from app.tasks.sms import settle_unknown

    settle_unknown.delay()  # the beat job (eager in the tests)
    db.session.commit()


def test_the_beat_schedule_runs_the_settle_job(app):
    from app.tasks.schedule import beat_schedule

    assert beat_schedule(app.config)["sms-settle-unknown"]["task"] == "sms.settle_unknown"


def test_a_timed_out_send_is_found_at_the_provider_and_never_resent(client, fake, frozen):
    fake.answer("OK", delay=2.0)  # Alibaba accepts it; the reply comes after our 0.8 s read timeout
    message_id = queue()
    assert sms.send(message_id) == "FAILED"
    message = reload(message_id)
    assert message.provider_code == sms.UNKNOWN_RESULT
    assert fake.calls()[0].params["OutId"] == message.out_id  # every send carries our key
    with pytest.raises(DomainError) as refused:
        sms.resend(message_id)
    assert "正在向短信平台核实" in refused.value.message

    frozen.shift(timedelta(seconds=30))
    settle()
    assert fake.queries == [] and reload(message_id).provider_code == sms.UNKNOWN_RESULT  # too early
    frozen.shift(timedelta(minutes=2))
    settle()
    query = fake.queries[0]
    assert (query["PhoneNumber"], query["SendDate"], query["PageSize"], query["CurrentPage"]) == \
        (PHONE, "20261125", "50", "1")
    message = reload(message_id)
    assert (message.status, message.provider_code) == ("DELIVERED", sms.CONFIRMED_SENT)
    assert message.receipt_code == "DELIVERED" and message.sent_at == datetime(2026, 11, 25, 10, 0, 0)

    with pytest.raises(DomainError) as refused:
        sms.resend(message_id)
    assert "短信平台已收到" in refused.value.message
    login(client, "supervisor")
    page = client.get(f"/smsmessageview/show/{message_id}").get_data(as_text=True)
    assert 'id="sms-settled"' in page and "短信平台已收到" in page
    assert f"/smsmessageview/resend/{message_id}" not in page
    refusal = client.post(f"/smsmessageview/resend/{message_id}", data={"csrf_token": client.csrf},
                          follow_redirects=True).get_data(as_text=True)
    assert "短信平台已收到这条短信" in refusal and db.session.query(SmsMessage).count() == 1
    settle()  # settled messages are not asked about again
    assert len(fake.queries) == 1 and fake.received_by(PHONE) == 1


def test_a_message_waiting_for_its_receipt_settles_as_sent(fake, frozen):
    fake.answer("OK", delay=2.0)
    fake.delivery(PHONE, send_status=1)
    message_id = queue()
    sms.send(message_id)
    frozen.shift(timedelta(minutes=3))
    settle()
    message = reload(message_id)
    assert (message.status, message.provider_code, message.receipt_at) == ("SENT", sms.CONFIRMED_SENT, None)
    fake.delivery(PHONE, send_status=2, err_code="MK:0001")
    assert fake.push_reports(lambda items: sms.record_receipts(items) and {"code": 0}) == {"code": 0}
    message = reload(message_id)
    assert (message.status, message.receipt_code) == ("UNDELIVERED", "MK:0001")
    with pytest.raises(DomainError):
        sms.resend(message_id)
    assert fake.received_by(PHONE) == 1


def test_a_message_the_provider_never_received_is_resendable_after_the_grace_period(client, fake, frozen):
    fake.answer("ServiceUnavailable", http_status=503)  # refused before Alibaba accepted it
    message_id = queue()
    assert sms.send(message_id) == "FAILED"
    assert reload(message_id).provider_code == sms.UNKNOWN_RESULT
    frozen.shift(timedelta(minutes=3))
    settle()  # not in the record yet, but the record may lag: still unknown
    assert len(fake.queries) == 1 and reload(message_id).provider_code == sms.UNKNOWN_RESULT
    with pytest.raises(DomainError):
        sms.resend(message_id)
    frozen.shift(timedelta(minutes=8))
    settle()
    message = reload(message_id)
    assert (message.status, message.provider_code) == ("FAILED", sms.NOT_AT_PROVIDER)
    assert fake.received_by(PHONE) == 0

    login(client, "supervisor")
    page = client.get(f"/smsmessageview/show/{message_id}").get_data(as_text=True)
    assert 'id="sms-not-at-provider"' in page and "重新发送" in page
    token = csrf_token(page)
    response = client.post(f"/smsmessageview/resend/{message_id}", data={"csrf_token": token},
                           follow_redirects=True)
    assert "已重新发送" in response.get_data(as_text=True)
    again = client.post(f"/smsmessageview/resend/{message_id}", data={"csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)  # a double click
    assert "已经重新发送过" in again
    db.session.commit()
    new = db.session.query(SmsMessage).filter(SmsMessage.id != message_id).one()
    assert new.status == "SENT" and fake.received_by(PHONE) == 1
    assert fake.calls()[-1].params["OutId"] == new.out_id


def test_a_query_refused_with_http_200_proves_nothing(fake, frozen):
    fake.answer("OK", delay=2.0)
    message_id = queue()
    sms.send(message_id)
    frozen.shift(timedelta(minutes=15))
    fake.answer("isv.BUSINESS_LIMIT_CONTROL")  # the next call: QuerySendDetails, flow-controlled, HTTP 200
    settle()
    assert len(fake.queries) == 1 and reload(message_id).provider_code == sms.UNKNOWN_RESULT
    fake.answer("ServiceUnavailable", http_status=503)
    settle()
    assert len(fake.queries) == 2 and reload(message_id).provider_code == sms.UNKNOWN_RESULT
    settle()
    assert reload(message_id).provider_code == sms.CONFIRMED_SENT and fake.received_by(PHONE) == 1


def test_a_delivery_receipt_settles_an_unknown_one(client, fake, frozen):
    fake.answer("OK", delay=2.0)
    message_id = queue()
    sms.send(message_id)
    assert reload(message_id).provider_code == sms.UNKNOWN_RESULT
    answer = fake.push_reports(lambda items: client.post("/sms/report", json=items))
    assert answer["code"] == 0 and answer["matched"] == 1
    message = reload(message_id)
    assert (message.status, message.provider_code) == ("DELIVERED", sms.CONFIRMED_SENT)
    assert message.biz_id == fake.calls()[0].biz_id
    frozen.shift(timedelta(minutes=15))
    settle()
    assert fake.queries == []  # nothing left to look up
    with pytest.raises(DomainError):
        sms.resend(message_id)
    assert fake.received_by(PHONE) == 1


def test_a_worker_killed_mid_batch_is_settled_per_phone(client, fake, frozen):
    phones = [str(13700000000 + i) for i in range(3)]
    ids = [queue(p) for p in phones]
    fake.answer("OK", delay=2.0)
    assert sms.send_batch(ids) == {"FAILED": 3}  # one SendBatchSms, its reply lost
    batch_out_id = fake.calls()[0].params["OutId"]
    assert all(reload(i).request_id == "claim-" + batch_out_id for i in ids)
    fake.delivery(phones[1], send_status=2, err_code="MK:0001")
    # a single send claimed by a worker that died: flagged after 10 minutes, looked up by its own OutId
    stuck = queue("13900139000")
    assert sms._claim(stuck)
    frozen.shift(timedelta(minutes=11))
    assert sms.flag_stuck() == 1
    settle()
    assert [reload(i).status for i in ids] == ["DELIVERED", "UNDELIVERED", "DELIVERED"]
    assert all(reload(i).provider_code == sms.CONFIRMED_SENT for i in ids)
    assert (reload(stuck).status, reload(stuck).provider_code) == ("FAILED", sms.NOT_AT_PROVIDER)
    again = sms.resend(stuck)
    assert sms.send(again.id) == "SENT"
    assert all(fake.received_by(p) == 1 for p in phones + ["13900139000"])


def test_a_batch_receipt_settles_by_the_calls_out_id(client, fake, frozen):
    phones = [str(13700000000 + i) for i in range(2)]
    ids = [queue(p) for p in phones]
    fake.answer("OK", delay=2.0)
    sms.send_batch(ids)
    items = [{**item, "biz_id": None} for _key, _phone, item in fake.reports()]  # found by OutId alone
    assert client.post("/sms/report", json=items).get_json()["matched"] == 2
    assert all(reload(i).provider_code == sms.CONFIRMED_SENT for i in ids)
