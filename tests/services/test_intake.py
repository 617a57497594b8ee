"""Intake service on MariaDB: validation per row, idempotency on the policy number, all or nothing."""
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import AuditEvent, Beneficiary, Customer, Policy, RevisitTask
from app.services import clock, intake
from app.services.errors import DomainError
from app.services.validation import make_resident_id


def policy_row(no="990000000000001", holder_id=None, **over):
    birth = clock.today().replace(year=1980, month=5, day=5)
    row = {
        "policy_no": no, "product_code": "AXH01", "issue_date": clock.today().isoformat(),
        "premium": "12000.00", "payment_mode": "REGULAR", "payment_frequency": "YEARLY",
        "payment_years": 10, "next_due_date": (clock.today() + timedelta(days=365)).isoformat(),
        "sum_assured": "240000", "channel": "OFFLINE",
        "holder": {"name": "周新", "id_number": holder_id or make_resident_id("110105", birth, 31),
                   "mobile": "+86 138 0013 9999"},
        "beneficiaries": [{"kind": "DEATH", "name": "周妻", "id_number": make_resident_id("110105", birth, 42),
                           "relationship": "SPOUSE", "share": "100"}],
    }
    row.update(over)
    return row


def test_new_policy_creates_customer_policy_beneficiary_and_task(seeded):
    result = intake.import_rows([policy_row()])
    assert result["created"] == ["990000000000001"] and result["tasks_created"] == 1
    policy = db.session.query(Policy).filter_by(policy_no="990000000000001").one()
    assert policy.holder.mobile == "13800139999" and policy.holder.gender == "M"
    assert policy.insured_id == policy.holder_id
    assert str(policy.premium) == "12000.00"
    assert [b.name for b in policy.current_beneficiaries()] == ["周妻"]
    task = db.session.query(RevisitTask).filter_by(policy_id=policy.id).one()
    assert task.status == "PENDING" and task.template.code == "EREVISIT"


def test_same_data_twice_is_unchanged_and_a_change_is_an_update(seeded):
    intake.import_rows([policy_row()])
    again = intake.import_rows([policy_row()])
    assert again == {"created": [], "updated": [], "unchanged": ["990000000000001"], "tasks_created": 0}
    assert db.session.query(Policy).filter_by(policy_no="990000000000001").count() == 1
    assert db.session.query(Customer).filter_by(name="周新").count() == 1
    changed = intake.import_rows([policy_row(status="保单有效", next_due_date="2030-01-01")])
    assert changed["updated"] == ["990000000000001"]
    assert db.session.query(RevisitTask).count() == 6 + 1  # the seed's six and this one, no duplicate


def test_one_bad_row_rejects_the_batch_with_each_reason(seeded):
    good = policy_row("990000000000001")
    bad_id = policy_row("990000000000002", holder_id="110105198005050310")  # wrong check digit
    bad_money = policy_row("990000000000003", premium="12,00x", payment_years="")
    with pytest.raises(intake.IntakeRejected) as err:
        intake.import_rows([good, bad_id, bad_money, policy_row("990000000000001")])
    errors = {e["line"]: e for e in err.value.errors}
    assert sorted(errors) == [2, 3, 4]
    assert "投保人证件号码无效" in errors[2]["errors"][0]
    assert any("保费不是有效金额" in m for m in errors[3]["errors"])
    assert any("缴费年期不能为空" in m for m in errors[3]["errors"])
    assert "重复" in errors[4]["errors"][0]
    assert db.session.query(Policy).filter(Policy.policy_no.like("99%")).count() == 0
    assert db.session.query(AuditEvent).filter_by(action="intake").count() == 0


@pytest.mark.parametrize("field, value, words", [
    ("product_code", "NOPE", "产品代码 NOPE 不存在"),
    ("issue_date", "2026-02-30", "承保日期不是有效日期"),
    ("payment_mode", "WEEKLY", "缴费方式的取值无效"),
    ("policy_no", "12-34", "保险单号格式无效"),
    ("sum_assured", "-5", "保额不是有效金额"),
])
def test_field_errors_are_in_chinese(seeded, field, value, words):
    with pytest.raises(intake.IntakeRejected) as err:
        intake.import_rows([policy_row(**{field: value})])
    assert any(words in m for m in err.value.errors[0]["errors"])


def test_bad_mobile_and_shares_not_100(seeded):
    row = policy_row()
    row["holder"]["mobile"] = "12345"
    row["beneficiaries"][0]["share"] = "60"
    with pytest.raises(intake.IntakeRejected) as err:
        intake.import_rows([row])
    text = ";".join(err.value.errors[0]["errors"])
    assert "投保人手机号不是有效的手机号" in text and "合计应为100%" in text


def test_beneficiary_change_keeps_the_old_list(seeded):
    intake.import_rows([policy_row()])
    row = policy_row()
    row["beneficiaries"][0]["name"] = "周子"
    row["beneficiaries"][0]["relationship"] = "CHILD"
    assert intake.import_rows([row])["updated"] == ["990000000000001"]
    rows = db.session.query(Beneficiary).join(Policy).filter(Policy.policy_no == "990000000000001").all()
    assert sorted((b.name, b.version, b.superseded_at is None) for b in rows) == [("周妻", 1, False),
                                                                                   ("周子", 2, True)]


def test_empty_batch(seeded):
    with pytest.raises(DomainError) as err:
        intake.import_rows([])
    assert err.value.key == "intake_empty"
