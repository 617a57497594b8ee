"""`flask servicing recompute-loans` (issue 11 point 4): every loan replayed from its ledger, each
difference with the stored balance printed to the fen, exit 1 when there is any."""
from sqlalchemy import text

from app.extensions import db
from tests.services.test_ledger import disburse, frozen, pending_loan  # noqa: F401 (fixture)


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["servicing", "recompute-loans", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_every_loan_agrees_with_its_ledger_exits_0(frozen):  # noqa: F811
    for number in ("SA1", "SA2", "SA3"):
        disburse(pending_loan(number=number))
    pending_loan(number="SA4")  # approved, the money not yet paid: no ledger yet, nothing to find
    code, output = run(frozen_app(), "--batch", "2")
    assert code == 0 and "every loan agrees" in output


def test_a_ledger_row_changed_by_hand_is_printed_to_the_fen_and_exits_1(frozen):  # noqa: F811
    first, second = pending_loan(number="SA1"), pending_loan(number="SA2")
    disburse(first)
    disburse(second)
    db.session.execute(text("UPDATE loan_ledger_entry SET principal_delta = principal_delta - 0.01 "
                            "WHERE loan_id = :id"), {"id": second})
    db.session.commit()
    code, output = run(frozen_app(), "--batch", "1")
    assert code == 1
    assert f"loan {second}: outstanding_principal stored 10000.00, ledger says 9999.99" in output
    assert f"loan {first}" not in output and "difference(s)" in output


def frozen_app():
    from flask import current_app

    return current_app._get_current_object()
