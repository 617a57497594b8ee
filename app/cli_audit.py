"""`flask audit verify [--since YYYY-MM-DD]`, `flask audit seal` (issue 15 point 1, services/seal.py) and `flask audit
redact-legacy [--dry-run] [--reason]` (issue 15 point 4, services/redaction.py)."""
import datetime
import sys

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.cli_database import database_required
from app.services import audit

audit_cli = AppGroup("audit", help="The tamper-evident audit trail: seal, verify and redact-legacy (exit 0 "
                                   "intact, 1 tampered, 2 unusable input or no database).")


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


def _operator():
    """The account running the command, for the redaction's audit event."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment
        return "unknown"


@audit_cli.command("redact-legacy")
@click.option("--dry-run", is_flag=True, help="Count the events that would be redacted; write nothing.")
@click.option("--reason", default="", help="Why (kept in each redaction record and the run's audit event).")
def audit_redact_legacy(dry_run, reason):
    """Rewrite the ID numbers and mobiles that audit events written before the trail masked personal data
    still hold in clear to what the writer stores now (masked, with the keyed hash), keeping the seals
    checkable through a redaction record per event (audit_redaction) and one audit event for the run.
    Idempotent: a second run redacts 0. Exit 0; 1 when events whose content no longer matches their hash
    were left alone; 2 without a database."""
    from sqlalchemy.exc import IntegrityError

    from app.services import redaction

    operator = _operator()
    with database_required(), audit.acting_as(f"cli:audit-redact-legacy:{operator}"[:64]):
        try:
            result = redaction.redact_legacy(reason=reason.strip() or None, dry_run=dry_run, operator=operator)
        except IntegrityError:  # another run redacted some of the same events first
            from app.extensions import db

            db.session.rollback()
            click.echo(_("另一次脱敏同时在进行,本次未写入任何内容;请稍后再运行"), err=True)
            sys.exit(1)
    if dry_run:
        click.echo(_("试运行:%(n)s 条历史审计事件含明文身份证号或手机号,将被脱敏(未写入任何内容)", n=result.redacted))
    elif result.redacted:
        click.echo(_("已脱敏 %(n)s 条历史审计事件(事件 #%(a)s–#%(b)s;脱敏记录在 audit_redaction,本次操作记为审计事件 "
                     "#%(op)s)", n=result.redacted, a=result.event_ids[0], b=result.event_ids[-1],
                     op=result.operation_id))
    else:
        click.echo(_("已脱敏 0 条历史审计事件:没有含明文身份证号或手机号的事件"))
    if result.tampered:
        click.echo(_("另有 %(n)s 条含明文的事件内容与其哈希不符,未脱敏:请运行 flask audit verify 查明",
                     n=result.tampered), err=True)
        sys.exit(1)
