"""账户认证 of official-account customers (issue 13 item 9; DOMAIN.md 3; the seed: 在官微承保的保单 … 个人信息不用填写,
只点击开始认证,进入人脸识别): 马妍 bought her policies on the official account, so her reserved mobile and the
code take her straight to the face check; 李明 (offline) still binds his policy first."""
from urllib.parse import urlsplit

from app.extensions import db
from app.models import Customer
from tests.conftest import csrf_token
from tests.views.test_account import (_session_celery, bind, customer, outbox_code, page,  # noqa: F401
                                      request_code, sign_in)

MA_YAN_MOBILE = "13601360003"


def test_an_official_account_customer_signing_in_by_mobile_goes_to_the_face_check(seeded, client):
    response = sign_in(client, MA_YAN_MOBILE)
    text = page(response)
    assert response.status_code == 200 and response.request.path == "/my/face", response.request.path
    assert "无需填写个人信息" in text
    assert "线下承保的保单" not in text and 'name="id_number"' not in text
    # 请认证 from 个人中心 goes on to 开始认证, never the binding form
    auth = page(client.get("/my/auth"))
    assert "开始认证" in auth and "线下承保的保单" not in auth and 'name="id_number"' not in auth
    center = page(client.get("/my/"))
    assert "马妍" in center and "未认证" in center and "860007775808888" in center
    assert "880000001522216" not in center  # 张德强's


def test_an_offline_customer_still_binds_first(seeded, client):
    response = sign_in(client, "13700137004")  # 李明, offline
    assert response.request.path == "/my/"
    assert "李明" not in page(response)  # only the mobile is known until he binds
    form = page(client.get("/my/auth"))
    assert "线下承保的保单" in form and 'name="id_number"' in form
    li = customer("C0004")
    bound = bind(client, li.name, li.id_type, li.id_number, li.mobile)
    assert "保单绑定成功" in page(bound) and "开始认证" in page(bound)


def test_a_wrong_code_signs_nobody_in(seeded, client):
    sent = request_code(client, MA_YAN_MOBILE)
    code = outbox_code(MA_YAN_MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post("/my/signin", data={"csrf_token": csrf_token(page(sent)), "mobile": MA_YAN_MOBILE,
                                              "code": wrong})
    assert refused.status_code == 400
    after = client.get("/my/face")
    assert after.status_code == 302 and urlsplit(after.location).path == "/my/signin"


def test_a_mobile_shared_with_another_policyholder_binds_first(seeded, client):
    """The mobile must identify the one policyholder: when an offline policyholder has the same reserved
    mobile, it proves neither of them, and binding (name, ID number) decides."""
    zhang = customer("C0001")
    zhang.mobile = MA_YAN_MOBILE
    db.session.commit()
    response = sign_in(client, MA_YAN_MOBILE)
    assert response.request.path == "/my/"
    assert "马妍" not in page(response) and "张德强" not in page(response)
    assert 'name="id_number"' in page(client.get("/my/auth"))


def test_a_verified_official_account_customer_goes_to_the_policies(seeded, client):
    ma = customer("C0003")
    ma.auth_status = "VERIFIED"
    db.session.commit()
    response = sign_in(client, MA_YAN_MOBILE)
    assert response.request.path == "/my/" and "已认证" in page(response)
    assert db.session.query(Customer).filter_by(customer_no="C0003").one().auth_status == "VERIFIED"
