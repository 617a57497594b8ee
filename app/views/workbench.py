"""The callback agents' workbench (/workbench) and the supervisors' task board (/supervision).

Views translate HTTP to app/services/phone_revisit.py and back; the service decides who may
claim, record, release and assign. An agent only ever sees tasks assigned to them.
"""
from datetime import timedelta

from flask import Response, abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _

from app.extensions import db
from app.forms.workbench import ActionForm, AssignForm, AttemptForm, answers_from
from app.models.policy import PAYMENT_MODES, POLICY_STATUSES
from app.models.customer import ID_TYPES
from app.models.identity import VERIFICATION_STATUSES
from app.models.revisit import CALL_OUTCOMES, TASK_CHANNELS, TASK_STATUSES, RevisitTask
from app.models.sms import SMS_STATUSES
from app.security import ALL_TASK_ROLES, role_names
from app.services import clock, letters, phone_revisit, settings
from app.services.errors import DomainError
from app.services.privacy import mask_id_number, mask_mobile
from app.services.revisit import render_questions
from app.services.revisit.states import BOARD, HELD, LETTER, can

SUPERVISOR_ROLES = {"Admin", "Supervisor"}
LABELS = {"statuses": TASK_STATUSES, "channels": TASK_CHANNELS, "outcomes": CALL_OUTCOMES,
          "sms_statuses": SMS_STATUSES, "face_statuses": VERIFICATION_STATUSES,
          "policy_statuses": POLICY_STATUSES, "payment_modes": PAYMENT_MODES, "id_types": ID_TYPES}


def _sees_all():
    return bool(role_names(g.user) & ALL_TASK_ROLES)


def _is_supervisor():
    return bool(role_names(g.user) & SUPERVISOR_ROLES)


def _csrf_ok():
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("页面已过期,请刷新后重试。"), "danger")
        return False
    return True


def _back_on_message(back_on):
    """Where a task went after a failed call: back to the queue, and on which day it may be called."""
    today = clock.today()
    if back_on > today:
        day = _("明天") if back_on == today + timedelta(days=1) else back_on.isoformat()
        return _("该任务已放回电话回访队列。同一任务须在不同日期拨打,%(day)s(%(date)s)起可再次拨打,"
                 "届时由“下一个任务”分配给任一回访专员;在“等待改日再拨”中可查看。",
                 day=day, date=back_on.isoformat())
    return _("该任务已放回电话回访队列,可通过“下一个任务”再次领取。")


class AgentWorkbenchView(BaseView):
    """回访工作台: the agent's calls in hand, "下一个任务", the task page, recording a call."""
    route_base = "/workbench"
    default_view = "index"
    base_permissions = ["can_list", "can_show", "can_claim", "can_record", "can_reveal"]

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        return self.render_template("workbench/index.html", mine=phone_revisit.held_by(g.user.id),
                                    done=phone_revisit.done_today(g.user.id),
                                    later=phone_revisit.waiting_later(g.user.id),
                                    tomorrow=clock.today() + timedelta(days=1),
                                    queue_size=phone_revisit.queue_size(), form=ActionForm(),
                                    now=clock.now(), labels=LABELS, can=can)

    @expose("/next", methods=["POST"])
    @has_access
    @permission_name("claim")
    def next_task(self):
        if not _csrf_ok():
            return redirect(url_for(".index"))
        task_id = phone_revisit.claim_next(g.user.id)
        if task_id is None:
            flash(_("队列中暂无可领取的回访任务。"), "info")
            return redirect(url_for(".index"))
        return redirect(url_for(".task", task_id=task_id))

    @expose("/claim/<int:task_id>", methods=["POST"])
    @has_access
    @permission_name("claim")
    def claim(self, task_id):
        if not _csrf_ok():
            return redirect(url_for(".index"))
        try:
            phone_revisit.claim_task(task_id, g.user.id)
        except DomainError as exc:
            flash(exc.message, "danger")
            return redirect(url_for(".index"))
        return redirect(url_for(".task", task_id=task_id))

    @expose("/task/<int:task_id>/release", methods=["POST"])
    @has_access
    @permission_name("claim")
    def release(self, task_id):
        if _csrf_ok():
            try:
                phone_revisit.release(task_id, g.user.id)
                flash(_("任务已放回队列。"), "info")
            except DomainError as exc:
                flash(exc.message, "danger")
        return redirect(url_for(".index"))

    def _task_or_404(self, task_id):
        try:
            return phone_revisit.task_for(task_id, g.user.id, _sees_all())
        except DomainError:
            abort(404)

    def _render_task(self, task, form=None, answers=None, revealed=None, error=None, status=200):
        policy = task.policy
        mine = task.assigned_to_id == g.user.id and task.status in HELD
        holder, insured = policy.holder, policy.insured
        revealed = revealed or {}
        masked = {
            "id_number": revealed.get("id_number") or mask_id_number(holder.id_number),
            "mobile": revealed.get("mobile") or mask_mobile(holder.mobile),
            "insured_id_number": mask_id_number(insured.id_number),
        }
        body = self.render_template(
            "workbench/task.html", task=task, policy=policy, holder=holder, insured=insured,
            masked=masked, revealed=revealed, questions=render_questions(task),
            history=phone_revisit.history(task), form=form or AttemptForm(formdata=None),
            answers=answers or {}, action_form=ActionForm(), mine=mine, error=error,
            labels=LABELS, mask_mobile=mask_mobile, can_record=mine, can=can, letter_due=task.status in LETTER,
            max_attempts=settings.get("PHONE_MAX_ATTEMPTS"), now=clock.now())
        return body if status == 200 else (body, status)

    @expose("/task/<int:task_id>")
    @has_access
    @permission_name("show")
    def task(self, task_id):
        task = self._task_or_404(task_id)
        if task.assigned_to_id == g.user.id:
            phone_revisit.touch(task.id, g.user.id)  # only a live call of theirs: the service decides
        return self._render_task(task)

    @expose("/task/<int:task_id>/reveal", methods=["POST"])
    @has_access
    @permission_name("reveal")
    def reveal(self, task_id):
        task = self._task_or_404(task_id)
        form = ActionForm()
        if not form.validate_on_submit():
            return self._render_task(task, error=_("页面已过期,请刷新后重试。"), status=400)
        field = form.field.data
        try:
            value = phone_revisit.reveal(task.id, g.user.id, _sees_all(), field)
        except DomainError as exc:
            return self._render_task(task, error=exc.message, status=400)
        if task.assigned_to_id == g.user.id:
            phone_revisit.touch(task.id, g.user.id)
        return self._render_task(db.session.get(RevisitTask, task.id), revealed={field: value})

    @expose("/task/<int:task_id>/attempt", methods=["POST"])
    @has_access
    @permission_name("record")
    def attempt(self, task_id):
        task = self._task_or_404(task_id)
        form = AttemptForm()
        question_ids = [q["question_id"] for q in render_questions(task)]
        answers, bad = answers_from(request.form, question_ids)
        raw_answers = {qid: request.form.get(f"q_{qid}", "") for qid in question_ids}
        if not form.validate_on_submit():
            if form.csrf_token.errors:
                error = _("页面已过期,请刷新后重新提交(您填写的内容已保留)。")
            else:
                error = ";".join(str(e) for errors in form.errors.values() for e in errors)
            return self._render_task(task, form=form, answers=raw_answers, error=error, status=400)
        if bad:
            return self._render_task(task, form=form, answers=raw_answers,
                                     error=_("每个问题请选择“是”或“否”"), status=400)
        try:
            phone_revisit.record_attempt(
                task.id, g.user.id, form.outcome.data, answers=answers,
                callback_at=form.callback_at.data, note=form.note.data,
                holder_verified=form.holder_verified.data)
        except DomainError as exc:
            db.session.rollback()
            return self._render_task(db.session.get(RevisitTask, task.id), form=form, answers=raw_answers,
                                     error=exc.message, status=400)
        db.session.expire_all()
        task = db.session.get(RevisitTask, task.id)
        flash(_("已登记通话结果:%(outcome)s;任务状态:%(status)s",
                outcome=CALL_OUTCOMES[form.outcome.data] if task.status != "PROBLEM" else CALL_OUTCOMES["PROBLEM"],
                status=TASK_STATUSES.get(task.status, task.status)), "success")
        back_on = phone_revisit.comes_back_on(task)
        if back_on is not None:  # a failed call: say when the task comes back, not just that it left
            flash(_back_on_message(back_on), "info")
        if task.status in LETTER:
            return redirect(url_for(".task", task_id=task.id))
        return redirect(url_for(".index"))

    @expose("/task/<int:task_id>/letter.pdf")
    @has_access
    @permission_name("show")
    def letter(self, task_id):
        task = self._task_or_404(task_id)
        try:
            pdf = letters.letter_pdf(task.id)
        except DomainError as exc:
            flash(exc.message, "danger")
            return redirect(url_for(".task", task_id=task.id))
        name = f"letter-{task.policy.policy_no}.pdf"
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


class RevisitSupervisionView(BaseView):
    """回访调度: every open phone task with assign / reassign / release, problem cases, agents' load."""
    route_base = "/supervision"
    default_view = "index"
    base_permissions = ["can_list", "can_assign", "can_release"]
    page_size = 50

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        status = request.args.get("status", "")
        agent = request.args.get("agent", "")
        try:
            page = max(int(request.args.get("page", 1)), 1)
        except ValueError:
            page = 1
        status = status if status in BOARD else ""
        tasks, total = phone_revisit.board(status or None, int(agent) if agent.isdigit() else None,
                                           page, self.page_size)
        load = phone_revisit.agent_load()
        problems = phone_revisit.problem_cases()
        assign_form = AssignForm()
        assign_form.agent_id.choices = [(a["id"], f"{a['username']} {a['name']}") for a in load]
        return self.render_template(
            "workbench/supervision.html", tasks=tasks, total=total, page=page, page_size=self.page_size,
            status=status, agent=agent, load=load, problems=problems, assign_form=assign_form,
            action_form=ActionForm(), labels=LABELS, open_statuses=BOARD, can=can,
            can_act=_is_supervisor())

    def _back(self):
        target = request.form.get("next") or ""
        return redirect(target if target.startswith("/supervision") else url_for(".index"))

    @expose("/assign/<int:task_id>", methods=["POST"])
    @has_access
    @permission_name("assign")
    def assign(self, task_id):
        form = AssignForm()
        form.agent_id.choices = [(a["id"], a["username"]) for a in phone_revisit.agent_load()]
        if not form.validate_on_submit():
            flash(_("请选择回访专员后再分配。") if not form.csrf_token.errors else _("页面已过期,请刷新后重试。"),
                  "danger")
            return self._back()
        try:
            task = phone_revisit.assign(task_id, form.agent_id.data, g.user.id)
            flash(_("任务 %(id)s 已分配给 %(agent)s。", id=task.id, agent=task.assigned_to.username), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        return self._back()

    @expose("/release/<int:task_id>", methods=["POST"])
    @has_access
    @permission_name("release")
    def release(self, task_id):
        if _csrf_ok():
            try:
                phone_revisit.release(task_id, g.user.id, by_supervisor=True)
                flash(_("任务 %(id)s 已放回队列。", id=task_id), "success")
            except DomainError as exc:
                db.session.rollback()
                flash(exc.message, "danger")
        return self._back()

