"""Face verification: selfie against the reference photo, video liveness, face enrolment.

Uploads are checked by content (Pillow for images, OpenCV for videos) before anything is
stored; the comparison itself runs in a Celery task (app/tasks/identity.py, queued by name after the
commit that stored the upload) and writes its outcome, figures and reasons on the
IdentityVerification row, which is kept as evidence. An upload is one unit of work of its own (its
file is already on disk); the checks run in the task's.
Thresholds are config keys; docs/identity.md has the distances measured behind them.
"""
import io
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np
from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select, update

from app.extensions import db
from app.models.customer import Customer
from app.models.identity import IdentityVerification
from app.models.revisit import RevisitLink
from app.services import audit, clock, liveness, unit
from app.services.errors import DomainError
from app.services import settings as business_settings
import config


def _face_recognition():
    """face_recognition loads dlib's models on import (~1.7 s, 150 MB): only where faces are checked,
    not in every process that imports the tasks package."""
    import face_recognition

    return face_recognition

PURPOSES = ("EREVISIT", "ACCOUNT_AUTH", "LOAN", "PASSWORD_RESET", "CONSENT")
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp", "GIF": "gif", "MPO": "jpg"}
ENCODING_DTYPE = np.float64

# Pillow's own guard at the same limit, for any code of this process that decodes an image on its own
# path (Pillow warns above the limit and refuses above twice it); _open_image refuses above it.
Image.MAX_IMAGE_PIXELS = config.IMAGE_MAX_PIXELS


# --- images ----------------------------------------------------------------


def _open_image(image_bytes):
    """Decode an upload with Pillow (content, not extension); upright; RGB; downscaled.

    Image.open reads only the header: the pixel count is checked there, before anything is decoded
    (a 160 KB PNG can claim 12000x12000 pixels, 690 MB once decoded).
    """
    if not image_bytes:
        raise DomainError("identity_empty_upload")
    max_side = current_app.config.get("FACE_IMAGE_MAX_SIDE", 800)
    max_pixels = current_app.config.get("IMAGE_MAX_PIXELS", config.IMAGE_MAX_PIXELS)
    too_large = DomainError("image_too_large", limit=max_pixels // 10_000)
    try:
        image = Image.open(io.BytesIO(image_bytes))
        fmt = image.format
        if fmt not in IMAGE_FORMATS:
            raise DomainError("identity_not_image")
        if image.width * image.height > max_pixels:
            raise too_large
        image.draft("RGB", (max_side, max_side))  # JPEG decodes at 1/2..1/8 scale; other formats ignore it
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # phone selfies carry their rotation in EXIF
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")  # palettes and alpha convert before resizing, as they always did
        # downscale before the RGB copy of a grey image: at most one full-size RGB copy in memory
        image.thumbnail((max_side, max_side), Image.BILINEAR)
        image = image.convert("RGB")
    except DomainError:
        raise
    except Image.DecompressionBombError:  # Pillow's guard (twice the limit) fired inside Image.open
        raise too_large from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise DomainError("identity_not_image") from None
    return np.asarray(image), fmt


def check_image(image_bytes):
    """Validate a face photo: an image (by content) showing exactly one face.

    Returns {"image": RGB array, "location": (top, right, bottom, left), "format": "JPEG"|...}.
    Raises DomainError identity_empty_upload / identity_not_image / face_no_face / face_many_faces.
    """
    image, fmt = _open_image(image_bytes)
    # upsampling doubles the size and costs 4x: only when nothing is found at the base size
    locations = _face_recognition().face_locations(image, number_of_times_to_upsample=0)
    if not locations:
        locations = _face_recognition().face_locations(image, number_of_times_to_upsample=1)
    if not locations:
        raise DomainError("face_no_face")
    if len(locations) > 1:
        raise DomainError("face_many_faces")
    return {"image": image, "location": locations[0], "format": fmt}


def encode_image(image_bytes):
    """The 128-d encoding of the one face in a photo (DomainError as check_image)."""
    checked = check_image(image_bytes)
    return _face_recognition().face_encodings(checked["image"], [checked["location"]])[0].astype(ENCODING_DTYPE)


def face_distance(reference_encoding, probe_encoding):
    return float(np.linalg.norm(np.asarray(reference_encoding) - np.asarray(probe_encoding)))


def _messages(reasons):
    return [DomainError(key).message for key in reasons]


def verify_face_files(reference_bytes, probe_bytes):
    """Operator check of two photos (the CLI): decision, distance, reasons."""
    threshold = business_settings.get("FACE_MATCH_THRESHOLD")
    _face_recognition()  # the one-off model load is not part of the comparison's time
    started = time.perf_counter()
    try:
        reference = encode_image(reference_bytes)
    except DomainError as error:
        reasons = ["reference_" + error.key]
        return {"decision": "UNUSABLE", "distance": None, "threshold": threshold, "reasons": reasons,
                "messages": _messages([error.key])}
    try:
        probe = encode_image(probe_bytes)
    except DomainError as error:
        return {"decision": "UNUSABLE", "distance": None, "threshold": threshold, "reasons": [error.key],
                "messages": _messages([error.key])}
    distance = face_distance(reference, probe)
    reasons = [] if distance <= threshold else ["face_mismatch"]
    return {"decision": "FAILED" if reasons else "PASSED", "distance": round(distance, 4),
            "threshold": threshold, "reasons": reasons, "messages": _messages(reasons),
            "seconds": round(time.perf_counter() - started, 3)}


def check_video_files(reference_bytes, video_path, video_bytes):
    """Operator check of a liveness video against a reference photo (the CLI)."""
    try:
        reference = encode_image(reference_bytes)
    except DomainError as error:
        return {"decision": "UNUSABLE", "reasons": ["reference_" + error.key], "messages": _messages([error.key])}
    try:
        check_video_bytes(video_bytes)
    except DomainError as error:
        return {"decision": "UNUSABLE", "reasons": [error.key], "messages": _messages([error.key])}
    status, reasons, scores, figures = check_video(video_path, reference)
    result = {"decision": status, "reasons": reasons, "messages": _messages(reasons), "scores": scores,
              "thresholds": liveness_settings(),
              "speech": liveness.check_spoken_digits(video_path, None)}
    if figures is not None:
        result.update(distances=figures["distances"], seconds=figures["seconds"], elapsed=figures["elapsed"],
                      frames=figures["detections"])
    return result


# --- files -------------------------------------------------------------------


def _upload_root():
    return current_app.config["UPLOAD_DIR"]


def _store(subdir, customer_id, extension, data):
    """Write bytes under UPLOAD_DIR/identity/<subdir>/<yyyymm>/; return the path relative to UPLOAD_DIR."""
    relative = os.path.join("identity", subdir, clock.now().strftime("%Y%m"),
                            f"{customer_id}-{clock.now():%d%H%M%S}-{secrets.token_hex(8)}.{extension}")
    absolute = os.path.join(_upload_root(), relative)
    os.makedirs(os.path.dirname(absolute), exist_ok=True)
    with open(absolute, "wb") as handle:
        handle.write(data)
    return relative


def stored_path(relative):
    return relative if os.path.isabs(relative) else os.path.join(_upload_root(), relative)


def _customer(customer_id):
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise DomainError("identity_customer_unknown")
    return customer


def attach_reference_photo(customer_id, image_bytes):
    """Store a customer's reference photo (exactly one face) and point the customer at it."""
    with unit.work():
        customer = _customer(customer_id)
        checked = check_image(image_bytes)
        path = _store("reference", customer.id, IMAGE_FORMATS[checked["format"]], image_bytes)
        customer.reference_photo = path
    _reference_cache.clear()
    return path


_reference_cache = {}

# `flask demo seed --faces DIR`: which test photo stands for which demo customer
DEMO_FACES = {"C0001": "obama.jpg", "C0002": "rose_leslie.jpg", "C0003": "lin-manuel-miranda.png",
              "C0004": "kit_harington.jpeg", "C0005": "biden.jpg"}


def attach_demo_faces(directory):
    """Attach DEMO_FACES from `directory` to the demo customers that have no reference photo yet."""
    outcomes = []
    for customer_no, filename in DEMO_FACES.items():
        customer = db.session.query(Customer).filter_by(customer_no=customer_no).one_or_none()
        path = os.path.join(directory, filename)
        if customer is None:
            outcome = "no such customer"
        elif customer.reference_photo:
            outcome = "already has a reference photo"
        elif not os.path.exists(path):
            outcome = "file not found"
        else:
            with open(path, "rb") as handle:
                try:
                    outcome = "attached " + attach_reference_photo(customer.id, handle.read())
                except DomainError as error:
                    outcome = "refused: " + error.message
        outcomes.append((customer_no, filename, outcome))
    return outcomes


def reference_encoding(customer):
    """(encoding, source) of the customer's reference face: the enrolled one, else the photo on file.

    Raises DomainError face_no_reference when there is neither (or the photo is unusable).
    """
    if customer.face_encoding:
        return np.frombuffer(customer.face_encoding, dtype=ENCODING_DTYPE), "enrolled"
    if not customer.reference_photo:
        raise DomainError("face_no_reference")
    path = stored_path(customer.reference_photo)
    try:
        key = (path, os.path.getmtime(path))
        if key not in _reference_cache:
            if len(_reference_cache) >= 512:
                _reference_cache.clear()
            with open(path, "rb") as handle:
                _reference_cache[key] = encode_image(handle.read())
    except (OSError, DomainError):
        raise DomainError("face_no_reference") from None
    return _reference_cache[key], "photo"


# --- photo verification (e-revisit selfie, loans) ------------------------------


def _check_link(customer_id, link_id):
    link = db.session.get(RevisitLink, link_id)
    if link is None or link.customer_id != customer_id:
        raise DomainError("identity_link_invalid")
    if link.face_attempts >= business_settings.get("FACE_MAX_TRIES"):
        raise DomainError("face_too_many_tries")
    return link


# --- tries, counted when the upload is accepted (issue 14 item 4) ---------------------------------
# Twelve parallel uploads must not all pass a "tries < limit" read made before any of them is
# counted: each try is counted in the accepting transaction, before anything is stored or queued,
# either by a conditional UPDATE of a counter (a link's face_attempts) or, where the tries are the
# verification rows themselves, by counting them under the customer's row lock. A refused upload
# rolls back with its unit of work and costs nothing.


def count_link_try(customer_id, link_id):
    """Count one face try on the link: UPDATE ... SET face_attempts = face_attempts + 1 WHERE id = ?
    AND face_attempts < FACE_MAX_TRIES, one statement, so concurrent uploads serialise on the row and
    exactly FACE_MAX_TRIES are accepted. Raises identity_link_invalid / face_too_many_tries."""
    limit = business_settings.get("FACE_MAX_TRIES")
    counted = db.session.execute(
        update(RevisitLink)
        .where(RevisitLink.id == link_id, RevisitLink.customer_id == customer_id,
               RevisitLink.face_attempts < limit)
        .values(face_attempts=RevisitLink.face_attempts + 1)
        .execution_options(synchronize_session=False)).rowcount
    if counted != 1:
        _check_link(customer_id, link_id)  # says which: not this customer's link, or no tries left
        raise DomainError("face_too_many_tries")
    link = db.session.get(RevisitLink, link_id)
    if link is not None:
        db.session.refresh(link, ["face_attempts"])


@dataclass(frozen=True)
class TryLimit:
    """At most `limit` verifications of the customer (of this kind / purpose, since `since`) that
    did not pass: FAILED, UNUSABLE, and PENDING ones (an accepted upload is a try until it passes)."""
    limit: int
    since: datetime
    error: str  # the DomainError key of the refusal
    kind: str = None
    purposes: tuple = None


def used_tries(customer_id, since, kind=None, purposes=None):
    query = db.session.query(func.count(IdentityVerification.id)).filter(
        IdentityVerification.customer_id == customer_id, IdentityVerification.created_at >= since,
        IdentityVerification.status.in_(("PENDING", "FAILED", "UNUSABLE")))
    if kind:
        query = query.filter(IdentityVerification.kind == kind)
    if purposes:
        query = query.filter(IdentityVerification.purpose.in_(purposes))
    return query.scalar()


def count_customer_try(customer_id, try_limit):
    """Lock the customer's row (SELECT ... FOR UPDATE), then count the tries: concurrent uploads of
    one customer take turns, and each sees the rows the previous ones committed (READ COMMITTED).
    The lock is held until the accepting unit of work commits the new PENDING row."""
    db.session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())
    if used_tries(customer_id, try_limit.since, try_limit.kind, try_limit.purposes) >= try_limit.limit:
        raise DomainError(try_limit.error)


def start_photo_verification(customer_id, image_bytes, purpose, link_id=None, ip=None, user_agent=None,
                             try_limit=None):
    """Store the selfie (refused at once when it is not an image) and queue the comparison. The try
    is counted first (on the link, or under `try_limit`), atomically, before anything is stored."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose}")
    with unit.work():
        customer = _customer(customer_id)
        if link_id is not None:
            _check_link(customer.id, link_id)  # the cheap refusal, before the image is decoded
        _, fmt = _open_image(image_bytes)
        if link_id is not None:
            count_link_try(customer.id, link_id)
        if try_limit is not None:
            count_customer_try(customer.id, try_limit)
        path = _store("photo", customer.id, IMAGE_FORMATS[fmt], image_bytes)
        verification = IdentityVerification(
            customer_id=customer.id, kind="PHOTO", purpose=purpose, link_id=link_id, status="PENDING",
            evidence_path=path, ip=ip, user_agent=(user_agent or "")[:255] or None, created_at=clock.now())
        db.session.add(verification)
        db.session.flush()
        unit.enqueue("identity.run_photo_verification", verification.id)
    return verification


def _finish(verification, status, reasons, distance=None, **details):
    verification.status = status
    verification.distance = None if distance is None else round(float(distance), 4)
    # what the sweep noted on the pending row (swept, swept_at) stays with the outcome
    verification.details = dict(verification.details or {}, **details, reasons=reasons)
    verification.completed_at = clock.now()


def run_photo_verification(verification_id):
    """Compare the stored selfie with the customer's reference; record the outcome (the task's unit
    of work commits it)."""
    # the row lock makes a redelivered task wait and then find the check already done
    verification = db.session.get(IdentityVerification, verification_id, with_for_update=True)
    if verification is None or verification.status != "PENDING":
        return None
    customer = db.session.get(Customer, verification.customer_id)
    threshold = business_settings.get("FACE_MATCH_THRESHOLD")
    started = time.perf_counter()
    try:
        reference, source = reference_encoding(customer)
        with open(stored_path(verification.evidence_path), "rb") as handle:
            probe = encode_image(handle.read())
    except DomainError as error:
        _finish(verification, "UNUSABLE", [error.key], threshold=threshold)
    except OSError:
        _finish(verification, "UNUSABLE", ["identity_evidence_missing"], threshold=threshold)
    else:
        distance = face_distance(reference, probe)
        passed = distance <= threshold
        _finish(verification, "PASSED" if passed else "FAILED", [] if passed else ["face_mismatch"],
                distance, threshold=threshold, reference=source,
                seconds=round(time.perf_counter() - started, 3))
    if verification.purpose == "EREVISIT" and verification.link_id is not None:
        # the try was counted when the upload was accepted (count_link_try); here only the outcome
        if verification.status == "PASSED":
            db.session.execute(update(RevisitLink).where(RevisitLink.id == verification.link_id)
                               .values(face_verified_at=verification.completed_at))
        audit.record(db.session, "face_attempt", "revisit_link", verification.link_id,
                     after={"verification_id": verification.id, "status": verification.status})
    return verification.status


def queue_position(verification):
    """Where a PENDING check stands in the workers' queue: {"ahead": checks of any kind still PENDING that
    were queued before it, "seconds": an estimate of the wait for its own result}; None once it is done.

    One count over the PENDING rows below its id (index ix_identity_verification_queue: status, kind; the
    id rides along in InnoDB), so it costs the length of the queue, not of the table. The estimate takes
    photos at FACE_CHECKS_PER_SECOND (the measured rate of all worker cores) and each video at
    FACE_VIDEO_CHECK_SECONDS, its own check included; a check the sweep will queue again counts as waiting."""
    if verification is None or verification.status != "PENDING":
        return None
    rows = db.session.query(IdentityVerification.kind, func.count(IdentityVerification.id)).filter(
        IdentityVerification.status == "PENDING", IdentityVerification.id < verification.id) \
        .group_by(IdentityVerification.kind).all()
    ahead = {kind: count for kind, count in rows}
    rate = float(current_app.config.get("FACE_CHECKS_PER_SECOND") or 4.0)
    video = float(current_app.config.get("FACE_VIDEO_CHECK_SECONDS") or 2.0)
    photos = ahead.get("PHOTO", 0) + (verification.kind == "PHOTO")
    videos = ahead.get("VIDEO", 0) + (verification.kind == "VIDEO")
    seconds = photos / max(rate, 0.01) + videos * video
    return {"ahead": sum(ahead.values()), "seconds": max(1, int(-(-seconds // 1)))}


# --- video liveness (account authentication, password reset) -------------------


def new_challenge():
    """Four random digits for the customer to read aloud in the video."""
    return "".join(secrets.choice("0123456789") for _ in range(4))


def _sniff_video(video_bytes):
    """Container by magic bytes; None when it is no video container we accept."""
    head = video_bytes[:16]
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"  # MediaRecorder in Chrome / Firefox
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def probe_video(path):
    """Open with OpenCV, check the header's size and length, decode the first frame; (fps, frames)
    or DomainError."""
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise DomainError("identity_not_video")
        liveness.check_header(capture, liveness_settings())  # before a frame is decoded
        ok, frame = capture.read()
        if not ok or frame is None:
            raise DomainError("identity_not_video")
        return capture.get(cv2.CAP_PROP_FPS), capture.get(cv2.CAP_PROP_FRAME_COUNT)
    finally:
        capture.release()


def check_video_bytes(video_bytes):
    """Validate an uploaded video by content; returns its container extension."""
    if not video_bytes:
        raise DomainError("identity_empty_upload")
    extension = _sniff_video(video_bytes)
    if extension is None:
        raise DomainError("identity_not_video")
    with tempfile.NamedTemporaryFile(suffix="." + extension) as handle:
        handle.write(video_bytes)
        handle.flush()
        probe_video(handle.name)
    return extension


def start_video_verification(customer_id, video_bytes, challenge_digits, purpose, ip=None, user_agent=None,
                             try_limit=None):
    """Store the liveness video (refused at once when unreadable) and queue its check; the try is
    counted under `try_limit` first, atomically, before anything is stored."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose}")
    with unit.work():
        customer = _customer(customer_id)
        if not (challenge_digits and len(challenge_digits) == 4 and challenge_digits.isdigit()):
            raise DomainError("identity_challenge_invalid")
        extension = check_video_bytes(video_bytes)
        if try_limit is not None:
            count_customer_try(customer.id, try_limit)
        path = _store("video", customer.id, extension, video_bytes)
        verification = IdentityVerification(
            customer_id=customer.id, kind="VIDEO", purpose=purpose, status="PENDING", evidence_path=path,
            challenge_digits=challenge_digits, ip=ip, user_agent=(user_agent or "")[:255] or None,
            created_at=clock.now())
        db.session.add(verification)
        db.session.flush()
        unit.enqueue("identity.run_video_verification", verification.id)
    return verification


def liveness_settings():
    config = current_app.config
    return {key: config[key] for key in liveness.DEFAULTS if key in config}


def check_video(path, reference):
    """Analyse a video file against a reference encoding: (status, reasons, scores, figures)."""
    settings = liveness_settings()
    try:
        figures = liveness.analyze_video(path, reference, settings)
    except liveness.VideoUnreadable:
        return "UNUSABLE", ["identity_not_video"], {}, None
    except DomainError as refused:  # the header: too large, too long, absurd
        return "UNUSABLE", [refused.key], {}, None
    status, reasons, scores = liveness.decide(figures, settings)
    return status, reasons, scores, figures


def run_video_verification(verification_id):
    """Check a stored liveness video; on a passed ACCOUNT_AUTH check enrol the face."""
    # the row lock makes a redelivered task wait and then find the check already done
    verification = db.session.get(IdentityVerification, verification_id, with_for_update=True)
    if verification is None or verification.status != "PENDING":
        return None
    customer = db.session.get(Customer, verification.customer_id)
    path = stored_path(verification.evidence_path)
    try:
        reference, source = reference_encoding(customer)
    except DomainError as error:
        _finish(verification, "UNUSABLE", [error.key])
        return verification.status
    if not os.path.exists(path):
        _finish(verification, "UNUSABLE", ["identity_evidence_missing"])
        return verification.status
    status, reasons, scores, figures = check_video(path, reference)
    speech = liveness.check_spoken_digits(path, verification.challenge_digits)
    details = {"reference": source, "scores": scores, "speech": speech}
    if figures is not None:
        details.update(frames=figures["detections"], ears=figures["ears"], fps=figures["fps"],
                       seconds=figures["seconds"], elapsed=figures["elapsed"])
    _finish(verification, status, reasons, scores.get("median_distance"), **details)
    if status == "PASSED" and verification.purpose == "ACCOUNT_AUTH":
        enrolled = liveness.enrolment_encoding(figures, liveness_settings())
        if enrolled is not None:
            customer.face_encoding = enrolled.astype(ENCODING_DTYPE).tobytes()
    return verification.status


def latest_verification(customer_id, kind=None, purpose=None, since=None):
    """The customer's most recent verification (optionally of a kind / purpose / after a time)."""
    query = db.session.query(IdentityVerification).filter_by(customer_id=customer_id)
    if kind:
        query = query.filter_by(kind=kind)
    if purpose:
        query = query.filter_by(purpose=purpose)
    if since is not None:
        query = query.filter(IdentityVerification.created_at >= since)
    return query.order_by(IdentityVerification.id.desc()).first()


def has_recent_pass(customer_id, purpose, within_minutes=30):
    """A passed verification for `purpose` in the last minutes (large loans call this)."""
    since = clock.now() - timedelta(minutes=within_minutes)
    found = latest_verification(customer_id, purpose=purpose, since=since)
    return found is not None and found.status == "PASSED"
