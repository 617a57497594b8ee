"""Bank card numbers kept whole, encrypted at rest, for the payment instruction (issue 15 item 4).

The card the customer enters for a loan (收款账户) or a repayment (付款账户) is kept whole only as a Fernet
token (servicing_application.account_no, policy_loan.account_no); the payload, the pages, the key screens,
the slips, the evidence pack, the exports and the audit trail hold it masked (6217 **** **** 8507). The
payment system (role Integration) reads it whole through the loan API's payment instructions, each read a
"reveal" audit event; rotate-keys keeps it readable; migration a15c0017bk17 adds the columns and drops them.
"""
import io
import re
import zipfile

import pytest
from cryptography.fernet import Fernet
from flask import url_for
from flask_babel import force_locale
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from app import create_app
from app.extensions import db
from app.models import Customer, ServicingApplication, SmsMessage
from app.models.audit import AuditEvent
from app.models.servicing import PolicyLoan
from app.services import clock, codes, crypto, evidence, ledger, loan_application, loan_export, slip, unit
from app.services.errors import DomainError
from tests.conftest import login, make_config, migration_database
from tests.views.test_account import outbox_code, page  # noqa: F401
from tests.views.test_intake_api import token
from tests.views.test_loan_pages import (CARD, MA_YAN, MA_YAN_MOBILE, applications, loan_form, policy_id,
                                         repay_form, signed_in_ma_yan)

MASKED = "6217 **** **** 8507"
TOKEN = crypto.TOKEN_PREFIX


@pytest.fixture(autouse=True)
def _codes_for_tests(app, monkeypatch):
    """A sign-in code and servicing codes in the same minute (the per-mobile limit is 1 a minute)."""
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)


def _raw(sql, **params):
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def _cell(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    return str(value)


def clear_cells(number=CARD):
    """Every (table, column) of the database holding `number` in clear, read with plain SQL."""
    found = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for row in conn.execute(text(f"SELECT * FROM {table.name}")).mappings():
                for column, value in row.items():
                    if value is not None and number in _cell(value):
                        found.append((table.name, column))
    return found


def _operator_token(client, username="operator"):
    from flask import current_app
    from flask_jwt_extended import create_access_token

    user_id = current_app.appbuilder.sm.find_user(username=username).id
    return {"Authorization": "Bearer " + create_access_token(identity=str(user_id), fresh=True)}


def loan_and_repayment_through_the_pages(client):
    """马妍's loan of 5000 (approved straight through) with the card, its instruction read by the payment
    system, the money's arrival; then a repayment of 1000 with the same card, its instruction, its result."""
    signed_in_ma_yan(client)
    pid = policy_id()
    _, data = loan_form(client, pid, amount="5000")
    done = client.post(f"/my/loan/{pid}", data=data)
    assert done.status_code == 200 and "保全申请操作完毕" in page(done), page(done)
    [loan_app] = applications()
    loan_row = db.session.query(PolicyLoan).filter_by(application_id=loan_app.id).one()
    headers = token(client)
    instruction = client.get(f"/api/v1/loan/{loan_row.id}/payment-instruction", headers=headers)
    assert instruction.status_code == 200, instruction.get_data(as_text=True)
    today = clock.today().isoformat()
    arrived = client.post(f"/api/v1/loan/{loan_row.id}/disbursement", json={"arrived_on": today}, headers=headers)
    assert arrived.status_code == 200, arrived.get_data(as_text=True)
    _, repay = repay_form(client, pid, "1000")
    done = client.post(f"/my/repay/{pid}", data=repay)
    assert done.status_code == 200 and "保全申请操作完毕" in page(done), page(done)
    repay_app = applications()[-1]
    assert repay_app.kind == "LOAN_REPAYMENT"
    debit = client.get(f"/api/v1/loan/repayment/{repay_app.application_no}/payment-instruction", headers=headers)
    assert debit.status_code == 200, debit.get_data(as_text=True)
    paid = client.post(f"/api/v1/loan/{loan_row.id}/repayment", headers=headers, json={
        "amount": "1000.00", "paid_on": today, "payment_ref": "PAY-CARD-1", "application_no": repay_app.application_no})
    assert paid.status_code == 200, paid.get_data(as_text=True)
    db.session.expire_all()
    return loan_app.id, loan_row.id, repay_app.id, instruction.get_json(), debit.get_json()


# --- at rest --------------------------------------------------------------------------------------

def test_the_full_card_is_nowhere_in_clear_and_the_orm_reads_it_whole(seeded, client):
    loan_app_id, loan_id, repay_app_id, instruction, debit = loan_and_repayment_through_the_pages(client)
    # the database, every column of every table, as stored: the number never in clear
    assert clear_cells() == []
    assert clear_cells(" ".join(re.findall(".{1,4}", CARD))) == []  # nor typed with spaces
    for table, row_id in (("servicing_application", loan_app_id), ("servicing_application", repay_app_id),
                          ("policy_loan", loan_id)):
        stored = _raw(f"SELECT account_no FROM {table} WHERE id = :id", id=row_id)[0]["account_no"]
        assert stored.startswith(TOKEN) and crypto.decrypt(stored.encode()).decode() == CARD
    # the ORM reads it back whole; the payload keeps the masked form only
    for row_id in (loan_app_id, repay_app_id):
        found = db.session.get(ServicingApplication, row_id)
        assert found.account_no == CARD
        assert found.payload["account"]["card_masked"] == MASKED and CARD not in str(found.payload)
    loan_row = db.session.get(PolicyLoan, loan_id)
    assert (loan_row.account_no, loan_row.account_no_masked) == (CARD, MASKED)
    # the trail: the creates hold the number masked with its keyed hash, the reveals name what was read
    created = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "create", AuditEvent.entity.in_(("servicing_application", "policy_loan")))).all()
    assert len(created) >= 3
    for event in created:
        assert event.after["account_no"] == MASKED
        assert event.after["account_no_hash"] == crypto.lookup_hash(CARD, "card")
    reveals = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reveal")
                                 .order_by(AuditEvent.id)).all()
    assert [(e.entity, e.entity_id, e.after["purpose"]) for e in reveals] == [
        ("policy_loan", str(loan_id), "payment_instruction"),
        ("servicing_application", str(repay_app_id), "debit_instruction")]
    assert all(e.after["account_no"] == MASKED and e.actor_name == "api:integration" for e in reveals)
    # the key screen of the loan (what the customer confirmed) holds the card masked
    screen = _raw("SELECT text FROM key_screen WHERE application_id = :id", id=loan_app_id)[0]["text"]
    assert CARD not in screen and CARD[-4:] in screen
    # the SMS sent around it never named it
    assert all(CARD not in (m.content or "") for m in db.session.query(SmsMessage))
    # the instructions gave it whole
    assert instruction["account"] == {"bank": "CCB", "bank_name": "中国建设银行", "account_name": "马妍",
                                      "account_no": CARD}
    assert (instruction["principal"], instruction["stamp_duty"], instruction["amount"]) == ("5000.00", "0.25", "4999.75")
    assert (instruction["policy_no"], instruction["status"]) == (MA_YAN, "PENDING")
    assert debit["account"]["account_no"] == CARD and debit["amount"] == "1000.00" and debit["loans"] == [loan_id]


def test_no_page_slip_evidence_pack_or_export_shows_it_whole(seeded, client, app):
    loan_app_id, loan_id, repay_app_id, _, _ = loan_and_repayment_through_the_pages(client)
    # the customer's own pages
    for application_id in (loan_app_id, repay_app_id):
        mine = page(client.get(f"/my/application/{application_id}"))
        assert CARD not in mine and MASKED in mine
    # the back office
    with app.test_request_context():
        urls = [url_for("PolicyLoanView.show", pk=loan_id), url_for("PolicyLoanView.list"),
                url_for("ServicingApplicationView.show", pk=loan_app_id),
                url_for("ServicingApplicationView.show", pk=repay_app_id),
                url_for("ReviewQueueView.show", application_id=loan_app_id),
                url_for("ReviewQueueView.show", application_id=repay_app_id),
                url_for("LoanLedgerView.show", loan_id=loan_id), url_for("LoanLedgerView.index"),
                url_for("AuditEventView.list")]
    for user in ("operator", "auditor"):
        client.get("/logout/")
        login(client, user)
        for address in urls:
            reply = client.get(address)
            assert reply.status_code in (200, 302, 403), (user, address, reply.status_code)
            assert CARD not in reply.get_data(as_text=True), (user, address)
    # the slips' rows, the evidence pack (every file of it), the loans' export
    for application_id in (loan_app_id, repay_app_id):
        found = db.session.get(ServicingApplication, application_id)
        assert CARD not in str(slip.changes(found))
    with force_locale("zh"):
        pack = evidence._Pack("policy", policy_id())
        assert evidence._scope(pack)
        sections = evidence._collect(pack)
    assert CARD not in str(sections["applications"]) + str(sections["audit"]) + str(sections["loans"])
    data, _ = evidence.build("policy", policy_id(), actor="auditor")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            assert CARD.encode() not in archive.read(name), name
    today = clock.today()
    assert CARD not in str([loan_export.row_values(row, today) for row in loan_export.loans_granted(today, today)])
    assert CARD not in str(loan_export.payload_rows(db.session.get(ServicingApplication, loan_app_id).payload))


# --- the payment instruction ----------------------------------------------------------------------

def _customer():
    return db.session.query(Customer).filter_by(customer_no="C0003").one()


def _code():
    message = db.session.query(SmsMessage).filter(SmsMessage.phone_is(MA_YAN_MOBILE)) \
        .order_by(SmsMessage.id.desc()).first()
    return codes.development_code(message)


def loan_through_the_service(key="card-loan-1", amount="5000"):
    """马妍's loan through the customer's operation (what the page calls), approved straight through."""
    from tests.views.test_loan_pages import PASSWORD, ready

    ma_yan = ready("C0003")
    with unit.work():
        loan_application.send_code(ma_yan.id)
    with unit.work():
        application = loan_application.apply_for_loan(ma_yan.id, policy_id(), key, amount, "CCB", CARD, "马妍",
                                                      True, PASSWORD, _code())
    return application.id, db.session.query(PolicyLoan).filter_by(application_id=application.id).one().id


def test_only_the_integration_role_gets_it_whole_and_each_read_is_audited(seeded, client):
    _, loan_id = loan_through_the_service()
    address = f"/api/v1/loan/{loan_id}/payment-instruction"
    assert client.get(address).status_code == 401
    for other in ("operator", "admin", "auditor"):
        refused = client.get(address, headers=_operator_token(client, other))
        assert refused.status_code == 403, other
        assert CARD not in refused.get_data(as_text=True)
    assert db.session.query(AuditEvent).filter_by(action="reveal").count() == 0
    headers = token(client)
    for _ in range(2):
        reply = client.get(address, headers=headers)
        assert reply.status_code == 200 and reply.get_json()["account"]["account_no"] == CARD
    db.session.expire_all()
    assert db.session.query(AuditEvent).filter_by(action="reveal", entity="policy_loan",
                                                  entity_id=str(loan_id)).count() == 2
    # once the money arrived there is nothing to pay: no instruction, no reveal
    client.post(f"/api/v1/loan/{loan_id}/disbursement", json={"arrived_on": clock.today().isoformat()},
                headers=headers)
    after = client.get(address, headers=headers)
    assert after.status_code == 409 and CARD not in after.get_data(as_text=True) and after.get_json()["message"]
    assert client.get("/api/v1/loan/999999/payment-instruction", headers=headers).status_code == 404
    assert client.get("/api/v1/loan/repayment/NO-SUCH/payment-instruction", headers=headers).status_code == 404
    db.session.expire_all()
    assert db.session.query(AuditEvent).filter_by(action="reveal").count() == 2


def test_a_loan_without_a_full_number_on_file_gets_no_instruction(seeded):
    _, loan_id = loan_through_the_service()
    db.session.execute(text("UPDATE policy_loan SET account_no = NULL WHERE id = :id"), {"id": loan_id})
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        with unit.work():
            ledger.payment_instruction(loan_id)
    assert refused.value.key == "instruction_no_account" and refused.value.status == 409


def test_the_spec_documents_the_instructions(seeded, client):
    spec = client.get("/api/v1/_openapi", headers=token(client)).get_json()
    for path in ("/api/v1/loan/{loan_id}/payment-instruction",
                 "/api/v1/loan/repayment/{application_no}/payment-instruction"):
        assert {"200", "401", "403", "404", "409"} <= set(map(str, spec["paths"][path]["get"]["responses"])), path
    account = spec["components"]["schemas"]["LoanAccount"]["properties"]
    assert {"bank", "bank_name", "account_name", "account_no"} <= set(account)


# --- rotation -------------------------------------------------------------------------------------

def test_rotation_keeps_the_card_numbers_readable_with_the_old_key_dropped(seeded, key_rotation):
    application_id, loan_id = loan_through_the_service()
    rotation = key_rotation()
    new = rotation.new
    output = rotation.run(1)
    assert "servicing_application: 1 row(s) re-encrypted" in output
    assert "policy_loan: 1 row(s) re-encrypted" in output
    assert crypto.rotate(db.session)["policy_loan"] == 0
    rotation.drop_old()
    for table, row_id in (("servicing_application", application_id), ("policy_loan", loan_id)):
        stored = _raw(f"SELECT account_no FROM {table} WHERE id = :id", id=row_id)[0]["account_no"]
        assert Fernet(new.encode()).decrypt(stored.encode()).decode() == CARD
    assert db.session.get(ServicingApplication, application_id).account_no == CARD
    with unit.work():
        assert ledger.payment_instruction(loan_id)["account"]["account_no"] == CARD


# --- the migration, on a database of its own -------------------------------------------------------

BEFORE, THIS = "a15c0016rd16", "a15c0017bk17"


@pytest.fixture
def blank_database(servers):
    with migration_database(servers, "migration-card-numbers") as url:
        yield url


def _columns(table):
    return {c["name"]: c for c in sa_inspect(db.engine).get_columns(table)}


def test_the_migration_adds_the_encrypted_columns_and_the_downgrade_drops_them(servers, blank_database):
    from flask_migrate import downgrade, upgrade

    other = create_app(make_config(servers, SQLALCHEMY_DATABASE_URI=blank_database))
    with other.app_context():
        upgrade(revision=BEFORE)
        for table in ("servicing_application", "policy_loan"):
            assert "account_no" not in _columns(table)
        upgrade(revision=THIS)
        for table in ("servicing_application", "policy_loan"):
            column = _columns(table)["account_no"]
            assert column["nullable"] and column["type"].length == 255
        db.engine.dispose()
        downgrade(revision=BEFORE)
        db.engine.dispose()
        for table in ("servicing_application", "policy_loan"):
            assert "account_no" not in _columns(table)
            assert "account_no_masked" in _columns("policy_loan")  # the rest kept
        upgrade(revision=THIS)  # and up again
        assert "account_no" in _columns("policy_loan")
        db.session.remove()
        db.engine.dispose()
