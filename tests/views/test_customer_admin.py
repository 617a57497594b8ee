"""An operator adds or edits a customer in the admin by intake's rules (issue 9 hole 11's sibling):
no second customer for one ID number, full-width digits folded, check digit and mobile checked."""
import pytest

from app.extensions import db
from app.models.customer import Customer
from tests.conftest import csrf_token, login

pytestmark = pytest.mark.smoke

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def _zhang():
    return db.session.query(Customer).filter_by(customer_no="C0001").one()


def _add(client, **fields):
    page = client.get("/customerview/add").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "customer_no": "C9001", "name": "赵新", "gender": "M",
            "birth_date": "1990-01-01", "id_type": "RESIDENT_ID", "id_number": "", "mobile": "13912345678",
            "wechat_openid": "", **fields}
    return client.post("/customerview/add", data=data, follow_redirects=True)


def test_a_full_width_copy_of_an_id_number_is_refused(seeded, client):
    zhang = _zhang()
    login(client, "operator")
    before = db.session.query(Customer).count()
    reply = _add(client, id_number=zhang.id_number.translate(FULL_WIDTH))
    assert "已属于客户 C0001" in reply.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.query(Customer).count() == before


@pytest.mark.parametrize("fields, message", [
    ({"id_number": "110105197803140034"}, "证件号码无效"),  # wrong check digit
    ({"id_number": "110105199001010117", "mobile": "1391234567"}, "不是有效的手机号"),
    ({"id_number": "110105199001010117", "name": "赵\u202e新"}, "不允许的字符"),
    ({"id_number": "110105199001010117", "customer_no": "C0001"}, "已属于其他客户"),
])
def test_bad_fields_are_refused_in_chinese(seeded, client, fields, message):
    login(client, "operator")
    before = db.session.query(Customer).count()
    reply = _add(client, **fields)
    text = reply.get_data(as_text=True)
    # a clashing customer number is refused by the form's own unique check (已经存在) or by ours
    assert message in text or (message == "已属于其他客户" and "已经存在" in text)
    db.session.expire_all()
    assert db.session.query(Customer).count() == before


def test_a_valid_customer_is_added_with_its_digits_folded(seeded, client):
    login(client, "operator")
    number = "110105199001010117".translate(FULL_WIDTH)
    reply = _add(client, id_number=number, mobile="１３９１２３４５６７８")
    assert reply.status_code == 200
    db.session.expire_all()
    added = db.session.query(Customer).filter_by(customer_no="C9001").one()
    assert added.id_number == "110105199001010117"
    assert added.mobile == "13912345678" and added.gender == "M"


def test_birth_date_and_gender_must_agree_with_a_resident_id(seeded, client):
    login(client, "operator")
    reply = _add(client, id_number="110105199001010117", birth_date="1991-02-03", gender="F")
    text = reply.get_data(as_text=True)
    assert "出生日期" in text and "性别" in text
    db.session.expire_all()
    assert db.session.query(Customer).filter_by(customer_no="C9001").first() is None


def test_an_edit_keeps_the_rules(seeded, client):
    zhang = _zhang()
    other = db.session.query(Customer).filter_by(customer_no="C0002").one()
    login(client, "operator")
    page = client.get(f"/customerview/edit/{other.id}").get_data(as_text=True)
    reply = client.post(f"/customerview/edit/{other.id}", data={
        "csrf_token": csrf_token(page), "name": other.name, "gender": other.gender,
        "birth_date": other.birth_date.isoformat(), "id_type": "RESIDENT_ID", "id_number": zhang.id_number,
        "mobile": other.mobile or "", "wechat_openid": ""}, follow_redirects=True)
    assert "已属于客户 C0001" in reply.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Customer, other.id).id_number != zhang.id_number
