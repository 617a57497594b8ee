"""Personal data at rest (issue 15 point 4): ID numbers, reserved mobiles, face encodings, the
mobiles SMS and verification codes were sent to (sms_message.phone, verification_code.phone) and the
bank card numbers of loans and repayments (servicing_application.account_no, policy_loan.account_no) are
stored encrypted with `cryptography`'s Fernet (AES-128-CBC + HMAC-SHA256), and the ones the portal
looks customers up by have a keyed hash beside them (HMAC-SHA256, hex).

Keys, from the configuration:

- DATA_ENCRYPTION_KEYS: comma-separated Fernet keys (`Fernet.generate_key()`); the first encrypts,
  every one decrypts (MultiFernet), so a new key goes first, `flask portal rotate-keys` re-encrypts
  every row with it, and the old key can then be dropped.
- DATA_HASH_KEY: the HMAC key of the lookup hashes. Changing it would need every hash recomputed
  (the rotation command does not do that), so it is set once.

Unset (development, tests), both are derived from SECRET_KEY; production refuses to start without
them (app/__init__.py, _check_config).

The column types (EncryptedString, EncryptedBinary) encrypt on write and decrypt on read, so the
ORM and Core statements see plain values; a WHERE on an encrypted column can never match (Fernet
tokens are randomised): compare the hash column with lookup_hash() instead.
"""
import base64
import hashlib
import hmac
import json
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

from app.services.validation import normalize_mobile, normalize_text

ENCRYPTION_CONTEXT = b"portal:data-encryption:"
HASH_CONTEXT = b"portal:data-hash:"
TOKEN_PREFIX = "gAAAAA"  # every Fernet token (version byte 0x80 + a 64-bit timestamp) starts so


class CryptoConfigError(ValueError):
    """The configured keys are unusable."""


def derived_keys(secret_key):
    """(encryption keys, hash key) derived from SECRET_KEY, for development and tests."""
    secret = (secret_key or "").encode("utf-8")
    fernet_key = base64.urlsafe_b64encode(hashlib.sha256(ENCRYPTION_CONTEXT + secret).digest())
    return [fernet_key], hashlib.sha256(HASH_CONTEXT + secret).digest()


def keys_from(config):
    """(encryption keys as bytes, first one encrypting; hash key as bytes) from a configuration."""
    derived_enc, derived_hash = derived_keys(config.get("SECRET_KEY"))
    raw = config.get("DATA_ENCRYPTION_KEYS") or ""
    if isinstance(raw, (list, tuple)):
        raw = ",".join(raw)
    enc = [k.strip().encode("ascii") for k in raw.split(",") if k.strip()] or derived_enc
    hash_key = config.get("DATA_HASH_KEY")
    hash_key = hash_key.encode("utf-8") if hash_key else derived_hash
    for key in enc:
        try:
            Fernet(key)
        except (ValueError, TypeError) as error:
            raise CryptoConfigError("DATA_ENCRYPTION_KEYS: every key must be a Fernet key "
                            "(32 url-safe base64-encoded bytes)") from error
    return enc, hash_key


_cache = {}


def _keys():
    config = current_app.config
    marker = (config.get("SECRET_KEY"), config.get("DATA_ENCRYPTION_KEYS"), config.get("DATA_HASH_KEY"))
    found = _cache.get(marker)
    if found is None:
        enc, hash_key = keys_from(config)
        found = _cache[marker] = (MultiFernet([Fernet(k) for k in enc]), Fernet(enc[0]), hash_key)
    return found


def encrypt(data: bytes) -> bytes:
    return _keys()[0].encrypt(data)


def decrypt(token: bytes) -> bytes:
    return _keys()[0].decrypt(token)


def encrypted_with_first_key(token: bytes) -> bool:
    """True when the first (encrypting) key opens this token: rotation leaves it alone."""
    try:
        _keys()[1].decrypt(token)
        return True
    except InvalidToken:
        return False


# --- the lookup hashes -------------------------------------------------------------------------

def normalize_id_number(value):
    """The one form an ID number is hashed in: NFKC, no whitespace, upper case (x -> X)."""
    return re.sub(r"\s", "", normalize_text(value)).upper()


def normalize_mobile_for_hash(value):
    text = normalize_text(value)
    return normalize_mobile(text) or re.sub(r"[\s-]", "", text)


def normalize_card(value):
    """A bank card number as digits only (spaces and dashes dropped, full-width digits made ASCII)."""
    return re.sub(r"[\s-]", "", normalize_text(value))


# "card": no column keeps a card's hash (nothing is looked up by card); the audit trail writes it beside
# the masked number so that an auditor can match a number they know
NORMALIZERS = {"id_number": normalize_id_number, "mobile": normalize_mobile_for_hash, "card": normalize_card}


def keyed_hash(value, kind, hash_key):
    if value is None:
        return None
    plain = NORMALIZERS[kind](value)
    return hmac.new(hash_key, f"{kind}:{plain}".encode("utf-8"), hashlib.sha256).hexdigest()


def lookup_hash(value, kind):
    """The hash column's value for an ID number (kind "id_number") or a mobile ("mobile"); "card": the
    audit trail's hash of a bank card number."""
    return keyed_hash(value, kind, _keys()[2])


def hash_default(column, kind):
    """A column default filling the hash from the plain value in the same INSERT (Core inserts
    and multi-row INSERTs included); the ORM keeps it current on updates (app/models/customer.py)."""
    def default(context):
        return lookup_hash(context.get_current_parameters().get(column), kind)
    return default


# --- the column types ----------------------------------------------------------------------------

class EncryptedString(TypeDecorator):
    """A str stored as its Fernet token (ASCII). 255 characters hold a plain value of up to 95 bytes."""
    impl = String
    cache_ok = True

    def __init__(self, length=255, **kwargs):
        super().__init__(length, **kwargs)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return encrypt(str(value).encode("utf-8")).decode("ascii")

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return decrypt(value.encode("ascii")).decode("utf-8")


class EncryptedJSON(TypeDecorator):
    """A JSON value (dict, list, str, number) stored as the Fernet token of its JSON text: what a
    customer entered in a servicing form, beneficiaries' ID numbers included. Assign a new value to
    change it (as with SQLAlchemy's JSON, an edit in place is not seen)."""
    impl = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return encrypt(text.encode("utf-8")).decode("ascii")

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return json.loads(decrypt(value.encode("ascii")).decode("utf-8"))


class EncryptedBinary(TypeDecorator):
    """bytes stored as their Fernet token."""
    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return encrypt(bytes(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return decrypt(bytes(value))


# --- rotation ------------------------------------------------------------------------------------

ENCRYPTED_COLUMNS = {"customer": ("id_number", "mobile", "face_encoding"), "beneficiary": ("id_number",),
                     # the mobiles SMS and verification codes went to (issue 15 item 4, migration a15c0015sp15)
                     "sms_message": ("phone",), "verification_code": ("phone",),
                     # the full bank card numbers of loans and repayments (migration a15c0017bk17)
                     "servicing_application": ("account_no", "payload"), "policy_loan": ("account_no",),
                     # what the customer entered and the beneficiary lists before and after (a15c0018pl18)
                     "servicing_application_policy": ("before", "after")}


def rotate(session, batch=500, echo=None):
    """Re-encrypt every encrypted value that the first key of DATA_ENCRYPTION_KEYS does not open,
    `batch` rows at a time in id order, each batch committed. Values already under the first key
    are left alone, so a second run changes nothing and an interrupted run resumes. Returns
    {table: rows changed}. The hash columns do not change (DATA_HASH_KEY is not rotated)."""
    from sqlalchemy import column, select, table, update

    changed = {}
    for name, columns in ENCRYPTED_COLUMNS.items():
        raw = table(name, column("id"), *[column(c) for c in columns])  # untyped: the tokens as stored
        changed[name], last = 0, 0
        while True:
            rows = session.execute(select(raw).where(raw.c.id > last).order_by(raw.c.id).limit(batch)).all()
            if not rows:
                break
            for row in rows:
                values = {}
                for c in columns:
                    token = getattr(row, c)
                    if token is None:
                        continue
                    token = token.encode("ascii") if isinstance(token, str) else bytes(token)
                    if not encrypted_with_first_key(token):
                        fresh = _keys()[0].rotate(token)
                        values[c] = fresh if c == "face_encoding" else fresh.decode("ascii")
                if values:
                    session.execute(update(raw).where(raw.c.id == row.id).values(**values))
                    changed[name] += 1
            session.commit()
            last = rows[-1].id
            if echo:
                echo(f"{name}: up to id {last}, {changed[name]} re-encrypted")
    return changed
