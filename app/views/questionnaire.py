"""The questionnaire editor: admins change the questions without code; every save is a new version.

Tasks already created keep the version they froze (app/services/questionnaire.py).
"""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from app.extensions import db
from app.models.policy import PAYMENT_MODES
from app.models.product import PRODUCT_KINDS
from app.models.revisit import QuestionnaireTemplate
from app.services import questionnaire
from app.services.errors import DomainError

EMPTY_ROWS = 3


class QuestionnaireEditorView(BaseView):
    route_base = "/questionnaire-editor"
    default_view = "index"
    method_permission_name = {"index": "list", "edit": "edit"}

    @expose("/")
    @has_access
    def index(self):
        templates = db.session.query(QuestionnaireTemplate).order_by(
            QuestionnaireTemplate.code, QuestionnaireTemplate.version.desc()).all()
        # the Auditor and the Supervisor read the versions: no 新建问卷 / 编辑 that would answer 403
        may_edit = self.appbuilder.sm.has_access("can_edit", self.class_permission_name)
        return self.render_template("questionnaire/index.html", templates=templates, may_edit=may_edit,
                                    kinds=PRODUCT_KINDS, modes=PAYMENT_MODES)

    @expose("/edit/<code>", methods=["GET", "POST"])
    @expose("/new", methods=["GET", "POST"])
    @has_access
    def edit(self, code=None):
        form = FlaskForm()
        current = None
        if code:
            current = db.session.query(QuestionnaireTemplate).filter_by(code=code, is_current=True).one_or_none()
            if current is None:
                abort(404)
        data = questionnaire.template_as_dict(current) if current else \
            {"code": "", "name": "", "version": 0, "product_kinds": "", "payment_mode": "", "questions": []}
        status = 200
        if request.method == "POST":
            data = self._posted(data)
            if not form.validate_on_submit():
                flash(_("表单已过期,请刷新页面后重试"), "danger")
                status = 400
            else:
                try:
                    saved = questionnaire.save_template(
                        data["code"], data["name"], data["product_kinds"], data["payment_mode"],
                        data["questions"], base_version=request.form.get("base_version") or None)
                    flash(_("已保存为 %(code)s 第 %(version)s 版;进行中的回访任务仍使用原版本",
                            code=saved.code, version=saved.version), "success")
                    return redirect(url_for("QuestionnaireEditorView.index"))
                except DomainError as err:
                    flash(err.message, "danger")
                    status = 422
        rows = data["questions"] + [{"text": "", "payment_mode": "", "product_kinds": ""}] * EMPTY_ROWS
        return self.render_template("questionnaire/edit.html", form=form, data=data, rows=rows,
                                    is_new=current is None, kinds=PRODUCT_KINDS, modes=PAYMENT_MODES,
                                    placeholders=questionnaire.PLACEHOLDERS), status

    @staticmethod
    def _posted(data):
        form = request.form
        questions = []
        raw_count = (form.get("row_count") or "0").strip()
        count = min(int(raw_count), 200) if raw_count.isascii() and raw_count.isdigit() else 0
        ordered = []
        for i in range(count):
            text = (form.get(f"text_{i}") or "").strip()
            if not text:
                continue  # an emptied row removes the question
            try:
                position = float(form.get(f"position_{i}") or i + 1)
            except ValueError:
                position = i + 1
            ordered.append((position, i, {"text": text, "payment_mode": form.get(f"mode_{i}") or "",
                                          "product_kinds": ",".join(form.getlist(f"kinds_{i}"))}))
        questions = [q for _, _, q in sorted(ordered, key=lambda t: (t[0], t[1]))]
        return {**data, "code": data["code"] or (form.get("code") or "").strip().upper(),
                "name": (form.get("name") or "").strip(), "payment_mode": form.get("payment_mode") or "",
                "product_kinds": ",".join(form.getlist("product_kinds")), "questions": questions}


def register_questionnaire_editor(appbuilder):
    from flask_babel import lazy_gettext as _l

    appbuilder.add_view(QuestionnaireEditorView, "QuestionnaireEditor", label=_l("问卷编辑"),
                        icon="fa-edit", category="Revisits", category_label=_l("回访管理"))
