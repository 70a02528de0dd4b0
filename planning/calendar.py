"""Working-day calendar: workdays of the week plus holidays, and working-day arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_weekdays(names: Iterable[str]) -> frozenset[int]:
    """Turn ``["mon", "tue", ...]`` into weekday numbers (Monday = 0)."""
    days = set()
    for name in names:
        key = str(name).strip().lower()[:3]
        if key not in WEEKDAY_NAMES:
            raise ValueError(f"unknown weekday {name!r}; use mon, tue, wed, thu, fri, sat, sun")
        days.add(WEEKDAY_NAMES.index(key))
    return frozenset(days)


@dataclass(frozen=True)
class Calendar:
    """Which days are working days. The default has every day working."""

    workdays: frozenset[int] = frozenset(range(7))
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.workdays:
            raise ValueError("a calendar needs at least one working weekday")

    @property
    def workday_names(self) -> list[str]:
        return [WEEKDAY_NAMES[d] for d in sorted(self.workdays)]

    def is_workday(self, day: date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def next_workday(self, day: date) -> date:
        """``day`` itself if it is a working day, else the first working day after it."""
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def previous_workday(self, day: date) -> date:
        """``day`` itself if it is a working day, else the last working day before it."""
        while not self.is_workday(day):
            day -= timedelta(days=1)
        return day

    def add_workdays(self, day: date, n: int) -> date:
        """The date ``n`` working days after ``day`` (``n`` = 0: the next working day from ``day``)."""
        if n < 0:
            return self.subtract_workdays(day, -n)
        day = self.next_workday(day)
        # Whole weeks hold len(workdays) working days less the holidays among them: jump them, then walk.
        weeks = n // len(self.workdays)
        if weeks:
            end = day + timedelta(days=7 * weeks)
            n -= self.workdays_between(day + timedelta(days=1), end + timedelta(days=1))
            day = end if n else self.previous_workday(end)  # n reached within the weeks: their last one
        while n > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                n -= 1
        return day

    def subtract_workdays(self, day: date, n: int) -> date:
        """The date ``n`` working days before ``day``: a release date from a due date and a lead time.

        With ``n`` = 0 the due date itself is returned, working day or not (nothing to offset).
        """
        if n < 0:
            return self.add_workdays(day, -n)
        weeks = n // len(self.workdays)
        if weeks:
            start = day - timedelta(days=7 * weeks)
            n -= self.workdays_between(start, day)
            day = start if n else self.next_workday(start)  # n reached within the weeks: their first one
        while n > 0:
            day -= timedelta(days=1)
            if self.is_workday(day):
                n -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in the half-open range [start, end)."""
        if end <= start:
            return 0
        weeks, rest = divmod((end - start).days, 7)
        first = start.weekday()
        count = weeks * len(self.workdays) + sum((first + i) % 7 in self.workdays for i in range(rest))
        return count - sum(start <= h < end and h.weekday() in self.workdays for h in self.holidays)

    def iter_workdays(self, start: date, count: int) -> Iterable[date]:
        """The first ``count`` working days on or after ``start``."""
        day = self.next_workday(start)
        for _ in range(count):
            yield day
            day = self.next_workday(day + timedelta(days=1))
