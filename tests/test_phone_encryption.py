"""The mobiles SMS and verification codes go to, encrypted at rest (issue 15 item 4): sms_message.phone
and verification_code.phone are Fernet tokens, found through phone_hash (the same keyed hash as
customer.mobile_hash); sending, the send limits and verifying still work, the evidence pack and the
loan export still find a customer's messages, rotation keeps them readable, and migration a15c0015sp15
converts a filled database and goes back."""
from datetime import datetime, timedelta

import pytest
import time_machine
from cryptography.fernet import Fernet
from flask_babel import force_locale
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.models import Customer, Policy, ServicingApplication, SmsMessage, VerificationCode
from app.services import clock, codes, crypto, evidence, loan_export, sms, unit
from app.services.errors import DomainError
from tests.conftest import login, make_config, migration_database

TOKEN = crypto.TOKEN_PREFIX
PHONE = "13700137031"
NOW = datetime(2026, 11, 20, 10, 0, 0, tzinfo=clock.ZONE)
INVITE = {"name": "张", "title": "先生", "product": "爱心人寿", "link": "https://example.test/r/x"}


def _raw(sql, **params):
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def _holds_no_plain(rows, *mobiles):
    assert rows
    for row in rows:
        values = " ".join(str(v) for v in row.values())
        for mobile in mobiles:
            assert mobile not in values, (mobile, dict(row))
        assert row["phone"].startswith(TOKEN) and len(row["phone_hash"]) == 64


def _code(phone=PHONE):
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(phone), SmsMessage.purpose == "CODE") \
        .order_by(SmsMessage.id.desc()).first()
    return codes.development_code(message)


@pytest.fixture
def frozen(seeded):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_codes_and_queued_sms_leave_no_plain_mobile_in_their_rows(frozen):
    holder = db.session.query(Customer).filter_by(customer_no="C0002").one()
    with unit.work():
        assert codes.send("+86 137 0013 7031", "SIGN_IN") == PHONE
    with unit.work():  # the ORM path (one message) and the Core path (set-based INSERT) of the queue
        one = sms.queue("EREVISIT_INVITE", holder.mobile, INVITE)
        many = sms.queue_many("EREVISIT_INVITE", [{"phone": holder.mobile, "params": INVITE},
                                                  {"phone": PHONE, "params": INVITE}])
    db.session.commit()

    messages = _raw("SELECT * FROM sms_message")
    assert len(messages) == 4
    _holds_no_plain(messages, PHONE, holder.mobile)
    _holds_no_plain(_raw("SELECT * FROM verification_code"), PHONE, holder.mobile)
    hashes = {row["id"]: row["phone_hash"] for row in messages}
    assert hashes[one.id] == hashes[many[0]] == holder.mobile_hash  # the customer's own hash
    assert hashes[many[1]] == crypto.lookup_hash(PHONE, "mobile")
    assert _raw("SELECT phone_hash FROM verification_code")[0]["phone_hash"] == crypto.lookup_hash(PHONE, "mobile")
    # read through the ORM and in plain column queries (the claim's), the phone is the mobile again
    db.session.expire_all()
    assert db.session.get(SmsMessage, many[1]).phone == PHONE
    assert db.session.query(VerificationCode).one().phone == PHONE
    assert dict(db.session.query(SmsMessage.id, SmsMessage.phone).all())[one.id] == holder.mobile
    assert {m.id for m in db.session.query(SmsMessage).filter(SmsMessage.phone_is(holder.mobile))} \
        == {one.id, many[0]}
    # the code arrives and verifies
    assert codes.verify(PHONE, "SIGN_IN", _code()) == PHONE


def test_the_send_limits_count_the_encrypted_rows(frozen, app):
    config = app.config
    with unit.work():
        codes.send(PHONE, "SIGN_IN")
    with pytest.raises(DomainError) as error:  # the minute's one, whatever way the number is written
        with unit.work():
            codes.send("137-0013-7031", "BIND")
    assert error.value.key == "code_too_frequent"
    for _ in range(config["CODE_SENDS_PER_HOUR"] - 1):
        frozen.shift(timedelta(minutes=2))
        with unit.work():
            codes.send(PHONE, "SIGN_IN")
    frozen.shift(timedelta(minutes=2))
    with pytest.raises(DomainError) as error:
        with unit.work():
            codes.send(PHONE, "SIGN_IN")
    assert error.value.key == "code_hourly_limit"
    sent = config["CODE_SENDS_PER_HOUR"]
    while sent < config["CODE_SENDS_PER_DAY"]:
        frozen.shift(timedelta(minutes=61))
        with unit.work():
            codes.send(PHONE, "SIGN_IN")
        sent += 1
    assert codes.verify(PHONE, "SIGN_IN", _code()) == PHONE  # the newest code, found through the hash
    frozen.shift(timedelta(minutes=61))
    with pytest.raises(DomainError) as error:
        with unit.work():
            codes.send(PHONE, "SIGN_IN")
    assert error.value.key == "code_daily_limit"
    with unit.work():  # another number is not limited by this one's rows
        codes.send("13700137032", "SIGN_IN")
    assert db.session.query(VerificationCode).filter(VerificationCode.phone_is(PHONE)).count() \
        == config["CODE_SENDS_PER_DAY"]


def _application_with_an_sms_to_the_mobile_only():
    """A loan application and, a minute later, an SMS to its holder's mobile with no customer_id: only
    phone_hash = customer.mobile_hash ties the two."""
    policy = db.session.query(Policy).join(Customer, Customer.id == Policy.holder_id) \
        .filter(Customer.customer_no == "C0001").first()
    application = ServicingApplication(application_no="SA-PHONE-1", kind="POLICY_LOAN", customer_id=policy.holder_id,
                                       policy_id=policy.id, status="SUBMITTED", submitted_at=clock.now())
    db.session.add(application)
    db.session.flush()
    with unit.work():
        message = sms.queue("SERVICING_ACCEPTED", policy.holder.mobile,
                            {"name": "张", "item": "保单贷款", "no": application.application_no})
    db.session.commit()
    assert message.customer_id is None
    return application, message


def test_the_evidence_pack_and_the_loan_export_find_the_customers_sms_by_hash(frozen):
    application, message = _application_with_an_sms_to_the_mobile_only()
    mobile = application.customer.mobile
    masked = mobile[:3] + "****" + mobile[-4:]
    rows = loan_export.messages_around(application)
    assert [row["phone"] for row in rows] == [masked]
    assert "SA-PHONE-1" in rows[0]["content"]
    pack = evidence._Pack("application", application.id)
    assert evidence._scope(pack)
    with force_locale("zh"):
        sections = evidence._collect(pack)
    assert [row[1] for row in sections["sms"]] == [masked]
    assert mobile not in " ".join(detail for _when, _item, detail in pack.timeline)


def test_the_sms_list_searches_a_phone_by_exact_value_through_its_hash(frozen, client):
    with unit.work():
        sms.queue("EREVISIT_INVITE", PHONE, INVITE)
        sms.queue("EREVISIT_INVITE", "13700137032", {**INVITE, "name": "李"})
    db.session.commit()
    login(client, "admin")
    page = client.get(f"/smsmessageview/list/?_flt_0_phone={PHONE}").get_data(as_text=True)
    assert "137****7031" in page and "137****7032" not in page
    page = client.get("/smsmessageview/list/?_flt_0_phone=%2B86%20137%200013%207032").get_data(as_text=True)
    assert "137****7032" in page and "137****7031" not in page


def test_rotation_re_encrypts_the_sms_and_code_phones(frozen, key_rotation):
    with unit.work():
        codes.send(PHONE, "SIGN_IN")
    code = _code()
    rotation = key_rotation()
    new = rotation.new
    output = rotation.run(1)
    assert "sms_message: 1 row(s) re-encrypted" in output
    assert "verification_code: 1 row(s) re-encrypted" in output
    assert crypto.rotate(db.session)["sms_message"] == 0  # nothing left under the old key
    rotation.drop_old()
    for table in ("sms_message", "verification_code"):
        row = _raw(f"SELECT phone, phone_hash FROM {table}")[0]
        assert Fernet(new.encode()).decrypt(row["phone"].encode()).decode() == PHONE
        assert row["phone_hash"] == crypto.lookup_hash(PHONE, "mobile")  # the hash does not change
    assert db.session.query(SmsMessage).one().phone == PHONE
    assert codes.verify(PHONE, "SIGN_IN", code) == PHONE


# --- the migration, on a database of its own -----------------------------------------------------------

BEFORE, THIS = "a14c0014dx14", "a15c0015sp15"
NUMBERS = {1: "13800138001", 2: "13900139002", 3: "13800138001"}


@pytest.fixture
def blank_database(servers):
    with migration_database(servers, "migration-sms-phones") as url:
        yield url


def test_the_migration_encrypts_sms_and_code_phones_and_the_downgrade_decrypts_them(servers, blank_database):
    from flask_migrate import downgrade, upgrade

    other = create_app(make_config(servers, SQLALCHEMY_DATABASE_URI=blank_database))
    with other.app_context():
        upgrade(revision=BEFORE)
        now = "2026-11-30 08:00:00"
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO sms_template (id, code, name, provider_template_code, content, is_active, created_at,"
                " updated_at) VALUES (1, 'VERIFY_CODE', '验证码', 'SMS_CODE_01', '验证码${code}', 1, :now, :now)"),
                {"now": now})
            for sid, phone in NUMBERS.items():
                conn.execute(text(
                    "INSERT INTO sms_message (id, template_id, phone, params, content, purpose, backend, status,"
                    " out_id, send_attempts, created_at, updated_at) VALUES (:id, 1, :phone, '{}', '验证码******',"
                    " 'CODE', 'outbox', 'SENT', :out, 1, :now, :now)"),
                    {"id": sid, "phone": phone, "out": f"out-{sid}", "now": now})
                conn.execute(text(
                    "INSERT INTO verification_code (id, phone, purpose, code_hash, created_at, expires_at,"
                    " wrong_tries, sms_id) VALUES (:id, :phone, 'SIGN_IN', :hash, :now, :now, 0, :id)"),
                    {"id": sid, "phone": phone, "hash": "0" * 64, "now": now})

        upgrade(revision=THIS)
        for table in ("sms_message", "verification_code"):
            rows = {r["id"]: r for r in _raw(f"SELECT * FROM {table} ORDER BY id")}
            assert set(rows) == set(NUMBERS)
            for rid, phone in NUMBERS.items():
                assert phone not in " ".join(str(v) for v in rows[rid].values())
                assert rows[rid]["phone"].startswith(TOKEN)
                assert crypto.decrypt(rows[rid]["phone"].encode()).decode() == phone
                assert rows[rid]["phone_hash"] == crypto.lookup_hash(phone, "mobile")
        # the models read them, and the lookups find them through the new indexes' column
        assert {m.id for m in db.session.query(SmsMessage).filter(SmsMessage.phone_is("13800138001"))} == {1, 3}
        assert db.session.get(VerificationCode, 2).phone == "13900139002"
        db.session.remove()

        downgrade(revision=BEFORE)
        for table in ("sms_message", "verification_code"):
            rows = {r["id"]: r for r in _raw(f"SELECT * FROM {table} ORDER BY id")}
            assert {rid: row["phone"] for rid, row in rows.items()} == NUMBERS
            assert all("phone_hash" not in row for row in rows.values())
        upgrade(revision=THIS)  # and up again, from the downgraded schema
        assert _raw("SELECT phone_hash FROM sms_message WHERE id = 2")[0]["phone_hash"] \
            == crypto.lookup_hash("13900139002", "mobile")
        db.session.remove()
        db.engine.dispose()
