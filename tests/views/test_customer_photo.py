"""Staff attach a customer's reference photo in the admin; it is checked by content."""
import io
import os

from app.extensions import db
from app.models import Customer
from tests.conftest import FACES, login


def _customer_id():
    return db.session.query(Customer.id).filter_by(customer_no="C0001").scalar()


def _upload(client, pk, data, name):
    return client.post(f"/customerview/photo/{pk}", data={"csrf_token": client.csrf,
                       "photo": (io.BytesIO(data), name)}, content_type="multipart/form-data",
                       follow_redirects=True)


def test_operator_attaches_a_photo_and_sees_it(seeded, client):
    pk = _customer_id()
    login(client, "operator")
    assert "人脸参考照片" in client.get(f"/customerview/show/{pk}").get_data(as_text=True)
    with open(os.path.join(FACES, "obama.jpg"), "rb") as handle:
        page = _upload(client, pk, handle.read(), "obama.jpg")
    assert "已更新 张德强 的人脸参考照片" in page.get_data(as_text=True)
    db.session.commit()
    assert db.session.get(Customer, pk).reference_photo
    image = client.get(f"/customerview/photo/{pk}/image")
    assert image.status_code == 200 and image.data[:2] == b"\xff\xd8"


def test_a_text_file_or_two_faces_are_refused_in_chinese(seeded, client):
    pk = _customer_id()
    login(client, "operator")
    page = _upload(client, pk, "不是图片".encode(), "photo.jpg").get_data(as_text=True)
    assert "不是有效的图片" in page
    with open(os.path.join(FACES, "two_people.jpg"), "rb") as handle:
        page = _upload(client, pk, handle.read(), "two.jpg").get_data(as_text=True)
    assert "多张人脸" in page
    db.session.commit()
    assert db.session.get(Customer, pk).reference_photo is None


def test_auditor_and_agent_cannot_upload(seeded, client):
    pk = _customer_id()
    for user in ("auditor", "agent1"):
        login(client, user)
        with open(os.path.join(FACES, "obama.jpg"), "rb") as handle:
            _upload(client, pk, handle.read(), "obama.jpg")
        client.get("/logout/")
    db.session.commit()
    assert db.session.get(Customer, pk).reference_photo is None


def test_missing_csrf_token_stores_nothing(seeded, client):
    pk = _customer_id()
    login(client, "admin")
    with open(os.path.join(FACES, "obama.jpg"), "rb") as handle:
        client.post(f"/customerview/photo/{pk}", data={"photo": (io.BytesIO(handle.read()), "o.jpg")},
                    content_type="multipart/form-data")
    db.session.commit()
    assert db.session.get(Customer, pk).reference_photo is None
