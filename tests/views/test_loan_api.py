"""The loan trial calculation as the core system calls it (issue 11 point 6): JWT as `integration`,
the same figures as the CLI, documented in the served OpenAPI spec."""
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, assert_no_crash, form_value, nasty_text
from tests.services.test_loan import MA_YAN, add_loan
from tests.views.test_intake_api import token


def test_quote_gives_the_seed_figures(seeded, client):
    reply = client.get(f"/api/v1/loan/{MA_YAN}/quote?amount=12000&on=2026-11-30", headers=token(client))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    figures = reply.get_json()
    assert (figures["stamp_duty"], figures["credited_amount"], figures["loanable_amount"]) == (
        "0.60", "11999.40", "34000.00")
    assert figures["due_on"] == "2027-05-30" and figures["needs_id_images"] is True and figures["possible"]


def test_a_refused_loan_is_a_calculation_with_reasons(seeded, client):
    reply = client.get(f"/api/v1/loan/86000001296920/quote?amount=100", headers=token(client))
    assert reply.status_code == 200
    assert [r["code"] for r in reply.get_json()["reasons"]] == ["loan_product_not_allowed", "loan_no_cash_value"]
    assert reply.get_json()["possible"] is False


def test_unusable_input_is_400_and_an_unknown_policy_404(seeded, client):
    headers = token(client)
    for query in ("amount=abc", "amount=-5", "amount=1.234", "", "amount=1&on=2026-02-30"):
        reply = client.get(f"/api/v1/loan/{MA_YAN}/quote?{query}", headers=headers)
        assert reply.status_code == 400, query
        assert reply.get_json()["message"]
    assert client.get("/api/v1/loan/999999/quote?amount=1", headers=headers).status_code == 404
    assert client.get("/api/v1/loan/999999/payoff", headers=headers).status_code == 404


def test_payoff_and_its_split(seeded, client):
    add_loan(arrived=date(2026, 1, 1))
    headers = token(client)
    figures = client.get(f"/api/v1/loan/{MA_YAN}/payoff?on=2026-02-01&amount=1000", headers=headers).get_json()
    assert (figures["principal"], figures["interest"], figures["total"]) == ("10000.00", "42.47", "10042.47")
    assert (figures["repayment"]["interest_part"], figures["repayment"]["principal_part"]) == ("42.47", "957.53")
    above = client.get(f"/api/v1/loan/{MA_YAN}/payoff?on=2026-02-01&amount=99999", headers=headers).get_json()
    assert above["possible"] is False and above["reasons"][0]["code"] == "repayment_above_total"


def test_without_a_token_or_with_an_operators_it_is_refused(seeded, client):
    assert client.get(f"/api/v1/loan/{MA_YAN}/quote?amount=1").status_code == 401
    # an operator's token (say, issued before a change of role) may not call it: LoanApi is Integration's
    from flask import current_app
    from flask_jwt_extended import create_access_token

    operator_id = current_app.appbuilder.sm.find_user(username="operator").id
    headers = {"Authorization": "Bearer " + create_access_token(identity=str(operator_id), fresh=True)}
    assert client.get(f"/api/v1/loan/{MA_YAN}/quote?amount=1", headers=headers).status_code == 403


def test_the_spec_documents_both_operations(seeded, client):
    spec = client.get("/api/v1/_openapi", headers=token(client)).get_json()
    for path in ("/api/v1/loan/{policy_no}/quote", "/api/v1/loan/{policy_no}/payoff"):
        operation = spec["paths"][path]["get"]
        assert {"200", "400", "401", "403", "404"} <= set(map(str, operation["responses"])), path
    assert "loanable_amount" in spec["components"]["schemas"]["LoanQuote"]["properties"]


@given(args=st.dictionaries(st.sampled_from(["amount", "on", "extra"]), form_value),
       policy_no=st.one_of(nasty_text, st.just(MA_YAN)))
@settings(FUZZ, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_query_is_answered_without_a_crash(seeded, client, args, policy_no):
    headers = getattr(client, "loan_token", None) or token(client)
    client.loan_token = headers
    quoted = policy_no.replace("%", "%25").replace("/", "%2F").replace("?", "%3F").replace("#", "%23")
    for operation in ("quote", "payoff"):
        reply = client.get(f"/api/v1/loan/{quoted}/{operation}", query_string=args, headers=headers)
        assert_no_crash(reply, f"GET {operation} {policy_no!r} {args!r}")
        assert reply.status_code in (200, 400, 404), (operation, policy_no, args, reply.status_code)
