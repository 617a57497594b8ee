"""Flask CLI commands: `flask demo seed`, `flask portal init`."""
import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from app.services import audit

demo_cli = AppGroup("demo", help="Demo data.")
portal_cli = AppGroup("portal", help="Portal administration.")


@portal_cli.command("init")
def portal_init():
    """Create the roles (after `flask db upgrade`)."""
    with audit.acting_as("cli:portal-init"):
        sm = current_app.appbuilder.sm
        for role in list(current_app.config["FAB_ROLES"]) + [current_app.config["AUTH_ROLE_PUBLIC"]]:
            if sm.find_role(role) is None:
                sm.add_role(role)
    click.echo("roles ready")


@demo_cli.command("seed")
@click.option("--password", default="Demo@2026", show_default=True, help="Password of the demo users.")
@click.option("--policies", default=0, type=int, help="Also add this many bulk policies (load tests).")
@click.option("--if-empty", is_flag=True, help="Do nothing when policies already exist.")
def demo_seed(password, policies, if_empty):
    """Fill the database with the seed's demo data (idempotent)."""
    from app.models.policy import Policy
    from app.services import demo

    if if_empty and db.session.query(Policy.id).first() is not None:
        click.echo("database already has data; nothing seeded")
        return
    with audit.acting_as("cli:demo-seed"):
        created = demo.seed(password)
        for username, role in created:
            click.echo(f"user {username:<12} role {role:<12} password {password}")
        if not created:
            click.echo("demo users already exist (passwords unchanged)")
        if policies:
            seconds = demo.bulk_policies(policies)
            click.echo(f"added {policies} policies in {seconds:.1f} s ({policies / seconds:.0f}/s)")


def register_cli(app):
    app.cli.add_command(demo_cli)
    app.cli.add_command(portal_cli)
