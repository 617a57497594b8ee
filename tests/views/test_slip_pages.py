"""批单 downloads (issue 12 point 5): the customer from 我的申请 (their own completed application only; another
customer's id → 404; not completed → a Chinese message, never 500), staff from the application page."""
import pytest

from app.extensions import db
from app.models import ServicingApplication
from app.services import annuity, unit
from app.services.servicing import application as service
from tests.conftest import login
from tests.services.test_slip import ANNUITY, FAIL, completed, pdf_text, policy
from tests.views.test_account import _session_celery, page, sign_in, verified  # noqa: F401
from tests.views.test_loan_pages import MA_YAN_MOBILE, ready


@pytest.fixture(autouse=True)
def _codes_for_tests(app, monkeypatch):
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)


@pytest.fixture
def annuity_rows(monkeypatch):
    """annuity.changes as its contract gives it (services/slip.py reads it)."""
    monkeypatch.setattr(annuity, "changes", lambda application: [
        {"policy_no": ANNUITY, "label": "年金领取方式", "before": "累积生息", "after": "转入万能账户"}])


def done_annuity():
    application_id = completed("ANNUITY_METHOD", [ANNUITY], [({"annuity_method": "ACCUMULATE"},
                                                              {"annuity_method": "TO_UNIVERSAL"})])
    db.session.commit()
    return application_id


def waiting_annuity(key="w1"):
    first = policy(ANNUITY)
    with unit.work():
        found = service.submit("ANNUITY_METHOD", first.holder_id, first.id, {}, FAIL, None, key)
    return found.id


def test_the_customer_downloads_the_slip_of_a_completed_application(seeded, client, annuity_rows):
    application_id = done_annuity()
    ready("C0003")
    sign_in(client, MA_YAN_MOBILE)
    detail = page(client.get(f"/my/application/{application_id}"))
    assert 'id="slip-download"' in detail and f"/my/application/{application_id}/slip.pdf" in detail
    assert "领取方式已变更" in detail  # the last step names the change
    reply = client.get(f"/my/application/{application_id}/slip.pdf")
    assert reply.status_code == 200 and reply.mimetype == "application/pdf"
    assert "attachment" in reply.headers["Content-Disposition"]
    text = pdf_text(reply.data)
    code = db.session.get(ServicingApplication, application_id).slip_code
    for shown in ("批单", "马妍", ANNUITY, "累积生息", "转入万能账户", code):
        assert shown in text, shown


def test_before_completion_the_customer_is_told_in_chinese(seeded, client):
    application_id = waiting_annuity()
    ready("C0003")
    sign_in(client, MA_YAN_MOBILE)
    assert 'id="slip-download"' not in page(client.get(f"/my/application/{application_id}"))
    reply = client.get(f"/my/application/{application_id}/slip.pdf")
    assert reply.status_code == 409 and reply.mimetype == "text/html"
    assert "批单尚未生成" in page(reply) and "办结后即可下载批单" in page(reply)


def test_customer_b_gets_404_for_a_slip_by_swapping_ids(seeded, client, annuity_rows):
    application_id = done_annuity()
    verified("C0001")
    sign_in(client, "13800138001")
    reply = client.get(f"/my/application/{application_id}/slip.pdf")
    assert reply.status_code == 404 and not reply.data.startswith(b"%PDF")
    assert ANNUITY not in page(reply) and "马妍" not in page(reply)
    assert client.get("/my/application/999999/slip.pdf").status_code == 404


def test_not_signed_in_gets_the_sign_in_page(seeded, client, annuity_rows):
    application_id = done_annuity()
    reply = client.get(f"/my/application/{application_id}/slip.pdf")
    assert reply.status_code == 302 and "/my/signin" in reply.location


@pytest.mark.parametrize("user", ["operator", "supervisor", "auditor"])
def test_staff_download_the_slip_from_the_application_page(seeded, client, annuity_rows, user):
    application_id = done_annuity()
    login(client, user)
    html = page(client.get(f"/review-queue/{application_id}"))
    assert f"/review-queue/{application_id}/slip.pdf" in html
    assert db.session.get(ServicingApplication, application_id).slip_code in html
    reply = client.get(f"/review-queue/{application_id}/slip.pdf")
    assert reply.status_code == 200 and reply.mimetype == "application/pdf"
    text = pdf_text(reply.data)
    assert "累积生息" in text and "转入万能账户" in text


def test_staff_get_a_message_before_completion_and_outsiders_nothing(seeded, client):
    application_id = waiting_annuity()
    login(client, "agent1")
    reply = client.get(f"/review-queue/{application_id}/slip.pdf")
    assert reply.status_code in (302, 403) and not reply.data.startswith(b"%PDF")
    client.get("/logout/")
    login(client, "operator")
    assert "slip-download" not in page(client.get(f"/review-queue/{application_id}"))
    reply = client.get(f"/review-queue/{application_id}/slip.pdf")
    assert reply.status_code == 409 and "尚未办结" in page(reply)
