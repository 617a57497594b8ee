"""personal data encrypted at rest with keyed hashes for lookups (issue 15 point 4)

customer.id_number, customer.mobile, customer.face_encoding and beneficiary.id_number are stored
as Fernet tokens (app/services/crypto.py); customer.id_number_hash and customer.mobile_hash
(HMAC-SHA256, hex) take over the lookups, the one-customer-per-document constraint and the mobile
index. The keys come from the app's configuration (DATA_ENCRYPTION_KEYS, DATA_HASH_KEY, or derived
from SECRET_KEY in development), so run it through `flask db upgrade` with the production keys set.
Downgrade decrypts every value back into the narrow plain columns.

Revision ID: a15c0010en10
Revises: a15c0007au07
Create Date: 2026-11-30 07:20:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a15c0010en10'
down_revision = 'a15c0007au07'
branch_labels = None
depends_on = None

BATCH = 1000
CUSTOMER = sa.table('customer', sa.column('id'), sa.column('id_number'), sa.column('mobile'),
                    sa.column('face_encoding'), sa.column('id_number_hash'), sa.column('mobile_hash'))
BENEFICIARY = sa.table('beneficiary', sa.column('id'), sa.column('id_number'))


def _keys():
    from cryptography.fernet import Fernet, MultiFernet
    from flask import current_app

    from app.services.crypto import keys_from

    encryption_keys, hash_key = keys_from(current_app.config)
    return MultiFernet([Fernet(k) for k in encryption_keys]), hash_key


def _rows(bind, table, columns):
    """Every row in id order, BATCH at a time (the updates go in between)."""
    last = 0
    while True:
        rows = bind.execute(sa.select(table.c.id, *[table.c[c] for c in columns])
                            .where(table.c.id > last).order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def _text(value):
    return value.decode('ascii') if isinstance(value, (bytes, bytearray)) else value


def upgrade():
    from app.services.crypto import keyed_hash

    fernet, hash_key = _keys()
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_constraint('uq_customer_id_document', type_='unique')
        batch_op.drop_index('ix_customer_id_number')
        batch_op.drop_index('ix_customer_mobile')
        batch_op.alter_column('id_number', existing_type=sa.String(length=32), type_=sa.String(length=255),
                              existing_nullable=False)
        batch_op.alter_column('mobile', existing_type=sa.String(length=11), type_=sa.String(length=255),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('id_number_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('mobile_hash', sa.String(length=64), nullable=True))
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.alter_column('id_number', existing_type=sa.String(length=32), type_=sa.String(length=255),
                              existing_nullable=False)

    bind = op.get_bind()
    for row in _rows(bind, CUSTOMER, ('id_number', 'mobile', 'face_encoding')):
        values = {
            'id_number': fernet.encrypt(row.id_number.encode('utf-8')).decode('ascii'),
            'id_number_hash': keyed_hash(row.id_number, 'id_number', hash_key),
            'mobile': fernet.encrypt(row.mobile.encode('utf-8')).decode('ascii'),
            'mobile_hash': keyed_hash(row.mobile, 'mobile', hash_key),
        }
        if row.face_encoding is not None:
            values['face_encoding'] = fernet.encrypt(bytes(row.face_encoding))
        bind.execute(CUSTOMER.update().where(CUSTOMER.c.id == row.id).values(**values))
    for row in _rows(bind, BENEFICIARY, ('id_number',)):
        bind.execute(BENEFICIARY.update().where(BENEFICIARY.c.id == row.id).values(
            id_number=fernet.encrypt(row.id_number.encode('utf-8')).decode('ascii')))

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.alter_column('id_number_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('mobile_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint('uq_customer_id_document', ['id_type', 'id_number_hash'])
        batch_op.create_index('ix_customer_mobile_hash', ['mobile_hash'], unique=False)


def downgrade():
    fernet, _ = _keys()
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_constraint('uq_customer_id_document', type_='unique')
        batch_op.drop_index('ix_customer_mobile_hash')

    bind = op.get_bind()
    for row in _rows(bind, CUSTOMER, ('id_number', 'mobile', 'face_encoding')):
        values = {'id_number': fernet.decrypt(_text(row.id_number)).decode('utf-8'),
                  'mobile': fernet.decrypt(_text(row.mobile)).decode('utf-8')}
        if row.face_encoding is not None:
            values['face_encoding'] = fernet.decrypt(bytes(row.face_encoding))
        bind.execute(CUSTOMER.update().where(CUSTOMER.c.id == row.id).values(**values))
    for row in _rows(bind, BENEFICIARY, ('id_number',)):
        bind.execute(BENEFICIARY.update().where(BENEFICIARY.c.id == row.id).values(
            id_number=fernet.decrypt(_text(row.id_number)).decode('utf-8')))

    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.alter_column('id_number', existing_type=sa.String(length=255), type_=sa.String(length=32),
                              existing_nullable=False)
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('mobile_hash')
        batch_op.drop_column('id_number_hash')
        batch_op.alter_column('mobile', existing_type=sa.String(length=255), type_=sa.String(length=11),
                              existing_nullable=False)
        batch_op.alter_column('id_number', existing_type=sa.String(length=255), type_=sa.String(length=32),
                              existing_nullable=False)
        batch_op.create_unique_constraint('uq_customer_id_document', ['id_type', 'id_number'])
        batch_op.create_index('ix_customer_id_number', ['id_number'], unique=False)
        batch_op.create_index('ix_customer_mobile', ['mobile'], unique=False)
