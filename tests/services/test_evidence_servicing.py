"""Evidence packs (issue 15 point 3, "Done when") after servicing: 马妍's policy 860007775808888 after a policy loan
(a face check, the loan confirmation, approved straight through with its rule trace), the money's arrival on the
ledger, a repayment with its payment result and a beneficiary change of two of her policies, all driven through her
customer pages and the ledger service the way tests/views/test_loan_pages.py, test_beneficiary_pages.py and
tests/services/test_ledger.py drive them. The policy's pack and the loan application's pack hold every item (the
applications with their rule traces and decisions, the ledger rows, the payment result, the slips, the key screens,
the face check, the SMS) with no full ID number, mobile or card number anywhere; `flask evidence verify` passes the
ZIP and names the file of which one byte changed; the auditor downloads it from her policy's page (audited), an
agent gets 403. The insured's consent (马妍 insures herself: none is asked) is checked on 王芳's loan, which 李明
consents to. Last: a stored record of the history changed by hand with SQL, `flask audit verify` names it."""
import io
import json
import re
import zipfile

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import AuditEvent, Customer, Policy, ServicingApplication
from app.models.identity import IdentityVerification
from app.models.screen import KeyScreen
from app.models.servicing import Consent, LoanLedgerEntry, LoanRepayment, PolicyLoan
from app.services import clock, evidence, identity, screens, slip
from app.services.privacy import mask_id_number, mask_mobile
from app.views.account.loan import LOAN_AGREEMENT_VERSION
from tests.biometric import agree_everyone
from tests.conftest import csrf_token, login
from tests.services.test_consent import faces, record_of  # noqa: F401  (fixture)
from tests.services.test_consent import apply as wang_fang_loan
from tests.services.test_evidence import pdf_text
from tests.services.test_ledger import disburse, repay
from tests.test_cli_evidence import _rezip
from tests.views.test_account import _session_celery, as_another_browser, outbox_code, page  # noqa: F401
from tests.views.test_beneficiary_pages import SHS, WANG_ER_ID, WANG_YI_ID, edit_page, fields, post, two_people_form
from tests.views.test_consent_pages import LI_MING_SELFIE, answer, upload
from tests.views.test_loan_pages import (CARD, MA_YAN, MA_YAN_MOBILE, PASSWORD, applications, loan_form, photo,
                                         policy_id, repay_form, signed_in_ma_yan)

LOAN, REPAID = "8000", "1000"


@pytest.fixture(autouse=True)
def _limits(app, monkeypatch):
    """Several codes to one mobile in a minute (sign-in, loan, repayment, beneficiary); a face check from 5000."""
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)
    monkeypatch.setitem(app.config, "LOAN_FACE_AMOUNT", 5000)


def _one(kind):
    [found] = [a for a in applications() if a.kind == kind]
    return found


def apply_for_loan(client, pid):
    """The loan of 8000 on her pages: refused until her face is checked (obama2.jpg against obama.jpg), then
    accepted and approved straight through (≤ STP_MAX_AMOUNT, every check passed) with its PENDING loan."""
    ma_yan = db.session.query(Customer).filter_by(customer_no="C0003").one()
    identity.attach_reference_photo(ma_yan.id, photo("obama.jpg"))
    _, data = loan_form(client, pid, amount=LOAN)
    refused = client.post(f"/my/loan/{pid}", data=dict(data))
    assert refused.status_code == 403 and "须进行人脸识别" in page(refused)
    token = csrf_token(page(client.get(f"/my/loan/{pid}/face")))
    checked = client.post(f"/my/loan/{pid}/face", data={"csrf_token": token,
                                                        "photo": (io.BytesIO(photo("obama2.jpg")), "me.jpg")},
                          content_type="multipart/form-data", follow_redirects=True)
    assert "人脸识别通过" in page(checked), page(checked)
    done = client.post(f"/my/loan/{pid}", data=dict(data))
    assert done.status_code == 200 and "保全申请操作完毕" in page(done), page(done)
    application = _one("POLICY_LOAN")
    assert application.status == "APPROVED" and application.decided_by_system
    assert application.identity_verification_id is not None and all(c["passed"] for c in application.rule_trace)
    return application


def repay_part(client, pid):
    _, data = repay_form(client, pid, REPAID)
    done = client.post(f"/my/repay/{pid}", data=data)
    assert done.status_code == 200 and "保全申请操作完毕" in page(done), page(done)
    return _one("LOAN_REPAYMENT")


def change_beneficiaries(client):
    """The death beneficiaries of 年年丰盈 and 守护神 to 王一 60% / 王二 40%: she is their insured, so no
    consent is asked and the change goes straight through."""
    data = two_people_form(client, page(edit_page(client, MA_YAN, SHS)))
    confirm = page(post(client, "/my/beneficiary/edit", data, action="submit"))
    sent = page(post(client, "/my/beneficiary/code", fields(confirm)))
    done = post(client, "/my/beneficiary/edit", fields(sent), action="confirm", code=outbox_code(MA_YAN_MOBILE))
    assert "本次业务受理成功" in page(done), page(done)
    return _one("BENEFICIARY")


@pytest.fixture
def history(seeded, client):
    """马妍's servicing history: {"policy", "loan", "repayment", "beneficiary", "loan_row", "payment_ref"}."""
    signed_in_ma_yan(client)
    pid = policy_id()
    loan_application = apply_for_loan(client, pid)
    loan_row = db.session.query(PolicyLoan).filter_by(application_id=loan_application.id).one()
    assert loan_row.status == "PENDING"
    today = clock.today().isoformat()
    disburse(loan_row.id, day=today)  # the payment system's (or the operator's) 放款到账
    repayment = repay_part(client, pid)
    assert repayment.status == "APPROVED"
    repay(loan_row.id, REPAID, day=today, ref="PAY-MY-1", application_no=repayment.application_no)
    beneficiary = change_beneficiaries(client)
    db.session.expire_all()
    found = {"policy": db.session.get(Policy, pid), "loan_row": db.session.get(PolicyLoan, loan_row.id),
             "payment_ref": "PAY-MY-1"}
    for key, row in (("loan", loan_application), ("repayment", repayment), ("beneficiary", beneficiary)):
        found[key] = db.session.get(ServicingApplication, row.id)
        assert found[key].status == "COMPLETED" and found[key].slip_code, (key, found[key].status)
    return found


# --- what a pack must never hold ----------------------------------------------------------------------------

def squeeze(text):
    """Text without its white space (pypdf joins wrapped lines and drops the space between CJK and digits)."""
    return re.sub(r"\s+", "", str(text))


def _secrets(history):
    """The full numbers of the history: her ID number, her mobile, her card; the beneficiaries' ID numbers."""
    holder = history["policy"].holder
    return {"ID number": holder.id_number, "mobile": holder.mobile, "card": CARD, "王一's ID": WANG_YI_ID,
            "王二's ID": WANG_ER_ID, "servicing password": PASSWORD}


def _readable(name, content):
    """A member of the pack as text to search: PDFs through pypdf, the rest as bytes read as Latin-1 and UTF-8."""
    texts = [content.decode("latin-1")]
    if name.endswith((".json", ".txt")):
        texts.append(content.decode("utf-8"))
    if content.startswith(b"%PDF"):
        texts.append(pdf_text(content))
    return texts


def assert_nothing_in_full(archive, history):
    for name in archive.namelist():
        for readable in _readable(name, archive.read(name)):
            for squeezed in (readable, squeeze(readable)):
                for what, secret in _secrets(history).items():
                    if what == "servicing password" and not name.endswith((".json", ".txt", ".pdf")):
                        continue  # six digits may occur by chance in a photo's bytes
                    assert secret not in squeezed, (what, name)


# --- the policy's pack ------------------------------------------------------------------------------------

@pytest.fixture
def policy_pack(history):
    data, manifest = evidence.build("policy", history["policy"].id, actor="auditor")
    return data, manifest, zipfile.ZipFile(io.BytesIO(data))


def test_the_policy_pack_holds_every_item_of_the_servicing_history(history, policy_pack, app):
    data, manifest, archive = policy_pack
    names = set(archive.namelist())
    policy, loan_app, repayment, change = (history[k] for k in ("policy", "loan", "repayment", "beneficiary"))
    assert manifest["subject"] == {"kind": "policy", "id": policy.id, "label": f"保单 {MA_YAN}"}
    assert {"summary.pdf", "manifest.json", "manifest.sig", "records/audit_events.json"} <= names
    assert {e["path"] for e in json.loads(archive.read("manifest.json"))["files"]} == names - {"manifest.json",
                                                                                                "manifest.sig"}

    # the slips (批单) of the three completed applications, as PDF files naming their application and code
    slips = sorted(n for n in names if n.startswith("slips/"))
    assert len(slips) == 3, slips
    for application in (loan_app, repayment, change):
        [name] = [n for n in slips if application.application_no in n]
        slip_text = pdf_text(archive.read(name)).replace("\n", "")
        assert application.application_no in slip_text and application.slip_code in slip_text, name

    # the key screens, each as the customer saw it: the loan with its amounts and agreement version, the
    # repayment, the beneficiary confirmation
    shown = {s.kind: s for s in screens.for_policy(policy.id)}
    assert set(shown) == {"LOAN_CONFIRM", "REPAYMENT_CONFIRM", "BENEFICIARY_CONFIRM"}
    for screen in shown.values():
        assert archive.read(f"screens/screen-{screen.id}.txt").decode("utf-8") == screen.text
    loan_screen = shown["LOAN_CONFIRM"].text.split("\n")
    for line in ("保险单号: " + MA_YAN, "本次贷款金额: 8000.00 元", "印花税: 0.40 元", "实际入账金额: 7999.60 元",
                 f"《保单贷款协议》 版本 {LOAN_AGREEMENT_VERSION}"):
        assert line in loan_screen, (line, loan_screen)
    assert shown["LOAN_CONFIRM"].agreement_version == LOAN_AGREEMENT_VERSION
    assert "还款金额 [1000]" in shown["REPAYMENT_CONFIRM"].text.split("\n")
    for words in ("第一顺序 王一(配偶) 60.00%", "第一顺序 王二(子女) 40.00%", MA_YAN, SHS):
        assert words in shown["BENEFICIARY_CONFIRM"].text, words

    # the face check of the loan: her selfie byte for byte, and the reference photo it was compared with
    check = db.session.get(IdentityVerification, loan_app.identity_verification_id)
    assert check.status == "PASSED" and check.purpose
    [selfie] = [n for n in names if n.startswith(f"files/identity/{check.id}-")]
    with open(f"{app.config['UPLOAD_DIR']}/{check.evidence_path}", "rb") as handle:
        assert archive.read(selfie) == handle.read()
    assert any(n.startswith("files/reference/C0003-") for n in names)

    # the audit events of the rows: the applications, the loan, its ledger rows and the repayment among them
    events = json.loads(archive.read("records/audit_events.json"))["events"]
    entries = db.session.query(LoanLedgerEntry).filter_by(loan_id=history["loan_row"].id).order_by(
        LoanLedgerEntry.id).all()
    assert [e.kind for e in entries] == ["DISBURSED", "REPAYMENT"]
    [paid] = db.session.query(LoanRepayment).filter_by(loan_id=history["loan_row"].id).all()
    audited = {(e["entity"], str(e["entity_id"])) for e in events}
    for entity, row_id in [("servicing_application", a.id) for a in (loan_app, repayment, change)] + [
            ("policy_loan", history["loan_row"].id), ("loan_repayment", paid.id),
            ("key_screen", shown["LOAN_CONFIRM"].id)] + [("loan_ledger_entry", e.id) for e in entries]:
        assert (entity, str(row_id)) in audited, (entity, row_id)

    # the summary: the timeline and a section for each item, in Chinese
    summary = squeeze(pdf_text(archive.read("summary.pdf")))
    holder = policy.holder
    for words in ("证据包", MA_YAN, "时间线", "保单信息",
                  # the three applications with their kinds, rule traces and decisions
                  "保全申请提交", "保全审核决定", "保全办结", loan_app.application_no, repayment.application_no,
                  change.application_no, "保单贷款", "保单还款", "受益人变更", "校验项", "依据数据", "可贷金额",
                  "人脸识别", "系统自动审核", "受益比例",
                  # the loan, its ledger (the disbursement, the repayment) and the payment result
                  f"保单贷款 #{history['loan_row'].id}", "本金 8000.00 元", "贷款台账", "放款到账", "还款",
                  "还款结果", "PAY-MY-1", "成功",
                  # the slips as files, the key screens with the loan's agreement version, the face check
                  "批单", loan_app.slip_code, "关键页面", "保单贷款确认", "保单还款确认", "受益人变更确认",
                  f"协议版本 {LOAN_AGREEMENT_VERSION}", "本次贷款金额: 8000.00 元", "人脸核验", "人脸距离",
                  f"{check.distance:.4f}", "受益人版本", "王一", "王二",
                  # the SMS sent to her, the mobile masked; the audit log and the file list
                  "短信发送", mask_mobile(holder.mobile), "审计日志", "文件清单", mask_id_number(holder.id_number)):
        assert squeeze(words) in summary, words
    for name in slips:
        assert squeeze(name) in summary, name
    assert_nothing_in_full(archive, history)


def test_the_loan_applications_pack_holds_its_trace_screen_face_check_ledger_and_slip(history):
    loan_app = history["loan"]
    data, manifest = evidence.build("application", loan_app.id, actor="auditor")
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    assert manifest["subject"] == {"kind": "application", "id": loan_app.id,
                                   "label": f"保全申请 {loan_app.application_no}"}
    assert [n for n in names if n.startswith("slips/")] == [f"slips/{slip.file_name(loan_app)}"]
    [screen] = screens.for_application(loan_app.id)
    assert screen.kind == "LOAN_CONFIRM" and f"screens/screen-{screen.id}.txt" in names
    assert any(n.startswith(f"files/identity/{loan_app.identity_verification_id}-") for n in names)
    summary = squeeze(pdf_text(archive.read("summary.pdf")))
    for check in loan_app.rule_trace:
        assert squeeze(check["name"]) in summary, check["name"]
    for words in (loan_app.application_no, "校验项", "通过", "系统自动审核", "放款到账", "还款结果", "批单",
                  "保单贷款确认", f"协议版本 {LOAN_AGREEMENT_VERSION}", "人脸核验", "短信"):
        assert squeeze(words) in summary, words
    # the other applications of the policy are not its own (their numbers may appear only in her SMS around it)
    events = json.loads(archive.read("records/audit_events.json"))["events"]
    assert ("servicing_application", str(history["beneficiary"].id)) not in {(e["entity"], str(e["entity_id"]))
                                                                             for e in events}
    assert not any(history["beneficiary"].application_no in name for name in names)
    assert_nothing_in_full(archive, history)


# --- offline verification, as an auditor would --------------------------------------------------------------

def _cli(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    assert "Traceback" not in result.output
    return result


def test_flask_evidence_verify_passes_the_pack_and_names_a_file_changed_by_one_byte(app, policy_pack, tmp_path):
    data, _, archive = policy_pack
    path = tmp_path / "ma-yan.zip"
    path.write_bytes(data)
    result = _cli(app, "evidence", "verify", str(path))
    assert result.exit_code == 0, result.output
    assert "证据包完整" in result.output and MA_YAN in result.output

    for target in (next(n for n in archive.namelist() if n.startswith("slips/")),
                   next(n for n in archive.namelist() if n.startswith("screens/"))):
        changed = tmp_path / "changed.zip"
        changed.write_bytes(_rezip(data, lambda name, content: content[:40] + bytes([content[40] ^ 1]) + content[41:]
                                   if name == target else content))
        result = _cli(app, "evidence", "verify", str(changed))
        assert result.exit_code == 1, result.output
        assert "证据包校验未通过" in result.output and target in result.output and "已被修改" in result.output
        others = [n for n in archive.namelist() if n not in (target, "manifest.json", "manifest.sig")]
        assert not any(f"已被修改:{n}" in result.output for n in others)


# --- the auditor through the web ---------------------------------------------------------------------------

def test_the_auditor_downloads_the_pack_from_her_policy_page_and_an_agent_is_refused(history, app):
    policy = history["policy"]
    as_another_browser()
    staff = app.test_client()
    login(staff, "auditor")
    shown = page(staff.get(f"/policyview/show/{policy.id}"))
    assert 'id="evidence-download"' in shown and f"/evidence/policy/{policy.id}.zip" in shown
    reply = staff.get(f"/evidence/policy/{policy.id}.zip")
    assert reply.status_code == 200 and reply.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(reply.data))
    assert len([n for n in archive.namelist() if n.startswith("slips/")]) == 3
    public = evidence.signing_key(app.config)[0].public_key()
    assert evidence.verify(reply.data, public)[0] == []
    db.session.expire_all()
    [event] = db.session.query(AuditEvent).filter_by(action="export", entity="policy",
                                                     entity_id=str(policy.id)).all()
    assert event.actor_name == "auditor" and event.after["evidence_pack"] == f"保单 {MA_YAN}"
    assert event.after["files"] == len(json.loads(archive.read("manifest.json"))["files"])

    application = history["loan"]
    reply = staff.get(f"/evidence/application/{application.id}.zip")
    assert reply.status_code == 200 and zipfile.ZipFile(io.BytesIO(reply.data)).namelist()

    as_another_browser()
    agent = app.test_client()
    login(agent, "agent1")
    for url in (f"/evidence/policy/{policy.id}.zip", f"/evidence/application/{application.id}.zip"):
        assert agent.get(url).status_code == 403, url
    db.session.expire_all()
    assert db.session.query(AuditEvent).filter_by(action="export", actor_name="agent1").count() == 0


# --- the insured's consent (马妍 insures herself; 王芳's policy insures 李明) --------------------------------

def test_a_pack_holds_the_insureds_consent_with_his_face_check_and_screen(faces, client):  # noqa: F811
    agree_everyone()  # the biometric notice agreed before (tests/views/test_biometric_consent.py)
    application = wang_fang_loan(amount="4000")  # below the face check's 5000
    record = record_of(application)
    upload(client, record.code, LI_MING_SELFIE)
    assert "您已确认同意" in page(answer(client, record.code))
    db.session.expire_all()
    record = db.session.get(Consent, record.id)
    assert record.status == "CONFIRMED" and record.confirmed_at and record.identity_verification_id
    [screen] = db.session.query(KeyScreen).filter_by(consent_id=record.id).all()

    for kind, subject in (("application", application.id), ("policy", record.policy_id)):
        data, _ = evidence.build(kind, subject, actor="auditor")
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        assert f"screens/screen-{screen.id}.txt" in names
        assert any(n.startswith(f"files/identity/{record.identity_verification_id}-") for n in names)
        summary = squeeze(pdf_text(archive.read("summary.pdf")))
        li_ming = record.customer
        for words in ("被保险人同意", "征求被保险人同意", "已同意", record.text_sha256, "李明", "被保险人同意确认", "人脸核验",
                      mask_mobile(li_ming.mobile)):
            assert squeeze(words) in summary, (kind, words)
        events = json.loads(archive.read("records/audit_events.json"))["events"]
        assert ("consent", str(record.id)) in {(e["entity"], str(e["entity_id"])) for e in events}
        for name in names:
            for readable in _readable(name, archive.read(name)):
                squeezed = squeeze(readable)
                for secret in (li_ming.id_number, li_ming.mobile, CARD, record.code):
                    assert secret not in squeezed, (kind, name)


# --- the audit trail names a record of the history changed by hand (MariaDB; SQLite alike) -----------------

def test_flask_audit_verify_names_a_record_of_the_history_changed_by_hand(history, app):
    result = _cli(app, "audit", "verify")
    assert result.exit_code == 0 and result.output.startswith("审计记录完好"), result.output
    screen = db.session.query(KeyScreen).filter_by(application_id=history["beneficiary"].id).one()
    entry = db.session.query(LoanLedgerEntry).filter_by(loan_id=history["loan_row"].id, kind="REPAYMENT").one()
    db.session.rollback()

    # her answer on the beneficiary confirmation, changed with plain SQL on a connection of its own
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE key_screen SET text = REPLACE(text, '60.00%', '90.00%') WHERE id = :id"),
                     {"id": screen.id})
    result = _cli(app, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert f"关键页面记录 #{screen.id}" in result.output and "text" in result.output, result.output
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE key_screen SET text = REPLACE(text, '90.00%', '60.00%') WHERE id = :id"),
                     {"id": screen.id})
    assert _cli(app, "audit", "verify").exit_code == 0

    # the repayment's row of the loan ledger
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE loan_ledger_entry SET amount = 10.00 WHERE id = :id"), {"id": entry.id})
    result = _cli(app, "audit", "verify")
    assert result.exit_code == 1 and f"贷款台账记录 #{entry.id} 的“amount”被改动" in result.output, result.output
