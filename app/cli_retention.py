"""`flask retention export --before YYYY-MM-DD --out FILE.zip` (issue 15 point 5, services/retention.py)."""
import datetime
import io
import sys

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.cli_database import database_required
from app.services import audit, clock

retention_cli = AppGroup("retention", help="Records past their retention (ten years after the contract's end): "
                                           "export for an archive, deleting nothing (exit 0 written, 2 unusable "
                                           "input or no database).")


@retention_cli.command("export")
@click.option("--before", required=True, metavar="YYYY-MM-DD",
              help="Export the records of the policies whose retention ended before this day (at most tomorrow).")
@click.option("--out", required=True, metavar="FILE.zip", help="The ZIP to write (records/<table>.jsonl and "
                                                                 "manifest.json with each file's SHA-256).")
def retention_export(before, out):
    """Write the records of every policy whose retention ended before DATE to a ZIP for an archive, with a
    manifest of counts and SHA-256; nothing is deleted. Prints a one-line summary in Chinese."""
    from app.services import retention

    try:
        day = datetime.date.fromisoformat(before.strip())
    except ValueError:
        click.echo(_("日期格式应为 YYYY-MM-DD:%(v)s", v=before), err=True)
        sys.exit(2)
    if day > clock.today() + datetime.timedelta(days=1):
        click.echo(_("截止日期不能晚于明天:%(v)s(只导出保存期限已届满的记录)", v=before), err=True)
        sys.exit(2)
    buffer = io.BytesIO()
    with database_required(), audit.acting_as("cli:retention-export"):
        manifest = retention.export(day, buffer)
    try:
        with open(out, "wb") as handle:
            handle.write(buffer.getvalue())
    except OSError as error:
        click.echo(_("无法写入文件 %(path)s:%(reason)s", path=out, reason=error.strerror or error), err=True)
        sys.exit(2)
    click.echo(retention.summary(manifest) + _(";文件 %(path)s", path=out))
