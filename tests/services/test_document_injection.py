"""What a customer typed stays text in the documents staff open: no live formula in the Excel export,
no reportlab markup (and no 500) in the letter PDF (issue 9 hole 9)."""
import io

import openpyxl
import pytest

from app.extensions import db
from app.models import Customer
from app.services import export, letters
from tests.services.test_phone_revisit import T0, _pdf_text, _travel, phone_task

FORMULA_NAME = '=HYPERLINK("http://evil","x")'
MARKUP_NAME = "<img src=x>&<b>"


def _holder():
    return db.session.query(Customer).filter_by(customer_no="C0001").one()


@pytest.mark.parametrize("reason", ["@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3", "\t=1+1", "\r=1+1",
                                    "=cmd|' /C calc'!A0"])
def test_the_export_keeps_formula_like_text_as_text(seeded, reason):
    holder = _holder()
    holder.name = FORMULA_NAME
    db.session.commit()
    with _travel(T0):
        phone_task(status="PROBLEM", completed_at=T0, problem_reason=reason)
        data = export.results_xlsx(T0.date(), T0.date())
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # the supervisor still reads what was typed
    row = dict(zip([c.value for c in sheet[1]], [c.value for c in sheet[2]]))
    assert row["投保人"] == "'" + FORMULA_NAME and row["被保险人"] == "'" + FORMULA_NAME
    assert row["问题原因"] == "'" + reason.replace("\r", "\n")  # XML reads a CR back as LF


def test_the_export_survives_control_characters(seeded):
    """openpyxl refuses control characters in a cell (IllegalCharacterError): the export must not fail."""
    holder = _holder()
    holder.name = "张\x01德\x1b强"
    db.session.commit()
    with _travel(T0):
        phone_task(status="PROBLEM", completed_at=T0, problem_reason="客户\x0b要求退保")
        data = export.results_xlsx(T0.date(), T0.date())
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    row = dict(zip([c.value for c in sheet[1]], [c.value for c in sheet[2]]))
    assert row["投保人"] == "张德强" and row["问题原因"] == "客户要求退保"


def test_numbers_and_dates_stay_typed(seeded):
    with _travel(T0):
        phone_task(status="PROBLEM", completed_at=T0, problem_reason="客户要求退保")
        data = export.results_xlsx(T0.date(), T0.date())
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    row = dict(zip([c.value for c in sheet[1]], [c for c in sheet[2]]))
    assert row["电话回访次数"].data_type == "n" and row["承保日期"].is_date


@pytest.mark.parametrize("name", [MARKUP_NAME, "</para><font size=99>大</font>", "A & B <br/>", "<"])
def test_the_letter_prints_a_name_with_markup_literally(seeded, name):
    holder = _holder()
    holder.name = name
    db.session.commit()
    with _travel(T0):
        task_id = phone_task(status="LETTER_DUE")
        pdf = letters.letter_pdf(task_id)
    assert pdf.startswith(b"%PDF-")
    assert name in _pdf_text(pdf)
