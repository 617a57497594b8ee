"""`flask evidence verify PACK.zip [--public-key FILE]` and `flask evidence public-key` (issue 15 point 3): on
张德强's pack after his e-revisit it passes (exit 0); one byte of a file changed in the ZIP, the manifest edited,
a file added or removed: exit 1 naming the file; not a pack: exit 2. It needs no database."""
import io
import json
import os
import subprocess
import sys
import zipfile

import pytest

from tests.services.test_evidence import zhang_pack  # noqa: F401
from tests.views.test_customer_revisit import invited, linked  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["evidence", *args])


def _rezip(data, change=None, drop=(), add=None):
    """The pack rewritten: change(name, bytes) -> bytes for each member, members dropped, members added."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename in drop:
                continue
            content = source.read(info.filename)
            target.writestr(info, change(info.filename, content) if change else content)
        for name, content in (add or {}).items():
            target.writestr(name, content)
    return out.getvalue()


def _flip_stored_byte(data, name):
    """One byte of a member changed in place in the ZIP file itself (its data, not its header)."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo(name)
    assert info.compress_type == zipfile.ZIP_STORED
    header = data[info.header_offset:info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    at = start + info.compress_size // 2
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


@pytest.fixture
def pack_file(zhang_pack, tmp_path):
    data = zhang_pack[0]
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    return path, data


def test_an_intact_pack_passes(app, pack_file):
    path, _ = pack_file
    result = _run(app, "verify", str(path))
    assert result.exit_code == 0, result.output + result.stderr
    assert "证据包完整" in result.output and "880000001522216" in result.output


def test_one_byte_of_the_photo_changed_is_found_and_named(app, pack_file, tmp_path):
    path, data = pack_file
    photo = next(n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.startswith("files/identity/"))
    changed = tmp_path / "changed.zip"
    changed.write_bytes(_flip_stored_byte(data, photo))
    result = _run(app, "verify", str(changed))
    assert result.exit_code == 1
    assert photo in result.output and "证据包校验未通过" in result.output
    # the same change with a fresh CRC (the ZIP rewritten): the hash still names it
    rewritten = tmp_path / "rewritten.zip"
    rewritten.write_bytes(_rezip(data, lambda name, content: content[:-1] + bytes([content[-1] ^ 1])
                                 if name == photo else content))
    result = _run(app, "verify", str(rewritten))
    assert result.exit_code == 1 and photo in result.output and "已被修改" in result.output


def test_an_edited_manifest_fails_the_signature(app, pack_file, tmp_path):
    path, data = pack_file

    def edit(name, content):
        if name != "manifest.json":
            return content
        manifest = json.loads(content)
        manifest["subject"]["label"] = "保单 000000000000000"
        return json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")

    edited = tmp_path / "edited.zip"
    edited.write_bytes(_rezip(data, edit))
    result = _run(app, "verify", str(edited))
    assert result.exit_code == 1 and "manifest.json" in result.output and "签名校验失败" in result.output


def test_missing_and_extra_files_are_named(app, pack_file, tmp_path):
    path, data = pack_file
    changed = tmp_path / "changed.zip"
    changed.write_bytes(_rezip(data, drop=("summary.pdf",), add={"files/identity/extra.jpg": b"x"}))
    result = _run(app, "verify", str(changed))
    assert result.exit_code == 1
    assert "缺少文件:summary.pdf" in result.output and "多出文件" in result.output and "extra.jpg" in result.output


def test_the_printed_public_key_verifies_and_another_does_not(app, pack_file, tmp_path):
    path, _ = pack_file
    printed = _run(app, "public-key")
    assert printed.exit_code == 0 and printed.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert printed.stdout.rstrip().endswith("-----END PUBLIC KEY-----")
    assert "SECRET_KEY" in printed.stderr  # the development key says what it is
    key_file = tmp_path / "portal.pub"
    key_file.write_text(printed.stdout)
    assert _run(app, "verify", str(path), "--public-key", str(key_file)).exit_code == 0

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from app.services import evidence

    other = tmp_path / "other.pub"
    other.write_text(evidence.public_pem(Ed25519PrivateKey.generate().public_key()))
    result = _run(app, "verify", str(path), "--public-key", str(other))
    assert result.exit_code == 1 and "manifest.json" in result.output


def test_unusable_input_exits_2(app, tmp_path):
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"hello")
    result = _run(app, "verify", str(not_zip))
    assert result.exit_code == 2 and "ZIP" in result.stderr
    no_manifest = tmp_path / "empty.zip"
    with zipfile.ZipFile(no_manifest, "w") as archive:
        archive.writestr("a.txt", "a")
    assert _run(app, "verify", str(no_manifest)).exit_code == 2
    assert _run(app, "verify", str(tmp_path / "absent.zip")).exit_code == 2
    bad_key = tmp_path / "bad.pub"
    bad_key.write_text("not a key")
    assert _run(app, "verify", str(no_manifest), "--public-key", str(bad_key)).exit_code == 2


def test_verify_runs_offline_without_a_database(app, pack_file, tmp_path):
    """A fresh process whose database does not answer (port 1): only the key and the pack are needed."""
    path, _ = pack_file
    env = dict(os.environ, DATABASE_URL="mysql+pymysql://nobody:x@127.0.0.1:1/none",
               SECRET_KEY=app.config["SECRET_KEY"], PORTAL_INSTANCE_DIR=str(tmp_path / "instance"),
               UPLOAD_DIR=str(tmp_path / "uploads"), CELERY_BROKER_URL="", REDIS_URL="")
    env.pop("EVIDENCE_SIGNING_KEY", None)
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app:create_app", "evidence", "verify", str(path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "证据包完整" in done.stdout
