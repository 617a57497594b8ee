"""Face photo verification with the real photos in ../shared/testdata/faces."""
import io
import os
from datetime import timedelta

import pytest
from PIL import Image

from app.extensions import db
from app.models import Customer, IdentityVerification
from app.models.revisit import RevisitLink
from app.services import clock, identity
from app.services.errors import DomainError
from tests.conftest import FACES



def photo(name):
    with open(os.path.join(FACES, name), "rb") as handle:
        return handle.read()


def customer(no="C0001"):
    return db.session.query(Customer).filter_by(customer_no=no).one()


def with_reference(no="C0001", name="obama.jpg"):
    found = customer(no)
    identity.attach_reference_photo(found.id, photo(name))
    return found


def link_for(found, attempts=0):
    link = RevisitLink(code=f"code{found.id}xyz", customer_id=found.id, batch="20260101",
                       expires_at=clock.now() + timedelta(days=3), face_attempts=attempts)
    db.session.add(link)
    db.session.commit()
    return link


def stored_files(app, kind):
    root = os.path.join(app.config["UPLOAD_DIR"], "identity", kind)
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


def blank_png():
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 180, 160)).save(out, "PNG")
    return out.getvalue()


# --- check_image: content, not name -------------------------------------------------------

def test_a_photo_with_one_face_is_accepted(app):
    checked = identity.check_image(photo("obama.jpg"))
    top, right, bottom, left = checked["location"]
    assert checked["format"] == "JPEG" and bottom > top and right > left
    assert max(checked["image"].shape[:2]) <= app.config["FACE_IMAGE_MAX_SIDE"]


@pytest.mark.parametrize("name,key,text", [
    ("two_people.jpg", "face_many_faces", "检测到多张人脸"),
    ("kit_with_rose.jpg", "face_many_faces", "检测到多张人脸"),
])
def test_several_faces_are_refused(app, name, key, text):
    with pytest.raises(DomainError) as caught:
        identity.check_image(photo(name))
    assert caught.value.key == key and str(caught.value) == text


def test_a_picture_without_a_face_is_refused(app):
    with pytest.raises(DomainError) as caught:
        identity.check_image(blank_png())
    assert str(caught.value) == "未检测到人脸"


@pytest.mark.parametrize("data,key", [
    (b"just some text, named selfie.jpg\n", "identity_not_image"),
    (photo("obama.jpg")[:5000], "identity_not_image"),             # truncated JPEG
    (b"\x89PNG\r\n\x1a\n" + os.urandom(2000), "identity_not_image"),  # PNG header, garbage body
    (b"", "identity_empty_upload"),
])
def test_what_is_not_an_image_is_refused_by_content(app, data, key):
    with pytest.raises(DomainError) as caught:
        identity.check_image(data)
    assert caught.value.key == key
    assert "图片" in str(caught.value) or "文件" in str(caught.value)


# --- the e-revisit selfie through the Celery task (eager here) -------------------------------

def test_same_person_passes_and_the_link_is_marked(seeded):
    found = with_reference("C0001", "obama.jpg")
    link = link_for(found)
    started = identity.start_photo_verification(found.id, photo("obama2.jpg"), "EREVISIT", link_id=link.id,
                                                ip="10.0.0.8", user_agent="Mozilla/5.0 (iPhone)")
    db.session.expire_all()
    done = db.session.get(IdentityVerification, started.id)
    assert done.status == "PASSED" and done.kind == "PHOTO"
    assert 0 < done.distance <= app_threshold(seeded)
    assert done.details["reasons"] == [] and done.details["reference"] == "photo"
    assert done.completed_at is not None and done.ip == "10.0.0.8"
    assert os.path.exists(identity.stored_path(done.evidence_path))
    link = db.session.get(RevisitLink, link.id)
    assert link.face_attempts == 1 and link.face_verified_at is not None


def app_threshold(app):
    return app.config["FACE_MATCH_THRESHOLD"]


def test_another_person_fails_and_counts_as_an_attempt(seeded):
    found = with_reference("C0001", "obama.jpg")
    link = link_for(found)
    started = identity.start_photo_verification(found.id, photo("biden.jpg"), "EREVISIT", link_id=link.id)
    db.session.expire_all()
    done = db.session.get(IdentityVerification, started.id)
    assert done.status == "FAILED" and done.distance > app_threshold(seeded)
    assert done.details["reasons"] == ["face_mismatch"]
    link = db.session.get(RevisitLink, link.id)
    assert link.face_attempts == 1 and link.face_verified_at is None


def test_a_selfie_with_two_faces_is_unusable_with_the_reason(seeded):
    found = with_reference("C0001", "obama.jpg")
    started = identity.start_photo_verification(found.id, photo("two_people.jpg"), "EREVISIT")
    db.session.expire_all()
    done = db.session.get(IdentityVerification, started.id)
    assert done.status == "UNUSABLE" and done.details["reasons"] == ["face_many_faces"]


def test_a_customer_without_reference_photo_gets_a_clear_reason(seeded):
    found = customer("C0004")
    started = identity.start_photo_verification(found.id, photo("kit_harington2.jpeg"), "LOAN")
    db.session.expire_all()
    done = db.session.get(IdentityVerification, started.id)
    assert done.status == "UNUSABLE" and done.details["reasons"] == ["face_no_reference"]
    assert "留存照片" in str(DomainError(done.details["reasons"][0]))


@pytest.mark.parametrize("data", [b"hello, I am a text file", b"", photo("obama2.jpg")[:3000]])
def test_a_non_image_upload_is_refused_at_once_and_nothing_is_stored(seeded, data):
    found = with_reference("C0001", "obama.jpg")
    before = stored_files(seeded, "photo")
    with pytest.raises(DomainError):
        identity.start_photo_verification(found.id, data, "EREVISIT")
    assert db.session.query(IdentityVerification).count() == 0
    assert stored_files(seeded, "photo") == before


def test_too_many_tries_are_refused_before_anything_is_stored(seeded):
    found = with_reference("C0001", "obama.jpg")
    link = link_for(found, attempts=seeded.config["FACE_MAX_TRIES"])
    with pytest.raises(DomainError) as caught:
        identity.start_photo_verification(found.id, photo("obama2.jpg"), "EREVISIT", link_id=link.id)
    assert caught.value.key == "face_too_many_tries"
    assert db.session.query(IdentityVerification).count() == 0


def test_someone_elses_link_is_refused(seeded):
    owner = with_reference("C0001", "obama.jpg")
    other = with_reference("C0005", "biden.jpg")
    link = link_for(owner)
    with pytest.raises(DomainError) as caught:
        identity.start_photo_verification(other.id, photo("biden2.jpg"), "EREVISIT", link_id=link.id)
    assert caught.value.key == "identity_link_invalid"


def test_the_enrolled_face_is_preferred_over_the_photo(seeded):
    found = with_reference("C0001", "biden.jpg")  # the photo on file would fail obama2
    found.face_encoding = identity.encode_image(photo("obama.jpg")).tobytes()
    db.session.commit()
    started = identity.start_photo_verification(found.id, photo("obama2.jpg"), "LOAN")
    db.session.expire_all()
    done = db.session.get(IdentityVerification, started.id)
    assert done.status == "PASSED" and done.details["reference"] == "enrolled"


def test_reference_photo_needs_exactly_one_face(seeded):
    found = customer("C0002")
    with pytest.raises(DomainError) as caught:
        identity.attach_reference_photo(found.id, photo("kit_with_rose.jpg"))
    assert caught.value.key == "face_many_faces"
    path = identity.attach_reference_photo(found.id, photo("rose_leslie.jpg"))
    db.session.expire_all()
    assert customer("C0002").reference_photo == path
    assert os.path.exists(identity.stored_path(path))


def test_challenge_is_four_random_digits():
    seen = {identity.new_challenge() for _ in range(50)}
    assert all(len(c) == 4 and c.isdigit() for c in seen) and len(seen) > 30


# --- operator CLI: one JSON object, exit 0 pass / 1 fail / 2 unusable ---------------------

def run_cli(app, *args):
    import json

    result = app.test_cli_runner().invoke(args=["identity", *args])
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def test_cli_verify_face_same_person(app):
    code, out = run_cli(app, "verify-face", os.path.join(FACES, "obama.jpg"), os.path.join(FACES, "obama2.jpg"))
    assert code == 0 and out["decision"] == "PASSED" and out["reasons"] == []
    assert out["distance"] <= out["threshold"]


def test_cli_verify_face_other_person(app):
    code, out = run_cli(app, "verify-face", os.path.join(FACES, "obama.jpg"), os.path.join(FACES, "biden.jpg"))
    assert code == 1 and out["decision"] == "FAILED" and out["reasons"] == ["face_mismatch"]
    assert out["distance"] > out["threshold"]


def test_cli_verify_face_unusable_inputs(app, tmp_path):
    text = tmp_path / "probe.jpg"
    text.write_text("not a photo")
    code, out = run_cli(app, "verify-face", os.path.join(FACES, "obama.jpg"), str(text))
    assert code == 2 and out["decision"] == "UNUSABLE" and out["reasons"] == ["identity_not_image"]
    code, out = run_cli(app, "verify-face", os.path.join(FACES, "obama.jpg"), os.path.join(FACES, "two_people.jpg"))
    assert code == 2 and out["reasons"] == ["face_many_faces"] and out["messages"] == ["检测到多张人脸"]
    code, out = run_cli(app, "verify-face", str(tmp_path / "missing.jpg"), os.path.join(FACES, "obama.jpg"))
    assert code == 2 and out["reasons"] == ["file_unreadable"]


def test_demo_seed_attaches_the_demo_faces(seeded):
    result = seeded.test_cli_runner().invoke(args=["demo", "seed", "--if-empty", "--faces", FACES])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    for no in identity.DEMO_FACES:
        assert customer(no).reference_photo, result.output
    # the demo customer C0001 (张德强) now passes with another photo of the same face
    started = identity.start_photo_verification(customer("C0001").id, photo("obama2.jpg"), "LOAN")
    db.session.expire_all()
    assert db.session.get(IdentityVerification, started.id).status == "PASSED"
    again = seeded.test_cli_runner().invoke(args=["demo", "seed", "--if-empty", "--faces", FACES])
    assert "already has a reference photo" in again.output
