"""Video face check and liveness: pure analysis of a saved video file, no database.

analyze_video() reads the file once with OpenCV and works in two tiers so a 10 s video takes
about 1.5 s of CPU (docs/identity.md has the figures):

- detection frames (LIVENESS_DETECT_FPS a second): the frame is downscaled to
  LIVENESS_FRAME_MAX_SIDE and searched with the HOG detector; every face is counted. A face is
  encoded (the 128-d descriptor, the expensive step) on the full-size frame when its track starts,
  when it jumps (a cut or another person) and otherwise every LIVENESS_ENCODE_SECONDS;
- landmark frames (LIVENESS_LANDMARK_FPS a second): the 68 landmarks of the face found at the
  last detection, on the full-size frame (1 ms each). From them come the liveness signals:
  eye aspect ratio dips (blinks) and non-rigid motion, i.e. how far the landmarks move in ways a
  flat picture cannot: each frame's landmarks are mapped onto the track's first frame by the best
  homography (which absorbs any pan, zoom, rotation or tilt of a photo held to the camera) and the
  remaining error is measured in inter-ocular distances. A still photo, repeated or slowly
  panned and zoomed, stays near zero; a person speaking, blinking or turning the head does not.
  Blinks (eye aspect ratio dips) are counted and kept as evidence but do not decide: on small
  faces the landmark noise makes false dips (one appeared on a panned still photo).

The decision rules live in decide(); the thresholds are config keys (LIVENESS_*).
"""
import math
import time

import cv2
import numpy as np

from app.services.errors import DomainError


def _face_recognition():
    """face_recognition loads dlib's models on import (~1.7 s, 150 MB): only where faces are checked,
    not in every process that imports the tasks package."""
    import face_recognition

    return face_recognition

LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)

DEFAULTS = {
    "LIVENESS_DETECT_FPS": 3.0,
    "LIVENESS_LANDMARK_FPS": 10.0,
    "LIVENESS_ENCODE_SECONDS": 3.0,
    "LIVENESS_FRAME_MAX_SIDE": 320,
    "LIVENESS_MAX_SECONDS": 30,
    "LIVENESS_MAX_PIXELS": 3840 * 2160,
    "LIVENESS_MATCH_THRESHOLD": 0.63,
    "LIVENESS_MIN_FACE_SHARE": 0.4,
    "LIVENESS_MIN_FACE_FRAMES": 6,
    "LIVENESS_MAX_STRANGER_SHARE": 0.15,
    "LIVENESS_MIN_NONRIGID": 0.08,
    "LIVENESS_BLINK_DROP": 0.25,
}


class VideoUnreadable(Exception):
    """OpenCV cannot read a single frame from the file."""


HIGHEST_FPS = 240.0  # phones' slow motion; a higher rate in a header is a WebM time base, not frames


def check_header(capture, settings=None):
    """What the container claims, checked before a frame is decoded; returns its frame rate.

    DomainError on an unknown or absurd size or rate, frames over LIVENESS_MAX_PIXELS or a duration
    over LIVENESS_MAX_SECONDS: a few KB of video can claim 4000x4000 pixels or hours. An unknown
    frame count passes (a MediaRecorder WebM without a Duration reports a negative one):
    analyze_video stops after LIVENESS_MAX_SECONDS worth of frames anyway (frame_budget).
    """
    cfg = dict(DEFAULTS, **(settings or {}))
    width, height, fps, frames = (capture.get(prop) for prop in (
        cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT, cv2.CAP_PROP_FPS, cv2.CAP_PROP_FRAME_COUNT))
    if not all(math.isfinite(value) for value in (width, height, fps)) or min(width, height) < 1 or fps < 1:
        raise DomainError("video_bad_header")
    if width * height > cfg["LIVENESS_MAX_PIXELS"]:
        raise DomainError("video_too_large", width=int(width), height=int(height),
                          limit=cfg["LIVENESS_MAX_PIXELS"] // 10_000)
    seconds = frames / min(fps, HIGHEST_FPS)
    if math.isfinite(seconds) and seconds > cfg["LIVENESS_MAX_SECONDS"]:
        raise DomainError("video_too_long", seconds=round(seconds), limit=cfg["LIVENESS_MAX_SECONDS"])
    return fps


def frame_budget(fps, settings=None):
    """Most frames read from one video: its longest duration at its rate, whatever its timestamps say."""
    cfg = dict(DEFAULTS, **(settings or {}))
    return math.ceil(cfg["LIVENESS_MAX_SECONDS"] * min(fps, HIGHEST_FPS)) + 1


def _crop(frame, box, margin=0.5):
    """The face's neighbourhood of a BGR frame, as contiguous RGB, and the box inside it.

    dlib copies the whole image it is given: a crop keeps landmarks and encodings cheap on HD video.
    """
    top, right, bottom, left = box
    pad = int(max(bottom - top, right - left) * margin)
    height, width = frame.shape[:2]
    y0, x0 = max(0, top - pad), max(0, left - pad)
    y1, x1 = min(height, bottom + pad), min(width, right + pad)
    rgb = np.ascontiguousarray(cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_BGR2RGB))
    return rgb, (top - y0, right - x0, bottom - y0, left - x0), np.array([x0, y0], dtype=np.float64)


def _landmarks68(rgb, box):
    """The 68 landmark points of the face in `box` (top, right, bottom, left), or None."""
    found = _face_recognition().face_landmarks(rgb, [box], model="large")
    if not found:
        return None
    points = []
    for feature in ("chin", "left_eyebrow", "right_eyebrow", "nose_bridge", "nose_tip",
                    "left_eye", "right_eye"):
        points.extend(found[0][feature])
    # the lips as face_recognition groups them (12 points each); only the eyes need dlib's indices
    points.extend(found[0]["top_lip"] + found[0]["bottom_lip"])
    return np.asarray(points, dtype=np.float64)


def eye_aspect_ratio(shape):
    """Soukupová & Čech (2016): eye height over width, both eyes averaged; drops in a blink."""
    def one(eye):
        return (np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])) / (
            2.0 * np.linalg.norm(eye[0] - eye[3]) or 1.0)
    return float((one(shape[LEFT_EYE]) + one(shape[RIGHT_EYE])) / 2.0)


def interocular(shape):
    return float(np.linalg.norm(shape[LEFT_EYE].mean(axis=0) - shape[RIGHT_EYE].mean(axis=0))) or 1.0


def nonrigid_residual(reference, shape):
    """RMS landmark error left after the best homography from `shape` onto `reference`,
    in inter-ocular distances: what a moving flat picture cannot produce."""
    matrix, _ = cv2.findHomography(shape.astype(np.float32), reference.astype(np.float32), 0)
    if matrix is None:
        return None
    projected = cv2.perspectiveTransform(shape.reshape(-1, 1, 2).astype(np.float64), matrix).reshape(-1, 2)
    rms = float(np.sqrt(np.mean(np.sum((projected - reference) ** 2, axis=1))))
    return rms / interocular(reference)


def _iou(a, b):
    top, right, bottom, left = max(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = lambda box: (box[1] - box[3]) * (box[2] - box[0])  # noqa: E731
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def count_blinks(ears, drop):
    """Dips of the eye aspect ratio below (1 - drop) x its median that come back up."""
    if len(ears) < 3:
        return 0
    baseline = float(np.median(ears))
    low = baseline * (1.0 - drop)
    blinks, closed = 0, False
    for value in ears:
        if value < low and not closed:
            closed = True
        elif value >= low and closed:
            closed = False
            blinks += 1
    return blinks


def analyze_video(path, reference_encoding, settings=None, every_frame_full_size=False):
    """Read the video at `path` and measure it against `reference_encoding`.

    Returns the figures (per detection frame, liveness signals, timings); decide() turns them
    into a decision. every_frame_full_size=True is the slow baseline for the benchmark.
    Raises VideoUnreadable when not one frame can be decoded, DomainError when the header is refused
    (check_header).
    """
    cfg = dict(DEFAULTS, **(settings or {}))
    started = time.perf_counter()
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise VideoUnreadable(path)
        fps = check_header(capture, cfg)  # DomainError before a frame is decoded
        budget = frame_budget(fps, cfg)
        if fps > HIGHEST_FPS:  # browser recordings (WebM) may carry their time base as the rate
            fps = 30.0
        # sampled by timestamp, not frame number: MediaRecorder videos have a variable frame rate
        detect_every = 0.0 if every_frame_full_size else 1.0 / cfg["LIVENESS_DETECT_FPS"]
        landmark_every = 0.0 if every_frame_full_size else 1.0 / cfg["LIVENESS_LANDMARK_FPS"]
        next_detect = next_landmark = 0.0

        detections, ears, residuals, encodings = [], [], [], []
        track_box, track_reference, last_encoded_at, track_distance = None, None, None, None
        index = decoded = 0
        size, second = None, 0.0
        while index < budget and capture.grab():
            stamp = capture.get(cv2.CAP_PROP_POS_MSEC)
            second = stamp / 1000.0 if stamp > 0 or index == 0 else index / fps
            index += 1
            if second > cfg["LIVENESS_MAX_SECONDS"]:
                break
            is_detect = second >= next_detect - 1e-6
            is_landmark = second >= next_landmark - 1e-6
            if not (is_detect or is_landmark):
                continue
            ok, frame = capture.retrieve()
            if not ok or frame is None:
                continue
            if is_detect:
                next_detect = max(next_detect + detect_every, second + detect_every / 2)
            if is_landmark:
                next_landmark = max(next_landmark + landmark_every, second + landmark_every / 2)
            decoded += 1
            height, width = frame.shape[:2]
            size = (width, height)
            if is_detect:
                boxes = _detect(frame, cfg, every_frame_full_size)
                row = {"t": round(second, 2), "faces": len(boxes)}
                if len(boxes) == 1:
                    box = boxes[0]
                    jumped = track_box is None or _iou(box, track_box) < 0.3
                    due = last_encoded_at is None or second - last_encoded_at >= cfg["LIVENESS_ENCODE_SECONDS"]
                    if jumped or due or every_frame_full_size:
                        crop, inside, _ = _crop(frame, box)
                        encoding = _face_recognition().face_encodings(crop, [inside])[0]
                        distance = float(np.linalg.norm(encoding - reference_encoding))
                        encodings.append((round(second, 2), encoding, distance))
                        row["distance"] = round(distance, 3)
                        last_encoded_at, track_distance = second, distance
                    if jumped:
                        track_reference = None
                    track_box = box
                    row["track_distance"] = round(track_distance, 3)
                else:
                    track_box, track_reference = None, None
                detections.append(row)
            if track_box is not None and (is_landmark or is_detect):
                crop, inside, offset = _crop(frame, track_box)
                shape = _landmarks68(crop, inside)
                if shape is not None:
                    shape += offset
                    ears.append(round(eye_aspect_ratio(shape), 4))
                    if track_reference is None:
                        track_reference = shape
                    else:
                        residual = nonrigid_residual(track_reference, shape)
                        if residual is not None:
                            residuals.append(residual)
    finally:
        capture.release()
    if decoded == 0:
        raise VideoUnreadable(path)
    return {
        "fps": round(fps, 2), "frames_read": index, "frames_decoded": decoded, "size": size,
        "seconds": round(second, 2), "detections": detections,
        "distances": [round(d, 3) for _, _, d in encodings],
        "encodings": [e for _, e, _ in encodings],
        "ears": ears,
        "nonrigid": round(float(np.percentile(residuals, 90)), 4) if residuals else 0.0,
        "nonrigid_frames": len(residuals),
        "blinks": count_blinks(ears, cfg["LIVENESS_BLINK_DROP"]),
        "elapsed": round(time.perf_counter() - started, 3),
    }


def _detect(frame, cfg, full_size):
    """Face boxes in a BGR frame (full-size coordinates): HOG on a downscaled RGB copy."""
    if full_size:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        return _face_recognition().face_locations(rgb, number_of_times_to_upsample=1)
    height, width = frame.shape[:2]
    scale = min(1.0, cfg["LIVENESS_FRAME_MAX_SIDE"] / max(height, width))
    small = frame if scale == 1.0 else cv2.resize(frame, (round(width * scale), round(height * scale)),
                                                  interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    boxes = _face_recognition().face_locations(rgb, number_of_times_to_upsample=1)
    return [tuple(int(round(v / scale)) for v in box) for box in boxes]


def decide(figures, settings=None):
    """PASSED / FAILED / UNUSABLE with reason keys (messages in app/services/errors.py)."""
    cfg = dict(DEFAULTS, **(settings or {}))
    detections = figures["detections"]
    face_frames = [row for row in detections if row["faces"] >= 1]
    distances = figures["distances"]
    reasons = []
    share = len(face_frames) / len(detections) if detections else 0.0
    matched = [d for d in distances if d <= cfg["LIVENESS_MATCH_THRESHOLD"]]
    # face time (detection frames) spent on a face that is not the reference's
    tracked = [row["track_distance"] for row in face_frames if "track_distance" in row]
    strangers = sum(1 for d in tracked if d > cfg["LIVENESS_MATCH_THRESHOLD"])
    stranger_share = strangers / len(tracked) if tracked else 0.0
    scores = {
        "face_share": round(share, 3), "face_frames": len(face_frames),
        "sampled_frames": len(detections),
        "max_faces": max((row["faces"] for row in detections), default=0),
        "matched": len(matched), "strangers": strangers, "stranger_share": round(stranger_share, 3),
        "median_distance": round(float(np.median(matched or distances)), 3) if distances else None,
        "max_distance": round(max(distances), 3) if distances else None,
        "nonrigid": figures["nonrigid"], "blinks": figures["blinks"],
    }
    if not face_frames:
        return "UNUSABLE", ["face_no_face"], scores
    if scores["max_faces"] > 1:
        reasons.append("video_many_faces")
    if share < cfg["LIVENESS_MIN_FACE_SHARE"] or len(face_frames) < cfg["LIVENESS_MIN_FACE_FRAMES"]:
        reasons.append("video_face_missing")
    if not matched or stranger_share > cfg["LIVENESS_MAX_STRANGER_SHARE"]:
        reasons.append("video_face_mismatch")
    if figures["nonrigid"] < cfg["LIVENESS_MIN_NONRIGID"]:
        reasons.append("video_not_live")
    return ("FAILED" if reasons else "PASSED"), reasons, scores


def enrolment_encoding(figures, settings=None):
    """The mean of the encodings that matched the reference: the face to enrol."""
    cfg = dict(DEFAULTS, **(settings or {}))
    matched = [e for e, d in zip(figures["encodings"], figures["distances"])
               if d <= cfg["LIVENESS_MATCH_THRESHOLD"]]
    if not matched:
        return None
    return np.mean(np.stack(matched), axis=0).astype(np.float64)


def check_spoken_digits(path, digits):
    """Seam for a speech check of the challenge digits read aloud.

    Nothing here recognises speech yet: the result says so, and decide() does not use it. A real
    check (an ASR service or a local model) returns {"status": "PASSED"/"FAILED", "heard": "..."}
    and the caller adds "video_digits_mismatch" to the reasons on FAILED.
    """
    return {"status": "NOT_CHECKED", "digits": digits}
