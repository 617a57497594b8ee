"""The e-revisit service on MariaDB: tasks, templates, links at the day-4 boundary, answers, expiry."""
import threading
from datetime import date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func

from app.extensions import db
from app.models import (AuditEvent, Policy, QuestionnaireTemplate, RevisitAnswer, RevisitEvidence,
                        RevisitTask, SmsMessage)
from app.services import audit, clock, demo, questionnaire, revisit
from app.services.errors import DomainError
from tests.conftest import PASSWORD

SEED_DAY = datetime(2026, 11, 20, 9, 30, tzinfo=clock.ZONE)  # demo policies are issued relative to it


@pytest.fixture
def frozen(app):
    with time_machine.travel(SEED_DAY, tick=False) as traveller:
        with audit.acting_as("test-seed"):
            demo.seed(PASSWORD)
        yield traveller


def task_of(policy_no):
    return db.session.query(RevisitTask).join(Policy).filter(Policy.policy_no == policy_no).one()


def invited_link(policy_no):
    revisit.issue_invitations()
    return task_of(policy_no).link


def test_seed_creates_one_task_per_fresh_policy_with_frozen_template(frozen):
    tasks = db.session.query(RevisitTask).all()
    # the six policies issued 0-2 days ago get a task; the ones issued over a year ago do not
    assert sorted(t.policy.policy_no for t in tasks) == sorted([
        "880000001522216", "880000001522217", "86000001296920", "86000000129691",
        "880000002000001", "880000002000002"])
    task = task_of("880000001522216")  # issued 2026-11-19
    assert task.status == "PENDING" and task.channel == "ELECTRONIC"
    assert task.erevisit_deadline == datetime(2026, 11, 23, 0, 0)  # 00:00 of day 4
    assert task.hesitation_deadline == date(2026, 12, 4)  # receipt signed + 15 days
    assert task.template.code == "EREVISIT" and task.template.version == 1
    assert revisit.create_task_for_policy(task.policy_id) is None  # no second task
    with audit.acting_as("test-seed"):
        demo.seed(PASSWORD)
    assert db.session.query(RevisitTask).count() == 6


def test_specific_template_wins_and_new_version_leaves_running_tasks_alone(frozen):
    old_task = task_of("880000001522216")
    specific = questionnaire.save_template("PAR_SINGLE", "分红趸交问卷", "PARTICIPATING", "SINGLE",
                                           [{"text": "您是否清楚{product_name}的红利不确定?"}])
    assert revisit.choose_template("PARTICIPATING", "SINGLE").id == specific.id
    assert revisit.choose_template("PARTICIPATING", "REGULAR").code == "EREVISIT"

    base = questionnaire.template_as_dict(old_task.template)
    v2 = questionnaire.save_template("EREVISIT", base["name"], None, None,
                                     base["questions"] + [{"text": "您是否同意接受回访?"}], base_version=1)
    assert v2.version == 2 and v2.is_current
    db.session.expire_all()
    assert db.session.get(QuestionnaireTemplate, old_task.template_id).is_current is False
    assert task_of("880000001522216").template.version == 1  # the running task keeps its version
    assert len(revisit.render_questions(task_of("880000001522216"))) == 9  # 6 + 2 regular + dividends
    with pytest.raises(DomainError) as err:  # an editor working on the stale version is refused
        questionnaire.save_template("EREVISIT", "x", None, None, [{"text": "问题"}], base_version=1)
    assert err.value.key == "questionnaire_conflict"
    with pytest.raises(DomainError) as err:
        questionnaire.save_template("EREVISIT", "x", None, None, [{"text": "您的{unknown}是?"}])
    assert "{unknown}" in err.value.message


def test_questions_are_filled_from_the_policy_and_filtered_by_mode_and_kind(frozen):
    regular = revisit.render_questions(task_of("880000001522216"))  # participating, 12000 yearly, 10 years
    texts = [q["text"] for q in regular]
    assert "您的保费为每年12000.00元,缴费期间为10年,下次缴费时间为2027-11-19,请问这些您是否清楚?" in texts
    assert texts[0] == "您好,请问您是投保人张德强本人吗?"
    assert any("分红型" in t for t in texts) and not any("万能" in t for t in texts)
    assert [q["position"] for q in regular] == sorted(q["position"] for q in regular)
    single = [q["text"] for q in revisit.render_questions(task_of("880000002000002"))]  # single premium
    assert not any("缴费期间" in t for t in single) and len(single) == 7
    assert all("{" not in t for t in texts + single)


def test_one_link_per_customer_and_one_sms_even_when_run_twice(frozen, app):
    assert revisit.issue_invitations() == 4  # four policyholders hold the six fresh policies
    assert revisit.issue_invitations() == 0
    first, second = task_of("880000001522216"), task_of("880000001522217")
    assert first.status == second.status == "SMS_SENT"
    assert first.link_id == second.link_id
    link = first.link
    assert link.expires_at == datetime(2026, 11, 23)
    assert len(link.code) >= 11  # 64 random bits or more
    messages = db.session.query(SmsMessage).filter_by(customer_id=link.customer_id).all()
    assert len(messages) == 1 and messages[0].status == "SENT"
    assert app.config["PUBLIC_BASE_URL"] + "/s/" + link.code in messages[0].content
    assert messages[0].content.startswith("尊敬的张德强先生您好!")
    assert [t.policy.policy_no for t in revisit.pending_tasks(link)] == ["880000001522216", "880000001522217"]


def test_link_valid_until_the_last_second_of_day_3_then_expired(frozen):
    link = invited_link("880000001522216")  # issued 2026-11-19
    assert revisit.link_by_code(link.code).id == link.id
    with time_machine.travel(datetime(2026, 11, 22, 23, 59, 59, tzinfo=clock.ZONE), tick=False):
        assert revisit.link_state(link) == "VALID"
        assert len(revisit.pending_tasks(link)) == 2
    with time_machine.travel(datetime(2026, 11, 23, 0, 0, 0, tzinfo=clock.ZONE), tick=False):
        assert revisit.link_state(link) == "EXPIRED"
        assert revisit.pending_tasks(link) == []
        link.face_verified_at = clock.now()
        db.session.commit()
        task = task_of("880000001522216")
        with pytest.raises(DomainError) as err:
            revisit.submit_online_answers(link.id, task.id, {}, "1.2.3.4", "test")
        assert err.value.key == "link_expired" and "10109520" in err.value.message


@pytest.mark.parametrize("code", ["", "nosuchcode", "A" * 16, "x" * 200])
def test_wrong_or_guessed_code_is_not_found(frozen, code):
    invited_link("880000001522216")
    with pytest.raises(DomainError) as err:
        revisit.link_by_code(code)
    assert err.value.key == "link_not_found"


def test_code_differing_only_in_case_is_not_found(frozen):
    link = invited_link("880000001522216")
    with pytest.raises(DomainError):
        revisit.link_by_code(link.code.swapcase())


def _verified(link):
    link.face_verified_at = clock.now()
    db.session.commit()
    return link


def test_all_yes_closes_the_visit_and_a_second_submit_changes_nothing(frozen):
    link = _verified(invited_link("880000001522216"))
    task = task_of("880000001522216")
    questions = revisit.render_questions(task)
    done = revisit.submit_online_answers(link.id, task.id, {q["question_id"]: True for q in questions},
                                         "10.0.0.8", "Mobile Safari")
    assert done.status == "SUCCESS" and done.completed_at == clock.now() and done.open_policy_id is None
    answers = db.session.query(RevisitAnswer).filter_by(task_id=task.id).all()
    assert [a.question_text for a in answers] == [q["text"] for q in questions]
    assert all(a.answer and a.ip == "10.0.0.8" for a in answers)
    assert db.session.query(RevisitEvidence).filter_by(task_id=task.id, step="answers_submitted").count() == 1
    with pytest.raises(DomainError) as err:
        revisit.submit_online_answers(link.id, task.id, {q["question_id"]: False for q in questions}, "x", "y")
    assert err.value.key == "task_already_answered"
    db.session.expire_all()
    assert task_of("880000001522216").status == "SUCCESS"
    assert db.session.query(RevisitAnswer).filter_by(task_id=task.id).count() == len(questions)
    assert [t.policy.policy_no for t in revisit.pending_tasks(link)] == ["880000001522217"]


def test_a_no_makes_a_problem_case_for_the_phone_agents(frozen):
    link = _verified(invited_link("880000001522216"))
    task = task_of("880000001522216")
    questions = revisit.render_questions(task)
    answers = {q["question_id"]: True for q in questions}
    answers[questions[4]["question_id"]] = False
    done = revisit.submit_online_answers(link.id, task.id, answers, "10.0.0.8", "Mobile Safari")
    assert (done.status, done.channel, done.is_problem) == ("PROBLEM", "PHONE", True)
    assert questions[4]["text"] in done.problem_reason
    assert done.open_policy_id == done.policy_id  # still open: an agent must call
    assert db.session.query(RevisitAnswer).filter_by(task_id=task.id, answer=False).count() == 1


def test_incomplete_answers_or_no_face_check_store_nothing(frozen):
    link = invited_link("880000001522216")
    task = task_of("880000001522216")
    questions = revisit.render_questions(task)
    all_yes = {q["question_id"]: True for q in questions}
    with pytest.raises(DomainError) as err:
        revisit.submit_online_answers(link.id, task.id, all_yes, "x", "y")
    assert err.value.key == "face_required"
    _verified(link)
    partial = dict(list(all_yes.items())[:-1])
    with pytest.raises(DomainError) as err:
        revisit.submit_online_answers(link.id, task.id, partial, "x", "y")
    assert err.value.key == "answers_incomplete" and f"第{questions[-1]['position']}题" in err.value.message
    with pytest.raises(DomainError) as err:
        revisit.submit_online_answers(link.id, task.id, {**all_yes, 999999: True}, "x", "y")
    assert err.value.key == "answers_unknown_question"
    db.session.rollback()
    assert db.session.query(RevisitAnswer).count() == 0
    assert task_of("880000001522216").status == "SMS_SENT"


def test_a_customer_cannot_reach_or_answer_another_customers_task(frozen):
    revisit.issue_invitations()
    mine = _verified(task_of("880000001522216").link)  # 张德强
    other = task_of("86000001296920")  # 爱小心's policy
    with pytest.raises(DomainError) as err:
        revisit.task_for_link(mine, other.id)
    assert err.value.key == "task_not_yours"
    answers = {q["question_id"]: True for q in revisit.render_questions(other)}
    with pytest.raises(DomainError) as err:
        revisit.submit_online_answers(mine.id, other.id, answers, "x", "y")
    assert err.value.key == "task_not_yours"
    db.session.rollback()
    assert task_of("86000001296920").status == "SMS_SENT"
    assert db.session.query(RevisitAnswer).count() == 0


def test_reminder_is_off_by_default_and_sent_once_per_link_when_enabled(frozen, app):
    invited_link("880000001522216")
    frozen.move_to(datetime(2026, 11, 21, 10, 0, tzinfo=clock.ZONE))
    assert revisit.send_reminders() == 0
    app.config["EREVISIT_REMINDER_ENABLED"] = True
    try:
        sent = revisit.send_reminders()
        assert sent == 4
        assert revisit.send_reminders() == 0
    finally:
        app.config["EREVISIT_REMINDER_ENABLED"] = False
    reminder = db.session.query(SmsMessage).filter_by(purpose="EREVISIT_REMINDER",
                                                      customer_id=task_of("880000001522216").policy.holder_id).one()
    assert "2026-11-22 23:59" in reminder.content


def test_expiry_moves_unfinished_tasks_set_based_and_only_once(frozen):
    revisit.issue_invitations()
    link = _verified(task_of("86000001296920").link)
    task = task_of("86000001296920")
    revisit.submit_online_answers(link.id, task.id, {q["question_id"]: True for q in revisit.render_questions(task)},
                                  "x", "y")
    before_events = db.session.query(AuditEvent).filter_by(action="expire_erevisit").count()
    # 爱小心's policies were issued 2026-11-18 (day 4 starts 11-22), 张德强's 2026-11-19 (11-23)
    assert revisit.expire_due(datetime(2026, 11, 21, 23, 59, 59)) == 0
    assert revisit.expire_due(datetime(2026, 11, 22, 0, 0)) == 1  # the one 爱小心 did not answer
    assert revisit.expire_due(datetime(2026, 11, 23, 0, 0), batch_size=1) == 2
    assert revisit.expire_due(datetime(2026, 11, 23, 0, 0), batch_size=1) == 0
    db.session.rollback()
    moved = db.session.query(RevisitTask).filter_by(status="PHONE_QUEUE").all()
    assert sorted(t.policy.policy_no for t in moved) == ["86000000129691", "880000001522216", "880000001522217"]
    assert all(t.channel == "PHONE" for t in moved)
    assert task_of("86000001296920").status == "SUCCESS"
    events = db.session.query(AuditEvent).filter_by(action="expire_erevisit").count() - before_events
    assert events == 3  # one summary per batch that moved rows (batch size 1 on the second day)


def test_two_concurrent_expiry_runs_move_each_task_exactly_once(app, frozen):
    demo.bulk_policies(3000)
    ids = [pid for (pid,) in db.session.query(Policy.id).filter(Policy.policy_no.like("99%"))]
    assert revisit.create_tasks_for_policies(ids) == 3000
    db.session.commit()
    later = clock.now() + timedelta(days=40)  # every bulk policy is past its day 4
    due = db.session.query(func.count(RevisitTask.id)).filter(
        RevisitTask.status.in_(["PENDING", "SMS_SENT"]), RevisitTask.erevisit_deadline <= later).scalar()
    results, errors = [], []

    def run():
        try:
            with app.app_context():
                with audit.acting_as("celery:test"):
                    results.append(revisit.expire_due(later, batch_size=250))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(results) == due >= 3000
    db.session.rollback()  # leave the snapshot taken before the threads ran
    assert db.session.query(RevisitTask).filter(RevisitTask.status.in_(["PENDING", "SMS_SENT"])).count() == 0
    moved = db.session.query(func.sum(func.json_extract(AuditEvent.after, "$.count"))).filter(
        AuditEvent.action == "expire_erevisit").scalar()
    assert int(moved) == due


def test_admin_task_page_shows_sms_answers_and_evidence_and_filters_by_status(frozen, client):
    from tests.conftest import login

    link = _verified(invited_link("880000001522216"))
    revisit.record_evidence(link.id, None, "face_result", "10.1.1.1", "iPhone", {"distance": 0.31})
    task = task_of("880000001522216")
    questions = revisit.render_questions(task)
    answers = {q["question_id"]: True for q in questions}
    answers[questions[0]["question_id"]] = False
    revisit.submit_online_answers(link.id, task.id, answers, "10.1.1.1", "iPhone")
    login(client, "supervisor")
    html = client.get(f"/revisittaskview/show/{task.id}").get_data(as_text=True)
    assert "尊敬的张德强先生您好" in html and "/s/" + link.code in html
    # each step by its Chinese name (issue 13 item 2), never its internal code
    assert "人脸核验结果" in html and "提交问卷答案" in html and "0.31" in html
    assert "face_result" not in html and "answers_submitted" not in html
    assert questions[0]["text"] in html
    problems = client.get("/revisittaskview/list/?_flt_0_status=PROBLEM").get_data(as_text=True)
    assert f"/revisittaskview/show/{task.id}\"" in problems
    assert f"/revisittaskview/show/{task_of('880000001522217').id}\"" not in problems


def test_customer_may_choose_a_phone_visit_instead(frozen):
    link = invited_link("880000001522216")
    task = revisit.choose_phone_visit(link.id, task_of("880000001522216").id, "10.0.0.1", "UA")
    assert (task.status, task.channel) == ("PHONE_QUEUE", "PHONE")
    assert [t.policy.policy_no for t in revisit.pending_tasks(link)] == ["880000001522217"]
    with pytest.raises(DomainError) as err:
        revisit.choose_phone_visit(link.id, task_of("86000001296920").id, "10.0.0.1", "UA")
    assert err.value.key == "task_not_yours"
