"""The endorsement slip (批单, issue 12 point 5): a PDF of a completed application whose extracted text
holds the insurer, the application number, the policies, what changed (before and after), the effective
date and the verification code; none before completion."""
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine
from pypdf import PdfReader

from app.extensions import db
from app.models import Policy, User
from app.models.servicing import ApplicationPolicy, ServicingApplication
from app.services import annuity, beneficiary, slip, unit
from app.services.servicing import application as service
from tests.services.test_ledger import disburse, pending_loan

NOW = datetime(2026, 3, 2, 10, 0)
MA_YAN = "860007775808888"  # 年年福 (loans)
TERM = "860006373328888"  # 守护神定期寿险
ANNUITY = "880007656378888"  # 爱鑫宝年金保险
PASS = [("万能账户", True, "已有万能账户 U0001")]
FAIL = [("人工复核", False, "抽检")]


@pytest.fixture
def frozen(seeded):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def pdf_text(data):
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def policy(no):
    return db.session.query(Policy).filter_by(policy_no=no).one()


def operator():
    return db.session.query(User.id).filter_by(username="operator").scalar()


def completed(kind, policy_nos, links, checks=PASS, key="k1", payload=None):
    """An application of `kind` on the policies, with each policy's before/after, through submit,
    approve (when in review) and complete."""
    first = policy(policy_nos[0])
    with unit.work():
        found = service.submit(kind, first.holder_id, first.id, payload or {}, checks, None, key)
        for no, (before, after) in zip(policy_nos, links):
            db.session.add(ApplicationPolicy(application_id=found.id, policy_id=policy(no).id, before=before,
                                             after=after))
        application_id = found.id
    if found.status == "REVIEW":
        with unit.work():
            service.approve(application_id, operator())
    with unit.work():
        service.complete(application_id)
    return application_id


def test_a_loans_slip_holds_the_figures_the_code_and_the_hotline(frozen, app):
    loan_id = pending_loan("12000.00")
    disburse(loan_id, "2026-03-02")
    found = db.session.query(ServicingApplication).filter_by(application_no="SA202603010001").one()
    assert found.status == "COMPLETED" and len(found.slip_code) == 12
    text = pdf_text(slip.slip_pdf(found.id))
    for shown in ("爱心人寿保险股份有限公司", "批单", "SA202603010001", MA_YAN, "马妍", "保单贷款",
                  "贷款本金", "12000.00 元", "印花税", "实际入账金额", "贷款年利率", "5.00%", "到期日",
                  "2026-03-02", found.slip_code, app.config["HOTLINE"]):
        assert shown in text, shown
    assert "None" not in text
    fonts = [font for page in PdfReader(io.BytesIO(slip.slip_pdf(found.id))).pages
             for font in page["/Resources"]["/Font"].values()]
    # the Chinese font travels inside the file (a record prints the same on any reader)
    assert any("/FontFile2" in font.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
               if "/DescendantFonts" in font.get_object() else "/FontFile2" in
               font.get_object().get("/FontDescriptor", {}) for font in fonts), fonts


def test_a_repayments_slip_holds_the_split_and_the_principal_before_and_after(frozen):
    first = policy(MA_YAN)
    payload = {"amount": "3000.00", "interest_part": "50.00", "principal_part": "2950.00",
               "principal_after": "9050.00"}
    with unit.work():
        found = service.submit("LOAN_REPAYMENT", first.holder_id, first.id, payload, PASS, Decimal("3000"), "r1")
    with unit.work():
        service.complete(found.id)
    rows = {row["label"]: (row["before"], row["after"]) for row in slip.changes(found)}
    assert rows["剩余本金"] == ("12000.00 元", "9050.00 元") and rows["利息部分"][1] == "50.00 元"
    text = pdf_text(slip.slip_pdf(found.id))
    for shown in ("保单还款", "还款金额", "3000.00 元", "本金部分", "2950.00 元", "12000.00 元", "9050.00 元"):
        assert shown in text, shown


def test_an_annuity_slip_holds_the_method_before_and_after_and_its_effective_day(frozen, monkeypatch):
    application_id = completed("ANNUITY_METHOD", [ANNUITY], [({"annuity_method": "ACCUMULATE"},
                                                              {"annuity_method": "TO_UNIVERSAL"})])
    monkeypatch.setattr(annuity, "changes", lambda application: [
        {"policy_no": ANNUITY, "label": "年金领取方式", "before": "累积生息", "after": "转入万能账户"}])
    monkeypatch.setattr(annuity, "effective_on", lambda application: date(2026, 6, 1))
    text = pdf_text(slip.slip_pdf(application_id))
    for shown in ("年金领取方式变更", ANNUITY, "年金领取方式", "累积生息", "转入万能账户", "2026-06-01",
                  "办结时间", f"{db.session.get(ServicingApplication, application_id).completed_at:%Y-%m-%d %H:%M}"):
        assert shown in text, shown


def test_without_the_modules_rows_the_policies_stored_before_and_after_are_used(frozen, monkeypatch):
    monkeypatch.setattr(annuity, "changes", lambda application: [])
    monkeypatch.setattr(annuity, "effective_on", lambda application: None)
    application_id = completed("ANNUITY_METHOD", [ANNUITY], [({"annuity_method": "ACCUMULATE"},
                                                              {"annuity_method": "TO_UNIVERSAL"})], checks=FAIL)
    found = db.session.get(ServicingApplication, application_id)
    assert slip.changes(found) == [{"policy_no": ANNUITY, "label": "年金领取方式", "before": "累积生息",
                                    "after": "转入万能账户"}]
    assert slip.effective_on(found) == date(2026, 3, 2)  # the completion day when the module says nothing
    text = pdf_text(slip.slip_pdf(application_id))
    assert "累积生息" in text and "转入万能账户" in text and "ACCUMULATE" not in text


def test_a_beneficiary_slip_on_two_policies_holds_each_list_before_and_after(frozen, monkeypatch):
    before = [{"name": "马建国", "relationship_to_insured": "PARENT", "order": 1, "share": "100.00"}]
    after = [{"name": "张伟", "relationship_to_insured": "SPOUSE", "order": 1, "share": "60.00"},
             {"name": "张小明", "relationship_to_insured": "CHILD", "order": 1, "share": "40.00"}]
    application_id = completed("BENEFICIARY", [MA_YAN, ANNUITY], [({"DEATH": before}, {"DEATH": after})] * 2,
                               key="b1")
    monkeypatch.setattr(beneficiary, "changes", lambda application: [])  # the stored before/after, both policies
    monkeypatch.setattr(beneficiary, "effective_on", lambda application: None)
    found = db.session.get(ServicingApplication, application_id)
    rows = slip.changes(found)
    assert [row["policy_no"] for row in rows] == [MA_YAN, ANNUITY]
    assert rows[0]["label"] == "身故受益人" and "马建国 父母 第1顺序 100.00%" == rows[0]["before"]
    assert rows[0]["after"] == "张伟 配偶 第1顺序 60.00%;张小明 子女 第1顺序 40.00%"
    text = pdf_text(slip.slip_pdf(application_id))
    for shown in ("受益人变更", MA_YAN, ANNUITY, "身故受益人", "马建国", "父母", "张伟", "配偶", "60.00%",
                  "张小明", "40.00%", found.slip_code):
        assert shown in text, shown
    # the module's own rows (the contract) win over the stored ones
    monkeypatch.setattr(beneficiary, "changes", lambda application: [
        {"policy_no": MA_YAN, "label": "身故受益人", "before": "马建国 100%", "after": "张伟 60%;张小明 40%"}])
    text = pdf_text(slip.slip_pdf(application_id))
    assert "马建国 100%" in text and "张伟 60%\n张小明 40%" in text  # one person a line


def test_no_slip_before_completion_and_each_code_differs(frozen):
    first = policy(ANNUITY)
    with unit.work():
        waiting = service.submit("ANNUITY_METHOD", first.holder_id, first.id, {}, FAIL, None, "w1")
    with pytest.raises(slip.SlipNotReady) as refused:
        slip.slip_pdf(waiting.id)
    assert refused.value.status == 409 and "尚未办结" in refused.value.message and "人工审核中" in refused.value.message
    codes = {db.session.get(ServicingApplication, completed("ANNUITY_METHOD", [ANNUITY], [({}, {})], key=f"c{i}"))
             .slip_code for i in range(3)}
    assert len(codes) == 3


def test_a_name_with_markup_prints_as_typed(frozen, monkeypatch):
    monkeypatch.setattr(beneficiary, "changes", lambda application: [
        {"policy_no": MA_YAN, "label": "身故受益人", "before": "<b>甲</b>&", "after": "乙 <img src=x>"}])
    application_id = completed("BENEFICIARY", [MA_YAN], [({}, {})], key="m1")
    text = pdf_text(slip.slip_pdf(application_id))
    assert "<b>甲</b>&" in text and "乙 <img src=x>" in text


def test_an_annuity_slip_through_the_annuity_modules_own_rows(frozen):
    """The real annuity.changes/effective_on (services/annuity.py) read the payload it stores."""
    payload = {"before": "ACCUMULATE", "after": "TO_UNIVERSAL", "universal_account_no": "860007775808888",
               "effective_from": "2026-06-01", "policy_no": ANNUITY}
    application_id = completed("ANNUITY_METHOD", [ANNUITY], [({}, {})], key="real", payload=payload)
    text = pdf_text(slip.slip_pdf(application_id))
    for shown in ("年金领取方式", "累积生息", "转入万能账户", "2026-06-01"):
        assert shown in text, shown
    assert "ACCUMULATE" not in text and "TO_UNIVERSAL" not in text
