"""Personal data at rest (issue 15 point 4, app/services/crypto.py): ID numbers, reserved mobiles and
face encodings are Fernet tokens in the database, found through their keyed hashes; key rotation
re-encrypts and keeps them working; the migration converts a filled database and goes back."""
from datetime import date

import numpy as np
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.models import Beneficiary, Customer, Policy
from app.services import crypto
from tests.conftest import make_config, migration_database

TOKEN = crypto.TOKEN_PREFIX


def _raw(sql, **params):
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def _person(customer_no="C0001"):
    return db.session.query(Customer).filter_by(customer_no=customer_no).one()


def test_the_tables_hold_no_plain_id_number_mobile_or_face(seeded):
    customer = _person()
    customer.face_encoding = np.arange(128, dtype=np.float64).tobytes()
    db.session.commit()
    plain = {c.id: (c.id_number, c.mobile) for c in db.session.query(Customer)}
    rows = _raw("SELECT id, id_number, mobile, id_number_hash, mobile_hash, face_encoding FROM customer")
    assert len(rows) == len(plain) >= 5
    for row in rows:
        id_number, mobile = plain[row["id"]]
        assert row["id_number"].startswith(TOKEN) and row["mobile"].startswith(TOKEN)
        text_of_row = " ".join(str(v) for v in row.values())
        assert id_number not in text_of_row and mobile not in text_of_row
        assert row["id_number_hash"] == crypto.lookup_hash(id_number, "id_number")
        assert row["mobile_hash"] == crypto.lookup_hash(mobile, "mobile") and len(row["mobile_hash"]) == 64
    face = next(r["face_encoding"] for r in rows if r["id"] == customer.id)
    assert bytes(face).startswith(TOKEN.encode()) and np.arange(128, dtype=np.float64).tobytes() not in bytes(face)
    db.session.expire_all()
    assert np.array_equal(np.frombuffer(_person().face_encoding), np.arange(128, dtype=np.float64))
    beneficiaries = {b.id: b.id_number for b in db.session.query(Beneficiary)}
    assert beneficiaries
    for row in _raw("SELECT id, id_number FROM beneficiary"):
        assert row["id_number"].startswith(TOKEN) and beneficiaries[row["id"]] not in row["id_number"]


def test_lookups_normalise_before_hashing(seeded):
    customer = _person()
    full_width = customer.id_number.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"}).lower()
    assert crypto.lookup_hash(f" {full_width} ", "id_number") == customer.id_number_hash
    assert crypto.lookup_hash("+86 " + customer.mobile, "mobile") == customer.mobile_hash
    found = db.session.query(Customer).filter(
        Customer.id_type == customer.id_type,
        Customer.id_number_hash == crypto.lookup_hash(full_width, "id_number")).one()
    assert found.id == customer.id
    customer.mobile = "13900000001"  # the ORM keeps the hash current
    db.session.commit()
    assert _raw("SELECT mobile_hash FROM customer WHERE id = :id", id=customer.id)[0]["mobile_hash"] \
        == crypto.lookup_hash("13900000001", "mobile")


def test_the_admin_list_finds_an_encrypted_number_by_exact_value(seeded, client):
    from tests.conftest import login

    customer = _person()
    login(client, "admin")
    page = client.get(f"/customerview/list/?_flt_0_id_number={customer.id_number}").get_data(as_text=True)
    assert customer.customer_no in page
    other = _person("C0002")
    assert other.customer_no not in page
    page = client.get(f"/customerview/list/?_flt_0_mobile={other.mobile}").get_data(as_text=True)
    assert other.customer_no in page


def test_rotation_re_encrypts_with_the_new_first_key_and_the_old_one_can_go(seeded, key_rotation, app, monkeypatch):
    before = {c.id: (c.id_number, c.mobile, c.mobile_hash) for c in db.session.query(Customer)}
    rotation = key_rotation()
    new = rotation.new
    output = rotation.run(3)
    assert f"customer: {len(before)} row(s) re-encrypted" in output
    # idempotent: a second run finds nothing under the old key
    assert crypto.rotate(db.session, batch=3) == {"customer": 0, "beneficiary": 0, "sms_message": 0,
                                                  "verification_code": 0, "servicing_application": 0,
                                                  "policy_loan": 0, "servicing_application_policy": 0}
    rotation.drop_old()
    for row in _raw("SELECT id_number, mobile FROM customer"):
        Fernet(new.encode()).decrypt(row["id_number"].encode())
    after = {c.id: (c.id_number, c.mobile, c.mobile_hash) for c in db.session.query(Customer)}
    assert after == before
    assert all(b.id_number for b in db.session.query(Beneficiary))
    # sign-in by mobile and binding by ID number still find the customer through the unchanged hashes
    from app.services import account, codes

    monkeypatch.setattr(codes, "verify", lambda phone, purpose, code: phone)  # the code itself: tests/views
    holder = _person("C0002")
    assert account.sign_in_with_mobile(holder.mobile, "000000").customer_id == holder.id
    bound = account.bind(holder.name, holder.id_type, holder.id_number.lower(), holder.mobile,
                         signed_in_phone=holder.mobile)
    assert bound.id == holder.id


# --- the migration, on a database of its own -----------------------------------------------------------

BEFORE, THIS = "a15c0007au07", "a15c0010en10"


@pytest.fixture
def blank_database(servers):
    with migration_database(servers, "migration-enc") as url:
        yield url


PEOPLE = [(1, "K1", "110105197803140033", "13800138001", b"\x01" * 1024),
          (2, "K2", "11010519491231002x", "13800138002", None)]


def test_the_migration_encrypts_a_filled_database_and_the_downgrade_decrypts_it(servers, blank_database):
    from flask_migrate import downgrade, upgrade

    other = create_app(make_config(servers, SQLALCHEMY_DATABASE_URI=blank_database))
    with other.app_context():
        upgrade(revision=BEFORE)
        mysql = db.engine.dialect.name == "mysql"
        with db.engine.begin() as conn:
            if mysql:
                conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for cid, no, id_number, mobile, face in PEOPLE:
                conn.execute(text(
                    "INSERT INTO customer (id, customer_no, name, gender, birth_date, id_type, id_number, mobile,"
                    " auth_status, face_encoding, created_at, updated_at) VALUES (:id, :no, '客户', 'M', :birth,"
                    " 'RESIDENT_ID', :idn, :mobile, 'UNVERIFIED', :face, :now, :now)"),
                    {"id": cid, "no": no, "birth": date(1978, 3, 14), "idn": id_number, "mobile": mobile,
                     "face": face, "now": "2026-11-30 08:00:00"})
            conn.execute(text(
                "INSERT INTO beneficiary (id, policy_id, kind, version, name, id_type, id_number, gender, birth_date,"
                " relationship_to_insured, `order`, share, is_legal_heirs, created_at) VALUES (1, 1, 'DEATH', 1,"
                " '受益人', 'RESIDENT_ID', '110105197803140033', 'M', :birth, 'SPOUSE', 1, 100, 0, :now)"),
                {"birth": date(1978, 3, 14), "now": "2026-11-30 08:00:00"})
            if mysql:
                conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))

        upgrade(revision=THIS)
        rows = {r["id"]: r for r in _raw("SELECT * FROM customer ORDER BY id")}
        for cid, _no, id_number, mobile, face in PEOPLE:
            row = rows[cid]
            assert row["id_number"].startswith(TOKEN) and id_number not in row["id_number"]
            assert row["mobile"].startswith(TOKEN) and mobile not in row["mobile"]
            assert row["id_number_hash"] == crypto.lookup_hash(id_number, "id_number")
            assert row["mobile_hash"] == crypto.lookup_hash(mobile, "mobile")
            assert crypto.decrypt(row["id_number"].encode()).decode() == id_number
            assert (crypto.decrypt(bytes(row["face_encoding"])) if face else row["face_encoding"]) == face
        # the lowercase x of an ID number on file still finds it (the hash is of the normalised number)
        assert rows[2]["id_number_hash"] == crypto.lookup_hash("11010519491231002X", "id_number")
        beneficiary = _raw("SELECT id_number FROM beneficiary")[0]["id_number"]
        assert crypto.decrypt(beneficiary.encode()).decode() == "110105197803140033"

        downgrade(revision=BEFORE)
        rows = {r["id"]: r for r in _raw("SELECT * FROM customer ORDER BY id")}
        for cid, _no, id_number, mobile, face in PEOPLE:
            assert (rows[cid]["id_number"], rows[cid]["mobile"]) == (id_number, mobile)
            assert "id_number_hash" not in rows[cid]
            assert (bytes(rows[cid]["face_encoding"]) if face else rows[cid]["face_encoding"]) == face
        assert _raw("SELECT id_number FROM beneficiary")[0]["id_number"] == "110105197803140033"
        db.session.remove()
        db.engine.dispose()
