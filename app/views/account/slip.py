"""批单 download from 我的申请 (issue 12 point 5): the customer's own completed application only."""
from flask import Response, g, url_for
from flask_babel import gettext as _

from app.services import account, slip
from app.views.account.base import _message, _not_found, bp, customer_required


@bp.route("/application/<int:application_id>/slip.pdf")
@customer_required
def application_slip(application_id):
    application = account.application_of(g.customer.id, application_id)
    if application is None:  # another customer's id: the same answer as a missing one
        return _not_found()
    if not slip.ready(application):
        return _message(_("批单尚未生成"), _("该申请办结后即可下载批单,请稍后再来查看。"), status="warn", code=409,
                        actions=[(url_for(".application_detail", application_id=application.id), _("返回申请详情"))])
    data = slip.slip_pdf(application.id)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{slip.file_name(application)}"',
        "Cache-Control": "no-store"})
