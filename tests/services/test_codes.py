"""SMS verification codes: sent through the outbox, single use, expire, few wrong tries, send limits."""
from datetime import datetime, timedelta

import pytest
import time_machine

from app.extensions import db
from app.models import SmsMessage, VerificationCode
from app.services import clock, codes, unit
from app.services.errors import DomainError

NOW = datetime(2026, 11, 20, 10, 0, 0, tzinfo=clock.ZONE)
PHONE = "13700137004"


def code_from_outbox(phone=PHONE):
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(phone)).filter_by(purpose="CODE") \
        .order_by(SmsMessage.id.desc()).first()
    return codes.development_code(message)  # the admin shows it masked


def send(phone, purpose):
    """As the views call it: in a unit of work, whose commit sends the SMS."""
    with unit.work():
        return codes.send(phone, purpose)


@pytest.fixture
def frozen(seeded):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_a_code_is_sent_through_the_outbox_and_stored_hashed(frozen):
    phone = send("+86 137 0013 7004", "SIGN_IN")
    assert phone == PHONE
    db.session.commit()  # end our snapshot: the task sent it in its own session
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(PHONE)).one()
    assert message.status == "SENT"  # the eager task sent it through the outbox backend
    assert "5分钟内有效" in message.content
    code = code_from_outbox()
    row = db.session.query(VerificationCode).one()
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.expires_at == clock.now() + timedelta(minutes=5)
    assert codes.verify(PHONE, "SIGN_IN", code) == PHONE


def test_a_code_works_once(frozen):
    send(PHONE, "SIGN_IN")
    code = code_from_outbox()
    codes.verify(PHONE, "SIGN_IN", code)
    db.session.commit()
    with pytest.raises(DomainError) as error:
        codes.verify(PHONE, "SIGN_IN", code)
    assert error.value.key == "code_used"


def test_a_code_expires(frozen):
    send(PHONE, "SIGN_IN")
    code = code_from_outbox()
    frozen.shift(timedelta(minutes=5))
    with pytest.raises(DomainError) as error:
        codes.verify(PHONE, "SIGN_IN", code)
    assert error.value.key == "code_expired"
    assert "已过期" in error.value.message


def test_wrong_tries_are_counted_and_void_the_code(frozen):
    send(PHONE, "SIGN_IN")
    code = code_from_outbox()
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    messages = []
    for _ in range(3):
        with pytest.raises(DomainError) as error:
            codes.verify(PHONE, "SIGN_IN", wrong)
        messages.append(error.value.message)
    assert messages[:2] == ["验证码错误,还可以再试2次", "验证码错误,还可以再试1次"]
    assert messages[2] == "验证码错误次数过多,请重新获取"
    with pytest.raises(DomainError) as error:  # the right code no longer helps
        codes.verify(PHONE, "SIGN_IN", code)
    assert error.value.key == "code_too_many_tries"
    db.session.expire_all()
    assert db.session.query(VerificationCode).one().wrong_tries == 3


def test_only_the_newest_code_and_its_purpose_count(frozen):
    send(PHONE, "SIGN_IN")
    first = code_from_outbox()
    frozen.shift(timedelta(seconds=61))
    send(PHONE, "SIGN_IN")
    second = code_from_outbox()
    if first != second:
        with pytest.raises(DomainError):
            codes.verify(PHONE, "SIGN_IN", first)
    with pytest.raises(DomainError) as error:  # a sign-in code does not bind
        codes.verify(PHONE, "BIND", second)
    assert error.value.key == "code_invalid"
    assert codes.verify(PHONE, "SIGN_IN", second) == PHONE


def test_send_limits_per_mobile_one_a_minute_five_an_hour_ten_a_day(frozen):
    send(PHONE, "SIGN_IN")
    frozen.shift(timedelta(seconds=20))
    with pytest.raises(DomainError) as error:
        send(PHONE, "BIND")  # the limit counts every purpose
    assert error.value.message == "验证码发送过于频繁,请40秒后再试"
    send("13800138001", "SIGN_IN")  # another number is not affected
    for _ in range(4):
        frozen.shift(timedelta(seconds=61))
        send(PHONE, "SIGN_IN")
    frozen.shift(timedelta(seconds=61))
    with pytest.raises(DomainError) as error:
        send(PHONE, "SIGN_IN")
    assert error.value.key == "code_hourly_limit"
    for _ in range(5):
        frozen.shift(timedelta(minutes=61))
        send(PHONE, "SIGN_IN")
    frozen.shift(timedelta(minutes=61))
    with pytest.raises(DomainError) as error:
        send(PHONE, "SIGN_IN")
    assert error.value.key == "code_daily_limit"
    assert db.session.query(SmsMessage).filter(SmsMessage.phone_is(PHONE)).count() == 10
    frozen.move_to(datetime(2026, 11, 21, 0, 0, 1, tzinfo=clock.ZONE))  # a new natural day
    send(PHONE, "SIGN_IN")


@pytest.mark.parametrize("mobile", ["", "1370013700", "23700137004", "abc", "137001370045"])
def test_a_malformed_mobile_gets_no_code(frozen, mobile):
    with pytest.raises(DomainError) as error:
        send(mobile, "SIGN_IN")
    assert error.value.message == "请输入正确的11位手机号码"
    assert db.session.query(SmsMessage).count() == 0
