"""The letter revisit (信函回访): a printable PDF with the questions and a reply slip.

Written with reportlab's built-in CID font STSong-Light, so Chinese prints without font files.
"""
import io

from flask import current_app
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.extensions import db
from app.models.revisit import CALL_OUTCOMES, RevisitTask
from app.services import clock
from app.services.errors import DomainError

FONT = "STSong-Light"
COMPANY = "爱心人寿保险股份有限公司"


def _font():
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _styles():
    font = _font()
    base = ParagraphStyle("base", fontName=font, fontSize=10.5, leading=16, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, alignment=1, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=13, textColor=colors.grey),
    }


def letter_pdf(task_id):
    """The letter of a task whose phone visit failed (status LETTER_DUE); returns PDF bytes."""
    from app.services.revisit import render_questions

    task = db.session.get(RevisitTask, task_id)
    if task is None:
        raise DomainError("task_not_found")
    if task.status != "LETTER_DUE":
        raise DomainError("letter_not_due")
    policy = task.policy
    holder = policy.holder
    hotline = current_app.config["HOTLINE"]
    st = _styles()
    questions = render_questions(task)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm,
                            title=f"信函回访 {policy.policy_no}", author=COMPANY)
    title = "先生" if holder.gender == "M" else "女士"
    story = [
        Paragraph(f"{COMPANY}<br/>新契约回访函(信函回访)", st["title"]),
        Paragraph(f"尊敬的{holder.name}{title}:", st["body"]),
        Paragraph(
            f"感谢您选择{COMPANY}。您投保的《{policy.product.name}》(保险单号:{policy.policy_no},"
            f"承保日期:{policy.issue_date:%Y年%m月%d日})需要进行新契约回访。我们曾多次致电您预留的手机号码,"
            "未能与您本人完成电话回访,现以信函方式请您确认以下内容。请在回执上逐项勾选“是”或“否”,"
            f"签名并注明日期后寄回或拍照交回我司。如有疑问,请致电客服热线 {hotline}。", st["body"]),
        Spacer(1, 4 * mm),
        Paragraph("回访问题", st["h2"]),
    ]
    for q in questions:
        story.append(Paragraph(f"{q['position']}. {_escape(q['text'])}", st["body"]))
    story += [Spacer(1, 4 * mm), Paragraph("电话回访记录", st["h2"])]
    for attempt in task.attempts:
        story.append(Paragraph(
            f"{attempt.started_at:%Y-%m-%d %H:%M} {CALL_OUTCOMES.get(attempt.outcome, attempt.outcome)}",
            st["small"]))
    story += [Spacer(1, 6 * mm),
              Paragraph("- - - - - - - - - - - - - - - - 请沿此线剪下 - - - - - - - - - - - - - - - -", st["small"]),
              Paragraph("回执(请寄回)", st["title"]),
              Paragraph(f"保险单号:{policy.policy_no}  产品:{_escape(policy.product.name)}  "
                        f"投保人:{holder.name}", st["body"]),
              Spacer(1, 2 * mm)]
    rows = [["序号", "问题", "是", "否"]]
    for q in questions:
        rows.append([str(q["position"]), Paragraph(_escape(q["text"]), st["body"]), "□", "□"])
    table = Table(rows, colWidths=[12 * mm, 128 * mm, 14 * mm, 14 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), _font()),
        ("FONTSIZE", (0, 0), (-1, -1), 10.5),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (2, 0), (-1, -1), "CENTER"),
    ]))
    story += [table, Spacer(1, 8 * mm),
              Paragraph("投保人签名:____________________    日期:______年____月____日", st["body"]),
              Spacer(1, 4 * mm),
              Paragraph(f"本函生成于 {clock.now():%Y-%m-%d %H:%M},回访任务编号 {task.id}。", st["small"])]
    doc.build(story)
    return buf.getvalue()


def _escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
