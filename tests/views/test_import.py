"""The operators' file import in the admin: CSV and .xlsx, all or nothing, line numbers, CSRF."""
import io
from datetime import date

from openpyxl import Workbook

from app.extensions import db
from app.models import Policy, RevisitTask
from app.services import clock
from app.services.validation import make_resident_id
from tests.conftest import login

HEADER = ["保险单号", "产品代码", "承保日期", "保费", "缴费方式", "缴费频率", "缴费年期", "下次缴费日", "保额",
          "投保人姓名", "投保人证件号码", "投保人手机号", "被保险人姓名", "被保险人证件号码"]


def line(no, seq, **over):
    today = clock.today()
    values = dict(zip(HEADER, [
        no, "AXB01", today.isoformat(), "10000.00", "期交", "年交", "10", today.replace(year=today.year + 1).isoformat(),
        "200000", f"客户{seq}", make_resident_id("310104", date(1985, 1, 1), seq * 2 + 1), f"1390000{seq:04d}",
        "", ""]))
    values.update(over)
    return [values[h] for h in HEADER]


def csv_bytes(rows, encoding="utf-8"):
    out = io.StringIO()
    import csv

    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def upload(client, data, filename="policies.csv"):
    return client.post("/policy-import/", data={"csrf_token": client.csrf, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def policies_99():
    db.session.rollback()
    return db.session.query(Policy).filter(Policy.policy_no.like("9911%")).count()


def test_csv_import_twice_creates_each_policy_once(seeded, client):
    login(client, "operator")
    client.csrf = _csrf(client)
    data = csv_bytes([line("991100000000001", 1), line("991100000000002", 2)])
    reply = upload(client, data)
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200, html
    assert "新增保单: 2;" in html and "新建回访任务: 2" in html
    assert policies_99() == 2
    assert db.session.query(RevisitTask).join(Policy).filter(Policy.policy_no.like("9911%")).count() == 2
    again = upload(client, data).get_data(as_text=True)
    assert "未变 2 张保单" in again and policies_99() == 2


def test_a_bad_line_rejects_the_whole_file_with_its_line_number(seeded, client):
    login(client, "operator")
    client.csrf = _csrf(client)
    rows = [line("991100000000001", 1), line("991100000000002", 2), line("991100000000003", 3, 保费="abc"),
            line("991100000000004", 4, 投保人手机号="1234")]
    reply = upload(client, csv_bytes(rows, "gb18030"))
    html = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "<td>4</td><td>991100000000003</td><td>保费不是有效金额:abc</td>" in html
    assert "<td>5</td><td>991100000000004</td>" in html and "手机号" in html
    assert policies_99() == 0


def test_xlsx_import(seeded, client):
    login(client, "operator")
    client.csrf = _csrf(client)
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    row = line("991100000000009", 9)
    row[2] = clock.today()  # Excel dates arrive as datetimes
    sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    reply = upload(client, buffer.getvalue(), "保单.xlsx")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert policies_99() == 1


def test_file_is_judged_by_content_not_name(seeded, client):
    login(client, "operator")
    client.csrf = _csrf(client)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
    reply = upload(client, png, "policies.csv")
    assert reply.status_code == 422 and "无法读取文件" in reply.get_data(as_text=True)
    fake_xlsx = b"PK\x03\x04" + b"not really a zip" * 10
    reply = upload(client, fake_xlsx, "policies.xlsx")
    assert reply.status_code == 422 and "无法读取文件" in reply.get_data(as_text=True)
    reply = upload(client, "姓名,电话\n张三,1\n".encode(), "policies.csv")
    assert "文件缺少必需的列" in reply.get_data(as_text=True)
    assert policies_99() == 0


def test_csrf_is_required_and_auditor_may_not_import(seeded, client):
    login(client, "operator")
    reply = client.post("/policy-import/", data={"file": (io.BytesIO(csv_bytes([line("991100000000001", 1)])),
                                                          "p.csv")}, content_type="multipart/form-data")
    assert reply.status_code == 422 and policies_99() == 0
    client.get("/logout/")
    login(client, "auditor")
    reply = client.get("/policy-import/")
    assert reply.status_code in (302, 403)


def _csrf(client):
    from tests.conftest import csrf_token

    return csrf_token(client.get("/policy-import/").get_data(as_text=True))


BENEFICIARY_HEADER = ["受益人1类型", "受益人1姓名", "受益人1证件号码", "受益人1与被保险人关系", "受益人1受益比例",
                      "beneficiary2_kind", "beneficiary2_name", "beneficiary2_id_number", "beneficiary2_relationship",
                      "beneficiary2_share"]


def _with_beneficiaries(rows):
    """The import file with two beneficiaries' columns (one in Chinese headers, one in English keys)."""
    out = io.StringIO()
    import csv

    writer = csv.writer(out)
    writer.writerow(HEADER + BENEFICIARY_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def test_beneficiaries_come_in_through_the_file(seeded, client):
    login(client, "operator")
    client.csrf = _csrf(client)
    child = make_resident_id("310104", date(2012, 6, 1), 41)
    spouse = make_resident_id("310104", date(1986, 3, 3), 42)
    both = ["身故受益人", "王小明", child, "子女", "60", "DEATH", "李芳", spouse, "SPOUSE", "40"]
    none = [""] * len(BENEFICIARY_HEADER)
    reply = upload(client, _with_beneficiaries([line("991100000000011", 11) + both,
                                                line("991100000000012", 12) + none]))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    db.session.rollback()
    named = db.session.query(Policy).filter_by(policy_no="991100000000011").one()
    current = sorted((b.name, b.kind, b.relationship_to_insured, b.share) for b in named.current_beneficiaries())
    assert current == [("李芳", "DEATH", "SPOUSE", 40), ("王小明", "DEATH", "CHILD", 60)]
    assert db.session.query(Policy).filter_by(policy_no="991100000000012").one().current_beneficiaries() == []

    # shares that do not make 100: the whole file is refused, with the line and the reason
    bad = ["身故受益人", "王小明", child, "子女", "60", "", "", "", "", ""]
    reply = upload(client, _with_beneficiaries([line("991100000000013", 13) + bad]))
    html = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "<td>2</td><td>991100000000013</td><td>身故受益人第1顺序的受益比例合计应为100%,实际为60.00%</td>" in html
    assert db.session.query(Policy).filter_by(policy_no="991100000000013").count() == 0


def test_the_import_page_explains_the_beneficiary_columns(seeded, client):
    login(client, "operator")
    html = client.get("/policy-import/").get_data(as_text=True)
    assert "受益人1姓名" in html and "beneficiary1_share" in html and "受益人最多 5 人" in html
    assert "受益人2姓名" not in html  # the same columns again, numbered: told once, not listed five times
