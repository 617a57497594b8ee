"""Intake service on MariaDB: validation per row, idempotency on the policy number, all or nothing."""
import io
import time
import zipfile
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


# --- issue 9, hole 11: lookalike input, invisible characters, amounts, customer numbers ----------

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def test_a_full_width_id_number_finds_the_customer_on_file(seeded):
    zhang = db.session.query(Customer).filter_by(customer_no="C0001").one()
    lookalike = zhang.id_number[:17].translate(FULL_WIDTH) + zhang.id_number[17]
    row = policy_row(holder_id=lookalike)
    row["holder"].update(name="张德强", mobile="13８００１３８００１")
    intake.import_rows([row])
    policy = db.session.query(Policy).filter_by(policy_no="990000000000001").one()
    assert policy.holder_id == zhang.id
    assert db.session.query(Customer).filter_by(name="张德强").count() == 1
    assert policy.holder.mobile == "13800138001"


@pytest.mark.parametrize("premium", ["1e30", "1,2,3", "1_000", "NaN", "Infinity", "-0", "12000.001",
                                     "1234567890123", "١٢٠٠٠"])  # full-width １２０００ folds to 12000 at the edge
def test_a_premium_that_only_looks_like_a_number_is_refused_naming_the_field(seeded, premium):
    with pytest.raises(intake.IntakeRejected) as err:
        intake.import_rows([policy_row(premium=premium)])
    assert any("保费不是有效金额" in m for m in err.value.errors[0]["errors"]), err.value.errors
    assert db.session.query(Policy).filter_by(policy_no="990000000000001").count() == 0


@pytest.mark.parametrize("issue_date, words", [("1989-12-31", "承保日期不能早于1990-01-01"),
                                               ("2999-01-01", "承保日期不能晚于今天")])
def test_issue_dates_before_1990_or_in_the_future_are_refused(seeded, issue_date, words):
    with pytest.raises(intake.IntakeRejected) as err:
        intake.import_rows([policy_row(issue_date=issue_date)])
    assert any(words in m for m in err.value.errors[0]["errors"]), err.value.errors


@pytest.mark.parametrize("name", ["周\u202e新", "周\u200b新", "周\x07新"])
def test_names_with_invisible_or_control_characters_are_refused(seeded, name):
    row = policy_row()
    row["holder"]["name"] = name
    with pytest.raises(intake.IntakeRejected) as err:
        intake.import_rows([row])
    assert any("投保人姓名含有不允许的字符" in m for m in err.value.errors[0]["errors"]), err.value.errors


@pytest.mark.parametrize("customer_no, words", [("K" * 33, "投保人客户号过长"),
                                                ("C0002", "投保人客户号 C0002 已属于其他客户")])
def test_a_customer_no_too_long_or_of_another_customer_is_refused(seeded, customer_no, words):
    row = policy_row()
    row["holder"]["customer_no"] = customer_no
    with pytest.raises(intake.IntakeRejected) as err:
        intake.import_rows([row])
    assert any(words in m for m in err.value.errors[0]["errors"]), err.value.errors
    assert db.session.query(Customer).filter_by(name="周新").count() == 0


def test_two_new_people_with_one_customer_no_in_a_batch_are_refused(seeded):
    first, second = policy_row("990000000000001"), policy_row("990000000000002",
                                                               holder_id=make_resident_id("110105", clock.today().replace(year=1970), 55))
    first["holder"]["customer_no"] = second["holder"]["customer_no"] = "K990001"
    second["holder"]["name"] = "吴二"
    with pytest.raises(intake.IntakeRejected) as err:
        intake.import_rows([first, second])
    assert any("K990001" in m for e in err.value.errors for m in e["errors"])


# --- issue 9, hole 4 (spreadsheets): limits checked while streaming, before the rest is read -----

def _xlsx(rows):
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


HEADER = ["保险单号", "产品代码", "承保日期", "保费", "缴费方式", "保额", "投保人姓名", "投保人证件号码", "投保人手机号"]


def test_an_xlsx_of_too_many_rows_is_refused_while_streaming(app, monkeypatch):
    data = _xlsx([HEADER] + [["990000000000001", "AXH01", "2026-01-01", "1", "SINGLE", "1", "周新", "x", "1"]]
                  * (intake.MAX_ROWS + 50))
    read = []
    original = intake.files._cells
    monkeypatch.setattr(intake.files, "_cells", lambda values: read.append(1) or original(values))
    started = time.monotonic()
    with pytest.raises(DomainError) as err:
        intake.read_file(data)
    assert err.value.key == "import_too_many_rows" and "5000" in err.value.message
    assert len(read) <= intake.MAX_ROWS + 2  # stopped at the limit, not after the last row
    assert time.monotonic() - started < 10


def test_an_xlsx_whose_sheets_unpack_to_too_much_is_refused_before_reading(app):
    data = _xlsx([HEADER] + [["x" * 2000] * 40] * 2000)  # ~160 MB of cells, a few hundred KB zipped
    assert len(data) < intake.MAX_FILE_BYTES
    with pytest.raises(DomainError) as err:
        intake.read_file(data)
    assert err.value.key == "import_unpacked_too_large" and "MB" in err.value.message


def test_an_xlsx_whose_header_claims_millions_of_rows_is_refused_before_any_row(app, monkeypatch):
    data = _xlsx([HEADER] + [["1"] * 9] * 3)
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            part = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                part = part.replace(b"<sheetViews>", b'<dimension ref="A1:I3000000"/><sheetViews>')
            target.writestr(item, part)
    monkeypatch.setattr(intake.files, "_cells", lambda values: pytest.fail("a row was read"))
    with pytest.raises(DomainError) as err:
        intake.read_file(out.getvalue())
    assert err.value.key == "import_too_many_rows"


def test_an_xlsx_without_the_required_columns_is_refused_at_the_header(app):
    data = _xlsx([["保险单号", "别的"]] + [["1", "2"]] * (intake.MAX_ROWS + 50))
    with pytest.raises(DomainError) as err:
        intake.read_file(data)
    assert err.value.key == "import_missing_columns"


def test_a_csv_of_too_many_rows_or_bytes_is_refused(app):
    line = "990000000000001,AXH01,2026-01-01,1,SINGLE,1,周新,x,1\n"
    data = (",".join(HEADER) + "\n" + line * (intake.MAX_ROWS + 1)).encode()
    with pytest.raises(DomainError) as err:
        intake.read_file(data)
    assert err.value.key == "import_too_many_rows"
    with pytest.raises(DomainError) as err:
        intake.read_file(b"a" * (intake.MAX_FILE_BYTES + 1))
    assert err.value.key == "import_file_too_large"


def test_a_file_at_the_limit_with_trailing_blank_lines_is_read(app):
    line = ["990000000000001", "AXH01", "2026-01-01", "1", "SINGLE", "1", "周新", "x", "1"]
    rows = intake.read_file(_xlsx([HEADER] + [line] * 3 + [[None] * 9] * 20))
    assert len(rows) == 3 and rows[0]["holder"]["name"] == "周新"


def test_a_re_reported_receipt_date_moves_the_open_tasks_hesitation_deadline(seeded):
    """The hesitation period runs from the receipt-signed date: a correction from the core system
    moves the open task's deadline, as an admin edit does (issue 10, point 5)."""
    issued = clock.today() - timedelta(days=2)
    intake.import_rows([policy_row(issue_date=issued.isoformat(), receipt_signed_date=issued.isoformat())])
    policy = db.session.query(Policy).filter_by(policy_no="990000000000001").one()
    task = db.session.query(RevisitTask).filter_by(policy_id=policy.id).one()
    before = task.hesitation_deadline
    later = issued + timedelta(days=1)
    intake.import_rows([policy_row(issue_date=issued.isoformat(), receipt_signed_date=later.isoformat())])
    db.session.expire_all()
    assert db.session.get(RevisitTask, task.id).hesitation_deadline - before == timedelta(days=1)
