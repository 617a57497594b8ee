"""Chinese working days for the service time limits (人身保险业务基本服务规定 arts. 19-21).

Official holidays and the adjusted working weekends (调休) come from the chinese-calendar package,
which carries the State Council's yearly notice. A year it has no data for yet (the notice comes out
in October or November) counts Monday to Friday, with one warning in the log, so a due time is
never refused: the package's next release corrects the count for applications submitted after it.
"""
import logging
from datetime import date, datetime, time, timedelta

import chinese_calendar

log = logging.getLogger(__name__)
END_OF_DAY = time(23, 59, 59)
_WARNED = set()


def is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # the package has no data for this year yet
        if day.year not in _WARNED:
            _WARNED.add(day.year)
            log.warning("chinese-calendar has no holidays for %s: counting Monday to Friday", day.year)
        return day.weekday() < 5


def add_workdays(start: date, count: int) -> date:
    """The `count`-th working day after `start` (start itself never counts, working or not)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    day = start
    while count:
        day += timedelta(days=1)
        if is_workday(day):
            count -= 1
    return day


def due_at(submitted_at: datetime, workdays: int) -> datetime:
    """The end (23:59:59) of the `workdays`-th working day after the day of `submitted_at`."""
    return datetime.combine(add_workdays(submitted_at.date(), workdays), END_OF_DAY)
