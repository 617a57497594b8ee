"""Revisit results for a date range as an Excel workbook (.xlsx), in the columns a regulator's
sample check asks for: one row per task with its attempts, answers and result."""
import io
from datetime import date, timedelta
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models.policy import Policy
from app.models.revisit import CALL_OUTCOMES, TASK_CHANNELS, TASK_STATUSES, CallAttempt, RevisitTask
from app.services import audit
from app.services.privacy import mask_id_number, mask_mobile
from app.services.revisit.states import RESULTS
from app.services.errors import DomainError

COLUMNS = [
    ("保险单号", 18), ("产品名称", 22), ("投保人", 10), ("投保人证件号码", 20), ("投保人手机", 14),
    ("被保险人", 10), ("被保险人证件号码", 20), ("承保日期", 12), ("回执签收日", 12), ("犹豫期截止日", 12),
    ("回访方式", 10), ("回访结果", 10), ("完成时间", 18), ("电话回访次数", 8), ("电话回访记录", 48),
    ("回访专员", 12), ("问题原因", 40), ("回访答案", 60),
]
MAX_DAYS = 366
# A text cell starting with one of these is a formula to Excel, LibreOffice or WPS (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A value as it may go into a cell of any workbook the portal writes: a text that would start a
    formula (a customer named =HYPERLINK(...)) gets a leading ' and stays text; control characters,
    which openpyxl refuses, are dropped. Numbers and dates stay typed."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def parse_range(start, end):
    try:
        start = start if isinstance(start, date) else date.fromisoformat(str(start).strip())
        end = end if isinstance(end, date) else date.fromisoformat(str(end).strip())
    except (TypeError, ValueError):
        raise DomainError("export_bad_range") from None
    if end < start or (end - start).days > MAX_DAYS:
        raise DomainError("export_bad_range")
    return start, end


def _reached():
    return func.coalesce(RevisitTask.completed_at, RevisitTask.updated_at)


def _results_where(start, end):
    """Tasks with a result (success, problem, letter due: states.RESULTS) reached between the
    dates, inclusive: by completion time, else by the time the task last changed."""
    start, end = parse_range(start, end)
    return (RevisitTask.status.in_(RESULTS), _reached() >= start, _reached() < end + timedelta(days=1))


def results_query(start, end):
    """The results between the dates in their order (the call-centre API pages it in SQL)."""
    return db.session.query(RevisitTask).filter(*_results_where(start, end)).order_by(_reached(), RevisitTask.id)


def result_rows(start, end):
    """Every result between the dates, with what a row of the workbook needs loaded."""
    return (results_query(start, end)
            .options(selectinload(RevisitTask.policy).selectinload(Policy.product),
                     selectinload(RevisitTask.policy).selectinload(Policy.holder),
                     selectinload(RevisitTask.policy).selectinload(Policy.insured),
                     selectinload(RevisitTask.attempts).selectinload(CallAttempt.agent),
                     selectinload(RevisitTask.answers), selectinload(RevisitTask.assigned_to))
            .all())


def row_values(task):
    policy = task.policy
    attempts = "\n".join(
        f"{a.started_at:%Y-%m-%d %H:%M} {CALL_OUTCOMES.get(a.outcome, a.outcome)}"
        f"{' ' + a.agent.username if a.agent else ''}{' 预约' + format(a.callback_at, '%m-%d %H:%M') if a.callback_at else ''}"
        for a in task.attempts)
    answers = "\n".join(f"{a.question_text}:{'是' if a.answer else '否'}({TASK_CHANNELS.get(a.channel, a.channel)})"
                        for a in task.answers)
    agent = task.assigned_to.username if task.assigned_to else ""
    if task.attempts and not agent:
        agent = task.attempts[-1].agent.username
    return [
        policy.policy_no, policy.product.name, policy.holder.name, mask_id_number(policy.holder.id_number),
        mask_mobile(policy.holder.mobile), policy.insured.name, mask_id_number(policy.insured.id_number),
        policy.issue_date, policy.receipt_signed_date, task.hesitation_deadline,
        str(TASK_CHANNELS.get(task.channel, task.channel)), str(TASK_STATUSES.get(task.status, task.status)),
        task.completed_at, task.attempt_count, attempts, agent, task.problem_reason or "", answers,
    ]


def workbook(title, columns, rows, entity, start, end):
    """One xlsx as bytes, as every export writes it: bold Chinese headers with their widths, every
    cell through spreadsheet_safe, dates and money formatted, and the export an audit event (who took
    which data out)."""
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append([spreadsheet_safe(name) for name, _ in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for index, (_, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    for values in rows:
        ws.append([spreadsheet_safe(value) for value in values])
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = wrap
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd hh:mm" if hasattr(cell.value, "hour") else "yyyy-mm-dd"
            elif isinstance(cell.value, Decimal):
                cell.number_format = "0.00"
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    buf = io.BytesIO()
    wb.save(buf)
    audit.record(db.session, "export", entity, None, None,
                 {"from": start.isoformat(), "to": end.isoformat(), "rows": ws.max_row - 1})
    db.session.commit()
    return buf.getvalue()


def results_xlsx(start, end):
    """The revisit results of the range, the regulator's sample-check document."""
    start, end = parse_range(start, end)
    return workbook("回访结果", COLUMNS, (row_values(task) for task in result_rows(start, end)),
                    "revisit_task", start, end)


def count_results(start, end):
    return db.session.scalar(select(func.count()).select_from(RevisitTask).where(*_results_where(start, end)))
