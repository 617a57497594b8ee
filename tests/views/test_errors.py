"""One error map with statuses, one handler for a DomainError a view lets escape, and a clear page for a
stale or forged CSRF token on the customer pages and the staff pages (issue 10, point 4)."""
import io
import re

import pytest

from app.models import IdentityVerification
from app.services.errors import MESSAGES, DomainError, message_for
from app.views import customer_revisit
from tests.conftest import csrf_token, login


def test_every_entry_has_a_message_and_an_http_status(app):
    for key, entry in MESSAGES.items():
        assert 400 <= entry.status <= 599, key
        assert str(entry.text).strip(), key
        assert DomainError(key).status == entry.status
    assert DomainError("link_not_found").status == 404 and DomainError("bind_locked").status == 429
    assert DomainError("no_such_key").message == "no_such_key"  # an unknown key stays readable


def test_the_hotline_is_filled_from_config_not_written_in_messages(app):
    assert not [key for key, entry in MESSAGES.items() if re.search(r"\d{8}", str(entry.text))]
    app.config["HOTLINE"] = "95500"
    assert DomainError("face_no_reference").message.endswith("请致电客服95500")
    assert "95500" in DomainError("link_expired").message
    assert "12345" in DomainError("link_expired", hotline="12345").message  # a given one wins
    assert message_for("answers_incomplete") is None  # needs a parameter a stored reason lacks


def test_face_check_reasons_come_from_the_one_map(app):
    assert not hasattr(customer_revisit, "FACE_REASON_MESSAGES")
    with app.test_request_context("/s/x"):
        for reason in ("face_no_face", "face_many_faces", "face_mismatch", "identity_not_image",
                       "face_no_reference"):
            verification = IdentityVerification(status="FAILED", details={"reasons": [reason]})
            assert customer_revisit._failure_message(verification) == DomainError(reason).message


@pytest.fixture
def refusing(app, monkeypatch):
    """Endpoints of the API, the customer pages and the staff pages that let a DomainError escape
    (the app is shared by the tests: existing endpoints answer with the refusal, the URLs stay)."""
    def refuse(*args, **kwargs):
        raise DomainError("task_already_answered")

    for endpoint in ("PolicyIntakeApi.report_policies", "customer_revisit.exit_link", "account.center",
                     "PolicyImportView.form"):
        monkeypatch.setitem(app.view_functions, endpoint, refuse)
    return app


def test_an_escaped_domain_error_is_answered_with_its_status_in_the_right_layout(refusing, client):
    text = DomainError("task_already_answered").message
    api = client.post("/api/v1/intake/policies", json={})
    assert api.status_code == 409 and api.json == {"message": text, "code": "task_already_answered"}
    for path in ("/s/abc/exit", "/my/"):
        page = client.get(path)
        html = page.get_data(as_text=True)
        assert page.status_code == 409 and text in html and 'class="card notice' in html, path
    staff = client.get("/policy-import/")
    html = staff.get_data(as_text=True)
    assert staff.status_code == 409 and text in html and 'class="alert alert-danger"' in html
    assert "navbar" in html  # Flask-AppBuilder's layout, not the customer's phone page


def test_a_refused_wechat_sign_in_is_answered_by_the_handler(seeded, client, monkeypatch):
    from app.services import wechat

    monkeypatch.setattr(wechat, "openid_for_code", lambda code: (_ for _ in ()).throw(DomainError("wechat_failed")))
    with client.session_transaction() as session:
        session["account_wechat_state"] = "s1"
    reply = client.get("/my/wechat/callback?code=c&state=s1")
    assert reply.status_code == 502 and "微信授权失败" in reply.get_data(as_text=True)


# --- CSRF ---------------------------------------------------------------------------------------

def expired(reply):
    return reply.status_code == 400 and "页面已过期" in reply.get_data(as_text=True)


def test_a_forged_token_on_staff_forms_gets_the_chinese_page(seeded, client):
    # Flask-AppBuilder's own login re-rendered the form without a word
    assert expired(client.post("/login/", data={"username": "admin", "password": "x", "csrf_token": "forged"}))
    login(client, "admin")
    assert expired(client.post("/settingview/add", data={"key": "HOTLINE", "value": "1", "csrf_token": "forged"}))
    assert expired(client.post("/customerview/edit/1", data={"name": "x"}))  # no token at all
    # the portal's own staff forms keep their words
    reply = client.post("/policy-import/", data={"csrf_token": "forged", "file": (io.BytesIO(b"x"), "p.csv")},
                        content_type="multipart/form-data")
    assert reply.status_code == 422 and "表单已过期" in reply.get_data(as_text=True)


def test_a_forged_token_on_customer_pages_gets_the_chinese_page(seeded, client):
    page = client.get("/my/signin").get_data(as_text=True)
    assert csrf_token(page)
    assert expired(client.post("/my/signin", data={"mobile": "13700137004", "code": "123456",
                                                   "csrf_token": "forged"}))
