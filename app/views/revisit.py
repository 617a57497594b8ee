"""Back-office views of revisit tasks, questionnaires, answers and attempts (回访管理)."""
from app.models.policy import PAYMENT_MODES
from app.models.product import PRODUCT_KINDS
from app.models.revisit import (CALL_OUTCOMES, TASK_CHANNELS, TASK_STATUSES, CallAttempt, Question,
                                QuestionnaireTemplate, RevisitAnswer, RevisitEvidence, RevisitLink,
                                RevisitTask)
from app.models.sms import SMS_STATUSES
from app.services import labels, revisit
from app.views.base import (READ_ONLY, OwnTasksUnlessSupervisor, PortalModelView, _l, code_list, datamodel,
                            details_column, device_column)
from flask_appbuilder import expose, has_access


class RevisitAnswerView(PortalModelView):
    entity_label = _l("回访答案")
    datamodel = datamodel(RevisitAnswer)
    base_permissions = READ_ONLY
    label_columns = {"task": _l("回访任务"), "question_text": _l("问题"), "answer": _l("回答"),
                     "channel": _l("渠道"), "answered_at": _l("回答时间"), "ip": _l("IP"),
                     "user_agent": _l("浏览器")}
    choices = {"channel": TASK_CHANNELS}
    list_columns = ["task", "question_text", "answer", "channel", "answered_at"]
    show_columns = ["task", "question_text", "answer", "channel", "answered_at", "ip", "user_agent"]
    formatters_columns = {"answer": lambda v: _l("是") if v else _l("否"), "user_agent": device_column}


class CallAttemptView(PortalModelView):
    entity_label = _l("电话记录")
    datamodel = datamodel(CallAttempt)
    base_permissions = READ_ONLY
    label_columns = {"task": _l("回访任务"), "agent": _l("回访专员"), "outcome": _l("结果"),
                     "callback_at": _l("预约回拨时间"), "note": _l("备注"),
                     "started_at": _l("开始时间"), "ended_at": _l("结束时间")}
    choices = {"outcome": CALL_OUTCOMES}
    list_columns = ["task", "agent", "outcome", "callback_at", "started_at"]
    search_columns = ["outcome", "started_at", "agent"]


class RevisitEvidenceView(PortalModelView):
    entity_label = _l("回访证据")
    datamodel = datamodel(RevisitEvidence)
    base_permissions = READ_ONLY
    label_columns = {"step": _l("步骤"), "occurred_at": _l("时间"), "ip": _l("IP"),
                     "user_agent": _l("浏览器"), "data": _l("数据"), "task_id": _l("回访任务"),
                     "link_id": _l("回访链接")}
    choices = {"step": labels.EVIDENCE_STEPS}
    formatters_columns = {"user_agent": device_column, "data": details_column}
    list_columns = ["occurred_at", "step", "task_id", "link_id", "ip", "user_agent"]
    search_columns = ["step", "occurred_at", "task_id", "link_id"]
    base_order = ("occurred_at", "desc")


class RevisitTaskView(PortalModelView):
    entity_label = _l("回访任务")
    datamodel = datamodel(RevisitTask)
    base_filters = [["assigned_to_id", OwnTasksUnlessSupervisor, None]]
    label_columns = {
        "policy": _l("保单"), "template": _l("问卷版本"), "link": _l("回访链接"), "status": _l("状态"),
        "channel": _l("回访方式"), "is_problem": _l("问题件"), "problem_reason": _l("问题原因"),
        "erevisit_deadline": _l("电子回访截止"), "hesitation_deadline": _l("犹豫期截止"),
        "assigned_to": _l("回访专员"), "reserved_until": _l("占用至"), "callback_at": _l("预约回拨"),
        "attempt_count": _l("电话次数"), "last_attempt_date": _l("最近电话日"),
        "completed_at": _l("完成时间"), "result_note": _l("结果说明"), "created_at": _l("创建时间"),
        "updated_at": _l("更新时间"),
    }
    choices = {"status": TASK_STATUSES, "channel": TASK_CHANNELS}
    list_columns = ["id", "policy", "status", "channel", "is_problem", "erevisit_deadline",
                    "hesitation_deadline", "assigned_to", "attempt_count", "created_at"]
    search_columns = ["status", "channel", "is_problem", "created_at", "erevisit_deadline",
                      "hesitation_deadline", "assigned_to"]
    # answers and attempts are tables of their own below (related views, the template)
    show_exclude_columns = ["open_policy_id", "answers", "attempts"]
    # status, assignee and reservation belong to the workflow: a task is assigned, released and
    # recorded through the supervision board and the workbench (services/phone_revisit.py), whose
    # rules a generic edit form would bypass
    base_permissions = READ_ONLY
    related_views = [RevisitAnswerView, CallAttemptView]
    base_order = ("created_at", "desc")
    show_template = "revisit/task_show.html"

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """The task with its e-revisit trail: SMS sent with receipts, answers, evidence."""
        widgets = self._show(pk)  # applies the base filters: an agent gets 404 for others' tasks
        task = self.datamodel.get(pk, self._base_filters)
        messages, evidence = revisit.trail(task)
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    related_views=self._related_views, task=task, messages=messages,
                                    sms_statuses=SMS_STATUSES, evidence=evidence, answers=task.answers,
                                    labels=labels, channels=TASK_CHANNELS)


class QuestionView(PortalModelView):
    entity_label = _l("问卷问题")
    datamodel = datamodel(Question)
    base_permissions = READ_ONLY  # questions change by saving a new template version
    label_columns = {"template": _l("问卷"), "position": _l("序号"), "text": _l("问题"),
                     "payment_mode": _l("适用缴费方式"), "product_kinds": _l("适用产品类型")}
    choices = {"payment_mode": {"": _l("全部"), **PAYMENT_MODES}}
    formatters_columns = {"payment_mode": lambda v: PAYMENT_MODES.get(v, v) if v else _l("全部"),
                          "product_kinds": code_list(PRODUCT_KINDS)}
    list_columns = ["template", "position", "text", "payment_mode", "product_kinds"]


class QuestionnaireTemplateView(PortalModelView):
    entity_label = _l("回访问卷")
    datamodel = datamodel(QuestionnaireTemplate)
    base_permissions = READ_ONLY
    label_columns = {"code": _l("问卷代码"), "name": _l("问卷名称"), "version": _l("版本"),
                     "product_kinds": _l("适用产品类型"), "payment_mode": _l("适用缴费方式"),
                     "is_current": _l("当前版本"), "created_at": _l("创建时间")}
    list_columns = ["code", "name", "version", "product_kinds", "payment_mode", "is_current", "created_at"]
    show_exclude_columns = ["questions"]  # listed in full below (QuestionView)
    formatters_columns = {"payment_mode": lambda v: PAYMENT_MODES.get(v, v) if v else _l("全部"),
                          "product_kinds": code_list(PRODUCT_KINDS)}
    search_columns = ["code", "name", "is_current"]
    related_views = [QuestionView]


class RevisitLinkView(PortalModelView):
    entity_label = _l("回访短链接")
    datamodel = datamodel(RevisitLink)
    base_permissions = READ_ONLY
    label_columns = {"code": _l("短链接代码"), "customer": _l("客户"), "batch": _l("批次"),
                     "expires_at": _l("有效期至"), "face_verified_at": _l("人脸验证时间"),
                     "face_attempts": _l("人脸验证次数"), "opened_at": _l("首次打开"),
                     "created_at": _l("创建时间")}
    list_columns = ["code", "customer", "batch", "expires_at", "face_verified_at", "opened_at"]
    search_columns = ["code", "customer", "batch", "expires_at"]
