"""Evidence packs (issue 15 point 3): 张德强's policy after his e-revisit (driven through the customer pages, as
tests/views/test_customer_revisit.py does) packs into one ZIP holding the summary PDF with the timeline, the
selfie, the key screens' text and the signed manifest; it verifies offline and fails after one byte changes."""
import hashlib
import io
import json
import zipfile
from datetime import datetime

import pytest
from pypdf import PdfReader

from app.extensions import db
from app.models import IdentityVerification, Policy, RevisitTask
from app.models.screen import KeyScreen
from app.services import evidence, screens
from tests.views.test_customer_revisit import _answer, _task_ids, _verify, invited, linked  # noqa: F401

ZHANG_POLICY = "880000001522216"


def pdf_text(data):
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def drive_erevisit(client, code):
    """张德强's e-revisit through his SMS link: the selfie (obama2.jpg against obama.jpg), both questionnaires."""
    _verify(client, code)
    for task_id in _task_ids("C0001"):
        _answer(client, code, task_id)
    db.session.expire_all()


def ensure_key_screen(policy, monkeypatch):
    """The key screens of the policy: what services/screens.py recorded of the questionnaire pages, or (while
    it records none) one kept here the way its contract says, read back by a stand-in for for_policy."""
    if screens.for_policy(policy.id):
        return screens.for_policy(policy.id)
    task = db.session.query(RevisitTask).filter_by(policy_id=policy.id).first()
    text = "回访问卷\n1. 您是否为投保人本人? 是\n保险单号 " + policy.policy_no
    db.session.add(KeyScreen(kind="QUESTIONNAIRE", customer_id=policy.holder_id, policy_id=policy.id,
                             revisit_task_id=task.id, title="回访问卷", text=text,
                             text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                             shown_at=datetime(2026, 1, 5, 10, 0), agreed_at=datetime(2026, 1, 5, 10, 2),
                             ip="127.0.0.1", user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"))
    db.session.commit()
    rows = db.session.query(KeyScreen).filter_by(policy_id=policy.id).order_by(KeyScreen.shown_at).all()
    monkeypatch.setattr(screens, "for_policy", lambda policy_id: rows if policy_id == policy.id else [])
    return rows


@pytest.fixture
def zhang_pack(invited, client, monkeypatch):
    """(zip bytes, manifest, policy) of 张德强's policy after his e-revisit."""
    drive_erevisit(client, invited["C0001"])
    policy = db.session.query(Policy).filter_by(policy_no=ZHANG_POLICY).one()
    ensure_key_screen(policy, monkeypatch)
    data, manifest = evidence.build("policy", policy.id, actor="auditor")
    return data, manifest, policy


def test_the_pack_holds_the_summary_the_photo_the_screens_and_the_manifest(zhang_pack, app):
    data, manifest, policy = zhang_pack
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert {"summary.pdf", "manifest.json", "manifest.sig", "records/audit_events.json"} <= set(names)

    # the selfie as it was uploaded, byte for byte
    check = db.session.query(IdentityVerification).one()
    photos = [n for n in names if n.startswith(f"files/identity/{check.id}-")]
    assert photos
    with open(f"{app.config['UPLOAD_DIR']}/{check.evidence_path}", "rb") as handle:
        assert archive.read(photos[0]) == handle.read()
    # the reference photo it was compared with
    assert any(n.startswith("files/reference/C0001-") for n in names)

    # the key screens' exact text
    shown = screens.for_policy(policy.id)
    for screen in shown:
        assert archive.read(f"screens/screen-{screen.id}.txt").decode("utf-8") == screen.text

    # the manifest: every file but itself and its signature, with its SHA-256 and size; subject and time
    listed = json.loads(archive.read("manifest.json"))
    assert listed["subject"] == {"kind": "policy", "id": policy.id, "label": f"保单 {ZHANG_POLICY}"}
    assert listed["created_at"] and listed["created_by"] == "auditor"
    assert {e["path"] for e in listed["files"]} == set(names) - {"manifest.json", "manifest.sig"}
    for entry in listed["files"]:
        content = archive.read(entry["path"])
        assert entry["sha256"] == hashlib.sha256(content).hexdigest() and entry["size"] == len(content)
    assert listed["signing"]["algorithm"] == "Ed25519" and listed["signing"]["development_key"] is True

    # the summary: the timeline in Chinese, the mobile masked, no link code in clear
    text = pdf_text(archive.read("summary.pdf"))
    holder = policy.holder
    for words in ("证据包", ZHANG_POLICY, "时间线", "短信发送", "打开回访链接", "提交人脸照片", "人脸核验", "人脸距离",
                  f"{check.distance:.4f}", "提交回访答案", "关键页面", "回访答案", "审计日志", "文件清单",
                  holder.mobile[:3] + "****" + holder.mobile[-4:], "127.0.0.1"):
        assert words in text.replace("\n", ""), words
    assert holder.mobile not in text
    for screen in shown:
        assert screen.title in text


def test_link_and_verification_codes_never_appear_in_the_pack(zhang_pack, invited):
    data, _, _ = zhang_pack
    archive = zipfile.ZipFile(io.BytesIO(data))
    code = invited["C0001"]
    for name in archive.namelist():
        if name.endswith((".json", ".txt")):
            assert code not in archive.read(name).decode("utf-8"), name
    assert code not in pdf_text(archive.read("summary.pdf"))
    assert evidence.mask_sms_text("您的验证码为123456,5分钟内有效", {"code": "123456"}) == "您的验证码为******,5分钟内有效"


def test_the_pack_verifies_and_names_a_changed_file(zhang_pack, app):
    data, manifest, _ = zhang_pack
    public = evidence.signing_key(app.config)[0].public_key()
    problems, read = evidence.verify(data, public)
    assert problems == [] and read["subject"]["kind"] == "policy"

    # the same files, one byte of the summary changed
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "summary.pdf":
                content = content[:100] + bytes([content[100] ^ 1]) + content[101:]
            target.writestr(info, content)
    problems, _ = evidence.verify(out.getvalue(), public)
    assert len(problems) == 1 and "summary.pdf" in problems[0] and "已被修改" in problems[0]

    # another key does not verify it
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    problems, _ = evidence.verify(data, Ed25519PrivateKey.generate().public_key())
    assert len(problems) == 1 and "manifest.json" in problems[0]


def test_a_task_pack_holds_its_answers(zhang_pack):
    _, _, policy = zhang_pack
    task = db.session.query(RevisitTask).filter_by(policy_id=policy.id).one()
    data, manifest = evidence.build("task", task.id, actor="supervisor")
    assert manifest["subject"]["label"] == f"回访任务 #{task.id}({'保单'} {ZHANG_POLICY})"
    text = pdf_text(zipfile.ZipFile(io.BytesIO(data)).read("summary.pdf")).replace("\n", "")
    assert task.answers[0].question_text[:8] in text


def test_an_unknown_subject_has_no_pack(app):
    assert evidence.build("policy", 999999) is None
    assert evidence.build("nothing", 1) is None


def test_the_key_comes_from_the_environment_as_pem_or_base64(app):
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    for configured in (base64.b64encode(raw).decode(), pem):
        loaded, derived = evidence.signing_key({"EVIDENCE_SIGNING_KEY": configured})
        assert not derived and evidence.key_id(loaded.public_key()) == evidence.key_id(key.public_key())
    # the printed public key reads back
    assert evidence.key_id(evidence.load_public_key(evidence.public_pem(key.public_key()))) == \
        evidence.key_id(key.public_key())
    with pytest.raises(ValueError):
        evidence.signing_key({"EVIDENCE_SIGNING_KEY": "not a key"})


def test_production_refuses_to_start_without_the_key(app):
    from app import ConfigurationError
    from app.views.evidence import check_signing_key

    with pytest.raises(ConfigurationError, match="EVIDENCE_SIGNING_KEY"):
        check_signing_key({"PORTAL_ENV": "production", "SECRET_KEY": "x" * 40})
    with pytest.raises(ConfigurationError, match="EVIDENCE_SIGNING_KEY"):
        check_signing_key({"PORTAL_ENV": "development", "EVIDENCE_SIGNING_KEY": "garbage!"})
    check_signing_key({"PORTAL_ENV": "development", "SECRET_KEY": "x" * 40})  # derived, allowed
