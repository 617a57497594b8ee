"""The customers' pages with generated input: the e-revisit (/s/<code>) and the official account (/my/).

Each post carries the page's real CSRF token (fetched once a test), so the input reaches the
validation behind it.
"""
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Customer, RevisitLink, RevisitTask
from app.services import clock
from tests.biometric import agree_biometrics
from tests.conftest import csrf_token
from tests.fuzz.conftest import FUZZ, assert_chinese_refusal, assert_no_crash, form_value, nasty_text, reset_limits, row_counts

# Rows a refused customer form must not change (evidence and identity checks are recorded on purpose).
CUSTOMER_TABLES = ("customer", "policy", "revisit_answer", "revisit_task", "servicing_application")


@pytest.fixture
def token(seeded, client):
    """A CSRF token of this browser's session (the sign-in page's form)."""
    return csrf_token(client.get("/my/signin").get_data(as_text=True))


@pytest.fixture
def verified(seeded, client, token):
    """张德强's link, its face check passed in this browser; (code, his first task id)."""
    from app.services import revisit
    from app.views.customer_revisit import SESSION_LINK

    revisit.issue_invitations()
    customer = db.session.query(Customer).filter_by(customer_no="C0001").one()
    link = db.session.query(RevisitLink).filter_by(customer_id=customer.id).one()
    link.face_verified_at = clock.now()
    agree_biometrics(customer.id)  # the biometric notice agreed to: the upload reaches the photo checks
    task_id = db.session.query(RevisitTask.id).filter(RevisitTask.status == "SMS_SENT").join(
        RevisitTask.policy).filter_by(holder_id=customer.id).order_by(RevisitTask.id).first()[0]
    db.session.commit()
    with client.session_transaction() as session:
        session[SESSION_LINK] = link.id
    return link.code, task_id


@given(code=nasty_text)
@settings(FUZZ)
def test_any_link_code_gets_a_chinese_page(app, seeded, client, code):
    reset_limits(app)
    quoted = "/s/" + code.replace("/", "%2F").replace("?", "%3F").replace("#", "%23")
    for suffix in ("", "/list", "/exit", "/next", "/task/1"):
        assert_chinese_refusal(client.get(quoted + suffix), f"GET {quoted + suffix!r}")
    assert_no_crash(client.get(quoted + "/face/1/status"), "the status poll (JSON for the page's script)")


@given(photo=st.one_of(st.binary(max_size=2000), st.sampled_from([
           b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, b"GIF89a" + b"\xff" * 50, b"\xff\xd8\xff\xe0" + b"\x00" * 64])),
       filename=nasty_text, extra=st.dictionaries(nasty_text, form_value, max_size=2))
@settings(FUZZ)
def test_face_upload_refuses_anything_but_a_photo(app, verified, token, client, photo, filename, extra):
    reset_limits(app)
    code, _ = verified
    before = row_counts(*CUSTOMER_TABLES)
    reply = client.post(f"/s/{code}/face", data={**extra, "csrf_token": token, "photo": (io.BytesIO(photo), filename or "x")},
                        content_type="multipart/form-data")
    assert_chinese_refusal(reply, f"face upload {photo[:20]!r}")
    assert row_counts(*CUSTOMER_TABLES) == before


@given(answers=st.dictionaries(st.one_of(st.sampled_from(["q_1", "q_2", "q_3", "task_id"]), nasty_text),
                               form_value, max_size=5))
@settings(FUZZ)
def test_questionnaire_refuses_bad_answers_and_stores_nothing(app, verified, token, client, answers):
    reset_limits(app)
    code, task_id = verified
    before = row_counts(*CUSTOMER_TABLES)
    reply = client.post(f"/s/{code}/task/{task_id}", data={"task_id": str(task_id), **answers, "csrf_token": token})
    assert_chinese_refusal(reply, f"answers {answers!r}")
    if reply.status_code != 302:
        assert row_counts(*CUSTOMER_TABLES) == before


@given(form=st.fixed_dictionaries({}, optional={"mobile": form_value, "code": form_value, "next": form_value}))
@settings(FUZZ)
def test_sign_in_refuses_in_chinese(app, seeded, client, token, form):
    reset_limits(app)
    before = row_counts(*CUSTOMER_TABLES)
    form = {**form, "csrf_token": token}
    reply = client.post("/my/signin", data=form)
    assert_chinese_refusal(reply, f"/my/signin {form!r}")
    assert row_counts(*CUSTOMER_TABLES) == before, "a sign-in attempt changed customers"


@given(form=st.fixed_dictionaries({}, optional={"mobile": form_value, "next": form_value, "purpose": st.one_of(
    st.sampled_from(["SIGN_IN", "BIND", "PASSWORD_RESET"]), form_value)}))
@settings(FUZZ)
def test_code_requests_refuse_in_chinese(app, seeded, client, token, form):
    reset_limits(app)
    form = {**form, "csrf_token": token}
    assert_chinese_refusal(client.post("/my/code", data=form), f"/my/code {form!r}")
    assert_chinese_refusal(client.post("/my/code", data=form, follow_redirects=True), f"/my/code {form!r}")


@given(form=st.fixed_dictionaries({}, optional={
    "name": form_value, "id_type": st.one_of(st.sampled_from(["RESIDENT_ID", "PASSPORT"]), form_value),
    "id_number": form_value, "mobile": form_value, "code": form_value}))
@settings(FUZZ)
def test_binding_refuses_in_chinese_and_binds_nothing(app, seeded, client, token, form):
    from app.views.account import SESSION_PHONE

    reset_limits(app)
    with client.session_transaction() as session:
        session[SESSION_PHONE] = "13700137004"  # 李明 signed in with his mobile, not yet bound
    before = row_counts(*CUSTOMER_TABLES)
    reply = client.post("/my/auth", data={**form, "csrf_token": token})
    assert_chinese_refusal(reply, f"/my/auth {form!r}")
    assert reply.status_code in (400, 429), reply.status_code
    assert row_counts(*CUSTOMER_TABLES) == before
