"""What the operator commands (app/cli*.py) share about the database."""
import sys
from contextlib import contextmanager

import click

from app.extensions import db


@contextmanager
def database_required():
    """An operator command's database work: before `flask db upgrade` (no tables yet) or with the server
    down, the Chinese "no database" line and exit 2 instead of a traceback."""
    from sqlalchemy.exc import DBAPIError

    from app.services.errors import message_for

    try:
        yield
    except DBAPIError:
        db.session.rollback()
        click.echo(str(message_for("database_not_ready")), err=True)
        sys.exit(2)
