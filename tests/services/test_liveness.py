"""Video face check and liveness with the real clip, and videos made from still photos."""
import os

import cv2
import numpy as np
import pytest

from app.extensions import db
from app.models import Customer, IdentityVerification
from app.services import identity, liveness
from app.services.errors import DomainError
from tests.conftest import FACES

CLIP = os.path.join(FACES, "short_hamilton_clip.mp4")
_cache = {}


def path(name):
    return os.path.join(FACES, name)


def encoding(name):
    if name not in _cache:
        with open(path(name), "rb") as handle:
            _cache[name] = identity.encode_image(handle.read())
    return _cache[name]


def analysed(key, video, reference):
    if key not in _cache:
        _cache[key] = liveness.analyze_video(video, encoding(reference))
    return _cache[key]


def still_video(photo, target, motion, seconds=5, fps=25, size=(640, 480)):
    """A video made from one photo: repeated frames, slowly panned and zoomed, or held in front of
    the camera and waved (rotation and perspective tilt)."""
    image = cv2.imread(path(photo))
    height, width = image.shape[:2]
    base = min(size[0] / width, size[1] / height)
    writer = cv2.VideoWriter(target, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for index in range(seconds * fps):
        progress = index / (seconds * fps)
        zoom, dx, dy = (1.0, 0, 0) if motion == "repeat" else (1.0 + 0.3 * progress, 50 * progress, 25 * progress)
        scale = base * zoom
        matrix = np.float32([[scale, 0, dx + (size[0] - width * scale) / 2],
                             [0, scale, dy + (size[1] - height * scale) / 2]])
        if motion == "tilt":
            angle, lean = 10 * np.sin(4 * progress), 25 * np.sin(5 * progress)
            rotate = np.vstack([cv2.getRotationMatrix2D((size[0] / 2, size[1] / 2), angle, 1.0), [0, 0, 1]])
            corners = np.float32([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]])
            leaned = np.float32([[lean, 0], [size[0] - lean, lean], [size[0], size[1]], [0, size[1] - lean]])
            homography = cv2.getPerspectiveTransform(corners, leaned) @ rotate @ np.vstack([matrix, [0, 0, 1]])
            writer.write(cv2.warpPerspective(image, homography, size))
        else:
            writer.write(cv2.warpAffine(image, matrix, size))
    writer.release()
    return target


@pytest.fixture(scope="module")
def still_videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stills")
    return {motion: still_video("lin-manuel-miranda.png", str(folder / f"{motion}.mp4"), motion)
            for motion in ("repeat", "panzoom", "tilt")}


def test_the_real_clip_matches_its_reference_and_is_live(app):
    figures = analysed("clip-lin", CLIP, "lin-manuel-miranda.png")
    status, reasons, scores = liveness.decide(figures, identity.liveness_settings())
    assert (status, reasons) == ("PASSED", [])
    assert scores["max_faces"] == 1
    assert scores["median_distance"] < app.config["LIVENESS_MATCH_THRESHOLD"]
    assert scores["nonrigid"] >= app.config["LIVENESS_MIN_NONRIGID"]


def test_the_same_clip_against_another_person_fails_the_match(app):
    figures = analysed("clip-obama", CLIP, "obama.jpg")
    status, reasons, scores = liveness.decide(figures, identity.liveness_settings())
    assert status == "FAILED" and "video_face_mismatch" in reasons
    assert min(figures["distances"]) > app.config["LIVENESS_MATCH_THRESHOLD"]


@pytest.mark.parametrize("motion", ["repeat", "panzoom", "tilt"])
def test_a_video_made_from_a_still_photo_is_not_live(app, still_videos, motion):
    figures = analysed("still-" + motion, still_videos[motion], "lin-manuel-miranda.png")
    status, reasons, scores = liveness.decide(figures, identity.liveness_settings())
    # the face is the right one, in every frame: only the liveness signal refuses it
    assert scores["face_share"] == 1.0 and scores["strangers"] == 0
    assert status == "FAILED" and reasons == ["video_not_live"]
    assert scores["nonrigid"] < app.config["LIVENESS_MIN_NONRIGID"]


def test_the_speech_check_is_a_documented_seam():
    assert liveness.check_spoken_digits(CLIP, "1234")["status"] == "NOT_CHECKED"


# --- uploads ----------------------------------------------------------------------

def seeded_customer(no="C0003", photo="lin-manuel-miranda.png"):
    customer = db.session.query(Customer).filter_by(customer_no=no).one()
    with open(path(photo), "rb") as handle:
        identity.attach_reference_photo(customer.id, handle.read())
    return customer


def clip_bytes():
    with open(CLIP, "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("data,key", [
    (b"this is a text file renamed to liveness.mp4\n" * 20, "identity_not_video"),
    (b"", "identity_empty_upload"),
    (None, "identity_not_video"),  # corrupt: the real clip cut to its first third (no index)
    (b"\x00\x00\x00 ftypisom" + os.urandom(5000), "identity_not_video"),  # MP4 header, garbage
])
def test_unreadable_videos_are_refused_at_once(seeded, data, key):
    customer = seeded_customer()
    if data is None:
        data = clip_bytes()[: len(clip_bytes()) // 3]
    with pytest.raises(DomainError) as caught:
        identity.start_video_verification(customer.id, data, "1234", "ACCOUNT_AUTH")
    assert caught.value.key == key
    assert "视频" in str(caught.value) or "文件" in str(caught.value)
    assert db.session.query(IdentityVerification).count() == 0


def test_a_passed_account_video_enrols_the_face(seeded):
    customer = seeded_customer()
    challenge = identity.new_challenge()
    started = identity.start_video_verification(customer.id, clip_bytes(), challenge, "ACCOUNT_AUTH",
                                                ip="10.1.1.1", user_agent="Mozilla/5.0 (Android)")
    db.session.expire_all()
    done = db.session.get(IdentityVerification, started.id)
    assert done.kind == "VIDEO" and done.status == "PASSED", done.details
    assert done.challenge_digits == challenge and done.details["speech"]["status"] == "NOT_CHECKED"
    assert done.details["frames"] and done.details["scores"]["nonrigid"] > 0
    assert os.path.exists(identity.stored_path(done.evidence_path))
    enrolled = np.frombuffer(db.session.get(Customer, customer.id).face_encoding, dtype=np.float64)
    assert enrolled.shape == (128,)
    assert np.linalg.norm(enrolled - encoding("lin-manuel-miranda.png")) < 0.5


def test_a_video_of_someone_else_fails_and_enrols_nothing(seeded):
    customer = seeded_customer("C0001", "obama.jpg")
    started = identity.start_video_verification(customer.id, clip_bytes(), "5678", "ACCOUNT_AUTH")
    db.session.expire_all()
    done = db.session.get(IdentityVerification, started.id)
    assert done.status == "FAILED" and "video_face_mismatch" in done.details["reasons"]
    assert db.session.get(Customer, customer.id).face_encoding is None


def test_bad_challenge_digits_are_refused(seeded):
    customer = seeded_customer()
    with pytest.raises(DomainError) as caught:
        identity.start_video_verification(customer.id, clip_bytes(), "12a4", "ACCOUNT_AUTH")
    assert caught.value.key == "identity_challenge_invalid"


# --- operator CLI --------------------------------------------------------------------

def run_cli(app, *args):
    import json

    result = app.test_cli_runner().invoke(args=["identity", "check-video", *args])
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def test_cli_check_video_passes_the_clip(app):
    code, out = run_cli(app, path("lin-manuel-miranda.png"), CLIP)
    assert code == 0 and out["decision"] == "PASSED" and out["reasons"] == []
    assert out["scores"]["nonrigid"] >= out["thresholds"]["LIVENESS_MIN_NONRIGID"]
    assert out["distances"] and out["speech"]["status"] == "NOT_CHECKED"


def test_cli_check_video_fails_another_reference(app):
    code, out = run_cli(app, path("obama.jpg"), CLIP)
    assert code == 1 and out["decision"] == "FAILED" and "video_face_mismatch" in out["reasons"]


def test_cli_check_video_fails_a_still_photo_video(app, still_videos):
    code, out = run_cli(app, path("lin-manuel-miranda.png"), still_videos["panzoom"])
    assert code == 1 and out["reasons"] == ["video_not_live"]


def test_cli_check_video_unusable_file(app, tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("a text file renamed .mp4")
    code, out = run_cli(app, path("lin-manuel-miranda.png"), str(fake))
    assert code == 2 and out["decision"] == "UNUSABLE" and out["reasons"] == ["identity_not_video"]


def test_a_webm_recording_is_accepted_and_checked(app, tmp_path):
    """Browsers' MediaRecorder uploads WebM: the clip's middle (2.7 s to 7.2 s) re-encoded to VP8."""
    capture = cv2.VideoCapture(CLIP)
    target = str(tmp_path / "recording.webm")
    writer = None
    for index in range(216):
        ok, frame = capture.read()
        if not ok or index < 80:
            continue
        if writer is None:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(target, cv2.VideoWriter_fourcc(*"VP80"), capture.get(cv2.CAP_PROP_FPS),
                                     (width, height))
        writer.write(frame)
    writer.release()
    capture.release()
    with open(target, "rb") as handle:
        assert identity.check_video_bytes(handle.read()) == "webm"
    status, reasons, scores, _ = identity.check_video(target, encoding("lin-manuel-miranda.png"))
    assert (status, reasons) == ("PASSED", []), scores
