"""The customer's separate consent to face recognition (issue 15 point 4; DOMAIN.md 8, PIPL arts. 28-29 and
the 2025 face recognition rules): face data is sensitive personal information, so before the first face check
of a purpose the customer reads what is collected, why, how long it is kept and who sees it, and agrees or
declines on its own page. A way without the face check is always offered: the phone revisit for the e-revisit
(decline_erevisit moves the link's online tasks to the phone queue now), the counter or the hotline for
servicing and for the insured's consent.

The notice is a list of paragraphs: the page shows them and the record stores them joined by new lines, with
their SHA-256 and NOTICE_VERSION. Once agreed, a customer is not asked again for the same purpose and version;
a change of the wording takes a new NOTICE_VERSION, which asks everyone again.
"""
import hashlib

from flask import current_app
from flask_babel import gettext as _

from app.extensions import db
from app.models.biometric import BIOMETRIC_PURPOSES, BiometricConsent
from app.services import clock
from app.services.errors import DomainError

NOTICE_VERSION = "2026-11"
PURPOSES = tuple(BIOMETRIC_PURPOSES)
# the face check's purpose (identity.PURPOSES / account.FACE_PURPOSES) -> the consent's purpose
FOR_FACE_PURPOSE = {"EREVISIT": "EREVISIT", "ACCOUNT_AUTH": "ACCOUNT_AUTH", "PASSWORD_RESET": "ACCOUNT_AUTH",
                    "LOAN": "SERVICING", "CONSENT": "INSURED_CONSENT"}


def _check(purpose):
    if purpose not in BIOMETRIC_PURPOSES:
        raise ValueError(f"unknown biometric purpose {purpose!r}")
    return purpose


def _why(purpose):
    return {
        "EREVISIT": _("确认完成电子回访的是投保人本人。监管要求人身保险新契约回访核实投保人身份,"
                      "电子回访须进行人脸识别。"),
        "ACCOUNT_AUTH": _("确认认证账户或重置服务密码的是您本人,防止他人冒用您的身份办理业务。"),
        "SERVICING": _("确认申请保全业务(如大额保单贷款)的是您本人。监管要求保全业务须核实客户身份,"
                       "资金只付至本人账户。"),
        "INSURED_CONSENT": _("确认作出同意的是被保险人本人。《保险法》第三十四条规定,以死亡为给付保险金条件的"
                             "保单质押等事项须经被保险人本人同意。"),
    }[purpose]


def alternative(purpose):
    """The way without a face check, in words (the page adds the button or the tel: link)."""
    hotline = current_app.config["HOTLINE"]
    if purpose == "EREVISIT":
        return _("如您不同意人脸识别,可改为电话回访:我们的回访专员将致电您完成回访,不采集任何人脸信息。")
    if purpose == "INSURED_CONSENT":
        return _("如您不同意人脸识别,可致电客服热线%(hotline)s,由工作人员核实您的身份后办理确认。",
                 hotline=hotline)
    return _("如您不同意人脸识别,请携带身份证到柜面办理或致电客服热线%(hotline)s。", hotline=hotline)


def notice(purpose):
    """The notice's paragraphs for this purpose, in the page's language; what the page shows, in order."""
    _check(purpose)
    return [
        _("人脸识别个人信息处理告知书(版本%(version)s)", version=NOTICE_VERSION),
        _("办理事项:%(purpose)s。", purpose=BIOMETRIC_PURPOSES[purpose]),
        _("收集的信息:您拍摄的本人面部照片或录制的视频,以及由其计算得出的人脸特征值;"
          "录制视频时还包括您朗读的数字。"),
        _("处理目的:%(why)s人脸信息只与您在本公司留存的照片进行比对,不用于其他目的。", why=_why(purpose)),
        _("保存期限:照片、视频和比对结果作为业务凭证随保单档案保存,至保险合同终止后十年"
          "(《保险法》第八十七条),期满后不再使用。"),
        _("查看范围:仅本公司负责回访、保全审核和合规审计的工作人员按权限查看,不向第三方提供,"
          "法律、行政法规另有规定的除外。"),
        _("人脸信息属于《中华人民共和国个人信息保护法》第二十八条、第二十九条规定的敏感个人信息,"
          "处理前须取得您的单独同意。您可以拒绝,拒绝不影响您通过其他方式办理。"),
        alternative(purpose),
    ]


def notice_text(purpose):
    return "\n".join(notice(purpose))


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def latest(customer_id, purpose, version=None):
    """The customer's latest answer for this purpose and notice version (None when never asked)."""
    return (db.session.query(BiometricConsent)
            .filter_by(customer_id=customer_id, purpose=_check(purpose), notice_version=version or NOTICE_VERSION)
            .order_by(BiometricConsent.id.desc()).first())


def has_agreed(customer_id, purpose):
    """True when the customer agreed to the current notice for this purpose (and did not decline since)."""
    answer = latest(customer_id, purpose)
    return answer is not None and answer.agreed


def _answer(customer_id, purpose, agreed, ip=None, user_agent=None):
    text = notice_text(purpose)
    now = clock.now()
    record = BiometricConsent(customer_id=customer_id, purpose=purpose, notice_version=NOTICE_VERSION,
                              notice_text=text, notice_sha256=sha256(text),
                              agreed_at=now if agreed else None, declined_at=None if agreed else now,
                              ip=(ip or None) and str(ip)[:45], user_agent=(user_agent or "")[:255] or None)
    db.session.add(record)
    db.session.flush()
    return record


def agree(customer_id, purpose, ip=None, user_agent=None):
    """同意并继续: the separate consent, stored with the notice shown (the caller's unit of work commits)."""
    return _answer(customer_id, _check(purpose), True, ip, user_agent)


def decline(customer_id, purpose, ip=None, user_agent=None):
    """不同意: stored as well, so the notice and the choice can be shown later; no face data is taken."""
    return _answer(customer_id, _check(purpose), False, ip, user_agent)


def intact(record):
    return sha256(record.notice_text) == record.notice_sha256


def to_phone(link, ip=None, user_agent=None):
    """改为电话回访: every task of the link still open online goes to the phone queue now, through the state
    table's choose_phone event (the customer's right to choose, as revisit.choose_phone_visit); the list of
    the tasks moved. revisit.choose_phone_visit commits each task itself."""
    from app.services import revisit

    moved = []
    for task in revisit.pending_tasks(link):
        if not revisit.can(task, "choose_phone"):
            continue
        try:
            moved.append(revisit.choose_phone_visit(link.id, task.id, ip, user_agent))
        except DomainError:  # answered or moved meanwhile (another tab, the day-4 expiry)
            db.session.rollback()
    return moved


def decline_erevisit(link, ip=None, user_agent=None):
    """不同意 on the e-revisit: the decline is stored, and the link's tasks go to the phone queue."""
    decline(link.customer_id, "EREVISIT", ip, user_agent)
    db.session.commit()
    return to_phone(link, ip, user_agent)
