"""Decompression bombs through the pages: the customer (and the operator) gets a Chinese reason,
no request answers 500, and nothing is stored."""
import io
import os
import re

import cv2
import numpy as np
import pytest

from app.extensions import db
from app.models import Customer, IdentityVerification, RevisitLink
from tests.conftest import FACES, login
from tests.services.test_image_bombs import png_of_one_grey
from tests.views.test_account import _session_celery, bound_li_ming, page, start_recording, upload  # noqa: F401
from tests.views.test_customer_revisit import _upload, invited, linked  # noqa: F401

TOO_LARGE = "图片像素过多,请上传不超过5000万像素的照片"


@pytest.fixture(scope="module")
def bomb():
    return png_of_one_grey(12000, 12000)


def stored_files(app):
    root = os.path.join(app.config["UPLOAD_DIR"], "identity")
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


def test_a_bomb_selfie_on_the_e_revisit_page_is_refused_in_chinese(invited, app, client, bomb):
    code = invited["C0001"]
    before = stored_files(app)
    response = _upload(client, code, bomb, filename="selfie.png")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and TOO_LARGE in html and "开始验证" in html
    db.session.commit()
    assert db.session.query(IdentityVerification).count() == 0
    assert db.session.query(RevisitLink).filter_by(code=code).one().face_attempts == 0  # no try spent
    assert stored_files(app) == before


def test_a_bomb_reference_photo_is_refused_in_the_admin(seeded, app, client, bomb):
    pk = db.session.query(Customer.id).filter_by(customer_no="C0001").scalar()
    login(client, "operator")
    before = stored_files(app)
    response = client.post(f"/customerview/photo/{pk}", data={"csrf_token": client.csrf,
                           "photo": (io.BytesIO(bomb), "photo.png")}, content_type="multipart/form-data",
                           follow_redirects=True)
    assert response.status_code < 500 and TOO_LARGE in response.get_data(as_text=True)
    db.session.commit()
    assert db.session.get(Customer, pk).reference_photo is None and stored_files(app) == before


def test_a_4000x4000_video_on_the_account_page_is_refused_in_chinese(seeded, client, tmp_path):
    target = str(tmp_path / "huge.mp4")
    writer = cv2.VideoWriter(target, cv2.VideoWriter_fourcc(*"mp4v"), 25, (4000, 4000))
    for _ in range(3):
        writer.write(np.full((4000, 4000, 3), 128, np.uint8))
    writer.release()
    bound_li_ming(client)
    text, digits = start_recording(client)
    response = upload(client, text, open(target, "rb").read(), "huge.mp4")
    assert response.status_code == 400
    assert "视频分辨率过高(4000×4000),每帧不能超过829万像素" in page(response)
    assert "".join(re.findall(r"<span>(\d)</span>", page(response)))[:4] == digits  # the digits are kept
    db.session.commit()
    assert db.session.query(IdentityVerification).count() == 0
