"""Chinese working days from the chinese-calendar package (issue 11: service time limits in working
days, official holidays and adjusted working weekends, not a hand-written list)."""
import logging
from datetime import date, datetime

import chinese_calendar
import pytest

from app.services.servicing import workdays


def test_the_package_covers_the_years_tested():
    assert chinese_calendar.is_holiday(date(2026, 10, 1)) and chinese_calendar.is_holiday(date(2025, 10, 8))


@pytest.mark.parametrize("day, working", [
    (date(2026, 9, 30), True),  # Wednesday before National Day
    (date(2026, 10, 1), False), (date(2026, 10, 7), False),  # the holiday, a Wednesday among it
    (date(2026, 10, 8), True),
    (date(2026, 10, 10), True),  # Saturday, an adjusted working day (调休)
    (date(2026, 10, 11), False),  # Sunday
    (date(2025, 9, 28), True),  # Sunday before National Day 2025, worked
    (date(2025, 10, 11), True),  # Saturday after it, worked
])
def test_holidays_and_adjusted_weekends(day, working):
    assert workdays.is_workday(day) is working


def test_two_and_five_working_days_across_the_2026_national_day():
    submitted = datetime(2026, 9, 30, 16, 30)
    assert workdays.due_at(submitted, 2) == datetime(2026, 10, 9, 23, 59, 59)  # 10-08, 10-09
    assert workdays.due_at(submitted, 5) == datetime(2026, 10, 13, 23, 59, 59)  # + 10-10 (Sat), 10-12, 10-13


def test_across_the_2025_national_day_with_its_two_adjusted_weekend_days():
    # submitted Saturday 09-27 (a rest day): Sunday 09-28 is worked, then 09-29, 09-30, 10-09, 10-10
    assert workdays.add_workdays(date(2025, 9, 27), 2) == date(2025, 9, 29)
    assert workdays.add_workdays(date(2025, 9, 27), 5) == date(2025, 10, 10)
    assert workdays.add_workdays(date(2025, 9, 30), 3) == date(2025, 10, 11)  # the worked Saturday


def test_a_submission_on_a_rest_day_counts_from_the_next_working_day():
    assert workdays.add_workdays(date(2026, 10, 3), 1) == date(2026, 10, 8)


def test_a_year_the_package_does_not_know_yet_counts_monday_to_friday(caplog):
    with caplog.at_level(logging.WARNING):
        assert workdays.add_workdays(date(2099, 12, 31), 2) == date(2100, 1, 4)  # Thu -> Fri, Mon
    assert "no holidays for 2100" in caplog.text or "no holidays for 2099" in caplog.text


def test_count_must_be_positive():
    with pytest.raises(ValueError):
        workdays.add_workdays(date(2026, 10, 8), 0)
