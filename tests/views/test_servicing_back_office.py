"""保全管理 (issue 11 point 7): the application page shows what the customer entered readably, the face
evidence, the ID images (staff only) and the SMS sent (masked); the loans' xlsx for a date range; auditors
read everything and change nothing."""
import io
import os
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
import time_machine

from app.extensions import db
from app.models import Policy
from app.models.identity import IdentityVerification
from app.models.servicing import LoanLedgerEntry, LoanRate, PolicyLoan, ServicingApplication
from app.services import codes, unit
from app.services.servicing import application as service
from tests.conftest import login
from tests.services.test_ledger import disburse, pending_loan

NOW = datetime(2026, 3, 2, 10, 0)
MA_YAN = "860007775808888"
CHECKS = [("可贷金额", True, "本次贷款金额 12000.00 ≤ 可贷金额 40000.00"),
          ("收款账户户名", False, "户名 李四 ≠ 投保人 马妍")]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture
def frozen(seeded):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _store(app, name, data=PNG):
    relative = os.path.join("identity", "test", name)
    absolute = os.path.join(app.config["UPLOAD_DIR"], relative)
    os.makedirs(os.path.dirname(absolute), exist_ok=True)
    with open(absolute, "wb") as handle:
        handle.write(data)
    return relative


def loan_application(app, key="k"):
    """A loan application as loan_application.apply_for_loan stores it, with a face check, both ID
    images and the code SMS sent just before; waiting for review (a check failed)."""
    policy = db.session.query(Policy).filter_by(policy_no=MA_YAN).one()
    customer = policy.holder
    selfie = IdentityVerification(customer_id=customer.id, kind="PHOTO", purpose="LOAN", status="PASSED",
                                  evidence_path=_store(app, f"selfie-{key}.png", PNG + b"selfie"),
                                  distance=0.4123, created_at=NOW, completed_at=NOW)
    db.session.add(selfie)
    db.session.flush()
    images = [_store(app, f"front-{key}.png", PNG + b"front"), _store(app, f"back-{key}.png", PNG + b"back")]
    payload = {"amount": "12000", "stamp_duty": "0.6", "credited_amount": "11999.40", "loanable_amount": "40000.00",
               "annual_rate": "0.0500", "account": {"bank": "ICBC", "bank_name": "中国工商银行",
                                                    "card_masked": "6217 **** **** 8507", "card_last4": "8507",
                                                    "account_name": "马妍"},
               "id_images": images, "agreed_at": "2026-03-02T09:59:30", "face_verification_id": selfie.id,
               "note": None, "flag": True}
    with unit.work():
        codes.issue(customer.mobile, "SERVICING", customer_id=customer.id)
    with unit.work():
        found = service.submit("POLICY_LOAN", customer.id, policy.id, payload, CHECKS, Decimal("12000"), key)
        found.identity_verification_id = selfie.id
    return found.id, customer.mobile


def text(reply):
    return reply.get_data(as_text=True)


def test_the_application_page_shows_what_was_entered_and_the_evidence(frozen, client, app):
    application_id, mobile = loan_application(app)
    login(client, "operator")
    html = text(client.get(f"/review-queue/{application_id}"))
    entered = html.split('id="payload"', 1)[1].split("</table>", 1)[0]
    for shown in ("申请金额(元)", "12000.00", "印花税(元)", "0.60", "11999.40", "5.00%", "中国工商银行",
                  "6217 **** **** 8507", "户名", "马妍", "2026-03-02 09:59:30"):
        assert shown in entered, shown
    for hidden in ("{", "None", "True", "identity/test", "8507\"", "ICBC"):
        assert hidden not in entered, hidden
    face = html.split('id="face-evidence"', 1)[1].split("</table>", 1)[0]
    assert "通过" in face and "0.4123" in face and "2026-03-02 10:00:00" in face
    assert f"/review-queue/{application_id}/face-image" in face
    assert f"/review-queue/{application_id}/id-image/0" in html and f"/review-queue/{application_id}/id-image/1" in html
    sms = html.split('id="sms-sent"', 1)[1].split("</table>", 1)[0]
    assert mobile[:3] + "****" + mobile[-4:] in sms and mobile not in sms
    assert "******" in sms  # the code itself never shows
    assert client.get(f"/review-queue/{application_id}/face-image").data.endswith(b"selfie")
    assert client.get(f"/review-queue/{application_id}/id-image/1").data.endswith(b"back")
    assert client.get(f"/review-queue/{application_id}/id-image/2").status_code == 404


def test_the_images_are_for_staff_only(frozen, client, app):
    application_id, _ = loan_application(app)
    urls = [f"/review-queue/{application_id}/face-image", f"/review-queue/{application_id}/id-image/0"]
    for url in urls:  # not signed in: the sign-in page, no image
        reply = client.get(url)
        assert reply.status_code in (302, 401, 403) and not reply.data.startswith(b"\x89PNG")
    login(client, "agent1")
    for url in urls:
        reply = client.get(url)
        assert reply.status_code in (302, 403) and not reply.data.startswith(b"\x89PNG")


def test_an_application_typed_by_hand_shows_no_dicts(frozen, client):
    policy = db.session.query(Policy).filter_by(policy_no=MA_YAN).one()
    with unit.work():
        found = service.submit("POLICY_LOAN", policy.holder_id, policy.id,
                               {"card_no": "6217000010001234567", "extra": {"a": None}}, CHECKS, Decimal("10"), "x")
    login(client, "operator")
    entered = text(client.get(f"/review-queue/{found.id}")).split('id="payload"', 1)[1].split("</table>", 1)[0]
    assert "6217000010001234567" not in entered and "6217 **** **** 4567" in entered
    assert "None" not in entered and "{" not in entered
    assert "本申请无须人脸识别" in text(client.get(f"/review-queue/{found.id}"))


# --- the loans' xlsx ---------------------------------------------------------------------------

def test_the_loans_export_for_a_date_range(frozen, client):
    loan_id = pending_loan("12000")
    disburse(loan_id, "2026-03-01")
    loan = db.session.get(PolicyLoan, loan_id)
    holder = loan.policy.holder
    holder.name = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    login(client, "operator")
    reply = client.get("/loan-ledger/export?start=2026-03-01&end=2026-03-31")
    assert reply.status_code == 200, text(reply)
    assert "spreadsheetml" in reply.mimetype
    sheet = openpyxl.load_workbook(io.BytesIO(reply.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("保险单号", "投保人", "投保人证件号码", "贷款本金(元)") and rows[0][-1] == "状态"
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1]))
    assert row["保险单号"] == MA_YAN and row["投保人"].startswith("'=")
    assert "*" in row["投保人证件号码"] and row["投保人证件号码"] != holder.id_number
    assert Decimal(str(row["贷款本金(元)"])) == Decimal("12000") and Decimal(str(row["印花税(元)"])) == Decimal("0.6")
    assert row["到账日"].date() == date(2026, 3, 1) and row["到期日"].date() == date(2026, 9, 1)
    assert row["状态"] == "未清偿" and Decimal(str(row["未还本金(元)"])) == Decimal("12000")
    assert Decimal(str(row["截至结束日利息(元)"])) > 0  # 30 days of interest to 03-31
    empty = client.get("/loan-ledger/export?start=2026-04-01&end=2026-04-30")
    assert len(list(openpyxl.load_workbook(io.BytesIO(empty.data)).active.iter_rows())) == 1


@pytest.mark.parametrize("query", ["start=2026-03-31&end=2026-03-01", "start=2025-01-01&end=2026-03-01"])
def test_a_reversed_or_too_long_range_is_refused_in_chinese(frozen, client, query):
    login(client, "supervisor")
    reply = client.get(f"/loan-ledger/export?{query}")
    assert reply.status_code == 400 and "366" in text(reply)


def test_an_agent_cannot_export_loans(frozen, client):
    login(client, "agent1")
    assert client.get("/loan-ledger/export?start=2026-03-01&end=2026-03-31").status_code in (302, 403)


# --- auditors read everything and change nothing -----------------------------------------------

def test_an_auditor_reads_everything(frozen, client, app):
    application_id, _ = loan_application(app)
    loan_id = pending_loan("12000", number="SA2")
    disburse(loan_id)
    login(client, "auditor")
    for url in ("/review-queue/", f"/review-queue/{application_id}", f"/review-queue/{application_id}/face-image",
                f"/review-queue/{application_id}/id-image/0", "/loan-ledger/", f"/loan-ledger/{loan_id}",
                "/loan-rates/", "/loan-ledger/export?start=2026-03-01&end=2026-03-31"):
        assert client.get(url).status_code == 200, url
    page = text(client.get(f"/review-queue/{application_id}"))
    assert 'id="approve-form"' not in page and 'id="reject-form"' not in page


def test_an_auditor_changes_nothing(frozen, client, app):
    application_id, _ = loan_application(app)
    pending = pending_loan("12000", number="SA3")
    active = pending_loan("12000", number="SA4")
    disburse(active)
    login(client, "auditor")
    token = client.csrf  # a valid token of the session: what refuses is the role
    attempts = [
        (f"/review-queue/{application_id}/approve", {"note": "ok"}),
        (f"/review-queue/{application_id}/reject", {"reason": "OTHER", "note": "no"}),
        (f"/review-queue/{application_id}/sample-review", {"note": "ok"}),
        (f"/loan-ledger/{pending}/disbursement", {"arrived_on": "2026-03-01"}),
        (f"/loan-ledger/application/{application_id}/disbursement", {"arrived_on": "2026-03-01"}),
        (f"/loan-ledger/{active}/repayment", {"amount": "100", "paid_on": "2026-03-02", "payment_ref": "P1"}),
        ("/loan-rates/add", {"annual_rate": "0.06", "effective_from": "2026-04-01"}),
    ]
    for url, data in attempts:
        assert client.post(url, data={**data, "csrf_token": token}).status_code in (302, 403), url
    db.session.expire_all()
    assert db.session.get(ServicingApplication, application_id).status == "REVIEW"
    assert db.session.get(PolicyLoan, pending).status == "PENDING"
    assert db.session.query(LoanLedgerEntry).count() == 1  # the one disbursement of the setup
    assert db.session.query(LoanRate).count() == 0
