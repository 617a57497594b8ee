"""More back-office forms with generated input, each as the role that uses it: products (operator), SMS
templates (admin), the supervision board's assign and release (supervisor), a user's own details and
password (auditor), an SMS resend (supervisor)."""
from hypothesis import given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Product
from tests.factories import make_task
from tests.fuzz.conftest import FUZZ, form_value, reset_limits
from tests.fuzz.test_staff_forms import check, form_of, signed_in

ids = st.one_of(form_value, st.integers(-2 ** 70, 2 ** 70).map(str))


@given(form=form_of(["code", "name", "kind", "term_years", "revisit_required", "hesitation_days", "loan_allowed",
                     "loan_ratio", "has_death_benefit", "annuity_options", "survival_beneficiary_changeable",
                     "is_active"]))
@settings(FUZZ)
def test_product_add_and_edit_as_operator(app, seeded, client, form):
    token = signed_in(client, "operator")
    pk = db.session.query(Product.id).order_by(Product.id).limit(1).scalar()
    check(client, "/productview/add", {**form, "csrf_token": token}, ["product"])
    check(client, f"/productview/edit/{pk}", {**form, "csrf_token": token}, ["product"])


@given(form=form_of(["code", "name", "provider_template_code", "content", "is_active"]))
@settings(FUZZ)
def test_sms_template_add_and_edit_as_admin(app, seeded, client, form):
    token = signed_in(client, "admin")
    check(client, "/smstemplateview/add", {**form, "csrf_token": token}, ["sms_template"])
    check(client, "/smstemplateview/edit/1", {**form, "csrf_token": token}, ["sms_template"])


@given(agent=ids, task=ids)
@settings(FUZZ)
def test_supervision_assign_and_release(app, seeded, client, agent, task):
    token = signed_in(client, "supervisor")
    real = make_task("880000001522216")
    for task_id in (str(real), task):
        if not task_id.lstrip("-").isdigit():
            continue
        check(client, f"/supervision/assign/{task_id}", {"csrf_token": token, "agent_id": agent}, ["revisit_task"])
        check(client, f"/supervision/release/{task_id}", {"csrf_token": token}, ["revisit_task"])


@given(form=form_of(["first_name", "last_name", "email", "current_password", "password", "conf_password"]))
@settings(FUZZ)
def test_own_details_and_password_as_auditor(app, seeded, client, form):
    reset_limits(app)
    token = signed_in(client, "auditor")
    check(client, "/userinfoeditview/form", {**form, "csrf_token": token}, ["ab_user"])
    check(client, "/resetmypassword/form", {**form, "csrf_token": token}, ["ab_user"])


@given(message=ids)
@settings(FUZZ)
def test_sms_resend_as_supervisor(app, seeded, client, message):
    token = signed_in(client, "supervisor")
    if message.lstrip("-").isdigit():
        check(client, f"/smsmessageview/resend/{message}", {"csrf_token": token}, ["sms_message"])
