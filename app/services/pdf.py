"""What the portal's PDFs share (the letter revisit, services/letters.py; the endorsement slip,
services/slip.py): the insurer's name, the CJK font and the paragraph styles, escaped text, a grid table.

The font is embedded (a subset of WenQuanYi Micro Hei, a TrueType CJK font from Debian's
fonts-wqy-microhei, which `make test` installs): the PDF prints the same on any reader, as a record must.
Where the font file is missing (a first `make run` without it) reportlab's built-in CID font STSong-Light
(Adobe-GB1) is used instead, which the PDF reader supplies.
"""
import os
from xml.sax.saxutils import escape

from flask import current_app, has_app_context
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, Table, TableStyle

EMBEDDED_FONT, EMBEDDED_FONT_FILES = "WenQuanYiMicroHei", ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",)
FALLBACK_FONT = "STSong-Light"
COMPANY = "爱心人寿保险股份有限公司"


def company():
    """The insurer's full name: config INSURER_NAME, else the one the portal was built for."""
    return (current_app.config.get("INSURER_NAME") if has_app_context() else None) or COMPANY


def font():
    """The registered name of the CJK font: the embedded one when its file is there, else the CID font."""
    registered = pdfmetrics.getRegisteredFontNames()
    for name in (EMBEDDED_FONT, FALLBACK_FONT):
        if name in registered:
            return name
    for path in EMBEDDED_FONT_FILES:
        if os.path.exists(path):
            pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, path, subfontIndex=0))
            return EMBEDDED_FONT
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT


def styles():
    name = font()
    base = ParagraphStyle("base", fontName=name, fontSize=10.5, leading=16, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, alignment=1, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=13, textColor=colors.grey),
    }


def para(style, markup, **values):
    """The one way text enters a PDF: `markup` is ours (reportlab's mini-HTML, <br/>), every value is
    escaped, so a customer named <img src=x>&<b> prints as typed instead of failing."""
    return Paragraph(markup.format(**{name: escape(str(value)) for name, value in values.items()}), style)


def grid(rows, col_widths, header=True, align_from=None):
    """A bordered table in the CJK font; the first row shaded as a header."""
    table = Table(rows, colWidths=col_widths, repeatRows=1 if header else 0)
    style = [("FONTNAME", (0, 0), (-1, -1), font()), ("FONTSIZE", (0, 0), (-1, -1), 10.5),
             ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
    if align_from is not None:
        style.append(("ALIGN", (align_from, 0), (-1, -1), "CENTER"))
    table.setStyle(TableStyle(style))
    return table
