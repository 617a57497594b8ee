"""Video bombs: a container's resolution and duration are checked before a frame is read, and the
frames read are bounded whatever the header says."""
import math
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
REAL_CAPTURE = cv2.VideoCapture


class CountingCapture:
    """cv2.VideoCapture that counts the frames asked for (read, grab)."""
    frames = 0

    def __init__(self, *args):
        self._capture = REAL_CAPTURE(*args)

    def __getattr__(self, name):
        return getattr(self._capture, name)

    def read(self, *args):
        type(self).frames += 1
        return self._capture.read(*args)

    def grab(self, *args):
        type(self).frames += 1
        return self._capture.grab(*args)


@pytest.fixture
def counted(monkeypatch):
    CountingCapture.frames = 0
    monkeypatch.setattr(cv2, "VideoCapture", CountingCapture)
    return CountingCapture


def grey_video(target, size, frames, fps, fourcc="mp4v"):
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened()
    frame = np.full((size[1], size[0], 3), 128, np.uint8)
    for _ in range(frames):
        writer.write(frame)
    writer.release()
    return str(target)


def without_duration(path):
    """The WebM as a MediaRecorder that writes no Duration makes it: OpenCV then reports a
    negative frame count. The Duration element (0x4489, a 4- or 8-byte float) becomes Void."""
    data = bytearray(open(path, "rb").read())
    for size in (0x84, 0x88):
        at = data.find(bytes([0x44, 0x89, size]))
        if at >= 0:
            length = 3 + (size & 0x0F)
            data[at:at + length] = bytes([0xEC, 0x80 | (length - 2)]) + bytes(length - 2)
            break
    open(path, "wb").write(bytes(data))
    return path


def seeded_customer():
    customer = db.session.query(Customer).filter_by(customer_no="C0003").one()
    with open(os.path.join(FACES, "lin-manuel-miranda.png"), "rb") as handle:
        identity.attach_reference_photo(customer.id, handle.read())
    return customer


def test_a_4000x4000_video_is_refused_before_a_frame_is_read(seeded, tmp_path, counted):
    video = grey_video(tmp_path / "huge.mp4", (4000, 4000), 3, 25)
    customer = seeded_customer()
    with pytest.raises(DomainError) as caught:
        identity.start_video_verification(customer.id, open(video, "rb").read(), "1234", "ACCOUNT_AUTH")
    assert caught.value.key == "video_too_large"
    assert "4000×4000" in str(caught.value) and "分辨率" in str(caught.value)
    assert counted.frames == 0
    assert db.session.query(IdentityVerification).count() == 0


def test_a_long_video_is_refused_before_a_frame_is_read(seeded, tmp_path, counted):
    video = grey_video(tmp_path / "long.mp4", (160, 120), 300, 2)  # 150 s at 2 fps: 300 KB of frames
    customer = seeded_customer()
    with pytest.raises(DomainError) as caught:
        identity.start_video_verification(customer.id, open(video, "rb").read(), "1234", "ACCOUNT_AUTH")
    assert caught.value.key == "video_too_long"
    assert str(caught.value) == "视频过长(150秒),请录制不超过30秒的视频"
    assert counted.frames == 0
    assert db.session.query(IdentityVerification).count() == 0


def test_a_stored_video_is_checked_again_before_analysis(app, tmp_path, counted):
    """A video on file from before the limits (or a changed limit) is unusable, not analysed."""
    video = grey_video(tmp_path / "huge.mp4", (4000, 4000), 3, 25)
    status, reasons, _, figures = identity.check_video(video, np.zeros(128))
    assert (status, reasons, figures) == ("UNUSABLE", ["video_too_large"], None)
    assert counted.frames == 0


class FrozenClock(CountingCapture):
    """A stream whose timestamps never advance (crafted): the time limit alone never stops reading."""

    def get(self, prop):
        return 1.0 if prop == cv2.CAP_PROP_POS_MSEC else self._capture.get(prop)


def test_a_video_of_unknown_length_is_read_for_at_most_the_longest_duration(app, tmp_path, monkeypatch):
    """No duration in the header (a MediaRecorder WebM): accepted, and the frames read stop at
    LIVENESS_MAX_SECONDS x the frame rate even when the timestamps never get there."""
    video = without_duration(grey_video(tmp_path / "long.webm", (160, 120), 40 * 25, 25, "VP80"))
    capture = REAL_CAPTURE(video)
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) < 0  # what OpenCV makes of the missing Duration
    capture.release()
    assert identity.check_video_bytes(open(video, "rb").read()) == "webm"
    FrozenClock.frames = 0
    monkeypatch.setattr(cv2, "VideoCapture", FrozenClock)
    liveness.analyze_video(video, np.zeros(128), {"LIVENESS_MAX_SECONDS": 4})
    assert FrozenClock.frames <= 4 * 25 + 2  # it read all 1000 before


class Header:
    """A capture whose container says what the test wants (cv2 cannot write such files)."""

    def __init__(self, width, height, fps, frames):
        self.values = {cv2.CAP_PROP_FRAME_WIDTH: width, cv2.CAP_PROP_FRAME_HEIGHT: height,
                       cv2.CAP_PROP_FPS: fps, cv2.CAP_PROP_FRAME_COUNT: frames}

    def get(self, prop):
        return self.values[prop]


@pytest.mark.parametrize("width,height,fps,frames,key", [
    (640, 360, 0.0, 275, "video_bad_header"),
    (640, 360, math.nan, 275, "video_bad_header"),
    (640, 360, math.inf, 275, "video_bad_header"),
    (640, 360, 0.5, 10, "video_bad_header"),          # one frame every two seconds: no camera
    (0, 0, 30.0, 275, "video_bad_header"),
    (math.nan, 360, 30.0, 275, "video_bad_header"),
    (4096, 4096, 30.0, 10, "video_too_large"),
    (1_000_000, 1_000, 30.0, 10, "video_too_large"),
    (640, 360, 30.0, 30 * 30 + 30, "video_too_long"),
    (640, 360, 30.0, 1e18, "video_too_long"),
])
def test_absurd_headers_are_refused(app, width, height, fps, frames, key):
    with pytest.raises(DomainError) as caught:
        liveness.check_header(Header(width, height, fps, frames), identity.liveness_settings())
    assert caught.value.key == key and str(caught.value)[:2] in ("视频", "无法")


@pytest.mark.parametrize("width,height,fps,frames", [
    (640, 360, 29.97, 275),        # the real clip
    (640, 360, 30.0, -2.77e17),    # a MediaRecorder WebM without Duration
    (2160, 3840, 60.0, 1800),      # 30 s of portrait 4K at 60 fps
    (1280, 720, 1000.0, 300),      # a variable-rate WebM whose rate is its time base
    (640, 360, 30.0, math.inf),    # unknown too: the frames read are bounded (frame_budget)
])
def test_real_recordings_pass_the_header_check(app, width, height, fps, frames):
    liveness.check_header(Header(width, height, fps, frames), identity.liveness_settings())


def test_the_real_clip_still_passes_and_reads_each_frame_once(seeded, counted):
    customer = seeded_customer()
    identity.start_video_verification(customer.id, open(CLIP, "rb").read(), "1234", "ACCOUNT_AUTH")
    db.session.expire_all()
    done = db.session.query(IdentityVerification).one()
    assert done.status == "PASSED", done.details
    assert counted.frames <= 1 + 276  # the first frame at upload, then the clip's 275 frames
