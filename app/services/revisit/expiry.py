"""Day 4: every unfinished e-revisit goes to the phone queue, set-based in id ranges."""
from sqlalchemy import func, select, update

from app.extensions import db
from app.models.revisit import RevisitTask
from app.services import audit, clock, unit
from app.services.revisit.states import sources_of, target_of

EXPIRABLE = sources_of("expire")
EXPIRED = target_of("expire")


def expire_due(now=None, batch_size=5000):
    """Move every task past its e-revisit deadline to the phone queue; returns how many moved."""
    now = now or clock.now()
    due = (RevisitTask.status.in_(EXPIRABLE), RevisitTask.erevisit_deadline <= now)
    low, high = db.session.execute(select(func.min(RevisitTask.id), func.max(RevisitTask.id)).where(*due)).one()
    db.session.commit()
    if low is None:
        return 0
    moved = 0
    start = low
    while start <= high:
        end = start + batch_size - 1
        moved += unit.retry_on_lock(_expire_range, start, end, now, due)
        start = end + 1
    return moved


def _expire_range(start, end, now, due):
    result = db.session.execute(
        update(RevisitTask).where(RevisitTask.id.between(start, end), *due)
        .values(status=EXPIRED, channel="PHONE", updated_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount:
        audit.record(db.session, "expire_erevisit", "revisit_task", f"{start}-{end}",
                     {"status": list(EXPIRABLE), "channel": "ELECTRONIC"},
                     {"status": EXPIRED, "channel": "PHONE", "count": result.rowcount,
                      "id_range": [start, end], "deadline_before": now.isoformat()})
    db.session.commit()
    return result.rowcount
