"""SMS and verification-code phones encrypted at rest, with keyed hashes for the lookups (issue 15 item 4)

sms_message.phone and verification_code.phone become Fernet tokens (String(255), app/services/crypto.py
EncryptedString), as customer.mobile did in a15c0010en10; phone_hash (HMAC-SHA256 hex, the same kind
"mobile" as customer.mobile_hash, so a customer's messages are found by sms_message.phone_hash =
customer.mobile_hash) takes over the lookups and the indexes: ix_sms_message_phone_hash replaces
ix_sms_message_phone, ix_code_phone_hash_purpose (phone_hash, purpose, created_at) replaces
ix_code_phone_purpose. Existing rows are converted BATCH at a time (one executemany per batch); the keys
come from the app's configuration, so run it through `flask db upgrade` with the production keys set.
Downgrade decrypts every phone back into the plain String(11) column.

Revision ID: a15c0015sp15
Revises: a14c0014dx14
Create Date: 2026-11-30 09:00:00

"""
import functools
import importlib.util
import pathlib

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a15c0015sp15'
down_revision = 'a14c0014dx14'
branch_labels = None
depends_on = None

TABLES = {name: sa.table(name, sa.column('id'), sa.column('phone'), sa.column('phone_hash'))
          for name in ('sms_message', 'verification_code')}
OLD_INDEXES = {'sms_message': ('ix_sms_message_phone', ['phone']),
               'verification_code': ('ix_code_phone_purpose', ['phone', 'purpose', 'created_at'])}
NEW_INDEXES = {'sms_message': ('ix_sms_message_phone_hash', ['phone_hash']),
               'verification_code': ('ix_code_phone_hash_purpose', ['phone_hash', 'purpose', 'created_at'])}


@functools.lru_cache(maxsize=None)
def _en10():
    """a15c0010en10's helpers (its keys from the app's configuration, the rows in id order, BATCH at a
    time): a migration file is not an importable module, so it is loaded from its path."""
    path = next(pathlib.Path(__file__).parent.glob('a15c0010en10_*.py'))
    spec = importlib.util.spec_from_file_location('_a15c0010en10_helpers', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _convert(bind, name, values_of):
    """Rewrite every row's columns with values_of(phone as stored): {column: value}, one executemany a batch."""
    helpers = _en10()
    table = TABLES[name]
    statement = None
    pending = []
    for row in helpers._rows(bind, table, ('phone',)):
        if row.phone is None:
            continue
        values = values_of(row.phone)
        if statement is None:
            statement = table.update().where(table.c.id == sa.bindparam('row_id')).values(
                **{column: sa.bindparam('new_' + column) for column in values})
        pending.append({'row_id': row.id, **{'new_' + column: value for column, value in values.items()}})
        if len(pending) >= helpers.BATCH:
            bind.execute(statement, pending)
            pending = []
    if pending:
        bind.execute(statement, pending)


def upgrade():
    from app.services.crypto import keyed_hash

    helpers = _en10()
    fernet, hash_key = helpers._keys()
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(OLD_INDEXES[name][0])
            batch_op.alter_column('phone', existing_type=sa.String(length=11), type_=sa.String(length=255),
                                  existing_nullable=False)
            batch_op.add_column(sa.Column('phone_hash', sa.String(length=64), nullable=True))

    bind = op.get_bind()
    for name in TABLES:
        _convert(bind, name, lambda plain: {'phone': fernet.encrypt(plain.encode('utf-8')).decode('ascii'),
                                            'phone_hash': keyed_hash(plain, 'mobile', hash_key)})

    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.alter_column('phone_hash', existing_type=sa.String(length=64), nullable=False)
            batch_op.create_index(*NEW_INDEXES[name], unique=False)


def downgrade():
    helpers = _en10()
    fernet, _ = helpers._keys()
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(NEW_INDEXES[name][0])

    bind = op.get_bind()
    for name in TABLES:
        _convert(bind, name, lambda token: {'phone': fernet.decrypt(helpers._text(token)).decode('utf-8')})

    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column('phone_hash')
            batch_op.alter_column('phone', existing_type=sa.String(length=255), type_=sa.String(length=11),
                                  existing_nullable=False)
            batch_op.create_index(*OLD_INDEXES[name], unique=False)
