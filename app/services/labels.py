"""The Chinese names of the portal's codes, for the back-office pages (issue 13, item 2).

The code dicts of the records live beside their models (POLICY_STATUSES, TASK_STATUSES, ...) and each
back-office view names its columns (label_columns) and coded columns (choices): a record's table and
fields are named here from its registered view, never from a second copy. Only the codes that have no
home elsewhere are defined here: audit actions and actors, e-revisit evidence steps, verification
purposes, and the keys of the evidence and verification details.
"""
import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from app.models.customer import AUTH_STATUSES
from app.models.identity import VERIFICATION_KINDS, VERIFICATION_STATUSES
from app.models.revisit import TASK_CHANNELS, TASK_STATUSES
from app.models.sms import SMS_STATUSES

ACTOR_TYPES = {"user": _l("员工"), "customer": _l("客户"), "system": _l("系统"), "anonymous": _l("未登录访客")}

AUDIT_ACTIONS = {
    "create": _l("新增"), "update": _l("修改"), "delete": _l("删除"),
    "claim": _l("领取"), "reveal": _l("查看明文"), "export": _l("导出"), "intake": _l("核心系统推送保单"),
    "bulk_create": _l("批量创建回访任务"), "invite": _l("发送回访邀请"), "expire_erevisit": _l("电子回访到期转电话回访"),
    "release_lapsed": _l("占用超时释放"), "reopen_callback": _l("预约回拨到期重新排队"),
    "queue_many": _l("批量排队短信"), "send_batch": _l("批量发送短信"), "flag_stuck": _l("标记发送结果不明的短信"),
    "new_version": _l("保存问卷新版本"), "face_attempt": _l("人脸核验尝试"),
    "bind_failed": _l("绑定保单失败"), "bind_failed_id": _l("绑定保单失败(证件)"), "bound": _l("绑定保单"),
    "password_set": _l("设置服务密码"),
    "resend": _l("重新发送短信"), "settle": _l("核实短信发送结果"), "sweep": _l("重新排队丢失的任务"),
    "bulk_insert": _l("批量新增"), "bulk_update": _l("批量修改"),
    "rotate_keys": _l("用新密钥重新加密个人信息"),
    "redact_legacy": _l("历史审计事件脱敏"),
}

EVIDENCE_STEPS = {
    "link_opened": _l("打开回访链接"), "face_submitted": _l("提交人脸照片"), "face_result": _l("人脸核验结果"),
    "list_viewed": _l("查看待回访保单"), "questionnaire_opened": _l("打开问卷"),
    "answers_submitted": _l("提交问卷答案"), "chose_phone_visit": _l("选择电话回访"),
}

VERIFICATION_PURPOSES = {
    "EREVISIT": _l("电子化回访"), "ACCOUNT_AUTH": _l("官微账户认证"), "LOAN": _l("保单贷款"),
    "PASSWORD_RESET": _l("重置服务密码"), "CONSENT": _l("被保险人同意"),
}

# keys of RevisitEvidence.data and IdentityVerification.details
DETAIL_KEYS = {
    "verification_id": _l("核验记录编号"), "status": _l("状态"), "passed": _l("是否通过"), "error": _l("错误"),
    "task_ids": _l("回访任务编号"), "threshold": _l("通过阈值"), "reasons": _l("原因"), "reference": _l("参照照片"),
    "scores": _l("比对得分"), "speech": _l("语音识别"), "frames": _l("检测帧数"), "ears": _l("眨眼指标"),
    "fps": _l("帧率"), "median_distance": _l("人脸距离中位数"), "distance": _l("人脸距离"), "count": _l("数量"),
    "ids": _l("编号"), "elapsed_ms": _l("耗时(毫秒)"), "answers": _l("回答"), "policy_ids": _l("保单编号"),
}

# values that are codes wherever they appear in evidence and details
_VALUE_CODES = [VERIFICATION_STATUSES, VERIFICATION_KINDS, VERIFICATION_PURPOSES, TASK_STATUSES, TASK_CHANNELS,
                SMS_STATUSES, AUTH_STATUSES]
_FALLBACK_TABLES = {"ab_user": _l("用户"), "ab_role": _l("角色"), "customer_account": _l("官微账户"),
                    "verification_code": _l("验证码")}
_FALLBACK_FIELDS = {"id": _l("编号"), "created_at": _l("创建时间"), "updated_at": _l("更新时间"),
                    "status": _l("状态"), "count": _l("数量"), "ids": _l("编号"),
                    # the keyed hashes beside masked personal data (services/crypto.py, services/audit.py)
                    "mobile_hash": _l("手机号校验值"), "id_number_hash": _l("证件号码校验值"),
                    "phone_hash": _l("手机号校验值"),
                    # the redact_legacy event (services/redaction.py)
                    "reason": _l("原因"), "digest": _l("摘要"), "operator": _l("操作人"),
                    "first_event_id": _l("首个事件编号"), "last_event_id": _l("末个事件编号")}


LIST_LIMIT = 20  # a bulk job's ids: the first ones and how many


def _views_by_table():
    """{table name: the back-office ModelView of its model} from the registered views."""
    views = {}
    for view in current_app.appbuilder.baseviews:
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        table = getattr(model, "__tablename__", None)
        if table and (table not in views or getattr(view, "entity_label", None) is not None):
            views[table] = view
    return views


def entity(table):
    view = _views_by_table().get(table)
    label = getattr(view, "entity_label", None) if view else None
    return label or _FALLBACK_TABLES.get(table, table)


def field(table, name):
    view = _views_by_table().get(table)
    label = (getattr(view, "label_columns", None) or {}).get(name) if view else None
    return label or _FALLBACK_FIELDS.get(name) or DETAIL_KEYS.get(name) or name


def code(mapping, value):
    return "" if value is None else mapping.get(value, value)


def _reason(key):
    from app.services.errors import message_for

    return message_for(key) or key


def value(v, mapping=None, key=None):
    """A stored value as a person reads it: 是/否, blank for nothing, codes by their names."""
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return str(_l("是") if v else _l("否"))
    if isinstance(v, list):
        if key == "reasons":
            return ";".join(str(_reason(item)) for item in v)
        shown = "、".join(value(item, mapping) for item in v[:LIST_LIMIT])
        return shown if len(v) <= LIST_LIMIT else str(_l("%(items)s 等 %(count)s 项", items=shown, count=len(v)))
    if isinstance(v, dict):
        return ";".join(f"{DETAIL_KEYS.get(k, k)}:{value(item, key=k)}" for k, item in v.items())
    if key == "error" and isinstance(v, str):
        return str(_reason(v))
    if isinstance(v, str):
        for candidate in ([mapping] if mapping else []) + _VALUE_CODES:
            if v in candidate:
                return str(candidate[v])
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def changes(table, before, after):
    """The rows of an audit event's before/after table: (field label, before, after)."""
    before, after = before or {}, after or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [(_l("内容"), value(before), value(after))]
    view = _views_by_table().get(table)
    choices = getattr(view, "choices", None) or {}
    keys = list(after) + [k for k in before if k not in after]
    return [(field(table, k), value(before.get(k), choices.get(k), k), value(after.get(k), choices.get(k), k))
            for k in keys]


def details(data):
    """(label, value) rows of an evidence's data or a verification's details."""
    if not isinstance(data, dict):
        return [] if data in (None, "", []) else [(_l("内容"), value(data))]
    return [(DETAIL_KEYS.get(k, k), value(v, key=k)) for k, v in data.items() if v is not None and v != ""]


def details_html(data):
    rows = details(data)
    if not rows:
        return ""
    return Markup("<table class=\"table table-condensed detail-table\">{}</table>").format(
        Markup("").join(Markup("<tr><th>{}</th><td>{}</td></tr>").format(k, v) for k, v in rows))


_ANDROID_MODEL = re.compile(r"Android [\d.]+; (?:[a-zA-Z-]+; )?([^;)]+?)(?: Build/[^;)]*)?[;)]")
_BROWSERS = [("MicroMessenger", _l("微信")), ("AlipayClient", _l("支付宝")), ("EdgA?/", "Edge"),
             ("HeadlessChrome", "Headless Chrome"), ("CriOS|Chrome/", "Chrome"), ("FxiOS|Firefox/", "Firefox"),
             ("Version/[\\d.]+.*Safari/", "Safari")]


def device(user_agent):
    """A user agent as '设备 · 浏览器', e.g. 'iPhone (iOS 17.0) · Safari'."""
    ua = user_agent or ""
    if not ua:
        return ""
    if "iPhone" in ua or "iPad" in ua:
        os_version = re.search(r"OS (\d+)[_.](\d+)", ua)
        model = "iPad" if "iPad" in ua else "iPhone"
        phone = f"{model} (iOS {os_version.group(1)}.{os_version.group(2)})" if os_version else model
    elif "Android" in ua:
        found = _ANDROID_MODEL.search(ua)
        phone = f"Android {found.group(1).strip()}" if found else "Android"
    elif "Windows" in ua:
        phone = str(_l("Windows 电脑"))
    elif "Macintosh" in ua:
        phone = str(_l("Mac 电脑"))
    elif "Linux" in ua:
        phone = str(_l("Linux 电脑"))
    else:
        phone = str(_l("其他设备"))
    browser = next((str(name) for pattern, name in _BROWSERS if re.search(pattern, ua)), None)
    return f"{phone} · {browser}" if browser else phone


def device_html(user_agent):
    """The short form, with the full string on demand."""
    if not user_agent:
        return ""
    return Markup("<details class=\"user-agent\"><summary>{}</summary><small>{}</small></details>").format(
        device(user_agent), user_agent)


def template_globals():
    return {"label_of": code, "readable": value, "device_of": device, "device_html": device_html,
            "details_html": details_html, "EVIDENCE_STEPS": EVIDENCE_STEPS, "TASK_CHANNELS": TASK_CHANNELS}


__all__ = ["ACTOR_TYPES", "AUDIT_ACTIONS", "EVIDENCE_STEPS", "VERIFICATION_PURPOSES", "DETAIL_KEYS", "entity",
           "field", "code", "value", "changes", "details", "details_html", "device", "device_html", "escape"]
