"""Decompression bombs in face photos: the size is read from the header and refused before decoding.

A PNG of one grey is ~160 KB on disk for 12000x12000 pixels; decoded (grey, then RGB) it took
690 MB before the pixel limit. Photos within the limit are decoded downscaled (JPEG draft mode).
"""
import io
import os
import struct
import subprocess
import sys
import textwrap
import zlib

import pytest
from PIL import Image

from app.extensions import db
from app.models import Customer, IdentityVerification
from app.services import identity
from app.services.errors import DomainError
from tests.conftest import FACES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def png_of_one_grey(width, height, grey=128):
    """A valid 8-bit greyscale PNG written chunk by chunk: building it with Pillow would need the
    very memory the test is about; one row at a time through zlib needs a few KB."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + bytes([grey]) * width  # filter byte 0, then the pixels
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bomb():
    return png_of_one_grey(12000, 12000)


def photo(name):
    with open(os.path.join(FACES, name), "rb") as handle:
        return handle.read()


def stored_files(app):
    root = os.path.join(app.config["UPLOAD_DIR"], "identity")
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


def test_the_bomb_is_small_on_disk_and_huge_in_pixels(bomb):
    assert len(bomb) < 300_000 and struct.unpack(">II", bomb[16:24]) == (12000, 12000)


def test_the_bomb_is_refused_with_the_limit_in_chinese(app, bomb):
    with pytest.raises(DomainError) as caught:
        identity.check_image(bomb)
    assert caught.value.key == "image_too_large"
    assert "5000万像素" in str(caught.value)


def test_a_photo_over_a_configured_limit_is_refused_and_one_at_it_is_read(app, monkeypatch):
    small = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 180, 160)).save(small, "PNG")
    monkeypatch.setitem(app.config, "IMAGE_MAX_PIXELS", 400 * 300)
    with pytest.raises(DomainError) as caught:
        identity.check_image(small.getvalue())
    assert caught.value.key == "face_no_face"  # decoded and searched: at the limit is allowed
    monkeypatch.setitem(app.config, "IMAGE_MAX_PIXELS", 400 * 300 - 1)
    with pytest.raises(DomainError) as caught:
        identity.check_image(small.getvalue())
    assert caught.value.key == "image_too_large"


def test_pillow_refuses_bombs_anywhere_in_the_process(app, bomb):
    """Pillow's own guard is set to the same limit, for code that opens an image on its own path
    (Pillow refuses above twice its limit: before, its default let 144 MP through with a warning)."""
    assert Image.MAX_IMAGE_PIXELS == app.config["IMAGE_MAX_PIXELS"] == 50_000_000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(bomb))


def _peak_mb(data_path, call):
    """Peak resident memory (MB over the baseline) of `call` on the file, in a fresh interpreter."""
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {ROOT!r})
        from flask import Flask
        from app.services import identity
        from app.services.errors import DomainError
        app = Flask("probe")
        app.config.update(FACE_IMAGE_MAX_SIDE=800, IMAGE_MAX_PIXELS=50_000_000)
        data = open({data_path!r}, "rb").read()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with app.app_context():
            try:
                result = identity.{call}(data)
                outcome = "decoded %sx%s" % result[0].shape[1::-1]
            except DomainError as error:
                outcome = error.key
        print(outcome, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    outcome, megabytes = done.stdout.strip().rsplit(" ", 1)
    return outcome, float(megabytes)


def test_refusing_the_bomb_costs_almost_no_memory(bomb, tmp_path):
    target = tmp_path / "selfie.png"
    target.write_bytes(bomb)
    outcome, megabytes = _peak_mb(str(target), "_open_image")
    assert outcome == "image_too_large"
    assert megabytes < 20, f"{megabytes:.0f} MB to refuse a bomb"  # it was 690 MB


def test_a_48_megapixel_phone_photo_is_decoded_downscaled(tmp_path):
    """8064x6048 (a 48 MP phone camera) is allowed, and decoded at 1/8 scale: a few MB, not 146."""
    target = tmp_path / "phone.jpg"
    subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from PIL import Image
        Image.open({os.path.join(FACES, "obama.jpg")!r}).resize((8064, 6048)).save({str(target)!r}, quality=90)
    """)], check=True, timeout=120)
    outcome, megabytes = _peak_mb(str(target), "_open_image")
    assert outcome == "decoded 800x600"
    assert megabytes < 40, f"{megabytes:.0f} MB to decode a 48 MP photo"


def test_a_bomb_selfie_stores_nothing(seeded, bomb):
    found = db.session.query(Customer).filter_by(customer_no="C0001").one()
    identity.attach_reference_photo(found.id, photo("obama.jpg"))
    before = stored_files(seeded)
    with pytest.raises(DomainError) as caught:
        identity.start_photo_verification(found.id, bomb, "EREVISIT")
    assert caught.value.key == "image_too_large"
    assert db.session.query(IdentityVerification).count() == 0
    assert stored_files(seeded) == before


def test_a_bomb_is_no_reference_photo(seeded, bomb):
    found = db.session.query(Customer).filter_by(customer_no="C0002").one()
    before = stored_files(seeded)
    with pytest.raises(DomainError) as caught:
        identity.attach_reference_photo(found.id, bomb)
    assert caught.value.key == "image_too_large"
    db.session.expire_all()
    assert db.session.get(Customer, found.id).reference_photo is None and stored_files(seeded) == before


def test_a_bomb_stored_earlier_makes_the_check_unusable_not_a_crash(seeded, bomb):
    """A reference photo on file from before the limit (the core system can attach them) is no reference."""
    found = db.session.query(Customer).filter_by(customer_no="C0001").one()
    found.reference_photo = identity._store("reference", found.id, "png", bomb)
    db.session.commit()
    started = identity.start_photo_verification(found.id, photo("obama2.jpg"), "LOAN")
    db.session.expire_all()
    done = db.session.get(IdentityVerification, started.id)
    assert done.status == "UNUSABLE" and done.details["reasons"] == ["face_no_reference"]
