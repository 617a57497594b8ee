"""Intake's files: the operators' CSV or .xlsx read into the nested rows the API reports, as a stream
with every limit checked before the rows are kept."""
import contextlib
import csv
import io
import zipfile

from app.services.errors import DomainError
from app.services.intake.fields import _text

MAX_ROWS = 5000
MAX_FILE_BYTES = 10 * 2 ** 20
MAX_UNPACKED_BYTES = 64 * 2 ** 20  # an .xlsx's parts, unzipped (5,000 full rows take about 10 MB)
MAX_COLUMNS = 200
MAX_BLANK_ROWS = 1000  # empty lines Excel keeps below the data

# File columns: English keys or the Chinese headers operators use.
FILE_COLUMNS = {
    "policy_no": "保险单号", "product_code": "产品代码", "issue_date": "承保日期",
    "receipt_signed_date": "回执签收日", "effective_date": "生效日期", "status": "保单状态",
    "channel": "销售渠道", "premium": "保费", "payment_mode": "缴费方式", "payment_frequency": "缴费频率",
    "payment_years": "缴费年期", "next_due_date": "下次缴费日", "sum_assured": "保额", "cash_value": "现金价值",
    "holder_name": "投保人姓名", "holder_gender": "投保人性别", "holder_birth_date": "投保人出生日期",
    "holder_id_type": "投保人证件类型", "holder_id_number": "投保人证件号码", "holder_mobile": "投保人手机号",
    "insured_name": "被保险人姓名", "insured_gender": "被保险人性别", "insured_birth_date": "被保险人出生日期",
    "insured_id_type": "被保险人证件类型", "insured_id_number": "被保险人证件号码",
    "insured_mobile": "被保险人手机号",
}

# Beneficiaries: up to FILE_BENEFICIARIES of them a row, each in the columns 受益人<n>类型,
# 受益人<n>姓名, ... (beneficiary<n>_kind, beneficiary<n>_name, ...). No beneficiary columns, or
# all of them empty, leaves a policy's beneficiaries as they are (法定 for a new policy).
FILE_BENEFICIARIES = 5
BENEFICIARY_COLUMNS = {
    "kind": "类型", "name": "姓名", "gender": "性别", "birth_date": "出生日期", "id_type": "证件类型",
    "id_number": "证件号码", "id_valid_until": "证件有效期", "relationship": "与被保险人关系",
    "order": "受益顺序", "share": "受益比例",
}
# the import page lists these and says beneficiaries 2 to FILE_BENEFICIARIES repeat beneficiary 1's
LISTED_COLUMNS = {**FILE_COLUMNS, **{f"beneficiary1_{key}": f"受益人1{label}" for key, label in BENEFICIARY_COLUMNS.items()}}
for _n in range(1, FILE_BENEFICIARIES + 1):
    FILE_COLUMNS.update({f"beneficiary{_n}_{key}": f"受益人{_n}{label}" for key, label in BENEFICIARY_COLUMNS.items()})
REQUIRED_COLUMNS = ("policy_no", "product_code", "issue_date", "premium", "payment_mode", "sum_assured",
                    "holder_name", "holder_id_number", "holder_mobile")


def read_file(data: bytes):
    """CSV (UTF-8, or GB18030 as Excel on Chinese Windows saves it) or .xlsx, told apart by content.

    Returns the rows as nested dicts; the first data row is line 2. The file is read as a stream:
    the header is checked first and the file is refused as soon as it passes MAX_ROWS, so a small
    file of millions of rows neither holds a thread for minutes nor fills the memory.
    """
    if not data:
        raise DomainError("import_bad_file")
    if len(data) > MAX_FILE_BYTES:
        raise DomainError("import_file_too_large", mb=MAX_FILE_BYTES // 2 ** 20)
    if data[:4] == b"PK\x03\x04":
        lines = _xlsx_rows(data)
    elif b"\x00" in data[:4096]:
        raise DomainError("import_bad_file")
    else:
        lines = _csv_rows(data)
    with contextlib.closing(lines):
        first = next(lines, None)
        if first is None:
            raise DomainError("intake_empty")
        header = [_column(h) for h in first]
        missing = [FILE_COLUMNS[c] for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise DomainError("import_missing_columns", columns="、".join(missing))
        rows, filled, blank = [], 0, 0
        for values in lines:
            values = _cells(values)
            if any(_text(v) for v in values):
                filled += 1
            else:
                blank += 1
            if filled > MAX_ROWS or blank > MAX_BLANK_ROWS:
                raise DomainError("import_too_many_rows", limit=MAX_ROWS)
            flat = {header[i]: v for i, v in enumerate(values) if i < len(header) and header[i]}
            rows.append(_nest(flat))
    while rows and not any(_text(v) for v in _flat_values(rows[-1])):
        rows.pop()  # trailing empty lines
    return rows


def _cells(values):
    """One line's cells, at most MAX_COLUMNS of them (the file has about 80 columns)."""
    return list(values[:MAX_COLUMNS])


def _flat_values(row):
    for value in row.values():
        if isinstance(value, dict):
            yield from value.values()
        elif value is not None:
            yield value


def _column(header):
    text = _text(header).lstrip("\ufeff")
    if text in FILE_COLUMNS:
        return text
    for key, label in FILE_COLUMNS.items():
        if text == label:
            return key
    return None


def _nest(flat):
    row = {k: v for k, v in flat.items() if not k.startswith(("holder_", "insured_", "beneficiary"))}
    for role in ("holder", "insured"):
        person = {k[len(role) + 1:]: v for k, v in flat.items() if k.startswith(role + "_")}
        if role == "insured" and not any(_text(v) for v in person.values()):
            continue
        row[role] = person
    beneficiaries = []
    for n in range(1, FILE_BENEFICIARIES + 1):
        prefix = f"beneficiary{n}_"
        item = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        if any(_text(v) for v in item.values()):
            beneficiaries.append(item)
    if beneficiaries:
        row["beneficiaries"] = beneficiaries
    return row


def _csv_rows(data):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError("import_bad_file")
    try:
        yield from csv.reader(io.StringIO(text))
    except csv.Error:
        raise DomainError("import_bad_file") from None


def _xlsx_rows(data):
    """The first sheet's rows, streamed (openpyxl read-only mode), after checking what the archive
    unpacks to: openpyxl keeps a sheet's shared strings in memory, and 1 MB of zip can hold 1 GB."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    unreadable = (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, IndexError, OSError,
                  SyntaxError, InvalidFileException)  # SyntaxError: XML ParseError of a damaged part
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except unreadable:
        raise DomainError("import_bad_file") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise DomainError("import_unpacked_too_large", mb=MAX_UNPACKED_BYTES // 2 ** 20)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except unreadable:
        raise DomainError("import_bad_file") from None
    try:
        sheet = workbook.worksheets[0]
        # the sheet's own <dimension> header, when it has one, tells the size before any row is read
        if (sheet.max_row or 0) > MAX_ROWS + MAX_BLANK_ROWS + 1:
            raise DomainError("import_too_many_rows", limit=MAX_ROWS)
        yield from sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
    except unreadable:
        raise DomainError("import_bad_file") from None
    finally:
        workbook.close()
