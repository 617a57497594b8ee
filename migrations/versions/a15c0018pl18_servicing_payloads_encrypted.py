"""what customers entered in servicing forms, and the beneficiary lists before and after a change,
encrypted at rest (issue 15 item 4)

servicing_application.payload and servicing_application_policy.before / .after held every beneficiary's
ID number in clear JSON. They become the Fernet token of their JSON text (app/services/crypto.py
EncryptedJSON: MEDIUMTEXT on MariaDB, TEXT on SQLite). Existing rows are converted BATCH at a time with
the keys of the app's configuration (run it through `flask db upgrade` with the production keys set);
the downgrade decrypts them back into JSON columns.

Revision ID: a15c0018pl18
Revises: a15c0017bk17
Create Date: 2026-11-30 09:40:00

"""
import functools
import importlib.util
import pathlib

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = 'a15c0018pl18'
down_revision = 'a15c0017bk17'
branch_labels = None
depends_on = None

COLUMNS = {'servicing_application': ('payload',), 'servicing_application_policy': ('before', 'after')}
ENCRYPTED = sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql', 'mariadb')


@functools.lru_cache(maxsize=None)
def _en10():
    """a15c0010en10's helpers (the keys from the app's configuration, the rows in id order, BATCH at a
    time), loaded from its path: a migration file is not an importable module."""
    path = next(pathlib.Path(__file__).parent.glob('a15c0010en10_*.py'))
    spec = importlib.util.spec_from_file_location('_a15c0010en10_helpers', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _convert(bind, name, change):
    """Rewrite each non-null value of the table's columns with change(value as stored)."""
    helpers = _en10()
    columns = COLUMNS[name]
    table = sa.table(name, sa.column('id'), *[sa.column(c) for c in columns])
    statement = table.update().where(table.c.id == sa.bindparam('row_id')).values(
        **{c: sa.bindparam('new_' + c) for c in columns})
    pending = []
    for row in helpers._rows(bind, table, columns):
        values = {'new_' + c: None if getattr(row, c) is None else change(getattr(row, c)) for c in columns}
        pending.append({'row_id': row.id, **values})
        if len(pending) >= helpers.BATCH:
            bind.execute(statement, pending)
            pending = []
    if pending:
        bind.execute(statement, pending)


def _utf8(text):
    return bytes(text) if isinstance(text, (bytes, bytearray)) else text.encode('utf-8')


def upgrade():
    fernet, _ = _en10()._keys()
    for name, columns in COLUMNS.items():
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=sa.JSON(), type_=ENCRYPTED)
    bind = op.get_bind()
    for name in COLUMNS:
        _convert(bind, name, lambda text: fernet.encrypt(_utf8(text)).decode('ascii'))


def downgrade():
    fernet, _ = _en10()._keys()
    bind = op.get_bind()
    for name in COLUMNS:
        _convert(bind, name, lambda token: fernet.decrypt(_en10()._text(token)).decode('utf-8'))
    for name, columns in COLUMNS.items():
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=ENCRYPTED, type_=sa.JSON())
