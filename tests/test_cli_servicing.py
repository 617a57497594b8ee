"""`flask servicing quote` / `payoff` (issue 11 point 6): one JSON object, money as strings with two
decimals, exit 0 when possible, 1 when refused, 2 for unusable input, also on a fresh checkout."""
import json
import os
import subprocess
import sys
from datetime import date

import pytest

from tests.services.test_loan import MA_YAN, add_application, add_loan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["servicing", *args])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.output)


def test_quote_prints_the_seed_figures_and_exits_0(seeded):
    code, figures = run(seeded, "quote", MA_YAN, "12000", "--on", "2026-11-30")
    assert code == 0
    assert figures == {
        "policy_no": MA_YAN, "on": "2026-11-30", "possible": True, "amount": "12000.00",
        "cash_value": "42500.00", "loan_ratio": "0.8000", "unpaid_principal": "0.00", "unpaid_interest": "0.00",
        "loanable_amount": "34000.00", "annual_rate": "0.0500", "annual_rate_percent": "5.00",
        "rate_source": "setting", "stamp_duty": "0.60", "credited_amount": "11999.40", "due_on": "2027-05-30", "needs_id_images": True,
        "reasons": []}
    assert run(seeded, "quote", MA_YAN, "2000")[1]["stamp_duty"] == "0.00"
    assert run(seeded, "quote", MA_YAN, "2000.01")[1]["stamp_duty"] == "0.10"
    assert run(seeded, "quote", MA_YAN, "10000")[1]["needs_id_images"] is False
    assert run(seeded, "quote", MA_YAN, "10000.01")[1]["needs_id_images"] is True
    assert run(seeded, "quote", MA_YAN, "１２０００")[1]["credited_amount"] == "11999.40"  # NFKC


def test_a_refused_loan_exits_1_with_its_reasons(seeded):
    code, figures = run(seeded, "quote", MA_YAN, "34000.01")
    assert code == 1 and figures["possible"] is False
    assert figures["reasons"] == [{"code": "loan_amount_above_loanable",
                                   "message": "本次贷款金额 34000.01 元超过可贷金额 34000.00 元"}]
    add_application("REVIEW")
    code, figures = run(seeded, "quote", MA_YAN, "100")
    assert code == 1 and figures["reasons"][0]["code"] == "loan_application_in_progress"


@pytest.mark.parametrize("args,error", [
    (("quote", "999999", "100"), "policy_not_found"),
    (("quote", MA_YAN, "abc"), "field_bad_money"),
    (("quote", MA_YAN, "-5"), "field_bad_money"),
    (("quote", MA_YAN, "1.234"), "field_bad_money"),
    (("quote", MA_YAN, "100", "--on", "2026-13-01"), "field_bad_date"),
    (("payoff", "999999"), "policy_not_found"),
    (("payoff", MA_YAN, "--amount", "-1"), "field_bad_money"),
])
def test_unusable_input_exits_2_with_a_message(seeded, args, error):
    code, answer = run(seeded, *args)
    assert code == 2 and answer["error"] == error and answer["message"]


def test_payoff_prints_principal_interest_and_total(seeded):
    add_loan(arrived=date(2026, 1, 1))
    code, figures = run(seeded, "payoff", MA_YAN, "--on", "2026-02-01")
    assert code == 0
    assert (figures["principal"], figures["interest"], figures["total"]) == ("10000.00", "42.47", "10042.47")
    code, figures = run(seeded, "payoff", MA_YAN, "--on", "2026-02-01", "--amount", "1000")
    assert code == 0 and figures["repayment"]["interest_part"] == "42.47"
    assert figures["repayment"]["principal_part"] == "957.53"
    code, figures = run(seeded, "payoff", MA_YAN, "--on", "2026-02-01", "--amount", "10042.48")
    assert code == 1 and figures["reasons"][0]["code"] == "repayment_above_total"


def test_payoff_without_a_loan_exits_1(seeded):
    code, figures = run(seeded, "payoff", MA_YAN)
    assert code == 1 and figures["reasons"][0]["message"] == "该保单没有未清偿的贷款"


@pytest.mark.parametrize("command", [["quote", MA_YAN, "12000"], ["payoff", MA_YAN]])
def test_a_fresh_checkout_without_a_database_exits_2_without_a_traceback(tmp_path, command):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "FLASK_APP": "run.py",
           "PORTAL_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "servicing", *command],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    answer = json.loads(done.stdout)
    assert answer["error"] == "database_not_ready" and "flask db upgrade" in answer["message"]


def test_recompute_loans_on_a_fresh_checkout_says_there_is_no_database(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "FLASK_APP": "run.py",
           "PORTAL_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "servicing", "recompute-loans"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout
    assert "flask db upgrade" in done.stderr
