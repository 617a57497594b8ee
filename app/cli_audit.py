"""`flask audit verify [--since YYYY-MM-DD]` and `flask audit seal` (issue 15 point 1, services/seal.py)."""
import datetime
import sys

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.cli_database import database_required
from app.services import audit

audit_cli = AppGroup("audit", help="The tamper-evident audit trail: seal and verify (exit 0 intact, 1 tampered, "
                                   "2 unusable input or no database).")


@audit_cli.command("verify")
@click.option("--since", default="", metavar="YYYY-MM-DD", help="Check only the seals made from this day on "
                                                                 "(and the events after them).")
def audit_verify(since):
    """Recompute every audit event's hash and the chain of seals, and compare the protected records (answers,
    call attempts, identity checks, consents, loan ledgers) with their events: the first break in one line
    and exit 1, or a one-line summary and exit 0."""

    from app.services import seal

    day = None
    if since:
        try:
            day = datetime.date.fromisoformat(since.strip())
        except ValueError:
            click.echo(_("日期格式应为 YYYY-MM-DD:%(v)s", v=since), err=True)
            sys.exit(2)
    with database_required():
        report = seal.verify(day)
    click.echo(report.summary())
    sys.exit(0 if report.intact else 1)


@audit_cli.command("seal")
def audit_seal():
    """Seal the audit events committed since the last seal, now (what the beat job does every ten minutes)."""

    from app.services import seal

    made = []
    with database_required(), audit.acting_as("cli:audit-seal"):
        while (record := seal.seal()) is not None:
            made.append(record)
    for record in made:
        click.echo(_("封存 #%(id)s:事件 #%(a)s–#%(b)s 共 %(n)s 条", id=record.id, a=record.first_id,
                     b=record.last_id, n=record.count))
    if not made:
        click.echo(_("没有需要封存的新事件"))
