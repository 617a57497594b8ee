"""The servicing application, once for every kind (issue 11 point 1): the state table, the rule trace,
one application per submission key (also under 20 concurrent submits), straight-through processing
and its sample, four eyes, the service time limits and the customer's SMS."""
import threading
from datetime import datetime
from decimal import Decimal

import pytest
import time_machine

from app.extensions import db
from app.models import Policy, SmsMessage, User
from app.models.servicing import APPLICATION_STATUSES, ApplicationApproval, ServicingApplication
from app.services import settings, unit
from app.services.errors import DomainError
from app.services.servicing import application as service
from app.services.servicing import states

# Wednesday before the 2026 National Day holiday (10-01 to 10-07; Saturday 10-10 is worked)
NOW = datetime(2026, 9, 30, 10, 0)
POLICY_NO = "860007775808888"  # 马妍's 年年丰盈
PASS = [("可贷金额", True, "本次贷款金额 12000.00 ≤ 可贷金额 40000.00"), ("保单状态", True, "有效")]
FAIL = [("可贷金额", False, "本次贷款金额 45000.00 > 可贷金额 40000.00"), ("保单状态", True, "有效")]


@pytest.fixture
def frozen(seeded):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def policy(seeded):
    return db.session.query(Policy).filter_by(policy_no=POLICY_NO).one()


def user_id(name):
    return db.session.query(User.id).filter_by(username=name).scalar()


def submit(policy, amount="12000", checks=PASS, key="k-1", **kw):
    with unit.work():
        application = service.submit("POLICY_LOAN", policy.holder_id, policy.id, {"amount": str(amount)},
                                     checks, Decimal(amount), key, **kw)
        return application.id


def get(application_id):
    db.session.expire_all()
    return db.session.get(ServicingApplication, application_id)


def messages(template):
    db.session.expire_all()
    return db.session.query(SmsMessage).filter(SmsMessage.purpose == template).all()


# --- the state table ----------------------------------------------------------------------------

def test_the_state_table_holds_every_status_the_model_labels():
    assert set(states.STATUSES) == set(APPLICATION_STATUSES)
    assert states.transition("REVIEW", "approve") == "APPROVED"
    assert states.UNDECIDED == ("SUBMITTED", "CONSENT", "REVIEW")
    assert states.IN_REVIEW == ("REVIEW",)
    assert set(states.CLOSED) == {"REJECTED", "CANCELLED", "COMPLETED"}
    assert not states.can("APPROVED", "cancel")
    with pytest.raises(DomainError) as refused:
        states.transition("COMPLETED", "approve")
    assert refused.value.key == "application_bad_transition"


# --- submission and the rule trace --------------------------------------------------------------

def test_an_application_within_the_limit_whose_checks_pass_is_approved_by_the_system(frozen, policy, monkeypatch):
    monkeypatch.setattr(service, "sampled", lambda rate: False)
    application = get(submit(policy, amount="8000"))
    assert application.status == "APPROVED" and application.decided_by_system
    assert application.rule_trace == [
        {"name": "可贷金额", "passed": True, "figures": "本次贷款金额 12000.00 ≤ 可贷金额 40000.00"},
        {"name": "保单状态", "passed": True, "figures": "有效"}]
    assert "本次贷款金额 12000.00 ≤ 可贷金额 40000.00" in application.decision_note
    assert application.decision_note.startswith("系统自动审核通过")
    assert not application.sampled_for_review and application.decided_by_id is None


def test_over_the_limit_or_a_failed_check_goes_to_the_review_queue(frozen, policy):
    over = get(submit(policy, amount="12000", key="over"))  # STP_MAX_AMOUNT 10000
    failed = get(submit(policy, amount="45000", checks=FAIL, key="failed"))
    assert over.status == failed.status == "REVIEW"
    assert service.failed_checks(failed) == [
        {"name": "可贷金额", "passed": False, "figures": "本次贷款金额 45000.00 > 可贷金额 40000.00"}]
    assert [a.id for a in service.review_queue()] == [over.id, failed.id]


def test_the_limit_is_a_business_setting(frozen, policy, app, monkeypatch):
    monkeypatch.setitem(app.config, "STP_MAX_AMOUNT", Decimal("20000"))
    assert get(submit(policy, amount="12000")).status == "APPROVED"


def test_the_sample_for_review_after_the_fact_is_drawn_at_the_configured_rate(frozen, policy, app, monkeypatch):
    monkeypatch.setattr(service._rng, "random", lambda: 0.3)  # the draw, pinned
    monkeypatch.setitem(app.config, "STP_SAMPLE_RATE", Decimal("0.5"))
    drawn = get(submit(policy, amount="100", key="a"))
    monkeypatch.setitem(app.config, "STP_SAMPLE_RATE", Decimal("0.2"))
    spared = get(submit(policy, amount="100", key="b"))
    assert drawn.status == spared.status == "APPROVED"
    assert (drawn.sampled_for_review, spared.sampled_for_review) == (True, False)
    assert [a.id for a in service.sampled_approvals()] == [drawn.id]


def test_a_malformed_check_is_refused(frozen, policy):
    for checks in ([("可贷金额", "yes", "1 ≤ 2")], [("", True, "x")], [("名称", True)]):
        with pytest.raises(DomainError) as refused:
            submit(policy, checks=checks)
        assert refused.value.key == "application_bad_check"
    assert db.session.query(ServicingApplication).count() == 0


def test_a_second_submit_with_the_same_key_returns_the_first_application(frozen, policy):
    first = submit(policy, key="render-1")
    second = submit(policy, key="render-1", amount="500")
    assert first == second
    assert db.session.query(ServicingApplication).count() == 1
    assert len(messages(service.SMS_ACCEPTED)) == 1


def test_another_customers_key_is_refused(frozen, policy):
    submit(policy, key="render-1")
    other = db.session.query(Policy).filter_by(policy_no="880000001522216").one()
    with pytest.raises(DomainError) as refused:
        submit(other, key="render-1")
    assert refused.value.key == "application_key_taken"


def test_twenty_concurrent_submits_with_one_key_make_one_application(app, policy):
    if db.engine.dialect.name != "mysql":
        pytest.skip("row locks and READ COMMITTED: MariaDB")
    holder_id, policy_id = policy.holder_id, policy.id
    db.session.commit()
    ids, errors, start = [], [], threading.Barrier(20)

    def one():
        try:
            with app.app_context():
                start.wait()

                def attempt():
                    with unit.work():
                        return service.submit("POLICY_LOAN", holder_id, policy_id, {}, PASS, Decimal("12000"),
                                              "same-key").id
                ids.append(unit.retry_on_lock(attempt))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(set(ids)) == 1 and len(ids) == 20
    db.session.rollback()
    assert db.session.query(ServicingApplication).count() == 1
    assert len(messages(service.SMS_ACCEPTED)) == 1


# --- four eyes and the decision -----------------------------------------------------------------

def test_above_the_four_eyes_amount_two_different_operators_approve(frozen, policy):
    application_id = submit(policy, amount="60000")  # FOUR_EYES_AMOUNT 50000
    assert get(application_id).approvals_needed == 2
    with unit.work():
        service.approve(application_id, user_id("operator"), "资料齐全")
    assert get(application_id).status == "REVIEW"
    assert not messages(service.SMS_DECIDED)
    with pytest.raises(DomainError) as twice:
        with unit.work():
            service.approve(application_id, user_id("operator"))
    assert twice.value.key == "application_already_approved_by_you"
    with unit.work():
        service.approve(application_id, user_id("admin"), "复核通过")
    application = get(application_id)
    assert application.status == "APPROVED" and application.decided_by_id == user_id("admin")
    assert [a.user.username for a in service.approvals_of(application_id)] == ["operator", "admin"]
    assert "审核通过" in messages(service.SMS_DECIDED)[0].content


def test_one_approval_decides_below_the_four_eyes_amount(frozen, policy):
    application_id = submit(policy, amount="12000")
    with unit.work():
        service.approve(application_id, user_id("operator"))
    assert get(application_id).status == "APPROVED"
    with pytest.raises(DomainError) as decided:
        with unit.work():
            service.approve(application_id, user_id("admin"))
    assert decided.value.key == "application_not_in_review"


def test_nobody_approves_what_they_submitted_for_the_customer(frozen, policy):
    application_id = submit(policy, amount="60000", submitted_by_id=user_id("operator"))
    with pytest.raises(DomainError) as own:
        with unit.work():
            service.approve(application_id, user_id("operator"))
    assert own.value.key == "application_own_submission"
    assert db.session.query(ApplicationApproval).count() == 0


def test_a_rejection_needs_a_reason_code_and_a_note(frozen, policy):
    application_id = submit(policy, amount="12000")
    for reason, note, key in (("", "说明", "application_reject_reason"), ("NOPE", "说明", "application_reject_reason"),
                              ("ACCOUNT", "  ", "application_reject_note")):
        with pytest.raises(DomainError) as refused:
            with unit.work():
                service.reject(application_id, user_id("operator"), reason, note)
        assert refused.value.key == key
    with unit.work():
        service.reject(application_id, user_id("operator"), "ACCOUNT", "户名与投保人不一致")
    application = get(application_id)
    assert (application.status, application.reject_reason) == ("REJECTED", "ACCOUNT")
    assert "收款账户信息有误" in messages(service.SMS_DECIDED)[0].content


def test_the_customer_cancels_before_a_decision_only(frozen, policy):
    application_id = submit(policy, amount="12000")
    with pytest.raises(DomainError):
        with unit.work():
            service.cancel(application_id, policy.holder_id + 1000)
    with unit.work():
        service.cancel(application_id, policy.holder_id)
    assert get(application_id).status == "CANCELLED"
    with pytest.raises(DomainError) as late:
        with unit.work():
            service.cancel(application_id, policy.holder_id)
    assert late.value.key == "application_not_cancellable"


def test_an_application_waiting_for_the_insureds_consent_is_routed_after_it(frozen, policy, monkeypatch):
    monkeypatch.setattr(service, "sampled", lambda rate: False)
    application_id = submit(policy, amount="8000", needs_consent=True)
    assert get(application_id).status == "CONSENT"
    assert service.review_queue() == []
    frozen.move_to(datetime(2026, 10, 8, 9, 0))  # the insured confirms after the holiday
    with unit.work():
        service.after_consent(application_id)
    application = get(application_id)
    assert application.status == "APPROVED"
    # complete only with the consent: the limits run from it (10-09, 10-10 the worked Saturday)
    assert application.due_decision_at == datetime(2026, 10, 10, 23, 59, 59)
    with pytest.raises(DomainError):
        with unit.work():
            service.after_consent(application_id)


def test_an_application_in_progress_blocks_a_second_one_until_it_is_completed():
    assert set(states.IN_PROGRESS) == {"SUBMITTED", "CONSENT", "REVIEW", "APPROVED"}


# --- time limits and SMS ------------------------------------------------------------------------

def test_due_times_count_chinese_working_days_across_national_day(frozen, policy):
    application = get(submit(policy))
    # 10-01..10-07 are holidays; Saturday 10-10 is an adjusted working day, Sunday 10-11 is not
    assert application.due_decision_at == datetime(2026, 10, 9, 23, 59, 59)
    assert application.due_completion_at == datetime(2026, 10, 13, 23, 59, 59)
    assert service.overdue(application, datetime(2026, 10, 9, 23, 0)) is None
    assert service.overdue(application, datetime(2026, 10, 10, 9, 0)) == "decision"


def test_the_customer_gets_an_sms_at_acceptance_decision_and_completion(frozen, policy, monkeypatch):
    monkeypatch.setattr(service, "sampled", lambda rate: False)
    application_id = submit(policy, amount="8000")
    with unit.work():
        service.complete(application_id)
    assert get(application_id).status == "COMPLETED"
    texts = [messages(code)[0] for code in (service.SMS_ACCEPTED, service.SMS_DECIDED, service.SMS_COMPLETED)]
    number = get(application_id).application_no
    assert all(number in m.content and "马妍" in m.content and "保单贷款" in m.content for m in texts)
    assert "2个工作日" in texts[0].content
    # sent after the commit through the outbox (SMS_BACKEND=outbox in the tests)
    assert all(m.status != "QUEUED" for m in texts), [m.status for m in texts]


def test_a_switched_off_template_does_not_lose_the_application(frozen, policy):
    from app.models import SmsTemplate

    db.session.query(SmsTemplate).filter_by(code=service.SMS_ACCEPTED).update({"is_active": False})
    db.session.commit()
    application_id = submit(policy)
    assert get(application_id).status == "REVIEW"


def test_the_settings_are_declared(app):
    assert settings.get("STP_MAX_AMOUNT") == Decimal("10000")
    assert settings.get("FOUR_EYES_AMOUNT") == Decimal("50000")
    assert settings.get("STP_SAMPLE_RATE") == Decimal("0.05")


def test_a_sampled_approval_is_reviewed_once_with_a_finding(frozen, policy, monkeypatch):
    monkeypatch.setattr(service, "sampled", lambda rate: True)
    application_id = submit(policy, amount="8000")
    operator = user_id("operator")
    with pytest.raises(DomainError) as empty:
        with unit.work():
            service.review_sample(application_id, operator, " ")
    assert empty.value.key == "application_sample_note"
    with unit.work():
        service.review_sample(application_id, operator, "抽检无异常")
    reviewed = get(application_id)
    assert (reviewed.sample_reviewed_by_id, reviewed.sample_review_note) == (operator, "抽检无异常")
    assert service.sampled_approvals() == []
    with pytest.raises(DomainError) as twice:
        with unit.work():
            service.review_sample(application_id, operator, "再次")
    assert twice.value.key == "application_sample_reviewed"


def test_an_unsampled_application_has_no_sample_review(frozen, policy):
    application_id = submit(policy, amount="12000")
    with pytest.raises(DomainError) as refused:
        with unit.work():
            service.review_sample(application_id, user_id("operator"), "x")
    assert refused.value.key == "application_not_sampled"


def test_stored_notes_and_sms_are_chinese_whatever_the_pages_language(frozen, policy, app, monkeypatch):
    from flask_babel import force_locale

    monkeypatch.setattr(service, "sampled", lambda rate: False)
    with force_locale("en"):
        application_id = submit(policy, amount="8000")
    assert get(application_id).decision_note.startswith("系统自动审核通过")
    assert "已审核通过" in messages(service.SMS_DECIDED)[0].content


def test_a_request_key_per_render():
    keys = {service.new_request_key() for _ in range(100)}
    assert len(keys) == 100 and all(16 <= len(k) <= 64 for k in keys)
