"""Working-day arithmetic against day-by-day counting, on calendars with any workdays and holidays."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from planning.calendar import Calendar

START = date(2026, 11, 1)


def _is_workday(calendar: Calendar, day: date) -> bool:
    return day.weekday() in calendar.workdays and day not in calendar.holidays


def _count(calendar: Calendar, start: date, end: date) -> int:
    return sum(_is_workday(calendar, start + timedelta(days=i)) for i in range(max((end - start).days, 0)))


calendars = st.builds(
    Calendar,
    workdays=st.frozensets(st.integers(0, 6), min_size=1),
    holidays=st.frozensets(st.dates(START - timedelta(days=60), START + timedelta(days=400)), max_size=25),
)
days = st.dates(START - timedelta(days=30), START + timedelta(days=200))


def test_a_five_day_week_with_a_holiday():
    # 2026-12-07 is a Monday; Tuesday 12-08 a holiday. Mon 12-07 to Mon 12-21: 10 weekdays less the holiday.
    calendar = Calendar(workdays=frozenset(range(5)), holidays=frozenset({date(2026, 12, 8)}))
    assert calendar.workdays_between(date(2026, 12, 7), date(2026, 12, 21)) == 9
    # 9 working days after Monday 12-07: Wed 9, Thu 10, Fri 11, Mon 14 … Fri 18 (8), Mon 21 (9).
    assert calendar.add_workdays(date(2026, 12, 7), 9) == date(2026, 12, 21)
    assert calendar.subtract_workdays(date(2026, 12, 21), 9) == date(2026, 12, 7)
    assert calendar.add_workdays(date(2026, 12, 5), 0) == date(2026, 12, 7)  # Saturday: the next working day


@settings(max_examples=200, deadline=None)
@given(calendars, days, st.integers(0, 400))
def test_workdays_between_counts_day_by_day(calendar, start, length):
    end = start + timedelta(days=length)
    assert calendar.workdays_between(start, end) == _count(calendar, start, end)
    assert calendar.workdays_between(end, start) == 0


@settings(max_examples=200, deadline=None)
@given(calendars, days, st.integers(0, 150))
def test_adding_and_subtracting_working_days_walk_the_calendar(calendar, day, n):
    found = calendar.add_workdays(day, n)
    first = day
    while not _is_workday(calendar, first):
        first += timedelta(days=1)
    # The n-th working day after the first working day on or after ``day``.
    assert _is_workday(calendar, found) and _count(calendar, first, found) == n
    back = calendar.subtract_workdays(day, n)
    assert _count(calendar, back, day) == n
    assert n == 0 or _is_workday(calendar, back)
    assert back == day or _is_workday(calendar, back)
