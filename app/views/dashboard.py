"""The supervisors' revisit dashboard (/revisit-dashboard) and the results export (.xlsx)."""

from flask import Response, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _

from app.forms.workbench import ExportForm
from app.services import clock, dashboard, export
from app.services.errors import DomainError


class RevisitDashboardView(BaseView):
    """回访看板: today's and this month's figures with bar charts; 回访结果导出."""
    route_base = "/revisit-dashboard"
    default_view = "index"
    base_permissions = ["can_dashboard", "can_download"]

    def _render(self, form, error=None, status=200):
        figures = dashboard.figures()
        body = self.render_template("dashboard/index.html", f=figures, form=form, error=error,
                                    urgent=dashboard.urgent_tasks(), daily=figures["daily"])
        return body if status == 200 else (body, status)

    @expose("/")
    @has_access
    @permission_name("dashboard")
    def index(self):
        today = clock.today()
        form = ExportForm(formdata=None, start=today.replace(day=1), end=today)
        return self._render(form)

    @expose("/export")
    @has_access
    @permission_name("download")
    def export(self):
        form = ExportForm(request.args)
        if not form.validate():
            error = ";".join(str(e) for errors in form.errors.values() for e in errors) \
                or _("请填写正确的起止日期")
            return self._render(form, error=error, status=400)
        try:
            data = export.results_xlsx(form.start.data, form.end.data)
        except DomainError as exc:
            return self._render(form, error=exc.message, status=400)
        name = f"revisit-results-{form.start.data:%Y%m%d}-{form.end.data:%Y%m%d}.xlsx"
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


__all__ = ["RevisitDashboardView"]
