"""Flask CLI commands: `flask demo seed`, `flask portal init`, `flask identity ...`, `flask servicing ...`."""
import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.cli_database import database_required
from app.extensions import db
from app.services import audit, unit


demo_cli = AppGroup("demo", help="Demo data.")
portal_cli = AppGroup("portal", help="Portal administration.")
identity_cli = AppGroup("identity", help="Face checks for operators (JSON out; exit 0 pass, 1 fail, 2 unusable).")
servicing_cli = AppGroup("servicing", help="Servicing trial calculations (保全试算) for operators (JSON out; "
                                           "exit 0 possible, 1 refused, 2 unusable input).")


@portal_cli.command("init")
def portal_init():
    """Write the roles and their permissions (after `flask db upgrade`): each role gets exactly its
    allow-list in app/security.py, Admin every permission."""
    from app.security import sync_roles

    with audit.acting_as("cli:portal-init"):
        sync_roles(current_app.appbuilder)
    click.echo("roles ready")


@portal_cli.command("rotate-keys")
@click.option("--batch", default=500, show_default=True, help="Rows per committed batch.")
def portal_rotate_keys(batch):
    """Re-encrypt the personal data at rest (ID numbers, mobiles, face encodings, the phones of SMS and
    verification codes, the bank card numbers of loans and repayments) with the first key of
    DATA_ENCRYPTION_KEYS; idempotent. Afterwards the keys after the first can be dropped."""
    from app.services import crypto

    with database_required(), audit.acting_as("cli:rotate-keys"):
        changed = crypto.rotate(db.session, batch=batch)
        audit.record(db.session, "rotate_keys", "data_encryption", None, None, changed)
        db.session.commit()
    click.echo(", ".join(f"{table}: {count} row(s) re-encrypted" for table, count in changed.items()))


@portal_cli.command("run-jobs")
def portal_run_jobs():
    """Run every scheduled job once, now (what celery beat runs; for the embedded default, which has
    no beat: `make run` calls it at start, then its server runs the same jobs every minute)."""
    from app.tasks.embedded import run_job
    from app.tasks.schedule import beat_schedule

    celery_app = current_app.extensions["celery"]
    for name, entry in beat_schedule(current_app.config).items():
        run_job(celery_app, entry)
        click.echo(f"ran {name} ({entry['task']})")


@portal_cli.command("start")
@click.option("--faces", "faces_dir", type=click.Path(file_okay=False),
              help="Reference photos for the demo customers (see `flask demo seed --help`).")
@click.pass_context
def portal_start(ctx, faces_dir):
    """Everything `make run` does before serving, in one process: migrate, roles, demo data when
    the database is empty, and the scheduled jobs once."""
    from flask_migrate import upgrade

    upgrade()
    ctx.invoke(portal_init)
    ctx.invoke(demo_seed, password="Demo@2026", policies=0, if_empty=True, faces_dir=faces_dir)
    ctx.invoke(portal_run_jobs)


@demo_cli.command("seed")
@click.option("--password", default="Demo@2026", show_default=True, help="Password of the demo users.")
@click.option("--policies", default=0, type=int, help="Also add this many bulk policies (load tests).")
@click.option("--if-empty", is_flag=True, help="Do nothing when policies already exist.")
@click.option("--faces", "faces_dir", type=click.Path(file_okay=False),
              help="Attach reference photos from this folder (e.g. ../shared/testdata/faces) to the demo "
                   "customers without one: C0001 张德强 obama.jpg, C0002 爱小心 rose_leslie.jpg, "
                   "C0003 马妍 lin-manuel-miranda.png, C0004 李明 kit_harington.jpeg, C0005 王芳 biden.jpg.")
def demo_seed(password, policies, if_empty, faces_dir):
    """Fill the database with the seed's demo data (idempotent)."""
    from app.models.policy import Policy
    from app.services import demo

    if if_empty and db.session.query(Policy.id).first() is not None:
        click.echo("database already has data; nothing seeded")
        if faces_dir:
            _attach_demo_faces(faces_dir)
        return
    with audit.acting_as("cli:demo-seed"), unit.work():
        created = demo.seed(password)
        for username, role in created:
            click.echo(f"user {username:<12} role {role:<12} password {password}")
        if not created:
            click.echo("demo users already exist (passwords unchanged)")
        if policies:
            seconds = demo.bulk_policies(policies)
            click.echo(f"added {policies} policies in {seconds:.1f} s ({policies / seconds:.0f}/s)")
    if faces_dir:
        _attach_demo_faces(faces_dir)


def _attach_demo_faces(faces_dir):
    from app.services import identity

    with audit.acting_as("cli:demo-seed"):
        for customer_no, filename, outcome in identity.attach_demo_faces(faces_dir):
            click.echo(f"customer {customer_no} photo {filename:<24} {outcome}")


def _emit(result):
    click.echo(json.dumps(result, ensure_ascii=False))
    sys.exit({"PASSED": 0, "FAILED": 1}.get(result["decision"], 2))


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        _emit({"decision": "UNUSABLE", "reasons": ["file_unreadable"], "file": path, "error": error.strerror})


@identity_cli.command("verify-face")
@click.argument("reference")
@click.argument("probe")
def identity_verify_face(reference, probe):
    """Compare the face in PROBE with the face in REFERENCE (two photos)."""
    from app.services import identity

    _emit(identity.verify_face_files(_read(reference), _read(probe)))


@identity_cli.command("check-video")
@click.argument("reference")
@click.argument("video")
def identity_check_video(reference, video):
    """Check a liveness VIDEO against the face in the REFERENCE photo."""
    from app.services import identity

    _emit(identity.check_video_files(_read(reference), video, _read(video)))


def _trial(calculate, *args):
    """One JSON object: the figures (exit 0 possible, 1 refused), or the error of unusable input (2):
    an unknown policy, an amount or a day that is none, or no database yet (a fresh checkout)."""
    from sqlalchemy.exc import DBAPIError

    from app.services.errors import DomainError, message_for

    try:
        result = calculate(*args)
    except DomainError as error:
        click.echo(json.dumps({"error": error.key, "message": error.message}, ensure_ascii=False))
        sys.exit(2)
    except DBAPIError:  # no tables before `flask db upgrade`, or the server is down
        db.session.rollback()
        click.echo(json.dumps({"error": "database_not_ready", "message": message_for("database_not_ready")},
                              ensure_ascii=False))
        sys.exit(2)
    click.echo(json.dumps(result.as_json(), ensure_ascii=False))
    sys.exit(0 if result.possible else 1)


@servicing_cli.command("quote", context_settings={"ignore_unknown_options": True})  # -5 is an amount
@click.argument("policy_no")
@click.argument("amount")
@click.option("--on", "on", default="", metavar="YYYY-MM-DD", help="Calculate as on this day (default today).")
def servicing_quote(policy_no, amount, on):
    """A policy loan of AMOUNT on POLICY_NO: loanable amount, rate, stamp duty, credited amount,
    due date, whether ID images are needed, and the reasons when it is refused."""
    from app.services import loan

    _trial(loan.quote, policy_no, amount, on)


@servicing_cli.command("payoff")
@click.argument("policy_no")
@click.option("--on", "on", default="", metavar="YYYY-MM-DD", help="Calculate as on this day (default today).")
@click.option("--amount", default="", help="Also split a repayment of this amount (interest first).")
def servicing_payoff(policy_no, on, amount):
    """What POLICY_NO's loans owe: unpaid principal, interest to the day and the total."""
    from app.services import loan

    _trial(loan.payoff, policy_no, on, amount)


@servicing_cli.command("recompute-loans")
@click.option("--batch", default=2000, show_default=True, help="Loans read per query.")
def servicing_recompute_loans(batch):
    """Replay every loan's ledger and compare with the stored balances: one line per difference, to the
    fen; exit 0 when none, 1 when any, 2 when there is no database yet."""
    from app.services import ledger

    count = 0
    with database_required():
        for loan_id, entry_id, name, stored, computed in ledger.recompute(batch=max(batch, 1)):
            count += 1
            where = f"loan {loan_id}" + (f" ledger row {entry_id}" if entry_id else "")
            click.echo(f"{where}: {name} stored {stored}, ledger says {computed}")
    db.session.rollback()
    click.echo(f"{count} difference(s)" if count else "every loan agrees with its ledger")
    sys.exit(1 if count else 0)


def register_cli(app):
    from app.cli_audit import audit_cli

    app.cli.add_command(audit_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(portal_cli)
    app.cli.add_command(identity_cli)
    app.cli.add_command(servicing_cli)
    from app.cli_evidence import evidence_cli  # evidence packs: verify offline, public key

    app.cli.add_command(evidence_cli)
    from app.cli_retention import retention_cli  # records past their retention: export for an archive

    app.cli.add_command(retention_cli)
