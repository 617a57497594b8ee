"""受益人变更 (services/beneficiary.py) on the demo data: 马妍 holds and is insured on three policies (the
change goes straight through); 王芳 holds two policies insuring 李明 (the change waits for his consent). The
share rules, the identity checks, the law's rules, the one application on several policies applied to all
or none (MariaDB), versions kept, and the slip's rows."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Customer, Policy, ServicingApplication
from app.models.identity import IdentityVerification
from app.models.policy import Beneficiary
from app.models.servicing import ApplicationPolicy, Consent
from app.services import beneficiary, clock, intake, unit
from app.services.errors import DomainError
from app.services.servicing import application as servicing
from app.services.servicing import consent, dispatch
from app.services.validation import make_resident_id
from tests.views.test_account import outbox_code

MA_YAN_POLICIES = ("860007775808888", "860006373328888", "880007656378888")  # NNF01, SHS01, AXB01
ANNUITY = "880007656378888"  # 爱鑫宝年金保险: the survival beneficiary may not change
WANG_POLICIES = ("880000002000002", "880000002000003")  # 王芳 holds, 李明 is insured
SHARE_MESSAGE = "同一顺序的受益比例相加需为100%"


@pytest.fixture(autouse=True)
def _codes_for_tests(app, monkeypatch):
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)


def customer(customer_no):
    return db.session.query(Customer).filter_by(customer_no=customer_no).one()


def policy(policy_no):
    return db.session.query(Policy).filter_by(policy_no=policy_no).one()


@pytest.fixture
def verified(seeded):
    for customer_no in ("C0001", "C0003", "C0005"):
        customer(customer_no).auth_status = "VERIFIED"
    db.session.commit()
    return seeded


def person(name, birth, female=False, relationship="SPOUSE", order="1", share="", **extra):
    row = {"name": name, "id_type": "RESIDENT_ID",
           "id_number": make_resident_id("110101", birth, 22 if female else 23), "gender": "F" if female else "M",
           "birth_date": birth.isoformat(), "long_term": True, "id_valid_until": "", "relationship": relationship,
           "order": order, "share": share}
    row.update(extra)
    return row


def two_people(first="60", second="40"):
    return [person("王一", date(1985, 3, 1), relationship="SPOUSE", share=first),
            person("王二", date(2010, 6, 1), female=True, relationship="CHILD", share=second)]


def code_for(customer_id):
    with unit.work():
        beneficiary.send_code(customer_id)
    return outbox_code(db.session.get(Customer, customer_id).mobile)


def apply(customer_no, policy_nos, lists, key="bene-key-1"):
    who = customer(customer_no)
    ids = [policy(number).id for number in policy_nos]
    code = code_for(who.id)
    with unit.work():
        application = beneficiary.apply_for_change(who.id, ids, key, lists, True, code)
    db.session.expire_all()
    return db.session.get(ServicingApplication, application.id)


def refusal(callable_, *args):
    with pytest.raises(DomainError) as refused:
        callable_(*args)
    return refused.value


def current(policy_no, kind="DEATH"):
    db.session.expire_all()
    return sorted((b.name, b.order, b.share, b.version) for b in policy(policy_no).current_beneficiaries(kind))


# --- the shares ------------------------------------------------------------------------------

def test_equal_split_gives_the_remainder_by_the_largest_remainder_rule():
    assert beneficiary.equal_split(3) == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert beneficiary.equal_split(2) == [Decimal("50.00")] * 2
    for count in range(1, 13):
        shares = beneficiary.equal_split(count)
        assert sum(shares) == Decimal("100") and max(shares) - min(shares) <= Decimal("0.01")
        assert all(isinstance(share, Decimal) for share in shares)


def test_shares_of_one_order_add_up_to_exactly_100(app):
    rows = beneficiary.clean_rows("DEATH", two_people("60", "40"))
    assert [row["share"] for row in rows] == [Decimal("60.00"), Decimal("40.00")]
    refused = refusal(beneficiary.clean_rows, "DEATH", two_people("60", "39.99"))
    assert SHARE_MESSAGE in refused.message and "99.99" in refused.message
    refused = refusal(beneficiary.clean_rows, "DEATH", [person("王一", date(1985, 3, 1), share="99.99")])
    assert SHARE_MESSAGE in refused.message
    for bad in ("abc", "0", "-5", "100.001", "1e2", "NaN", "101"):
        assert refusal(beneficiary.clean_rows, "DEATH",
                       [person("王一", date(1985, 3, 1), share=bad)]).key == "beneficiary_share_bad"


def test_two_orders_each_add_up_to_100_and_empty_shares_split_equally(app):
    rows = [person("甲", date(1980, 1, 1), order="1", share="100"),
            person("乙", date(2001, 1, 1), relationship="CHILD", order="2"),
            person("丙", date(2002, 1, 1), relationship="CHILD", order="2"),
            person("丁", date(2003, 1, 1), relationship="CHILD", order="2")]
    clean = beneficiary.clean_rows("DEATH", rows)
    assert [(row["order"], row["share"]) for row in clean] == [
        (1, Decimal("100.00")), (2, Decimal("33.34")), (2, Decimal("33.33")), (2, Decimal("33.33"))]
    rows[0]["share"] = "90"
    refused = refusal(beneficiary.clean_rows, "DEATH", rows)
    assert SHARE_MESSAGE in refused.message and "第一顺序" in refused.message
    rows[0]["share"], rows[1]["share"] = "100", "50"  # some shares of an order given, some not
    assert refusal(beneficiary.clean_rows, "DEATH", rows).key == "beneficiary_share_partly"


def test_a_resident_id_fixes_the_birth_date_and_the_gender(app):
    row = person("王一", date(1985, 3, 1))
    row["birth_date"] = "1985-03-02"
    assert "出生日期与身份证号码不符" in refusal(beneficiary.clean_rows, "DEATH", [row]).message
    row = person("王一", date(1985, 3, 1))
    row["gender"] = "F"
    assert "性别与身份证号码不符" in refusal(beneficiary.clean_rows, "DEATH", [row]).message
    row = person("王一", date(1985, 3, 1), birth_date="", gender="")  # filled from the ID
    clean = beneficiary.clean_rows("DEATH", [row])[0]
    assert clean["birth_date"] == date(1985, 3, 1) and clean["gender"] == "M"
    row = person("王一", date(1985, 3, 1))
    row["id_number"] = row["id_number"][:-1] + ("0" if row["id_number"][-1] != "0" else "1")  # check digit
    assert "证件号码" in refusal(beneficiary.clean_rows, "DEATH", [row]).message


def test_an_expired_id_is_refused_and_a_date_to_come_or_long_term_passes(app):
    expired = person("王一", date(1985, 3, 1), long_term=False,
                     id_valid_until=(clock.today() - timedelta(days=1)).isoformat())
    refused = refusal(beneficiary.clean_rows, "DEATH", [expired])
    assert refused.key == "beneficiary_id_expired" and "证件已过有效期" in refused.message
    assert refusal(beneficiary.clean_rows, "DEATH", [person("王一", date(1985, 3, 1), long_term=False)]).key \
        == "beneficiary_id_validity"
    valid = person("王一", date(1985, 3, 1), long_term=False, id_valid_until=clock.today().isoformat())
    assert beneficiary.clean_rows("DEATH", [valid])[0]["id_valid_until"] == clock.today()


# --- which policies, the law's rules ---------------------------------------------------------

def test_the_survival_tab_is_absent_for_a_product_that_forbids_it(verified):
    ma = customer("C0003")
    assert not beneficiary.survival_changeable([policy(ANNUITY)])
    assert not beneficiary.survival_changeable([policy(MA_YAN_POLICIES[0]), policy(ANNUITY)])
    assert beneficiary.survival_changeable([policy(MA_YAN_POLICIES[0])])
    lists = {"DEATH": two_people(), "SURVIVAL": [person("马妍", date(1986, 11, 29), female=True)]}
    assert refusal(beneficiary.check_change, ma.id, [policy(ANNUITY).id], lists).key == "beneficiary_survival_fixed"


def test_only_the_insured_or_relatives_may_be_named(verified):
    ma = customer("C0003")
    lists = {"DEATH": [person("路人", date(1980, 1, 1), relationship="OTHER", share="100")]}
    refused = refusal(beneficiary.check_change, ma.id, [policy(MA_YAN_POLICIES[0]).id], lists)
    assert refused.key == "beneficiary_not_relative" and "被保险人的亲属" in refused.message
    stranger_as_self = {"DEATH": [person("路人", date(1980, 1, 1), relationship="SELF", share="100")]}
    assert refusal(beneficiary.check_change, ma.id, [policy(MA_YAN_POLICIES[0]).id], stranger_as_self).key \
        == "beneficiary_self_mismatch"


def test_a_minor_insured_whose_holder_is_not_the_guardian_may_only_name_the_guardian(verified):
    wang, li = customer("C0005"), customer("C0004")
    li.birth_date = clock.today().replace(year=clock.today().year - 10)
    for number in WANG_POLICIES:
        policy(number).holder_relationship = "OTHER"
    db.session.commit()
    ids = [policy(number).id for number in WANG_POLICIES]
    refused = refusal(beneficiary.check_change, wang.id, ids, {"DEATH": two_people()})
    assert refused.key == "beneficiary_minor" and "未满18周岁" in refused.message and "监护人" in refused.message
    guardians = {"DEATH": [person("李父", date(1960, 1, 1), relationship="PARENT", share="50"),
                           person("李监", date(1970, 1, 1), relationship="GUARDIAN", share="50")]}
    _, _, checks = beneficiary.check_change(wang.id, ids, guardians)
    assert any(name == "未成年被保险人的受益人" and passed for name, passed, _ in checks)
    for number in WANG_POLICIES:  # the holder is the parent: relatives may be named
        policy(number).holder_relationship = "PARENT"
    db.session.commit()
    beneficiary.check_change(wang.id, ids, {"DEATH": two_people()})


def test_no_change_once_a_claim_is_reported_through_intake(verified):
    ma = customer("C0003")
    intake.report_claim(MA_YAN_POLICIES[1])
    first = policy(MA_YAN_POLICIES[1]).claim_reported_at
    intake.report_claim(MA_YAN_POLICIES[1], "2030-01-01T00:00:00")  # idempotent: the first time kept
    assert policy(MA_YAN_POLICIES[1]).claim_reported_at == first
    reasons = {c.policy.policy_no: c.reasons for c in beneficiary.candidates(ma.id)}
    assert any("已报案" in str(reason) for reason in reasons[MA_YAN_POLICIES[1]])
    assert reasons[MA_YAN_POLICIES[0]] == []
    refused = refusal(beneficiary.check_change, ma.id, [policy(n).id for n in MA_YAN_POLICIES[:2]],
                      {"DEATH": two_people()})
    assert refused.key == "beneficiary_policy_refused" and "已报案" in refused.message
    assert refusal(intake.report_claim, "999999999").key == "policy_not_found"


def test_customer_b_cannot_name_as_policies(verified):
    zhang = customer("C0001")
    refused = refusal(beneficiary.check_change, zhang.id, [policy(MA_YAN_POLICIES[0]).id], {"DEATH": two_people()})
    assert refused.key == "servicing_policy_not_found"
    assert refusal(beneficiary.chosen_policies, zhang.id, ["abc"]).key == "servicing_policy_not_found"
    assert refusal(beneficiary.chosen_policies, zhang.id, []).key == "beneficiary_no_policy"


# --- the application, approval and versions ---------------------------------------------------

def test_a_change_on_two_policies_is_one_application_applied_straight_through_with_versions_kept(verified):
    application = apply("C0003", MA_YAN_POLICIES[:2], {"DEATH": two_people()})
    assert application.kind == "BENEFICIARY" and application.status == "COMPLETED"
    assert application.decided_by_system and application.amount is None
    assert application.policy_id == policy(MA_YAN_POLICIES[0]).id
    assert [t["name"] for t in application.rule_trace][:4] == ["保单状态", "保险事故未报案", "无办理中的受益人变更申请",
                                                              "受益比例"]
    assert all(t["passed"] for t in application.rule_trace)
    links = db.session.query(ApplicationPolicy).filter_by(application_id=application.id).all()
    assert sorted(link.policy.policy_no for link in links) == sorted(MA_YAN_POLICIES[:2])
    assert links[0].before["DEATH"][0]["name"] == "马配偶" and links[0].after["DEATH"][0]["share"] == "60.00"
    for number in MA_YAN_POLICIES[:2]:
        assert current(number) == [("王一", 1, Decimal("60.00"), 2), ("王二", 1, Decimal("40.00"), 2)]
        old = db.session.query(Beneficiary).filter_by(policy_id=policy(number).id, kind="DEATH", version=1).one()
        assert old.name == "马配偶" and old.superseded_at is not None  # kept
        assert {b.application_id for b in policy(number).current_beneficiaries("DEATH")} == {application.id}
    assert current(MA_YAN_POLICIES[2]) == [("马配偶", 1, Decimal("100.00"), 1)]  # not chosen: unchanged
    assert current(MA_YAN_POLICIES[0], "SURVIVAL") == [("马妍", 1, Decimal("100.00"), 1)]  # not typed
    rows = beneficiary.changes(application)
    assert {"policy_no": MA_YAN_POLICIES[0], "label": "身故受益人", "before": "第一顺序 马配偶(配偶) 100.00%",
            "after": "第一顺序 王一(配偶) 60.00%;第一顺序 王二(子女) 40.00%"} in rows
    assert len(rows) == 2
    assert beneficiary.effective_on(application) == application.decided_at.date()


def test_a_double_submit_makes_one_application_and_a_policy_in_progress_takes_no_second(verified):
    wang = customer("C0005")
    first = apply("C0005", WANG_POLICIES, {"DEATH": two_people()}, key="same-key")
    again = apply("C0005", WANG_POLICIES, {"DEATH": two_people()}, key="same-key")
    assert first.id == again.id
    assert db.session.query(ServicingApplication).filter_by(kind="BENEFICIARY").count() == 1
    assert first.status == "CONSENT"
    reasons = {c.policy.policy_no: c.reasons for c in beneficiary.candidates(wang.id)}
    assert all("正在办理中" in str(reasons[n][0]) for n in WANG_POLICIES)  # the second through ApplicationPolicy
    refused = refusal(beneficiary.check_change, wang.id, [policy(WANG_POLICIES[1]).id], {"DEATH": two_people()})
    assert refused.key == "beneficiary_policy_refused"


def passed_face(customer_id):
    verification = IdentityVerification(customer_id=customer_id, kind="PHOTO", purpose="CONSENT", status="PASSED",
                                        created_at=clock.now(), completed_at=clock.now())
    db.session.add(verification)
    db.session.commit()
    return verification.id


def test_the_insured_consents_once_for_two_policies_and_sees_the_new_list_in_full(verified):
    application = apply("C0005", WANG_POLICIES, {"DEATH": two_people()})
    assert application.status == "CONSENT"
    records = db.session.query(Consent).filter_by(application_id=application.id).all()
    assert len(records) == 1 and records[0].customer_id == customer("C0004").id  # 李明, asked once
    text = records[0].text
    for expected in ("被保险人:李明", WANG_POLICIES[0], WANG_POLICIES[1], "第一顺序 王一(配偶) 60.00%",
                     "第一顺序 王二(子女) 40.00%", "共2位", "变更前身故受益人:第一顺序 王配偶(配偶) 100.00%"):
        assert expected in text, expected
    assert current(WANG_POLICIES[0])[0][0] == "王配偶"  # nothing changed before the consent
    with unit.work():
        consent.confirm(records[0].code, passed_face(customer("C0004").id))
    db.session.expire_all()
    application = db.session.get(ServicingApplication, application.id)
    assert application.status == "COMPLETED"
    for number in WANG_POLICIES:
        assert [row[0] for row in current(number)] == ["王一", "王二"]


def test_several_insureds_are_each_asked_and_the_change_waits_for_all(verified):
    wang, zhang = customer("C0005"), customer("C0001")
    third = Policy(policy_no="880000002000009", product_id=policy(WANG_POLICIES[0]).product_id, holder_id=wang.id,
                   insured_id=zhang.id, issue_date=clock.today() - timedelta(days=100), status="IN_FORCE",
                   premium=Decimal("1000"), payment_mode="SINGLE", sum_assured=Decimal("10000"),
                   holder_relationship="SPOUSE")
    db.session.add(third)
    db.session.commit()
    application = apply("C0005", (*WANG_POLICIES, third.policy_no), {"DEATH": two_people()})
    records = {r.customer_id: r for r in db.session.query(Consent).filter_by(application_id=application.id)}
    assert set(records) == {customer("C0004").id, zhang.id}
    assert "被保险人:张德强" in records[zhang.id].text and WANG_POLICIES[0] not in records[zhang.id].text
    with unit.work():
        consent.confirm(records[zhang.id].code, passed_face(zhang.id))
    db.session.expire_all()
    assert db.session.get(ServicingApplication, application.id).status == "CONSENT"  # 李明 still to answer
    assert current(third.policy_no) == []
    with unit.work():
        consent.confirm(records[customer("C0004").id].code, passed_face(customer("C0004").id))
    db.session.expire_all()
    assert db.session.get(ServicingApplication, application.id).status == "COMPLETED"
    assert [row[0] for row in current(third.policy_no)] == ["王一", "王二"]


def test_an_unanswered_consent_lapses_and_nothing_changes(verified):
    application = apply("C0005", WANG_POLICIES, {"DEATH": two_people()})
    record = db.session.query(Consent).filter_by(application_id=application.id).one()
    assert consent.lapse_due(now=record.asked_at + timedelta(days=30)) == 1
    db.session.expire_all()
    application = db.session.get(ServicingApplication, application.id)
    assert application.status == "REJECTED" and application.reject_reason == "CONSENT_LAPSED"
    assert all(current(n)[0][0] == "王配偶" for n in WANG_POLICIES)
    assert beneficiary.candidates(customer("C0005").id)[0].reasons == []  # free again


def test_three_policies_change_all_or_none(verified, monkeypatch):
    """A claim reported on the third policy between the submission and the approval: the approval changes
    none of the three (one transaction, on MariaDB), the application stays in review."""
    monkeypatch.setattr(servicing, "straight_through", lambda application: False)  # to the review queue
    application = apply("C0003", MA_YAN_POLICIES, {"DEATH": two_people()})
    assert application.status == "REVIEW"
    intake.report_claim(MA_YAN_POLICIES[2])
    operator = db.session.execute(db.text("SELECT id FROM ab_user WHERE username = 'operator'")).scalar()
    with pytest.raises(DomainError) as refused, unit.work():
        dispatch.on_approved(servicing.approve(application.id, operator))
    assert refused.value.key == "beneficiary_policy_refused" and MA_YAN_POLICIES[2] in refused.value.message
    db.session.expire_all()
    assert db.session.get(ServicingApplication, application.id).status == "REVIEW"
    for number in MA_YAN_POLICIES:
        assert current(number) == [("马配偶", 1, Decimal("100.00"), 1)]
        assert db.session.query(Beneficiary).filter_by(policy_id=policy(number).id, kind="DEATH").count() == 1
    policy(MA_YAN_POLICIES[2]).claim_reported_at = None  # (the report withdrawn) all three change
    db.session.commit()
    with unit.work():
        dispatch.on_approved(servicing.approve(application.id, operator))
    db.session.expire_all()
    assert db.session.get(ServicingApplication, application.id).status == "COMPLETED"
    for number in MA_YAN_POLICIES:
        assert [row[3] for row in current(number)] == [2, 2]


def test_only_the_kinds_that_differ_change_and_an_unchanged_list_is_refused(verified):
    ma = customer("C0003")
    unchanged = {"DEATH": beneficiary.current_rows([policy(MA_YAN_POLICIES[0])], "DEATH"),
                 "SURVIVAL": beneficiary.current_rows([policy(MA_YAN_POLICIES[0])], "SURVIVAL")}
    assert refusal(beneficiary.check_change, ma.id, [policy(MA_YAN_POLICIES[0]).id], unchanged).key \
        == "beneficiary_unchanged"
    survival = dict(unchanged, SURVIVAL=[person("马妍", date(1986, 11, 29), female=True, relationship="SELF",
                                                share="50", id_number=customer("C0003").id_number),
                                         person("王二", date(2010, 6, 1), female=True, relationship="CHILD",
                                                share="50")])
    application = apply("C0003", MA_YAN_POLICIES[:1], survival)
    assert application.status == "COMPLETED"
    assert [row["label"] for row in beneficiary.changes(application)] == ["生存受益人"]
    assert current(MA_YAN_POLICIES[0], "SURVIVAL") == [("王二", 1, Decimal("50.00"), 2), ("马妍", 1, Decimal("50.00"), 2)]
    assert current(MA_YAN_POLICIES[0]) == [("马配偶", 1, Decimal("100.00"), 1)]  # death list as it was
