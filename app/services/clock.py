"""The one clock of the portal (tests freeze it with time-machine).

Times are stored as naive Asia/Shanghai wall-clock values: every user, agent and rule of
this insurer lives in that zone, which has no daylight saving, so a naive value is exact.
"""
import os
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")
# Demo only: PORTAL_CLOCK_OFFSET_DAYS=4 makes the portal live four days ahead (day-4 expiry,
# attempts on different days). create_app() refuses it in production.
OFFSET = timedelta(days=float(os.environ.get("PORTAL_CLOCK_OFFSET_DAYS") or 0))


def now() -> datetime:
    """Current Asia/Shanghai time, naive, to the second."""
    return datetime.now(ZONE).replace(tzinfo=None, microsecond=0) + OFFSET


def today() -> date:
    return now().date()


def start_of_day(day: date, plus_days: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=plus_days), time.min)
