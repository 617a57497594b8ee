"""Evidence packs (issue 15 point 3): one ZIP of everything the portal holds about a policy, a revisit task
or a servicing application, signed with the portal's key so that anyone can check it offline.

The ZIP holds
- summary.pdf: the timeline in Chinese (SMS sent and delivered with the mobile masked and codes and link
  codes hidden; the link opened with IP and device; face checks with the photo or video frames and their
  distances; the key screens and answers; call attempts; letters; applications with their rule traces and
  decisions; consents; loan ledgers; slips; beneficiary versions) and the audit events of those rows, every
  code through its Chinese label;
- the original files: selfies and liveness videos (with frames taken from them), reference photos, ID card
  images, letters, slips; the text of each key screen; the audit events as JSON;
- manifest.json: every other file's SHA-256 and size, the pack's subject, time, author and key id;
- manifest.sig: the Ed25519 signature of manifest.json's bytes (base64).

verify() needs nothing but the ZIP and the public key: no database, no application (`flask evidence verify`).

The key: EVIDENCE_SIGNING_KEY, an Ed25519 private key as PEM or its 32 raw bytes in base64. Without it (in
development only: production refuses to start, app/views/evidence.py) a key is derived from SECRET_KEY, and
the manifest says so (signing.development_key).
"""
import base64
import binascii
import hashlib
import io
import json
import os
import re
import zipfile
from datetime import date, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

FORMAT = "portal-evidence-pack/1"
MANIFEST, SIGNATURE, SUMMARY = "manifest.json", "manifest.sig", "summary.pdf"
SUBJECTS = {"policy": _l("保单"), "task": _l("回访任务"), "application": _l("保全申请")}
MAX_FRAMES = 3  # frames taken from each liveness video into the summary
DERIVATION_CONTEXT = b"portal evidence pack signing key v1\x00"


# detail keys the trail and the checks write that labels.DETAIL_KEYS does not name
EXTRA_DETAIL_KEYS = {"seconds": _l("耗时(秒)"), "result": _l("结果"), "photo": _l("照片文件"), "video": _l("视频文件")}


def _details(data):
    from app.services import labels

    if isinstance(data, dict):
        return [(EXTRA_DETAIL_KEYS.get(k, label), v) for (label, v), k in
                zip(labels.details(data), [k for k, v in data.items() if v is not None and v != ""])]
    return labels.details(data)


class PackError(Exception):
    """Unusable input for verify() (not a ZIP, no manifest, no usable key): exit 2."""


# --- the key -----------------------------------------------------------------------------------------------

def _private_from_text(text):
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("EVIDENCE_SIGNING_KEY is not an Ed25519 private key")
        return key
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("EVIDENCE_SIGNING_KEY: base64 of 32 raw bytes expected")
    return Ed25519PrivateKey.from_private_bytes(raw)


def signing_key(config):
    """(private key, derived?) from the configuration: EVIDENCE_SIGNING_KEY, else one derived from SECRET_KEY."""
    configured = config.get("EVIDENCE_SIGNING_KEY")
    if configured:
        return _private_from_text(configured), False
    seed = hashlib.sha256(DERIVATION_CONTEXT + (config.get("SECRET_KEY") or "").encode("utf-8")).digest()
    return Ed25519PrivateKey.from_private_bytes(seed), True


def public_raw(public_key):
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(public_key):
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_id(public_key):
    return hashlib.sha256(public_raw(public_key)).hexdigest()[:16]


def load_public_key(data):
    """A public key from a file's bytes: PEM (public, or a private key whose public half is taken) or the 32
    raw bytes in base64. PackError when it is none of these."""
    text = data.decode("ascii", "replace").strip() if isinstance(data, bytes) else str(data).strip()
    try:
        if "PRIVATE KEY" in text:
            return _private_from_text(text).public_key()
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            raw = base64.b64decode(text, validate=True)
            key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise PackError(_("公钥无法读取(应为 PEM 或 32 字节的 base64):%(e)s", e=exc)) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise PackError(_("公钥不是 Ed25519 公钥"))
    return key


# --- verification (offline) ----------------------------------------------------------------------------------

def verify(source, public_key):
    """Check a pack (a path, bytes or a file object) against public_key. Returns (problems, manifest):
    problems is a list of Chinese sentences, empty when the pack is intact. PackError for unusable input."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        archive = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise PackError(_("无法读取证据包(不是有效的 ZIP 文件):%(e)s", e=exc)) from exc
    with archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        if MANIFEST not in names or SIGNATURE not in names:
            raise PackError(_("证据包中没有 manifest.json 或 manifest.sig,不是本系统生成的证据包"))
        problems = []
        try:
            manifest_bytes = archive.read(MANIFEST)
            signature_text = archive.read(SIGNATURE)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            manifest_bytes, signature_text = None, b""
            problems.append(_("文件已损坏:%(name)s(%(e)s)", name=MANIFEST, e=exc))
        try:
            signature = base64.b64decode(signature_text.strip(), validate=True)
            public_key.verify(signature, manifest_bytes or b"")
        except (InvalidSignature, ValueError, binascii.Error, TypeError):
            if manifest_bytes is not None:
                problems.append(_("签名校验失败:%(name)s 已被修改,或证据包不是用此公钥对应的私钥签发的",
                                  name=MANIFEST))
        try:
            manifest = json.loads(manifest_bytes.decode("utf-8")) if manifest_bytes is not None else {}
            listed = {entry["path"]: entry for entry in manifest.get("files", [])}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(_("manifest.json 无法解析:%(e)s", e=exc))
            return problems, None
        for path, entry in listed.items():
            if path not in names:
                problems.append(_("缺少文件:%(name)s", name=path))
                continue
            try:
                digest, size = _digest_member(archive, path)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                problems.append(_("文件已被修改或损坏:%(name)s(%(e)s)", name=path, e=exc))
                continue
            if digest != entry.get("sha256") or size != entry.get("size"):
                problems.append(_("文件已被修改:%(name)s(SHA-256 应为 %(expected)s,实为 %(actual)s)",
                                  name=path, expected=entry.get("sha256"), actual=digest))
        for path in names:
            if path not in listed and path not in (MANIFEST, SIGNATURE):
                problems.append(_("多出文件(清单中没有):%(name)s", name=path))
        return problems, manifest


def _digest_member(archive, name):
    hasher, size = hashlib.sha256(), 0
    with archive.open(name) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


# --- building a pack (needs the application and its database) -------------------------------------------------

def _fmt(value):
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return str(value)


_LINK_CODE = re.compile(r"(/[sc]/)([A-Za-z0-9_-]{4,})")


def mask_sms_text(text, params=None):
    """An SMS's text with its verification code and its link code hidden (the mobile is masked apart)."""
    text = text or ""
    for key, value in (params or {}).items() if isinstance(params, dict) else ():
        if "code" in str(key).lower() and value and str(value) != "******":
            text = text.replace(str(value), "*" * len(str(value)))
    return _LINK_CODE.sub(lambda m: m.group(1) + "******", text)


def _masked(table, values):
    """An audit event's before/after as the pack shows it: mobiles, ID numbers and card numbers masked, codes
    hidden, also inside nested values (an application's payload lists its beneficiaries with their ID numbers)."""
    from app.services.privacy import mask_card, mask_id_number, mask_mobile

    if isinstance(values, list):
        return [_masked(table, value) for value in values]
    if not isinstance(values, dict):
        return values
    out = {}
    for key, value in values.items():
        lower = str(key).lower()
        if isinstance(value, (dict, list)) and lower not in ("code", "params"):
            out[key] = _masked(table, value)
        elif lower in ("phone", "mobile", "reserved_mobile") or lower.endswith("_mobile"):
            out[key] = mask_mobile(value)
        elif lower.endswith("_hash"):  # a keyed hash (services/crypto.py): nothing to mask
            out[key] = value
        elif "id_number" in lower:
            out[key] = mask_id_number(value)
        elif lower in ("card_no", "account_no"):
            out[key] = mask_card(value)
        elif lower in ("code", "params") or lower.endswith("_code") and table in ("consent", "revisit_link"):
            out[key] = "******" if value else value
        elif lower == "content" and isinstance(value, str):
            out[key] = mask_sms_text(value, values.get("params"))
        else:
            out[key] = value
    return out


class _Pack:
    """What one pack collects: the rows in scope, the timeline, the files."""

    def __init__(self, kind, subject_id):
        self.kind, self.subject_id = kind, subject_id
        self.timeline = []  # (time, item, detail)
        self.files = {}  # path in the ZIP -> bytes
        self.images = []  # (caption, path in the ZIP) for the summary
        self.policies, self.tasks, self.applications = [], [], []

    def event(self, when, item, detail=""):
        if when is not None:
            self.timeline.append((when, str(item), str(detail)))

    def add_file(self, path, data):
        base, ext = os.path.splitext(path)
        n = 1
        while path in self.files:
            n += 1
            path = f"{base}-{n}{ext}"
        self.files[path] = data
        return path


def _read_upload(relative):
    from app.services.loan_export import _file_under_uploads

    path = _file_under_uploads(relative)
    if path is None:
        return None
    with open(path, "rb") as handle:
        return handle.read()


def _video_frames(relative, count=MAX_FRAMES):
    """Up to `count` JPEG frames spread over a stored video (first, middle, last)."""
    from app.services.loan_export import _file_under_uploads

    path = _file_under_uploads(relative)
    if path is None:
        return []
    import cv2

    capture = cv2.VideoCapture(path)
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        positions = sorted({0, total // 2, max(total - 1, 0)})[:count] if total > 0 else [0]
        frames = []
        for position in positions:
            capture.set(cv2.CAP_PROP_POS_FRAMES, position)
            ok, frame = capture.read()
            if not ok:
                continue
            height, width = frame.shape[:2]
            if width > 640:
                frame = cv2.resize(frame, (640, int(height * 640 / width)))
            ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
            if ok:
                frames.append(encoded.tobytes())
        return frames
    finally:
        capture.release()


def _scope(pack):
    from sqlalchemy import or_, select

    from app.extensions import db
    from app.models.policy import Policy
    from app.models.revisit import RevisitTask
    from app.models.servicing import ApplicationPolicy, ServicingApplication

    if pack.kind == "policy":
        policy = db.session.get(Policy, pack.subject_id)
        if policy is None:
            return False
        pack.policies = [policy]
        pack.tasks = list(db.session.scalars(select(RevisitTask).where(RevisitTask.policy_id == policy.id)
                                             .order_by(RevisitTask.id)))
        linked = select(ApplicationPolicy.application_id).where(ApplicationPolicy.policy_id == policy.id)
        pack.applications = list(db.session.scalars(
            select(ServicingApplication).where(or_(ServicingApplication.policy_id == policy.id,
                                                   ServicingApplication.id.in_(linked)))
            .order_by(ServicingApplication.submitted_at, ServicingApplication.id)))
    elif pack.kind == "task":
        task = db.session.get(RevisitTask, pack.subject_id)
        if task is None:
            return False
        pack.policies, pack.tasks = [task.policy], [task]
    elif pack.kind == "application":
        found = db.session.get(ServicingApplication, pack.subject_id)
        if found is None:
            return False
        pack.applications = [found]
        policies = ([found.policy] if found.policy is not None else []) + [link.policy for link in found.policy_links]
        pack.policies = list(dict.fromkeys(policies))
    else:
        return False
    return True


def subject_label(kind, subject_id):
    """The pack's subject as a person reads it, e.g. 保单 880000001522216; None when it does not exist."""
    pack = _Pack(kind, subject_id)
    if not _scope(pack):
        return None
    return _label(pack)


def _label(pack):
    if pack.kind == "policy":
        return f"{SUBJECTS['policy']} {pack.policies[0].policy_no}"
    if pack.kind == "task":
        return f"{SUBJECTS['task']} #{pack.tasks[0].id}({SUBJECTS['policy']} {pack.policies[0].policy_no})"
    return f"{SUBJECTS['application']} {pack.applications[0].application_no}"


def file_name(kind, subject_id):
    return f"evidence-{kind}-{subject_id}.zip"


def build(kind, subject_id, actor=None, now=None):
    """The pack of a subject as (zip bytes, manifest dict); None when the subject does not exist."""
    from flask import current_app
    from flask_babel import force_locale

    from app.services import clock

    pack = _Pack(kind, subject_id)
    if not _scope(pack):
        return None
    now = now or clock.now()
    with force_locale("zh"):
        sections = _collect(pack)
        private, derived = signing_key(current_app.config)
        public = private.public_key()
        signing = {"algorithm": "Ed25519", "key_id": key_id(public),
                   "public_key": base64.b64encode(public_raw(public)).decode("ascii"),
                   "development_key": derived}
        label = _label(pack)
        pack.files[SUMMARY] = _summary_pdf(pack, sections, label, now, actor, signing)
    entries = [{"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
               for path, data in sorted(pack.files.items(), key=lambda item: (item[0] != SUMMARY, item[0]))]
    manifest = {"format": FORMAT, "subject": {"kind": kind, "id": subject_id, "label": label},
                "created_at": now.isoformat(sep=" ", timespec="seconds"), "created_by": actor,
                "signing": signing, "files": entries}
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
    signature = base64.b64encode(private.sign(manifest_bytes)) + b"\n"
    out = io.BytesIO()
    stamp = now.timetuple()[:6]
    with zipfile.ZipFile(out, "w") as archive:
        for entry in entries:
            compress = (zipfile.ZIP_DEFLATED if entry["path"].endswith((".json", ".txt"))
                        else zipfile.ZIP_STORED)  # photos, videos and PDFs are compressed already
            info = zipfile.ZipInfo(entry["path"], date_time=stamp)
            info.compress_type = compress
            archive.writestr(info, pack.files[entry["path"]])
        for name, data in ((MANIFEST, manifest_bytes), (SIGNATURE, signature)):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    manifest["sha256"] = hashlib.sha256(manifest_bytes).hexdigest()
    return out.getvalue(), manifest


# --- what a pack holds ------------------------------------------------------------------------------------

def _collect(pack):  # noqa: C901  (one pass over every kind of record, in the order of the summary)
    from sqlalchemy import and_, or_, select

    from app.extensions import db
    from app.models.audit import AuditEvent
    from app.models.customer import Customer
    from app.models.identity import VERIFICATION_KINDS, VERIFICATION_STATUSES, IdentityVerification
    from app.models.policy import BENEFICIARY_KINDS, POLICY_STATUSES, RELATIONSHIPS, Beneficiary
    from app.models.revisit import CALL_OUTCOMES, TASK_CHANNELS, TASK_STATUSES, RevisitEvidence, RevisitLink
    from app.models.screen import SCREEN_KINDS
    from app.models.servicing import (APPLICATION_STATUSES, CONSENT_ACTIONS, CONSENT_STATUSES, LEDGER_KINDS,
                                      LOAN_STATUSES, REJECT_REASONS, SERVICING_KINDS, Consent, LoanLedgerEntry,
                                      LoanRepayment, PolicyLoan)
    from app.models.sms import SMS_STATUSES, SmsMessage
    from app.services import labels, letters, screens, slip
    from app.services.loan_export import id_images, payload_rows
    from app.services.privacy import mask_id_number, mask_mobile
    from app.services.revisit.states import LETTER

    s = {"policies": [], "faces": [], "screens": [], "answers": [], "attempts": [], "applications": [],
         "consents": [], "loans": [], "beneficiaries": [], "audit": [], "sms": []}
    entities = {}  # audit entity -> ids

    def keep(entity, *ids):
        entities.setdefault(entity, set()).update(str(i) for i in ids if i is not None)

    for policy in pack.policies:
        keep("policy", policy.id)
        s["policies"].append([
            (_l("保险单号"), policy.policy_no), (_l("产品"), policy.product.name),
            (_l("投保人"), f"{policy.holder.name}({mask_id_number(policy.holder.id_number)})"),
            (_l("被保险人"), f"{policy.insured.name}({mask_id_number(policy.insured.id_number)})"),
            (_l("投保人手机"), mask_mobile(policy.holder.mobile)),
            (_l("保单状态"), labels.code(POLICY_STATUSES, policy.status)),
            (_l("承保日期"), _fmt(policy.issue_date)), (_l("保费(元)"), _fmt(policy.premium)),
            (_l("保额(元)"), _fmt(policy.sum_assured))])

    # --- the revisit: tasks, links, SMS, the e-revisit trail, face checks, answers, calls, letters
    task_ids = [t.id for t in pack.tasks]
    link_ids = sorted({t.link_id for t in pack.tasks if t.link_id})
    keep("revisit_task", *task_ids)
    keep("revisit_link", *link_ids)
    for task in pack.tasks:
        pack.event(task.created_at, _l("回访任务创建"),
                   _("回访任务#%(id)s,%(channel)s,电子回访截止 %(deadline)s", id=task.id,
                     channel=labels.code(TASK_CHANNELS, task.channel), deadline=_fmt(task.erevisit_deadline)))
        if task.completed_at:
            pack.event(task.completed_at, _l("回访完成"), _("回访任务#%(id)s:%(status)s %(note)s", id=task.id,
                       status=labels.code(TASK_STATUSES, task.status), note=task.result_note or ""))
    sms_rows = []
    if link_ids:
        sms_rows += list(db.session.scalars(select(SmsMessage).where(SmsMessage.link_id.in_(link_ids))))
    evidence = []
    if task_ids or link_ids:
        evidence = list(db.session.scalars(
            select(RevisitEvidence).where(or_(RevisitEvidence.task_id.in_(task_ids or [0]),
                                              and_(RevisitEvidence.link_id.in_(link_ids or [0]),
                                                   RevisitEvidence.task_id.is_(None))))
            .order_by(RevisitEvidence.occurred_at, RevisitEvidence.id)))
    for row in evidence:
        detail = "; ".join(f"{k}:{v}" for k, v in _details({key: value for key, value in (row.data or {}).items()
                                                            if key != "photo"}))
        where = _("IP %(ip)s,设备 %(device)s", ip=row.ip or "—", device=labels.device(row.user_agent) or "—")
        pack.event(row.occurred_at, labels.code(labels.EVIDENCE_STEPS, row.step),
                   f"{where}{';' + detail if detail else ''}")
    verifications = []
    if link_ids:
        verifications += list(db.session.scalars(select(IdentityVerification)
                                                 .where(IdentityVerification.link_id.in_(link_ids))))
    for task in pack.tasks:
        for answer in task.answers:
            keep("revisit_answer", answer.id)
            s["answers"].append((task.id, answer))
        if task.answers:
            first = task.answers[0]
            pack.event(first.answered_at, _l("提交回访答案"),
                       _("回访任务#%(id)s,%(count)s 题,%(no)s 题答“否”;%(channel)s;IP %(ip)s,设备 %(device)s",
                         id=task.id, count=len(task.answers), no=sum(1 for a in task.answers if not a.answer),
                         channel=labels.code(TASK_CHANNELS, first.channel), ip=first.ip or "—",
                         device=labels.device(first.user_agent) or "—"))
        for attempt in task.attempts:
            keep("call_attempt", attempt.id)
            s["attempts"].append(attempt)
            pack.event(attempt.started_at, _l("电话回访"),
                       _("%(outcome)s,坐席 %(agent)s,%(start)s 至 %(end)s %(note)s",
                         outcome=labels.code(CALL_OUTCOMES, attempt.outcome), agent=attempt.agent,
                         start=_fmt(attempt.started_at), end=_fmt(attempt.ended_at), note=attempt.note or ""))
        if task.status in LETTER:
            # due when the last phone try ended (not at midnight of its day, before the call that made it due)
            due_at = max((a.ended_at or a.started_at for a in task.attempts), default=None) or task.updated_at
            try:
                name = pack.add_file(f"letters/letter-task-{task.id}.pdf", letters.letter_pdf(task.id))
                pack.event(due_at, _l("信函回访"), _("回访函:%(file)s", file=name))
            except Exception:  # noqa: BLE001  (a letter that cannot be made leaves the rest of the pack)
                pack.event(due_at, _l("信函回访"), _("回访函无法生成"))

    # --- servicing: applications, consents, loans and ledgers, repayments, slips, beneficiaries
    app_ids = [a.id for a in pack.applications]
    keep("servicing_application", *app_ids)
    verification_ids = set()
    for found in pack.applications:
        kind = labels.code(SERVICING_KINDS, found.kind)
        pack.event(found.submitted_at, _l("保全申请提交"),
                   _("%(kind)s %(no)s,金额 %(amount)s", kind=kind, no=found.application_no, amount=_fmt(found.amount)))
        if found.decided_at:
            who = _("系统自动审核") if found.decided_by_system else str(found.decided_by or "—")
            pack.event(found.decided_at, _l("保全审核决定"),
                       _("%(no)s:%(status)s(%(who)s)%(reason)s %(note)s", no=found.application_no,
                         status=labels.code(APPLICATION_STATUSES, found.status), who=who,
                         reason=labels.code(REJECT_REASONS, found.reject_reason), note=found.decision_note or ""))
        if found.completed_at:
            pack.event(found.completed_at, _l("保全办结"), _("%(no)s,批单验证码 %(code)s", no=found.application_no,
                                                             code=found.slip_code or "—"))
        if found.cancelled_at:
            pack.event(found.cancelled_at, _l("客户撤销申请"), found.application_no)
        for approval in found.approvals:
            keep("application_approval", approval.id)
            pack.event(approval.decided_at, _l("审核同意"), _("%(no)s:%(user)s %(note)s", no=found.application_no,
                                                            user=approval.user, note=approval.note or ""))
        trace = [(check.get("name"), check.get("passed"), labels.value(check.get("figures")))
                 for check in (found.rule_trace or []) if isinstance(check, dict)]
        slip_name = None
        if slip.ready(found):
            slip_name = pack.add_file(f"slips/{slip.file_name(found)}", slip.slip_pdf(found.id))
            pack.event(found.completed_at, _l("批单"), slip_name)
        images = []
        for index, relative in enumerate(id_images(found)):
            data = _read_upload(relative)
            if data is not None:
                name = pack.add_file(f"files/id-images/{found.application_no}-{index}-{os.path.basename(relative)}", data)
                images.append(name)
                pack.images.append((_("%(no)s 证件影像 %(n)s", no=found.application_no, n=index + 1), name))
        if found.identity_verification_id:
            verification_ids.add(found.identity_verification_id)
        s["applications"].append({
            "row": found, "kind": kind, "status": labels.code(APPLICATION_STATUSES, found.status),
            "trace": trace, "entered": payload_rows(found.payload), "slip": slip_name, "images": images,
            "approvals": found.approvals})
        # the customer's SMS around the submission (acceptance, codes, the result)
        start = found.submitted_at - timedelta(minutes=30)
        end = max(d for d in (found.submitted_at, found.decided_at, found.completed_at) if d) + timedelta(minutes=10)
        sms_rows += list(db.session.scalars(select(SmsMessage).where(
            or_(SmsMessage.customer_id == found.customer_id, SmsMessage.phone_hash == found.customer.mobile_hash),
            SmsMessage.created_at >= start, SmsMessage.created_at <= end)))
    consent_filter = [Consent.application_id.in_(app_ids or [0])]
    if pack.kind == "policy":
        consent_filter.append(Consent.policy_id == pack.policies[0].id)
    for record in db.session.scalars(select(Consent).where(or_(*consent_filter)).order_by(Consent.id)):
        keep("consent", record.id)
        action = labels.code(CONSENT_ACTIONS, record.action)
        where = _("IP %(ip)s,设备 %(device)s", ip=record.ip or "—", device=labels.device(record.user_agent) or "—")
        pack.event(record.asked_at, _l("征求被保险人同意"), _("%(who)s:%(action)s(文本 SHA-256 %(sha)s)",
                   who=record.customer.name, action=action, sha=record.text_sha256))
        for when, what in ((record.confirmed_at, _l("被保险人同意")), (record.declined_at, _l("被保险人不同意")),
                           (record.lapsed_at, _l("被保险人同意已逾期"))):
            pack.event(when, what, f"{record.customer.name}:{action};{where}")
        if record.identity_verification_id:
            verification_ids.add(record.identity_verification_id)
        s["consents"].append({"row": record, "action": action, "status": labels.code(CONSENT_STATUSES, record.status)})
        start = record.asked_at - timedelta(minutes=1)
        sms_rows += list(db.session.scalars(select(SmsMessage).where(
            SmsMessage.customer_id == record.customer_id, SmsMessage.created_at >= start,
            SmsMessage.created_at <= record.asked_at + timedelta(minutes=10))))
    loan_filter = [PolicyLoan.application_id.in_(app_ids or [0])]
    if pack.kind == "policy":
        loan_filter.append(PolicyLoan.policy_id == pack.policies[0].id)
    loans = list(db.session.scalars(select(PolicyLoan).where(or_(*loan_filter)).order_by(PolicyLoan.id)))
    loan_ids = [loan.id for loan in loans]
    keep("policy_loan", *loan_ids)
    ledger = list(db.session.scalars(select(LoanLedgerEntry).where(LoanLedgerEntry.loan_id.in_(loan_ids or [0]))
                                     .order_by(LoanLedgerEntry.loan_id, LoanLedgerEntry.on_day, LoanLedgerEntry.id)))
    repayments = list(db.session.scalars(select(LoanRepayment).where(LoanRepayment.loan_id.in_(loan_ids or [0]))
                                         .order_by(LoanRepayment.paid_at, LoanRepayment.id)))
    keep("loan_ledger_entry", *[e.id for e in ledger])
    keep("loan_repayment", *[r.id for r in repayments])
    for loan in loans:
        rows = [e for e in ledger if e.loan_id == loan.id]
        s["loans"].append({"row": loan, "status": labels.code(LOAN_STATUSES, loan.status), "ledger": [
            (e.on_day, labels.code(LEDGER_KINDS, e.kind), e.amount, e.principal_delta, e.interest_delta,
             e.principal_after, e.actor or str(e.created_by or "—")) for e in rows]})
        for e in rows:
            pack.event(e.created_at, _l("贷款台账"), _("贷款#%(loan)s %(kind)s:%(day)s 金额 %(amount)s,本金余额 %(after)s",
                       loan=loan.id, kind=labels.code(LEDGER_KINDS, e.kind), day=_fmt(e.on_day), amount=_fmt(e.amount),
                       after=_fmt(e.principal_after)))
    for r in repayments:
        pack.event(r.paid_at, _l("还款结果"), _("贷款#%(loan)s 还款 %(amount)s(利息 %(i)s,本金 %(p)s),%(result)s,"
                                              "支付流水 %(ref)s", loan=r.loan_id, amount=_fmt(r.amount),
                                              i=_fmt(r.interest_part), p=_fmt(r.principal_part),
                                              result=_("成功") if r.result == "PAID" else _("失败"), ref=r.payment_ref or "—"))
    ben_filter = [Beneficiary.application_id.in_(app_ids or [0])]
    if pack.kind == "policy":
        ben_filter.append(Beneficiary.policy_id == pack.policies[0].id)
    beneficiaries = list(db.session.scalars(select(Beneficiary).where(or_(*ben_filter))
                                            .order_by(Beneficiary.policy_id, Beneficiary.kind, Beneficiary.version,
                                                      Beneficiary.order, Beneficiary.id)))
    keep("beneficiary", *[b.id for b in beneficiaries])
    versions = {}
    for b in beneficiaries:
        versions.setdefault((b.policy_id, b.kind, b.version), []).append(b)
    for (policy_id, kind, version), people in versions.items():
        first = people[0]
        who = "、".join(f"{p.name}({labels.code(RELATIONSHIPS, p.relationship_to_insured)},第{p.order}顺序,"
                       f"{p.share:.2f}%)" for p in people)
        s["beneficiaries"].append((labels.code(BENEFICIARY_KINDS, kind), version, first.created_at,
                                   first.superseded_at, first.application.application_no if first.application else "—",
                                   who, str(first.created_by or "—")))
        pack.event(first.created_at, _l("受益人版本"), _("%(kind)s 第 %(v)s 版:%(who)s", kind=labels.code(
            BENEFICIARY_KINDS, kind), v=version, who=who))

    # --- SMS: sent and delivered, the mobile masked, codes and link codes hidden
    seen = set()
    for m in sorted(sms_rows, key=lambda row: (row.created_at, row.id)):
        if m.id in seen:
            continue
        seen.add(m.id)
        keep("sms_message", m.id)
        text = mask_sms_text(m.content, m.params)
        status = labels.code(SMS_STATUSES, m.status)
        s["sms"].append((m.created_at, mask_mobile(m.phone), status, m.sent_at, m.receipt_at, text))
        pack.event(m.sent_at or m.created_at, _l("短信发送") if m.sent_at else _l("短信排队"),
                   _("至 %(phone)s:%(text)s", phone=mask_mobile(m.phone), text=text))
        if m.receipt_at:
            pack.event(m.receipt_at, _l("短信送达") if m.status == "DELIVERED" else _l("短信回执"),
                       _("%(phone)s:%(status)s %(code)s", phone=mask_mobile(m.phone), status=status,
                         code=m.receipt_code or ""))

    # --- face checks, with the photo or the video's frames, and the reference photo
    if verification_ids:
        verifications += list(db.session.scalars(select(IdentityVerification)
                                                 .where(IdentityVerification.id.in_(verification_ids))))
    references = {}
    for v in sorted({v.id: v for v in verifications}.values(), key=lambda row: (row.created_at, row.id)):
        keep("identity_verification", v.id)
        files = []
        if v.evidence_path:
            data = _read_upload(v.evidence_path)
            if data is not None:
                name = pack.add_file(f"files/identity/{v.id}-{os.path.basename(v.evidence_path)}", data)
                files.append(name)
                if v.kind == "PHOTO":
                    pack.images.append((_("核验#%(id)s 自拍照片", id=v.id), name))
                else:
                    for n, frame in enumerate(_video_frames(v.evidence_path), 1):
                        frame_name = pack.add_file(f"files/identity/{v.id}-frame-{n}.jpg", frame)
                        files.append(frame_name)
                        pack.images.append((_("核验#%(id)s 视频帧 %(n)s", id=v.id, n=n), frame_name))
        customer = db.session.get(Customer, v.customer_id)
        if customer is not None and customer.reference_photo and customer.id not in references:
            data = _read_upload(customer.reference_photo)
            if data is not None:
                references[customer.id] = pack.add_file(
                    f"files/reference/{customer.customer_no}-{os.path.basename(customer.reference_photo)}", data)
                pack.images.append((_("%(name)s 参照照片", name=customer.name), references[customer.id]))
        distance = "—" if v.distance is None else f"{v.distance:.4f}"
        detail = _("%(kind)s,%(purpose)s,%(status)s,人脸距离 %(distance)s;IP %(ip)s,设备 %(device)s", kind=labels.code(
            VERIFICATION_KINDS, v.kind), purpose=labels.code(labels.VERIFICATION_PURPOSES, v.purpose),
            status=labels.code(VERIFICATION_STATUSES, v.status), distance=distance, ip=v.ip or "—",
            device=labels.device(v.user_agent) or "—")
        pack.event(v.completed_at or v.created_at, _l("人脸核验"), detail)
        s["faces"].append({"row": v, "detail": detail, "files": files,
                           "figures": "; ".join(f"{k}:{val}" for k, val in _details(v.details))})

    # --- the key screens (services/screens.py)
    shown = []
    if pack.kind == "policy":
        shown = screens.for_policy(pack.policies[0].id)
    elif pack.kind == "task":
        shown = screens.for_task(pack.tasks[0].id)
    else:
        shown = screens.for_application(pack.applications[0].id)
    for screen in shown or []:
        keep("key_screen", screen.id)
        name = pack.add_file(f"screens/screen-{screen.id}.txt", (screen.text or "").encode("utf-8"))
        kind = labels.code(SCREEN_KINDS, screen.kind)
        s["screens"].append({"row": screen, "kind": kind, "file": name})
        where = _("IP %(ip)s,设备 %(device)s", ip=screen.ip or "—", device=labels.device(screen.user_agent) or "—")
        pack.event(screen.shown_at, _l("关键页面展示"), f"{kind}《{screen.title}》;{where}")
        if screen.agreed_at:
            pack.event(screen.agreed_at, _l("关键页面确认"), _("%(kind)s《%(title)s》,文本 SHA-256 %(sha)s",
                                                           kind=kind, title=screen.title, sha=screen.text_sha256))

    # --- the audit events of every row above
    conditions = [and_(AuditEvent.entity == entity, AuditEvent.entity_id.in_(sorted(ids)))
                  for entity, ids in entities.items() if ids]
    events = list(db.session.scalars(select(AuditEvent).where(or_(*conditions))
                                     .order_by(AuditEvent.occurred_at, AuditEvent.id))) if conditions else []
    records = []
    for e in events:
        before, after = _masked(e.entity, e.before), _masked(e.entity, e.after)
        changed = "; ".join(f"{label}:{old}→{new}" if old not in ("", None) else f"{label}:{new}"
                            for label, old, new in labels.changes(e.entity, before, after) if old or new)
        s["audit"].append((e.occurred_at, f"{labels.code(labels.ACTOR_TYPES, e.actor_type)} {e.actor_name or ''}",
                           labels.code(labels.AUDIT_ACTIONS, e.action), f"{labels.entity(e.entity)}#{e.entity_id}",
                           changed, e.id))
        records.append({"id": e.id, "occurred_at": _fmt(e.occurred_at), "actor_type": e.actor_type,
                        "actor_name": e.actor_name, "action": e.action, "entity": e.entity, "entity_id": e.entity_id,
                        "before": before, "after": after, "ip": e.ip, "user_agent": e.user_agent,
                        "row_hash": getattr(e, "row_hash", None)})
    pack.add_file("records/audit_events.json", json.dumps(
        {"note": "mobiles and ID numbers masked, codes hidden; row_hash is the stored event's (flask audit verify)",
         "events": records}, ensure_ascii=False, indent=1, default=str).encode("utf-8"))
    return s


# --- the summary PDF ---------------------------------------------------------------------------------------

def _summary_pdf(pack, s, label, now, actor, signing):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, SimpleDocTemplate, Spacer

    from app.services import pdf

    st = pdf.styles()
    small = st["small"]
    body = st["body"]

    def p(text, style=body):
        return pdf.para(style, "{t}", t=text)

    def lines(text, style=small):
        """A text as shown, its line breaks kept, every character escaped."""
        from xml.sax.saxutils import escape

        from reportlab.platypus import Paragraph

        return Paragraph("<br/>".join(escape(line) for line in (text or "—").splitlines()) or "—", style)

    def table(header, rows, widths):
        data = [[p(h, small) for h in header]] + [[p(_fmt(c), small) for c in row] for row in rows]
        grid = pdf.grid(data, [w * mm for w in widths])
        return grid

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=f"证据包 {label}", author=pdf.company())
    story = [pdf.para(st["title"], "{company}<br/>证据包:{label}", company=pdf.company(), label=label),
             p(_("生成时间:%(now)s;生成人:%(actor)s;签名算法 Ed25519,密钥编号 %(key)s%(dev)s", now=_fmt(now),
                 actor=actor or "—", key=signing["key_id"], dev=_("(开发环境密钥,由 SECRET_KEY 派生)")
                 if signing["development_key"] else ""), small),
             p(_("本证据包中每个文件的 SHA-256 列于 manifest.json,manifest.sig 为其 Ed25519 签名;"
                 "可用 flask evidence verify 离线校验。手机号、证件号已脱敏,验证码与链接码不显示。"), small)]
    for rows in s["policies"]:
        story += [pdf.para(st["h2"], "保单信息"), table([_("项目"), _("内容")], rows, [40, 140])]

    story += [pdf.para(st["h2"], "时间线")]
    timeline = sorted(pack.timeline, key=lambda item: item[0])
    story.append(table([_("时间"), _("事项"), _("详情")], timeline, [34, 30, 116]) if timeline
                 else p(_("无记录")))

    if s["sms"]:
        story += [pdf.para(st["h2"], "短信"), table([_("创建时间"), _("手机号"), _("状态"), _("发送时间"), _("回执时间"), _("内容")],
                                                  s["sms"], [26, 22, 16, 26, 26, 64])]
    if s["faces"]:
        story.append(pdf.para(st["h2"], "人脸核验"))
        for face in s["faces"]:
            v = face["row"]
            story.append(p(_("核验#%(id)s %(at)s:%(detail)s", id=v.id, at=_fmt(v.completed_at or v.created_at),
                             detail=face["detail"])))
            if face["figures"]:
                story.append(p(face["figures"], small))
            if face["files"]:
                story.append(p(_("文件:%(files)s", files="、".join(face["files"])), small))
    if pack.images:
        story.append(pdf.para(st["h2"], "照片与视频帧"))
        for caption, name in pack.images:
            image = _image(pack.files[name], 70 * mm, 70 * mm, Image)
            if image is not None:
                story.append(KeepTogether([image, p(f"{caption}({name})", small), Spacer(1, 3 * mm)]))
    if s["screens"]:
        story.append(pdf.para(st["h2"], "关键页面(客户所见原文)"))
        for screen in s["screens"]:
            row = screen["row"]
            story += [p(_("%(kind)s《%(title)s》展示 %(shown)s,确认 %(agreed)s;IP %(ip)s,设备 %(device)s;协议版本 %(ver)s;"
                          "文本 SHA-256 %(sha)s;原文文件 %(file)s", kind=screen["kind"], title=row.title,
                          shown=_fmt(row.shown_at), agreed=_fmt(row.agreed_at), ip=row.ip or "—",
                          device=_device(row.user_agent), ver=row.agreement_version or "—", sha=row.text_sha256,
                          file=screen["file"]), small),
                      lines(row.text, body), Spacer(1, 2 * mm)]
    if s["answers"]:
        story += [pdf.para(st["h2"], "回访答案"),
                  table([_("任务"), _("问题"), _("回答"), _("时间"), _("IP")],
                        [(f"#{task_id}", a.question_text, _("是") if a.answer else _("否"), a.answered_at, a.ip)
                         for task_id, a in s["answers"]], [14, 100, 12, 30, 24])]
    if s["attempts"]:
        from app.models.revisit import CALL_OUTCOMES
        from app.services import labels

        story += [pdf.para(st["h2"], "电话回访记录"),
                  table([_("开始"), _("结束"), _("坐席"), _("结果"), _("备注")],
                        [(a.started_at, a.ended_at, a.agent, labels.code(CALL_OUTCOMES, a.outcome), a.note)
                         for a in s["attempts"]], [30, 30, 24, 24, 72])]
    for found in s["applications"]:
        row = found["row"]
        story += [pdf.para(st["h2"], "保全申请 {no}", no=row.application_no),
                  table([_("项目"), _("内容")], [
                      (_("项目"), found["kind"]), (_("状态"), found["status"]), (_("客户"), row.customer.name),
                      (_("金额(元)"), row.amount), (_("提交时间"), row.submitted_at), (_("处理时间"), row.decided_at),
                      (_("处理人"), _("系统自动审核") if row.decided_by_system else row.decided_by),
                      (_("处理意见"), row.decision_note), (_("办结时间"), row.completed_at),
                      (_("批单验证码"), row.slip_code), (_("批单文件"), found["slip"]),
                      (_("证件影像"), "、".join(found["images"]))] + list(found["entered"]), [40, 140])]
        if found["trace"]:
            story.append(table([_("校验项"), _("结果"), _("依据数据")],
                               [(name, _("通过") if passed else _("未通过"), figures)
                                for name, passed, figures in found["trace"]], [50, 16, 114]))
        if found["approvals"]:
            story.append(table([_("审核人"), _("时间"), _("意见")],
                               [(a.user, a.decided_at, a.note) for a in found["approvals"]], [40, 40, 100]))
    if s["consents"]:
        story.append(pdf.para(st["h2"], "被保险人同意"))
        for c in s["consents"]:
            row = c["row"]
            story += [p(_("%(who)s:%(action)s,%(status)s;征求 %(asked)s,同意 %(ok)s,不同意 %(no)s,逾期 %(lapsed)s;"
                          "IP %(ip)s,设备 %(device)s;文本 SHA-256 %(sha)s", who=row.customer.name, action=c["action"],
                          status=c["status"], asked=_fmt(row.asked_at), ok=_fmt(row.confirmed_at),
                          no=_fmt(row.declined_at), lapsed=_fmt(row.lapsed_at), ip=row.ip or "—",
                          device=_device(row.user_agent), sha=row.text_sha256), small),
                      lines(row.text)]
    for loan in s["loans"]:
        row = loan["row"]
        story += [pdf.para(st["h2"], "保单贷款 #{id}", id=row.id),
                  p(_("本金 %(p)s 元,印花税 %(d)s 元,实际入账 %(c)s 元,年利率 %(r)s,%(status)s;到账 %(on)s,到期 %(due)s;"
                      "未还本金 %(left)s 元", p=_fmt(row.principal), d=_fmt(row.stamp_duty), c=_fmt(row.credited_amount),
                      r=_fmt(row.annual_rate), status=loan["status"], on=_fmt(row.disbursed_on), due=_fmt(row.due_on),
                      left=_fmt(row.outstanding_principal)), small)]
        if loan["ledger"]:
            story.append(table([_("日期"), _("类型"), _("金额"), _("本金变动"), _("利息变动"), _("本金余额"), _("记录人")],
                               loan["ledger"], [22, 22, 24, 24, 24, 24, 40]))
    if s["beneficiaries"]:
        story += [pdf.para(st["h2"], "受益人版本"),
                  table([_("类型"), _("版本"), _("生效"), _("失效"), _("申请"), _("受益人"), _("变更人")],
                        s["beneficiaries"], [20, 10, 26, 26, 26, 54, 18])]
    story += [pdf.para(st["h2"], "审计日志"),
              table([_("时间"), _("操作人"), _("操作"), _("对象"), _("内容"), _("编号")],
                    s["audit"], [26, 24, 18, 28, 72, 12]) if s["audit"] else p(_("无记录"))]
    story += [pdf.para(st["h2"], "文件清单"),
              table([_("文件"), _("大小(字节)"), "SHA-256"],
                    [(name, len(data), hashlib.sha256(data).hexdigest()) for name, data in sorted(pack.files.items())],
                    [62, 20, 98])]
    doc.build(story)
    return buf.getvalue()


def _device(user_agent):
    from app.services import labels

    return labels.device(user_agent) or "—"


def _image(data, max_w, max_h, image_class):
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as probe:
            width, height = probe.size
    except Exception:  # noqa: BLE001  (a file that is no image is listed, not drawn)
        return None
    scale = min(max_w / width, max_h / height)
    return image_class(io.BytesIO(data), width=width * scale, height=height * scale, hAlign="LEFT")


__all__ = ["build", "verify", "signing_key", "load_public_key", "public_pem", "key_id", "subject_label",
           "file_name", "mask_sms_text", "PackError", "SUBJECTS"]
