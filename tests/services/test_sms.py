"""SMS gateway: the outbox, and the real Alibaba SDK against a fake dysms server on loopback."""
import json
import socket
import threading
from datetime import datetime, timedelta

import pytest

from app.extensions import db
from app.models.sms import SmsMessage, SmsTemplate
from app.services import clock, sms
from app.services.errors import DomainError
from tests.conftest import csrf_token, login
from tests.dysms_fixtures import NOW, fake, frozen  # noqa: F401 (fixtures)

INVITE_PARAMS = {"name": "张德强", "title": "先生", "product": "爱心人寿心享未来年金保险",
                 "link": "http://127.0.0.1:5000/s/AbCdEf123456"}
INVITE_TEXT = ("尊敬的张德强先生您好!感谢您选择爱心人寿,您购买的爱心人寿心享未来年金保险保险产品已经承保,"
               "现根据中国银保监会的要求,为了更好的维护您的相关权益,需要对您进行回访服务。"
               "点击以下链接来体验科技带来的便捷吧! 链接: http://127.0.0.1:5000/s/AbCdEf123456 "
               "爱心,让家庭更美好。")


def queue_invite(phone="13800138000", **params):
    message = sms.queue("EREVISIT_INVITE", phone, {**INVITE_PARAMS, **params}, purpose="EREVISIT")
    db.session.commit()
    return message.id


def reload(message_id):
    """Re-read after another session (a task, a request) changed it: end our REPEATABLE READ
    snapshot first, expire_all() alone would still see the old row."""
    db.session.commit()
    return db.session.get(SmsMessage, message_id)


# --- outbox ---------------------------------------------------------------------------------

def test_outbox_keeps_the_seed_text_as_the_customer_reads_it(seeded, frozen):
    from app.tasks.sms import send_sms

    message_id = queue_invite()
    send_sms.delay(message_id)
    message = reload(message_id)
    assert message.backend == "outbox"
    assert message.status == "SENT" and message.sent_at == clock.now()
    assert message.content == INVITE_TEXT
    assert message.provider_code == "OK" and message.biz_id.startswith("outbox-")


def test_a_template_parameter_missing_on_our_side_is_refused_before_queueing(seeded):
    with pytest.raises(DomainError) as error:
        sms.queue("EREVISIT_INVITE", "13800138000", {"name": "张德强"})
    assert "title" in error.value.message and "link" in error.value.message
    assert db.session.query(SmsMessage).count() == 0


# --- Alibaba: single sends ------------------------------------------------------------------

def test_aliyun_ok_sends_the_real_request_and_keeps_biz_id(fake, frozen):
    message_id = queue_invite()
    assert sms.send(message_id) == "SENT"
    [call] = fake.calls()
    message = reload(message_id)
    assert call.action == "SendSms"
    assert call.params["PhoneNumbers"] == "13800138000"
    assert call.params["SignName"] == "爱心人寿"
    assert call.params["TemplateCode"] == "SMS_EREVISIT_01"
    assert json.loads(call.params["TemplateParam"]) == INVITE_PARAMS
    assert call.params["OutId"] == message.out_id
    assert call.headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=test-ak")
    assert (message.status, message.provider_code, message.biz_id) == ("SENT", "OK", call.biz_id)
    assert message.request_id and message.sent_at == clock.now()


def test_a_repeated_send_never_reaches_the_provider_twice(fake, frozen):
    from app.tasks.sms import send_sms

    message_id = queue_invite()
    assert sms.send(message_id) == "SENT"
    assert sms.send(message_id) == "SENT"  # a retried task
    send_sms.delay(message_id)  # a duplicated task
    assert len(fake.calls()) == 1
    assert reload(message_id).send_attempts == 1


def test_concurrent_duplicate_tasks_send_once(app, fake, frozen):
    message_id = queue_invite()
    start, results = threading.Barrier(6), []

    def worker():
        with app.app_context():
            start.wait()
            results.append(sms.send(message_id))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 6
    assert len(fake.calls()) == 1 and fake.sent_to("13800138000") == 1
    assert reload(message_id).status == "SENT"


def test_flow_control_is_retried_later_and_sent_once(fake, frozen):
    fake.answer("isv.BUSINESS_LIMIT_CONTROL")
    message_id = queue_invite()
    assert sms.send(message_id) == "FLOW_CONTROLLED"
    message = reload(message_id)
    assert message.provider_code == "isv.BUSINESS_LIMIT_CONTROL"
    assert message.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert sms.send(message_id) == "FLOW_CONTROLLED"  # not due yet: nothing sent
    assert len(fake.calls()) == 1
    frozen.shift(timedelta(minutes=1))
    assert sms.due_message_ids() == [message_id]
    assert sms.send(message_id) == "SENT"
    assert [c.code for c in fake.calls()] == ["isv.BUSINESS_LIMIT_CONTROL", "OK"]
    assert reload(message_id).send_attempts == 2


def test_flow_control_gives_up_after_the_last_attempt(fake, frozen):
    fake.answer("isv.BUSINESS_LIMIT_CONTROL", phone="13800138000")
    message_id = queue_invite()
    for _ in range(sms.MAX_SEND_ATTEMPTS):
        sms.send(message_id)
        frozen.shift(sms.LONGEST_RETRY)
    message = reload(message_id)
    assert message.status == "FAILED" and message.provider_code == "isv.BUSINESS_LIMIT_CONTROL"
    assert len(fake.calls()) == sms.MAX_SEND_ATTEMPTS
    assert sms.due_message_ids() == []


@pytest.mark.parametrize("code, configure, expected_message", [
    ("isv.MOBILE_NUMBER_ILLEGAL", lambda f: f.answer("isv.MOBILE_NUMBER_ILLEGAL", phone="13800138000"), "非法手机号"),
    ("isv.AMOUNT_NOT_ENOUGH", lambda f: f.answer("isv.AMOUNT_NOT_ENOUGH"), "账户余额不足"),
    # Alibaba's filed template wants a variable our copy does not have.
    ("isv.TEMPLATE_MISSING_PARAMETERS",
     lambda f: f.register_template("SMS_EREVISIT_01", "${name}${title}:${product} ${link} 截止${deadline}"),
     "模板变量缺少对应参数值"),
])
def test_provider_refusals_fail_with_code_and_are_not_retried(fake, frozen, code, configure, expected_message):
    configure(fake)
    message_id = queue_invite()
    assert sms.send(message_id) == "FAILED"
    message = reload(message_id)
    assert (message.provider_code, message.provider_message) == (code, expected_message)
    assert message.biz_id is None and message.sent_at is None
    frozen.shift(timedelta(hours=2))
    assert sms.due_message_ids() == []
    assert len(fake.calls()) == 1


def test_timeout_after_sending_is_unknown_and_never_resent(client, fake, frozen):
    fake.answer("OK", delay=2.0)  # Alibaba got it and sends, but the reply comes after our 0.8 s
    message_id = queue_invite()
    assert sms.send(message_id) == "FAILED"
    message = reload(message_id)
    assert message.provider_code == sms.UNKNOWN_RESULT
    assert "timed out" in message.provider_message
    frozen.shift(timedelta(hours=1))
    assert sms.send(message_id) == "FAILED" and sms.due_message_ids() == []
    assert len(fake.calls()) == 1
    # The receipt that comes later (found by our OutId) settles it.
    report = fake.report_for(fake.calls()[0])
    assert client.post("/sms/report", json=[report]).get_json()["code"] == 0
    message = reload(message_id)
    assert message.status == "DELIVERED" and message.biz_id == fake.calls()[0].biz_id


def test_http_5xx_is_unknown_result(fake, frozen):
    fake.answer("ServiceUnavailable", http_status=503)
    message_id = queue_invite()
    assert sms.send(message_id) == "FAILED"
    assert reload(message_id).provider_code == sms.UNKNOWN_RESULT
    assert len(fake.calls()) == 1


def test_connection_refused_is_retried_because_nothing_left(app, fake, frozen, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setitem(app.config, "ALIYUN_SMS_ENDPOINT", f"127.0.0.1:{closed_port}")
    message_id = queue_invite()
    assert sms.send(message_id) == "QUEUED"
    message = reload(message_id)
    assert message.provider_code == sms.CONNECT_ERROR
    assert message.next_attempt_at == clock.now() + timedelta(minutes=1)
    monkeypatch.setitem(app.config, "ALIYUN_SMS_ENDPOINT", fake.endpoint)
    assert sms.send(message_id) == "QUEUED" and fake.calls() == []  # not due yet
    frozen.shift(timedelta(minutes=1))
    assert sms.send(message_id) == "SENT"
    assert len(fake.calls()) == 1


def test_a_send_stuck_in_sending_is_flagged_for_an_operator(fake, frozen):
    message_id = queue_invite()
    assert sms._claim(message_id)  # a worker claimed it and died before recording the reply
    frozen.shift(timedelta(minutes=9))
    assert sms.flag_stuck() == 0
    frozen.shift(timedelta(minutes=2))
    assert sms.flag_stuck() == 1
    message = reload(message_id)
    assert (message.status, message.provider_code) == ("FAILED", sms.UNKNOWN_RESULT)
    assert sms.send(message_id) == "FAILED" and fake.calls() == []
    with pytest.raises(DomainError):  # unknown: nobody may resend it before it is settled
        sms.resend(message_id)
    # The settle job finds no record at Alibaba (the claim was 11 minutes ago, past the grace period).
    assert sms.settle_unknown() == {sms.NOT_AT_PROVIDER: 1}
    assert reload(message_id).provider_code == sms.NOT_AT_PROVIDER
    # Now an operator may resend it: a new message, the old one kept; once only.
    again = sms.resend(message_id)
    assert sms.send(again.id) == "SENT"
    assert len(fake.calls()) == 1 and reload(message_id).status == "FAILED"
    with pytest.raises(DomainError):
        sms.resend(again.id)
    with pytest.raises(DomainError):
        sms.resend(message_id)


# --- Alibaba: SendBatchSms ------------------------------------------------------------------

def phones(n, first=13700000000):
    return [str(first + i) for i in range(n)]


def test_batch_send_groups_by_template_100_per_call_once(fake, frozen):
    invite_ids = [queue_invite(phone, name=f"客户{i}") for i, phone in enumerate(phones(150))]
    code = sms.queue("VERIFY_CODE", "13600000000", {"code": "123456", "minutes": "5"}, purpose="CODE")
    db.session.commit()
    counts = sms.send_batch(invite_ids + [code.id])
    assert counts == {"SENT": 151}
    batches = fake.calls("SendBatchSms")
    assert sorted(len(c.phones) for c in batches) == [1, 50, 100]
    big = next(c for c in batches if len(c.phones) == 100)
    assert big.params["TemplateCode"] == "SMS_EREVISIT_01"
    assert json.loads(big.params["SignNameJson"]) == ["爱心人寿"] * 100
    assert json.loads(big.params["TemplateParamJson"])[3]["name"] == "客户3"
    first = reload(invite_ids[0])
    assert first.status == "SENT" and first.biz_id == big.biz_id
    # every number got exactly one SMS, and sending the same batch again sends nothing
    assert sms.send_batch(invite_ids) == {}
    assert all(fake.sent_to(p) == 1 for p in phones(150))
    assert len(fake.calls()) == 3


def test_batch_refused_for_one_bad_number_is_split_and_the_rest_delivered(fake, frozen):
    fake.answer("isv.MOBILE_NUMBER_ILLEGAL", phone="13700000002")
    ids = [queue_invite(phone) for phone in phones(5)]
    assert sms.send_batch(ids) == {"QUEUED": 5}
    batches, singles = sms.due_work()
    assert batches == [] and singles == ids
    for message_id in singles:
        sms.send(message_id)
    statuses = [reload(i).status for i in ids]
    assert statuses == ["SENT", "SENT", "FAILED", "SENT", "SENT"]
    accepted = [c for c in fake.calls() if c.code == "OK"]
    assert sorted(p for c in accepted for p in c.phones) == [p for p in phones(5) if p != "13700000002"]


def test_batch_and_single_sends_of_the_same_messages_race_without_duplicates(app, fake, frozen):
    ids = [queue_invite(phone) for phone in phones(20)]
    start = threading.Barrier(3)

    def run(fn):
        with app.app_context():
            start.wait()
            fn()
            db.session.remove()

    threads = [threading.Thread(target=run, args=(lambda: sms.send_batch(ids),)),
               threading.Thread(target=run, args=(lambda: sms.send_batch(ids),)),
               threading.Thread(target=run, args=(lambda: [sms.send(i) for i in reversed(ids)],))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(fake.sent_to(p) == 1 for p in phones(20))
    assert {reload(i).status for i in ids} == {"SENT"}


# --- delivery receipts (SmsReport push) -----------------------------------------------------

def test_receipts_mark_delivered_and_undelivered(client, fake, frozen):
    ok_id, off_id = queue_invite("13800138000"), queue_invite("13800138001")
    sms.send(ok_id)
    sms.send(off_id)
    first, second = fake.calls()
    body = [fake.report_for(first), fake.report_for(second, success=False, err_code="MK:0001",
                                                       err_msg="用户关机")]
    response = client.post("/sms/report", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    assert response.get_json()["code"] == 0
    delivered, off = reload(ok_id), reload(off_id)
    assert (delivered.status, delivered.receipt_code) == ("DELIVERED", "DELIVERED")
    assert delivered.receipt_at == datetime(2026, 11, 25, 10, 0, 5)
    assert (off.status, off.receipt_code, off.receipt_message) == ("UNDELIVERED", "MK:0001", "用户关机")


def test_batch_receipts_are_found_by_biz_id_and_phone(client, fake, frozen):
    ids = [queue_invite(phone) for phone in phones(3)]
    sms.send_batch(ids)
    [call] = fake.calls()
    body = [fake.report_for(call, phone=p, success=(p != phones(3)[1])) for p in phones(3)]
    assert client.post("/sms/report", json=body).get_json() == \
        {"code": 0, "msg": "成功", "matched": 3, "unmatched": 0}
    assert [reload(i).status for i in ids] == ["DELIVERED", "UNDELIVERED", "DELIVERED"]


@pytest.mark.parametrize("body, fragment", [
    ("not json", "JSON"),
    ({"phone_number": "13800138000"}, "数组"),
    ([], "数组"),
    ([{"success": True, "out_id": "x"}], "phone_number"),
    ([{"phone_number": "13800138000", "success": "maybe", "out_id": "x"}], "success"),
    ([{"phone_number": "13800138000", "success": True}], "out_id"),
    ([{"phone_number": "13800138000", "success": True, "out_id": "x", "report_time": "25/11/2026"}],
     "report_time"),
])
def test_malformed_receipts_are_rejected_with_a_reason(client, seeded, body, fragment):
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post("/sms/report", data=data, content_type="application/json")
    assert response.status_code == 400
    assert fragment in response.get_json()["msg"]


def test_a_push_with_one_bad_item_records_nothing(client, fake, frozen):
    message_id = queue_invite()
    sms.send(message_id)
    body = [fake.report_for(fake.calls()[0]), {"phone_number": "13800138000"}]
    response = client.post("/sms/report", json=body)
    assert response.status_code == 400 and "第 2 条" in response.get_json()["msg"]
    assert reload(message_id).status == "SENT"


def test_receipt_token_when_configured(app, client, fake, frozen, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_REPORT_TOKEN", "s3cret-token")
    message_id = queue_invite()
    sms.send(message_id)
    body = [fake.report_for(fake.calls()[0])]
    assert client.post("/sms/report", json=body).status_code == 403
    assert client.post("/sms/report?token=wrong", json=body).status_code == 403
    assert reload(message_id).status == "SENT"
    response = client.post("/sms/report?token=s3cret-token", json=body)
    assert response.status_code == 200 and response.get_json()["code"] == 0
    assert reload(message_id).status == "DELIVERED"


# --- back office ----------------------------------------------------------------------------

def test_admin_lists_status_provider_code_and_receipt(client, fake, frozen):
    fake.answer("isv.MOBILE_NUMBER_ILLEGAL", phone="13800138001")
    ok_id, bad_id = queue_invite("13800138000"), queue_invite("13800138001")
    queue_invite("13800138002", name="<script>alert(1)</script>")
    sms.send(ok_id)
    sms.send(bad_id)
    client.post("/sms/report", json=[fake.report_for(fake.calls()[0])])
    login(client, "operator")
    page = client.get("/smsmessageview/list/").get_data(as_text=True)
    assert "已送达" in page and "DELIVERED" in page
    assert "发送失败" in page and "isv.MOBILE_NUMBER_ILLEGAL" in page and "手机号无效" in page
    assert "138****8000" in page
    assert '<a href="http://127.0.0.1:5000/s/AbCdEf123456"' in page  # the outbox link opens
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    shown = client.get(f"/smsmessageview/show/{ok_id}").get_data(as_text=True)
    assert "张德强先生您好" in shown and "用户接收成功" in shown


def test_admin_edits_a_template_and_new_messages_use_it(client, seeded):
    login(client, "admin")
    template = db.session.query(SmsTemplate).filter_by(code="VERIFY_CODE").one()
    form = {"name": template.name, "provider_template_code": "SMS_CODE_02",
            "content": "【验证码】${code},${minutes}分钟内有效。", "is_active": "y", "csrf_token": client.csrf}
    bad = client.post(f"/smstemplateview/edit/{template.id}",
                      data={**form, "content": "验证码 $code 有效"}, follow_redirects=True)
    assert "占位符格式应为" in bad.get_data(as_text=True)
    client.post(f"/smstemplateview/edit/{template.id}", data=form, follow_redirects=True)
    db.session.expire_all()  # the request committed in its own session
    message = sms.queue("VERIFY_CODE", "13800138000", {"code": "654321", "minutes": "5"})
    assert message.content == "【验证码】654321,5分钟内有效。"
    assert message.template.provider_template_code == "SMS_CODE_02"


def test_a_supervisor_resends_a_failed_message_after_checking(client, fake, frozen):
    fake.answer("ServiceUnavailable", http_status=503)  # the result is unknown; Alibaba did not take it
    message_id = queue_invite()
    sms.send(message_id)
    resend_url = f"/smsmessageview/resend/{message_id}"
    login(client, "supervisor")
    page = client.get(f"/smsmessageview/show/{message_id}").get_data(as_text=True)
    assert "结果未知" in page and "核实前不能重新发送" in page and resend_url not in page
    refused = client.post(resend_url, data={"csrf_token": client.csrf}, follow_redirects=True)
    assert "正在向短信平台核实" in refused.get_data(as_text=True)
    assert db.session.query(SmsMessage).count() == 1
    frozen.shift(timedelta(minutes=11))
    sms.settle_unknown()  # Alibaba has no record of it
    client.get("/logout/")
    login(client, "operator")
    page = client.get(f"/smsmessageview/show/{message_id}").get_data(as_text=True)
    assert "未收到" in page and resend_url not in page  # operators see it, a supervisor decides
    client.post(resend_url, data={"csrf_token": client.csrf})
    assert db.session.query(SmsMessage).count() == 1
    client.get("/logout/")
    login(client, "supervisor")
    page = client.get(f"/smsmessageview/show/{message_id}").get_data(as_text=True)
    assert "没有收到这条短信" in page and resend_url in page
    client.post(resend_url, data={})  # no CSRF token: refused
    assert db.session.query(SmsMessage).count() == 1
    response = client.post(resend_url, data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "已重新发送" in response.get_data(as_text=True)
    db.session.commit()
    new = db.session.query(SmsMessage).filter(SmsMessage.id != message_id).one()
    assert (new.status, new.content) == ("SENT", reload(message_id).content)
    assert reload(message_id).status == "FAILED" and fake.received_by("13800138000") == 1


def test_a_receipt_that_overtakes_the_reply_keeps_the_last_word(app, client, fake, frozen):
    import time

    fake.answer("OK", delay=0.5)  # Alibaba's reply is slow, the delivery receipt is not
    message_id = queue_invite()
    done = []

    def send():
        with app.app_context():
            done.append(sms.send(message_id))
            db.session.remove()

    thread = threading.Thread(target=send)
    thread.start()
    for _ in range(100):
        if fake.calls():
            break
        time.sleep(0.01)
    receipt = {**fake.report_for(fake.calls()[0]), "biz_id": None}  # found by our OutId
    assert client.post("/sms/report", json=[receipt]).get_json()["matched"] == 1
    thread.join(10)
    message = reload(message_id)
    assert done == ["DELIVERED"]
    assert (message.status, message.provider_code) == ("DELIVERED", "OK")
    assert message.biz_id == fake.calls()[0].biz_id and message.sent_at == clock.now()


def test_bulk_queue_renders_every_message_and_batches_them(fake, frozen):
    items = [{"phone": p, "params": {**INVITE_PARAMS, "name": f"客户{i}"}} for i, p in enumerate(phones(120))]
    ids = sms.queue_many("EREVISIT_INVITE", items, purpose="EREVISIT")
    db.session.commit()
    assert len(ids) == 120 and reload(ids[7]).content.startswith("尊敬的客户7先生您好")
    assert reload(ids[7]).phone == phones(120)[7]
    assert sms.send_batch(ids) == {"SENT": 120}
    assert sorted(len(c.phones) for c in fake.calls()) == [20, 100]
    with pytest.raises(DomainError):  # one item missing a parameter: nothing is queued
        sms.queue_many("EREVISIT_INVITE", items[:3] + [{"phone": "13900000000", "params": {"name": "x"}}])
    db.session.rollback()
    assert db.session.query(SmsMessage).count() == 120


def test_a_first_send_does_not_wait_for_a_worker_whose_clock_is_behind(fake, frozen):
    message_id = queue_invite()
    frozen.shift(timedelta(seconds=-30))
    assert sms.send(message_id) == "SENT" and len(fake.calls()) == 1


def test_one_splitter_makes_the_send_jobs_after_the_commit(app, seeded, monkeypatch):
    """Invitations and the beat job split with the one splitter: SendBatchSms calls of at most 100
    numbers, a lone message as a plain send; the jobs leave after the commit, never on a rollback."""
    from app.services import unit

    assert sms.split_batches(range(1, 202)) == ([list(range(1, 101)), list(range(101, 201))], [201])
    assert sms.split_batches([7, 8]) == ([[7, 8]], []) and sms.split_batches([]) == ([], [])
    celery, sent = app.extensions["celery"], []
    for name in ("sms.send", "sms.send_batch"):
        monkeypatch.setattr(celery.tasks[name], "apply_async",
                            lambda args=(), kwargs=None, _name=name, **_: sent.append((_name, tuple(args))))
    with pytest.raises(RuntimeError):
        with unit.work():
            db.session.query(SmsMessage).count()  # the unit's transaction has begun
            sms.send_after_commit(range(1, 103))
            raise RuntimeError("rolled back")
    assert sent == []
    with unit.work():
        sms.send_after_commit(range(1, 103))
        assert sent == []
    assert sent == [("sms.send_batch", (list(range(1, 101)),)), ("sms.send_batch", ([101, 102],))]
