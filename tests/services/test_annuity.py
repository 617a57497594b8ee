"""年金领取方式变更 (services/annuity.py): the list and why not, the universal account, the effective date
(the next policy anniversary strictly after the approval day), the rule trace's Chinese names and figures,
a failed check refusing with nothing stored, the code, straight-through approval and completion, a second
on_approved doing nothing, and the slip's contract (changes, effective_on)."""
from datetime import date, timedelta

import pytest

from app.extensions import db
from app.models import Customer, Policy, ServicingApplication
from app.models.servicing import ApplicationApproval
from app.services import annuity, codes
from app.services.errors import DomainError
from app.services.servicing import application as servicing
from app.services.servicing import dispatch
from tests.views.test_account import outbox_code

ANNUITY_POLICY, UNIVERSAL_POLICY = "880007656378888", "860007775808888"  # 马妍's 爱鑫宝 and 年年丰盈


@pytest.fixture(autouse=True)
def _codes_for_tests(app, monkeypatch):
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)


def customer(no="C0003", verified=True):
    found = db.session.query(Customer).filter_by(customer_no=no).one()
    if verified:
        found.auth_status = "VERIFIED"
        db.session.flush()
    return found


def policy(no=ANNUITY_POLICY):
    return db.session.query(Policy).filter_by(policy_no=no).one()


def a_code(holder):
    """A servicing code to the reserved mobile, read from the outbox (tests/views/test_account.py)."""
    codes.issue(holder.mobile, annuity.CODE_PURPOSE, customer_id=holder.id)
    return outbox_code(holder.mobile)


def applications():
    return db.session.query(ServicingApplication).order_by(ServicingApplication.id).all()


# --- the effective date ------------------------------------------------------------------------

@pytest.mark.parametrize("effective, approved, expected", [
    (date(2020, 6, 15), date(2026, 3, 1), date(2026, 6, 15)),
    (date(2020, 6, 15), date(2026, 6, 15), date(2027, 6, 15)),  # strictly after: not the day itself
    (date(2020, 6, 15), date(2026, 6, 16), date(2027, 6, 15)),
    (date(2020, 2, 29), date(2026, 1, 10), date(2026, 2, 28)),  # a leap-day policy in a common year
    (date(2020, 2, 29), date(2028, 2, 28), date(2028, 2, 29)),
    (date(2026, 5, 1), date(2026, 4, 1), date(2027, 5, 1)),  # not yet in force: its first anniversary
])
def test_the_new_method_applies_from_the_next_anniversary_after_the_approval(effective, approved, expected):
    found = Policy(effective_date=effective, issue_date=effective - timedelta(days=1))
    assert annuity.next_payment_date(found, approved) == expected
    assert annuity.next_payment_date(Policy(effective_date=None, issue_date=effective), approved) == expected


# --- what the customer sees --------------------------------------------------------------------

def test_the_list_holds_the_holders_annuity_policies_with_why_not(seeded):
    ma_yan = customer()
    found = {c.policy.policy_no: c.reasons for c in annuity.candidates(ma_yan.id)}
    assert found == {ANNUITY_POLICY: []}  # her universal and term policies are not annuities
    assert annuity.method_label(policy().annuity_method) == "累积生息"
    policy().status = "SUSPENDED"
    db.session.flush()
    assert annuity.candidates(ma_yan.id)[0].reasons == ["保单状态为中止,不能办理年金领取方式变更"]


def test_the_universal_account_is_an_in_force_universal_policy_of_the_holder(seeded):
    ma_yan, li = customer(), customer("C0004")
    assert annuity.universal_account(ma_yan.id).number == UNIVERSAL_POLICY
    assert annuity.universal_account(li.id) is None  # 李明 holds no universal policy
    policy(UNIVERSAL_POLICY).status = "TERMINATED"
    db.session.flush()
    assert annuity.universal_account(ma_yan.id) is None


def test_the_rule_trace_names_each_check_in_chinese_with_its_figures(seeded):
    ma_yan, found = customer(), policy()
    trace = annuity.checks(ma_yan, found, "TO_UNIVERSAL", annuity.universal_account(ma_yan.id), None)
    assert [check[:3] for check in trace] == [
        ("投保人本人申请", True, "投保人 马妍,申请人 马妍"),
        ("保单状态", True, "保单状态 保单有效"),
        ("产品可选该领取方式", True, "爱心人寿爱鑫宝年金保险 可选:累积生息、转入万能账户;申请:转入万能账户"),
        ("领取方式有变化", True, "当前 累积生息 → 变更后 转入万能账户"),
        ("万能账户", True, f"万能账户 {UNIVERSAL_POLICY}"),
        ("无办理中的年金领取方式变更申请", True, "办理中的申请 0 笔"),
    ]
    same = annuity.checks(ma_yan, found, "ACCUMULATE", None, "SA1")
    assert [c[0] for c in same if not c[1]] == ["领取方式有变化", "无办理中的年金领取方式变更申请"]
    assert "万能账户" not in [c[0] for c in same]  # only asked of 转入万能账户
    cash = annuity.checks(ma_yan, found, "CASH", None, None)
    assert [c[3] for c in cash if not c[1]] == ["该产品不提供“现金领取”的年金领取方式"]


# --- the application ---------------------------------------------------------------------------

def test_the_change_with_the_code_is_approved_straight_through_and_completed(seeded):
    ma_yan, found = customer(), policy()
    application = annuity.apply(ma_yan.id, found.id, "key-1", "TO_UNIVERSAL", a_code(ma_yan))
    db.session.flush()
    assert application.kind == "ANNUITY_METHOD" and application.status == "COMPLETED"
    assert application.decided_by_system and application.amount is None and application.completed_at
    assert all(check["passed"] for check in application.rule_trace)
    assert application.decision_note.startswith("系统自动审核通过:投保人本人申请")
    expected = annuity.next_payment_date(found, application.decided_at.date())
    assert expected > application.decided_at.date() and (expected.month, expected.day) == \
        (found.effective_date.month, found.effective_date.day)
    assert (found.annuity_method, found.annuity_method_from, found.universal_account_no) == \
        ("TO_UNIVERSAL", expected, UNIVERSAL_POLICY)
    payload = application.payload
    assert (payload["before"], payload["after"], payload["effective_from"]) == \
        ("ACCUMULATE", "TO_UNIVERSAL", expected.isoformat())
    assert annuity.changes(application) == [{"policy_no": ANNUITY_POLICY, "label": "年金领取方式",
                                             "before": "累积生息", "after": f"转入万能账户(账户 {UNIVERSAL_POLICY})"}]
    assert annuity.effective_on(application) == expected
    # once only: a second approval hand-over changes nothing
    completed_at = application.completed_at
    found.annuity_method = "ACCUMULATE"
    db.session.flush()
    assert annuity.on_approved(application) is None and dispatch.on_approved(application) is None
    assert found.annuity_method == "ACCUMULATE" and application.completed_at == completed_at


def test_an_approval_by_an_operator_is_carried_out_through_dispatch(seeded):
    """An application approved in the queue (not straight through) is carried out by dispatch once."""
    ma_yan, found = customer(), policy()
    trace = [c[:3] for c in annuity.checks(ma_yan, found, "TO_UNIVERSAL", annuity.universal_account(ma_yan.id),
                                           None)]
    application = servicing.submit("ANNUITY_METHOD", ma_yan.id, found.id,
                                   {"policy_no": ANNUITY_POLICY, "before": "ACCUMULATE", "after": "TO_UNIVERSAL",
                                    "universal_account_no": UNIVERSAL_POLICY}, trace + [("人工", False, "复核")],
                                   None, "key-review")
    assert application.status == "REVIEW"
    assert annuity.on_approved(application) is None  # not approved yet: nothing happens
    assert found.annuity_method == "ACCUMULATE"
    from app.models import User

    operator = db.session.query(User).first()
    if operator is None:
        pytest.skip("no staff user in the seed")
    servicing.approve(application.id, operator.id)
    assert dispatch.on_approved(application).status == "COMPLETED"
    assert found.annuity_method == "TO_UNIVERSAL"
    assert annuity.effective_on(application) == annuity.next_payment_date(found, application.decided_at.date())
    assert db.session.query(ApplicationApproval).count() == 1


def test_without_a_universal_account_the_change_is_refused_and_nothing_stored(seeded):
    ma_yan, found = customer(), policy()
    policy(UNIVERSAL_POLICY).status = "TERMINATED"
    db.session.flush()
    code = a_code(ma_yan)
    with pytest.raises(DomainError) as refused:
        annuity.apply(ma_yan.id, found.id, "key-2", "TO_UNIVERSAL", code)
    assert refused.value.key == "servicing_refused" and refused.value.status == 409
    assert "您名下没有有效的万能险保单(万能账户),暂不能选择“转入万能账户”" in refused.value.message
    assert applications() == [] and found.annuity_method == "ACCUMULATE"
    codes.verify(ma_yan.mobile, annuity.CODE_PURPOSE, code)  # a refusal never spends the code


def test_the_same_method_another_option_and_a_missing_or_wrong_code_are_refused(seeded):
    ma_yan, found = customer(), policy()
    for method, message in [("ACCUMULATE", "当前年金领取方式已是“累积生息”,无需变更"),
                            ("CASH", "该产品不提供“现金领取”的年金领取方式"),
                            ("BOGUS", "请选择变更后的年金领取方式")]:
        with pytest.raises(DomainError) as refused:
            annuity.apply(ma_yan.id, found.id, "key-3", method, "123456")
        assert message in refused.value.message
    with pytest.raises(DomainError) as refused:
        annuity.apply(ma_yan.id, found.id, "key-3", "TO_UNIVERSAL", "")
    assert refused.value.key == "servicing_code_missing"
    right = a_code(ma_yan)
    with pytest.raises(DomainError) as refused:
        annuity.apply(ma_yan.id, found.id, "key-3", "TO_UNIVERSAL", f"{(int(right) + 1) % 10 ** 6:06d}")
    assert refused.value.key == "code_wrong"
    assert applications() == [] and found.annuity_method == "ACCUMULATE"


def test_a_double_submit_makes_one_application_and_one_in_progress_blocks_another(seeded):
    ma_yan, found = customer(), policy()
    first = annuity.apply(ma_yan.id, found.id, "key-4", "TO_UNIVERSAL", a_code(ma_yan))
    again = annuity.apply(ma_yan.id, found.id, "key-4", "TO_UNIVERSAL", "")  # the same form render
    assert again.id == first.id and len(applications()) == 1
    # an application still in review on the policy refuses a new one
    first.status = "APPROVED"
    db.session.flush()
    assert annuity.candidates(ma_yan.id)[0].reasons == [
        f"该保单已有办理中的年金领取方式变更申请(申请编号 {first.application_no})"]
    with pytest.raises(DomainError) as refused:
        annuity.apply(ma_yan.id, found.id, "key-5", "ACCUMULATE", "123456")
    assert "已有办理中的年金领取方式变更申请" in refused.value.message


def test_another_customers_policy_or_a_non_annuity_policy_is_not_found(seeded):
    other, found = customer("C0001"), policy()
    for who, pid in [(other.id, found.id), (customer().id, policy(UNIVERSAL_POLICY).id)]:
        with pytest.raises(DomainError) as refused:
            annuity.apply(who, pid, "key-6", "TO_UNIVERSAL", "123456")
        assert refused.value.key == "servicing_policy_not_found" and refused.value.status == 404
    assert applications() == []


def test_an_unverified_customer_is_refused(seeded):
    ma_yan = customer(verified=False)
    with pytest.raises(DomainError) as refused:
        annuity.apply(ma_yan.id, policy().id, "key-7", "TO_UNIVERSAL", "123456")
    assert refused.value.key == "servicing_not_verified"


def test_changes_and_effective_on_are_empty_for_other_kinds(seeded):
    other = ServicingApplication(kind="POLICY_LOAN", payload={"after": "TO_UNIVERSAL"})
    assert annuity.changes(other) == [] and annuity.effective_on(other) is None
