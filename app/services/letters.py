"""The letter revisit (信函回访): a printable PDF with the questions and a reply slip.

Written with the CJK font of services/pdf.py (embedded WenQuanYi Micro Hei, else the CID font STSong-Light).
"""
import io

from flask import current_app
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer

from app.extensions import db
from app.models.revisit import CALL_OUTCOMES, RevisitTask
from app.services import clock, pdf
from app.services.errors import DomainError
from app.services.privacy import mask_mobile
from app.services.revisit.states import LETTER

# the font, the styles and the escaping are shared with the endorsement slip (services/pdf.py)
_styles, _para = pdf.styles, pdf.para


def letter_pdf(task_id):
    """The letter of a task whose phone visit failed (status LETTER_DUE); returns PDF bytes."""
    from app.services.revisit import render_questions

    task = db.session.get(RevisitTask, task_id)
    if task is None:
        raise DomainError("task_not_found")
    if task.status not in LETTER:  # the state table says when a letter is due
        raise DomainError("letter_not_due")
    policy = task.policy
    holder = policy.holder
    hotline = current_app.config["HOTLINE"]
    st = _styles()
    questions = render_questions(task)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm,
                            title=f"信函回访 {policy.policy_no}", author=pdf.company())
    title = "先生" if holder.gender == "M" else "女士"
    story = [
        _para(st["title"], "{company}<br/>新契约回访函(信函回访)", company=pdf.company()),
        _para(st["body"], "尊敬的{name}{title}:", name=holder.name, title=title),
        _para(st["body"],
              "感谢您选择{company}。您投保的《{product}》(保险单号:{policy_no},"
              "承保日期:{issued})需要进行新契约回访。我们曾多次致电您预留的手机号码 {mobile},"
              "未能与您本人完成电话回访,现以信函方式请您确认以下内容。请在回执上逐项勾选“是”或“否”,"
              "签名并注明日期后寄回或拍照交回我司。如有疑问,请致电客服热线 {hotline}。",
              company=pdf.company(), product=policy.product.name, policy_no=policy.policy_no,
              issued=f"{policy.issue_date:%Y年%m月%d日}", hotline=hotline, mobile=mask_mobile(holder.mobile)),
        Spacer(1, 4 * mm),
        _para(st["h2"], "回访问题"),
    ]
    for q in questions:
        story.append(_para(st["body"], "{position}. {text}", position=q["position"], text=q["text"]))
    story += [Spacer(1, 4 * mm), _para(st["h2"], "电话回访记录")]
    for attempt in task.attempts:
        story.append(_para(st["small"], "{at} {outcome}", at=f"{attempt.started_at:%Y-%m-%d %H:%M}",
                           outcome=CALL_OUTCOMES.get(attempt.outcome, attempt.outcome)))
    story += [Spacer(1, 6 * mm),
              _para(st["small"], "- - - - - - - - - - - - - - - - 请沿此线剪下 - - - - - - - - - - - - - - - -"),
              _para(st["title"], "回执(请寄回)"),
              _para(st["body"], "保险单号:{policy_no}  产品:{product}  投保人:{name}",
                    policy_no=policy.policy_no, product=policy.product.name, name=holder.name),
              Spacer(1, 2 * mm)]
    rows = [["序号", "问题", "是", "否"]]
    for q in questions:
        rows.append([str(q["position"]), _para(st["body"], "{text}", text=q["text"]), "□", "□"])
    table = pdf.grid(rows, [12 * mm, 128 * mm, 14 * mm, 14 * mm], align_from=2)
    story += [table, Spacer(1, 8 * mm),
              _para(st["body"], "投保人签名:____________________    日期:______年____月____日"),
              Spacer(1, 4 * mm),
              _para(st["small"], "本函生成于 {now},回访任务编号 {task_id}。",
                    now=f"{clock.now():%Y-%m-%d %H:%M}", task_id=task.id)]
    doc.build(story)
    return buf.getvalue()
