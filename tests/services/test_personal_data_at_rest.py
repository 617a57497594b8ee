"""No ID number, mobile or bank card number in clear anywhere in the database (issue 15 item 4), read with
plain SQL over every column of every table, after 马妍's full servicing history (a loan, its disbursement, a
repayment, a beneficiary change naming two people with their ID numbers) and 王芳's loan with 李明's consent:
the servicing forms' payloads and the beneficiary lists before and after a change are encrypted as a whole,
and the audit trail masks personal values at any depth of a JSON value."""
import json

from sqlalchemy import column, select, table, text

from app.extensions import db
from app.models import AuditEvent, Customer, ServicingApplication
from app.models.servicing import ApplicationPolicy
from app.services import audit
from app.services.privacy import mask_id_number
from tests.services.test_card_encryption import clear_cells
from tests.services.test_evidence_servicing import _limits, _secrets, history  # noqa: F401  (fixtures)
from tests.views.test_customer_revisit import invited, linked  # noqa: F401  (fixtures)
from tests.views.test_account import _session_celery  # noqa: F401  (fixture)
from tests.views.test_beneficiary_pages import WANG_ER_ID, WANG_YI_ID


def _everyone(history):
    """Every full number of the history, and every customer's ID number and mobile on file."""
    numbers = {what: value for what, value in _secrets(history).items() if what != "servicing password"}
    for customer in db.session.query(Customer).all():
        numbers[f"{customer.name}'s ID"] = customer.id_number
        numbers[f"{customer.name}'s mobile"] = customer.mobile
    return numbers


def test_no_full_number_is_anywhere_in_the_database(history):
    found = {what: clear_cells(number) for what, number in _everyone(history).items()}
    assert not {what: cells for what, cells in found.items() if cells}


def test_the_beneficiary_change_reads_back_whole_through_the_orm(history):
    application = history["beneficiary"]
    entered = json.dumps(application.payload, ensure_ascii=False)
    assert WANG_YI_ID in entered and WANG_ER_ID in entered  # what the change was applied from
    links = db.session.query(ApplicationPolicy).filter_by(application_id=application.id).all()
    assert links and all(WANG_ER_ID in json.dumps(link.after, ensure_ascii=False) for link in links)
    stored = db.session.execute(text("SELECT payload FROM servicing_application WHERE id = :i"),
                                {"i": application.id}).scalar()
    assert stored.startswith("gAAAAA")  # a Fernet token


def test_the_audit_trail_holds_the_change_masked_with_hashes(history):
    events = db.session.query(AuditEvent).filter_by(entity="servicing_application",
                                                    entity_id=str(history["beneficiary"].id)).all()
    written = json.dumps([[e.before, e.after] for e in events], ensure_ascii=False)
    assert WANG_YI_ID not in written and WANG_ER_ID not in written
    assert mask_id_number(WANG_ER_ID) in written and "id_number_hash" in written  # masked, its keyed hash beside


def test_a_json_value_is_masked_at_any_depth():
    scrubbed = audit._scrub({"beneficiaries": [{"name": "王一", "id_number": "110101199001011237",
                                                "contacts": {"mobile": "13800138000"}}],
                             "account_no": "6217000010001234567", "password": "x"})
    text_ = json.dumps(scrubbed, ensure_ascii=False)
    for clear in ("110101199001011237", "13800138000", "6217000010001234567"):
        assert clear not in text_
    person = scrubbed["beneficiaries"][0]
    assert person["id_number_hash"] and person["contacts"]["mobile_hash"] and scrubbed["password"] == "***"


def test_rotation_re_encrypts_the_payloads(history, app):
    from app.services import crypto

    changed = crypto.rotate(db.session)
    assert changed["servicing_application"] == 0 and changed["servicing_application_policy"] == 0  # current key
    assert db.session.get(ServicingApplication, history["beneficiary"].id).payload


LINKS = table("servicing_application_policy", column("id"), column("application_id"), column("policy_id"),
              column("before"), column("after"))  # untyped: the values as stored ("before" quoted on MariaDB)
PAYLOAD = {"lists": {"DEATH": [{"name": "王一", "id_number": WANG_YI_ID, "share": "60"}]}, "note": "张三"}


def test_the_migration_encrypts_the_payloads_and_the_downgrade_gives_them_back(servers):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect as sa_inspect

    from app import create_app
    from app.services import crypto
    from tests.conftest import make_config, migration_database

    with migration_database(servers, "migration-payloads") as url:
        other = create_app(make_config(servers, SQLALCHEMY_DATABASE_URI=url))
        with other.app_context():
            upgrade(revision="a15c0017bk17")
            mysql = db.engine.dialect.name == "mysql"
            with db.engine.begin() as conn:
                if mysql:
                    conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
                conn.execute(text(
                    "INSERT INTO servicing_application (id, application_no, kind, customer_id, status, payload,"
                    " submitted_at, decided_by_system, sampled_for_review, approvals_needed, created_at, updated_at)"
                    " VALUES (1, 'SA1', 'BENEFICIARY', 1, 'COMPLETED', :p, '2026-11-30 10:00:00', 0, 0, 1,"
                    " '2026-11-30 10:00:00', '2026-11-30 10:00:00')"),
                    {"p": json.dumps(PAYLOAD, ensure_ascii=False)})
                conn.execute(LINKS.insert().values(id=1, application_id=1, policy_id=1, before=None,
                                                   after=json.dumps(PAYLOAD["lists"], ensure_ascii=False)))

            def stored():
                with db.engine.connect() as conn:
                    return (conn.execute(text("SELECT payload FROM servicing_application")).scalar(),
                            conn.execute(select(LINKS.c.before, LINKS.c.after)).one())

            upgrade(revision="a15c0018pl18")
            payload, (before, after) = stored()
            assert WANG_YI_ID not in payload and WANG_YI_ID not in after and before is None
            assert json.loads(crypto.decrypt(payload.encode("ascii"))) == PAYLOAD
            assert json.loads(crypto.decrypt(after.encode("ascii"))) == PAYLOAD["lists"]
            db.engine.dispose()
            downgrade(revision="a15c0017bk17")
            db.engine.dispose()
            payload, (before, after) = stored()
            assert json.loads(payload) == PAYLOAD and json.loads(after) == PAYLOAD["lists"] and before is None
            assert {c["name"] for c in sa_inspect(db.engine).get_columns("servicing_application")} >= {"payload"}
            upgrade(revision="a15c0018pl18")  # and up again
            assert WANG_YI_ID not in stored()[0]
            db.session.remove()
            db.engine.dispose()


def test_no_full_number_is_anywhere_after_an_e_revisit(invited, client):
    """张德强's e-revisit through his SMS link: the link, the face check, the answers, the key screens."""
    from tests.services.test_evidence import drive_erevisit

    drive_erevisit(client, invited["C0001"])
    found = {}
    for customer in db.session.query(Customer).all():
        for what, number in ((f"{customer.name}'s ID", customer.id_number),
                             (f"{customer.name}'s mobile", customer.mobile)):
            cells = clear_cells(number)
            if cells:
                found[what] = cells
    assert not found


def test_the_application_pages_show_what_was_entered_readable_and_masked(history, app):
    """The 保全申请 page and the review page: labelled rows, the beneficiaries by name, relationship, order,
    share and masked ID number; no dict, no code, no full number."""
    import re

    from tests.conftest import login

    client = app.test_client()
    login(client, "auditor")
    for key in ("beneficiary", "loan", "repayment"):
        found = history[key]
        for url in (f"/servicingapplicationview/show/{found.id}", f"/review-queue/{found.id}"):
            html = client.get(url).get_data(as_text=True)
            body = re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S)
            shown = re.sub(r"<[^>]+>", " ", body)
            for bad in ("{'", "'}", "None", "True", "RESIDENT_ID", "SPOUSE", "DEATH", "lists", "policies",
                        WANG_YI_ID, WANG_ER_ID):
                assert bad not in shown, (key, url, bad)
            if key == "beneficiary":
                assert f"王一(配偶,第1顺序,60.00%,居民身份证 {mask_id_number(WANG_YI_ID)})" in shown, url
                assert "身故受益人" in shown and history["policy"].policy_no in shown
            if key == "loan":
                assert "6217 **** **** 8507" in shown and "8000.00" in shown
