"""The back-office forms with generated input, each as the role that uses it: the login, customers and
policies (operator), business settings (admin), recording a call (agent), the questionnaire editor and
the policy file import. Every post carries the session's real CSRF token."""
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Customer, Policy
from tests.conftest import csrf_token, login
from tests.factories import make_task
from tests.fuzz.conftest import FUZZ, assert_chinese_refusal, form_value, reset_limits, row_counts


def signed_in(client, username):
    """Signs in once a test (the client lives across the examples); the session's CSRF token."""
    if getattr(client, "csrf", None) is None:
        assert login(client, username).status_code == 200
    return client.csrf


def form_of(fields):
    return st.fixed_dictionaries({}, optional={name: form_value for name in fields})


def check(client, url, data, tables, **kwargs):
    """Post; a refusal explains itself in Chinese and leaves the tables as they were."""
    before = row_counts(*tables)
    reply = client.post(url, data=data, **kwargs)
    assert_chinese_refusal(reply, f"POST {url} {data!r:.300}")
    if reply.status_code >= 400:
        assert row_counts(*tables) == before, f"POST {url} was refused but changed rows"
    return reply


@given(form=form_of(["username", "password", "next"]))
@settings(FUZZ)
def test_login(app, seeded, client, form):
    reset_limits(app)
    token = csrf_token(client.get("/login/").get_data(as_text=True))
    check(client, "/login/", {**form, "csrf_token": token}, ["ab_user"])


@given(form=form_of(["customer_no", "name", "gender", "birth_date", "id_type", "id_number", "mobile",
                     "wechat_openid"]))
@settings(FUZZ)
def test_customer_add_and_edit_as_operator(app, seeded, client, form):
    token = signed_in(client, "operator")
    pk = db.session.query(Customer.id).filter_by(customer_no="C0001").scalar()
    check(client, "/customerview/add", {**form, "csrf_token": token}, ["customer"])
    check(client, f"/customerview/edit/{pk}", {**form, "csrf_token": token}, ["customer"])


@given(form=form_of(["status", "receipt_signed_date", "effective_date", "next_due_date", "cash_value",
                     "cash_value_date", "annuity_method", "universal_account_no"]))
@settings(FUZZ)
def test_policy_edit_as_operator(app, seeded, client, form):
    token = signed_in(client, "operator")
    pk = db.session.query(Policy.id).order_by(Policy.id).first()[0]
    check(client, f"/policyview/edit/{pk}", {**form, "csrf_token": token}, ["policy"])


@given(form=st.fixed_dictionaries({"key": st.one_of(st.sampled_from(
    ["FACE_MATCH_THRESHOLD", "CODE_MAX_WRONG_TRIES", "LOAN_RATIO", "EREVISIT_VALID_DAYS"]), form_value)},
    optional={"value": form_value, "description": form_value}))
@settings(FUZZ)
def test_settings_as_admin(app, seeded, client, form):
    token = signed_in(client, "admin")
    check(client, "/settingview/add", {**form, "csrf_token": token}, ["setting"])


@given(form=form_of(["outcome", "holder_verified", "callback_at", "note", "q_1", "q_2"]))
@settings(FUZZ)
def test_recording_a_call_as_agent(app, seeded, client, form):
    token = signed_in(client, "agent1")
    task_id = make_task(db.session.query(Policy.policy_no).order_by(Policy.id).first()[0], assignee="agent1",
                        status="PHONE_QUEUE")
    check(client, f"/workbench/task/{task_id}/attempt", {**form, "csrf_token": token}, ["revisit_answer"])


EDITOR_FIELDS = st.dictionaries(st.sampled_from([
    "code", "name", "payment_mode", "product_kinds", "base_version", "text_0", "position_0", "mode_0", "kinds_0",
    "text_1", "position_1"]), form_value)


@given(form=EDITOR_FIELDS, rows=st.integers(0, 3))
@settings(FUZZ)
def test_questionnaire_editor(app, seeded, client, form, rows):
    token = signed_in(client, "admin")
    check(client, "/questionnaire-editor/new", {**form, "row_count": str(rows), "csrf_token": token},
          ["questionnaire_template", "question"])


@given(form=EDITOR_FIELDS, rows=form_value)
@settings(FUZZ)
def test_questionnaire_editor_row_count(app, seeded, client, form, rows):
    token = signed_in(client, "admin")
    check(client, "/questionnaire-editor/new", {**form, "row_count": rows, "csrf_token": token},
          ["questionnaire_template", "question"])


CSV_HEAD = "保单号,产品代码,承保日期,保费,缴费方式,保额,投保人姓名,投保人证件号码,投保人手机号\n"


@given(body=st.one_of(
    st.binary(max_size=500),
    form_value.map(lambda v: (CSV_HEAD + f"990000000000001,AXH01,{v},{v},REGULAR,{v},{v},{v},{v}\n").encode()),
    st.sampled_from([b"PK\x03\x04" + b"\x00" * 40, CSV_HEAD.encode() * 3, b"\xef\xbb\xbf" + CSV_HEAD.encode()])),
    filename=st.sampled_from(["a.csv", "a.xlsx", "a.txt", "", "../../a.csv"]))
@settings(FUZZ)
def test_policy_import_upload(app, seeded, client, body, filename):
    token = signed_in(client, "operator")
    check(client, "/policy-import/", {"csrf_token": token, "file": (io.BytesIO(body), filename)},
          ["policy", "customer", "beneficiary", "revisit_task"], content_type="multipart/form-data")
