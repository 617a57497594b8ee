"""The app factory, configuration, migrations, languages and the demo seed."""
import subprocess
import sys

import pytest
from sqlalchemy import inspect

from app import ConfigurationError, create_app
from app.extensions import db
from app.models import Customer, Policy, Product, User
from tests.conftest import PASSWORD, login, make_config


def test_migrations_build_every_table(app):
    tables = set(inspect(db.engine).get_table_names())
    for name in ("customer", "product", "policy", "beneficiary", "revisit_task", "questionnaire_template",
                 "question", "revisit_answer", "call_attempt", "servicing_application", "policy_loan",
                 "loan_repayment", "sms_message", "sms_template", "identity_verification",
                 "audit_event", "ab_user", "alembic_version"):
        assert name in tables, name


def test_money_columns_are_decimal(app):
    columns = {c["name"]: c["type"] for c in inspect(db.engine).get_columns("policy")}
    assert "DECIMAL" in str(columns["premium"]).upper() or "NUMERIC" in str(columns["premium"]).upper()


def test_one_open_revisit_task_per_policy(seeded):
    from sqlalchemy.exc import IntegrityError

    from tests.factories import make_task

    from app.models import RevisitTask

    task = db.session.get(RevisitTask, make_task("880000001522216"))
    second = RevisitTask(policy_id=task.policy_id, open_policy_id=task.policy_id,
                         template_id=task.template_id, erevisit_deadline=task.erevisit_deadline,
                         hesitation_deadline=task.hesitation_deadline)
    db.session.add(second)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_create_app_twice_in_one_process_both_serve(servers, app):
    second = create_app(make_config(servers))
    for flask_app in (app, second):
        reply = flask_app.test_client().get("/login/")
        assert reply.status_code == 200
        assert "用户名" in reply.get_data(as_text=True)


# the keys production asks for besides SECRET_KEY (the evidence packs' and the personal data's)
DATA_KEYS = {"DATA_ENCRYPTION_KEYS": "VGhpcy1pcy1hLTMyLWJ5dGUtdGVzdC1rZXktMDAwMDA=", "DATA_HASH_KEY": "h" * 32,
             "EVIDENCE_SIGNING_KEY": "ZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWU="}


def test_production_refuses_a_default_or_empty_secret(servers):
    for secret in ("", "dev-insecure-secret-change-me", "short"):
        with pytest.raises(ConfigurationError):
            create_app(make_config(servers, PORTAL_ENV="production", SECRET_KEY=secret, **DATA_KEYS))
    assert create_app(make_config(servers, PORTAL_ENV="production", SECRET_KEY="x" * 40, **DATA_KEYS))


def test_production_refuses_to_start_without_the_data_keys(servers):
    """Personal data at rest: no keys derived from SECRET_KEY in production (README, Configuration)."""
    for keys in ({}, {"DATA_ENCRYPTION_KEYS": DATA_KEYS["DATA_ENCRYPTION_KEYS"]}, {**DATA_KEYS, "DATA_HASH_KEY": "short"},
                 {**DATA_KEYS, "DATA_ENCRYPTION_KEYS": "not-a-fernet-key"}):
        with pytest.raises(ConfigurationError, match="DATA_"):
            create_app(make_config(servers, PORTAL_ENV="production", SECRET_KEY="x" * 40, **keys))


def test_production_config_from_environment_refuses_to_start():
    """The same rule through the real entry point: the process exits with the reason."""
    run = subprocess.run([sys.executable, "-c", "from app import create_app; create_app()"],
                         env={"PORTAL_ENV": "production", "PATH": "/usr/bin:/bin",
                              "PORTAL_INSTANCE_DIR": "/tmp/portal-prod-check"},
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "SECRET_KEY" in run.stderr


@pytest.mark.smoke
def test_demo_seed_is_idempotent(seeded):
    counts = [db.session.query(m).count() for m in (Customer, Product, Policy, User)]
    from app.services import demo

    assert demo.seed(PASSWORD) == []
    assert [db.session.query(m).count() for m in (Customer, Product, Policy, User)] == counts
    assert db.session.query(Policy).filter_by(policy_no="880000001522216").one().holder.name == "张德强"
    assert {u.username for u in db.session.query(User)} >= {
        "admin", "supervisor", "agent1", "agent2", "operator", "auditor", "integration"}


@pytest.mark.smoke
def test_seed_cli_prints_credentials_and_second_run_changes_nothing(seeded):
    runner = seeded.test_cli_runner()
    result = runner.invoke(args=["demo", "seed", "--password", "Other@2026"])
    assert result.exit_code == 0, result.output
    assert "already exist" in result.output


def test_bulk_policies_are_added_set_based(seeded):
    from app.services import demo

    before = db.session.query(Policy).count()
    demo.bulk_policies(2500, chunk=1000)
    assert db.session.query(Policy).count() == before + 2500
    sample = db.session.query(Policy).filter(Policy.policy_no.like("99%")).first()
    from app.services.validation import resident_id_valid

    assert resident_id_valid(sample.holder.id_number)


@pytest.mark.smoke
def test_pages_render_in_chinese_by_default_and_english_when_asked(seeded, client):
    login(client, "admin")
    chinese = client.get("/policyview/list/").get_data(as_text=True)
    assert "保险单号" in chinese and "保单管理" in chinese
    client.get("/lang/en")
    english = client.get("/policyview/list/").get_data(as_text=True)
    assert "Policy No." in english and "Policy Management" in english
    assert "保险单号" not in english


@pytest.mark.smoke
def test_scheduled_jobs_run_once_from_the_cli(seeded):
    """The embedded default has no celery beat: `make run` runs every scheduled job once at start."""
    from app.models import SmsMessage

    result = seeded.test_cli_runner().invoke(args=["portal", "run-jobs"])
    assert result.exit_code == 0, result.output
    assert "revisit.issue_invitations" in result.output and "revisit.expire_due" in result.output
    db.session.commit()
    assert db.session.query(SmsMessage).filter_by(purpose="EREVISIT", status="SENT").count() >= 4
