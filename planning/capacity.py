"""Working-time axis of the finite-capacity scheduler and the daily load of work centers on it."""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache
from operator import attrgetter
from typing import Protocol

from planning.calendar import Calendar
from planning.errors import DataError
from planning.model import WorkCenter

MINUTES_PER_DAY = 24 * 60


def window_minutes(work_center: WorkCenter) -> int:
    """Working minutes per working day of a work center (``hours_per_day`` × 60, rounded down).

    Rounding down never promises capacity the work center does not have.
    """
    minutes = int((work_center.hours_per_day * 60).to_integral_value(rounding=ROUND_FLOOR))
    if minutes <= 0 or minutes > MINUTES_PER_DAY:
        raise DataError(
            f"work center {work_center.code}: hours_per_day must be in (0, 24], got {work_center.hours_per_day}",
            {"work_center": work_center.code, "hours_per_day": str(work_center.hours_per_day)},
        )
    if work_center.machines < 1:
        raise DataError(
            f"work center {work_center.code}: machines must be at least 1, got {work_center.machines}",
            {"work_center": work_center.code, "machines": work_center.machines},
        )
    return minutes


@dataclass(frozen=True)
class TimeAxis:
    """A continuous axis of working minutes shared by every work center.

    Working day ``i`` (the ``i``-th working day of the calendar on or after ``origin``) covers axis minutes
    ``[i * day_minutes, (i + 1) * day_minutes)``; non-working days do not exist on the axis. ``day_minutes``
    is the longest working day of any work center. A work center working fewer hours is open during the
    first ``window`` minutes of each day and closed for the rest (its nightly gap); every work center's day
    starts at ``day_start``. Minute 0 is the start of the first working day on or after today, so nothing can
    start before today.
    """

    calendar: Calendar
    origin: date
    day_minutes: int
    day_start: time = time(0, 0)

    @staticmethod
    def build(calendar: Calendar, today: date, day_minutes: int, day_start: time = time(8, 0)) -> TimeAxis:
        """The axis starting today; ``day_start`` moves earlier if a day of ``day_minutes`` would pass midnight."""
        if not 0 < day_minutes <= MINUTES_PER_DAY:
            raise ValueError(f"day_minutes must be in (0, 1440], got {day_minutes}")
        start_minute = min(day_start.hour * 60 + day_start.minute, MINUTES_PER_DAY - day_minutes)
        return TimeAxis(
            calendar=calendar,
            origin=calendar.next_workday(today),
            day_minutes=day_minutes,
            day_start=time(start_minute // 60, start_minute % 60),
        )

    def date_of_day(self, index: int) -> date:
        """The working date of day ``index`` (negative indexes count working days before the origin)."""
        return _nth_workday(self.calendar, self.origin, index)

    def day_index(self, day: date) -> int:
        """Index of the working day ``day``, or of the last working day before it if ``day`` is not one.

        This is the day by which output counts as done "on" ``day``: goods finished on a working day ship that day.
        """
        if day >= self.origin:
            return _workdays_between(self.calendar, self.origin, day + timedelta(days=1)) - 1
        return -_workdays_between(self.calendar, self.calendar.previous_workday(day), self.origin)

    def first_minute_on_or_after(self, day: date) -> int:
        """Axis minute at which the first working day on or after ``day`` begins (never below 0)."""
        if day <= self.origin:
            return 0
        return _workdays_between(self.calendar, self.origin, day) * self.day_minutes

    def end_of_day_minute(self, day: date) -> int:
        """Axis minute at which the working day that ``day`` counts as (see ``day_index``) ends."""
        return (self.day_index(day) + 1) * self.day_minutes

    def finish_day(self, start_minute: int, end_minute: int) -> int:
        """Day index on which work occupying ``[start_minute, end_minute)`` finishes."""
        if end_minute > start_minute:
            return (end_minute - 1) // self.day_minutes
        return start_minute // self.day_minutes

    def to_datetime(self, minute: int, *, is_end: bool = False) -> datetime:
        """Clock time of an axis minute; an end that falls on a day boundary belongs to the earlier day."""
        index, offset = divmod(minute, self.day_minutes)
        if is_end and offset == 0 and minute > 0:
            index, offset = index - 1, self.day_minutes
        start = datetime.combine(self.date_of_day(index), self.day_start)
        return start + timedelta(minutes=offset)


@lru_cache(maxsize=65536)
def _workdays_between(calendar: Calendar, start: date, end: date) -> int:
    # Cached because what-ifs convert the dates of every order they touch; calendars are immutable.
    return calendar.workdays_between(start, end)


@lru_cache(maxsize=8192)
def _nth_workday(calendar: Calendar, origin: date, index: int) -> date:
    # Cached because extraction converts every operation's start and end; calendars are immutable.
    if index >= 0:
        return calendar.add_workdays(origin, index)
    return calendar.subtract_workdays(origin, -index)


class _Occupation(Protocol):
    @property
    def work_center(self) -> str: ...

    @property
    def start_minute(self) -> int: ...

    @property
    def end_minute(self) -> int: ...


@dataclass(frozen=True, slots=True)
class WorkCenterDayLoad:
    """Load of one work center on one working day: minutes booked against minutes available (all machines)."""

    work_center: str
    day: date
    load_minutes: int
    capacity_minutes: int

    @property
    def utilization(self) -> Decimal:
        """Load / capacity, rounded to 4 decimals (0 when there is no capacity)."""
        if self.capacity_minutes == 0:
            return Decimal(0)
        return (Decimal(self.load_minutes) / Decimal(self.capacity_minutes)).quantize(Decimal("0.0001"))


def compute_daily_load(
    axis: TimeAxis, work_centers: Mapping[str, WorkCenter], occupations: Iterable[_Occupation]
) -> tuple[WorkCenterDayLoad, ...]:
    """Working minutes booked per work center per working day, for a load chart.

    An operation that spans days is split at each night: only the minutes inside the work center's daily
    window count, so load never exceeds capacity on a feasible schedule. Every day from the first to the last
    booked day of any work center appears for every work center given (zero load included).
    """
    booked: dict[tuple[str, int], int] = {}
    last_day = -1
    for occ in occupations:
        window = window_minutes(work_centers[occ.work_center])
        first = occ.start_minute // axis.day_minutes
        last = axis.finish_day(occ.start_minute, occ.end_minute)
        for index in range(first, last + 1):
            open_from = index * axis.day_minutes
            overlap = min(occ.end_minute, open_from + window) - max(occ.start_minute, open_from)
            if overlap > 0:
                booked[(occ.work_center, index)] = booked.get((occ.work_center, index), 0) + overlap
        last_day = max(last_day, last)
    loads = []
    for code in sorted(work_centers):
        capacity = window_minutes(work_centers[code]) * work_centers[code].machines
        for index in range(last_day + 1):
            loads.append(
                WorkCenterDayLoad(
                    work_center=code,
                    day=axis.date_of_day(index),
                    load_minutes=booked.get((code, index), 0),
                    capacity_minutes=capacity,
                )
            )
    return tuple(loads)


# ------------------------------------------------------------------------------------------ free capacity


def work_minute_at(plant_minute: int, day_minutes: int, window: int) -> int:
    """The first minute of a work center's own axis of working minutes (its daily windows back to back) at or
    after minute ``plant_minute`` of the plant axis: a minute past the day's window moves to the next day."""
    day, offset = divmod(plant_minute, day_minutes)
    return day * window + offset if offset < window else (day + 1) * window


def plant_minute_of(work_minute: int, day_minutes: int, window: int) -> int:
    """The plant-axis minute of a work center's working minute."""
    day, offset = divmod(work_minute, window)
    return day * day_minutes + offset


@dataclass(frozen=True, slots=True)
class BusySpan:
    """Working minutes ``[start, end)`` that operation ``seq`` of ``order`` takes on its work center's own axis."""

    start: int
    end: int
    order: str
    seq: int


_START, _END, _START_END = attrgetter("start"), attrgetter("end"), attrgetter("start", "end")


class CapacityProfile:
    """When each work center is busy, on its own axis of working minutes, and how many machines it has.

    A work center is one cumulative resource, as in the scheduler: an operation fits where fewer spans than
    machines overlap it at every minute. Profiles are not changed: ``with_spans`` makes a new one.
    """

    def __init__(self, machines: Mapping[str, int], spans: Mapping[str, Iterable[BusySpan]]) -> None:
        self.machines = dict(machines)
        self._spans: dict[str, list[BusySpan]] = {
            code: sorted(found, key=_START_END) for code, found in spans.items()
        }
        self._starts: dict[str, list[int]] = {}
        self._reach: dict[str, list[int]] = {}

    def spans(self, work_center: str) -> Sequence[BusySpan]:
        return self._spans.get(work_center, ())

    def with_spans(
        self, added: Iterable[tuple[str, BusySpan]], removed: Iterable[tuple[str, str, int]] = ()
    ) -> CapacityProfile:
        """This profile without the spans of ``removed`` (work center, order, seq) and with ``added`` (work
        center, span)."""
        gone: dict[str, set[tuple[str, int]]] = {}
        for code, order, seq in removed:
            gone.setdefault(code, set()).add((order, seq))
        out = CapacityProfile.__new__(CapacityProfile)
        out.machines = self.machines
        out._spans = dict(self._spans)
        out._starts = dict(self._starts)
        out._reach = dict(self._reach)
        touched: dict[str, list[BusySpan]] = {}
        for code, keys in gone.items():
            touched[code] = [s for s in self._spans.get(code, ()) if (s.order, s.seq) not in keys]
        for code, span in added:
            if code not in touched:
                touched[code] = list(self._spans.get(code, ()))
            touched[code].append(span)
        for code, spans in touched.items():
            spans.sort(key=_START_END)
            out._spans[code] = spans
            out._starts.pop(code, None)  # indexed again on first use
            out._reach.pop(code, None)
        return out

    def _index(self, work_center: str) -> tuple[list[BusySpan], list[int], list[int]]:
        """The spans of ``work_center`` in start order, their starts, and the latest end up to each."""
        spans = self._spans.get(work_center, [])
        starts = self._starts.get(work_center)
        reach = self._reach.get(work_center)
        if starts is None or reach is None:
            starts = self._starts[work_center] = list(map(_START, spans))
            reach = self._reach[work_center] = list(itertools.accumulate(map(_END, spans), max))
        return spans, starts, reach

    def overlapping(self, work_center: str, start: int, end: int) -> list[BusySpan]:
        """The spans of ``work_center`` that overlap ``[start, end)``."""
        spans, starts, reach = self._index(work_center)
        lo = bisect.bisect_right(reach, start)
        hi = bisect.bisect_left(starts, end)
        return [s for s in spans[lo:hi] if s.end > start]

    def earliest_fit(
        self,
        work_center: str,
        earliest: int,
        duration: int,
        *,
        skip: Callable[[BusySpan], bool] | None = None,
        extra: Iterable[BusySpan] = (),
    ) -> int:
        """The first working minute at or after ``earliest`` from which ``duration`` minutes fit on
        ``work_center``, counting its spans but those ``skip`` leaves out, and the ``extra`` spans."""
        if duration <= 0:
            return earliest
        machines = self.machines.get(work_center, 1)
        spans, _, reach = self._index(work_center)
        i, n = bisect.bisect_right(reach, earliest), len(spans)  # every span before i ends by ``earliest``
        more = sorted((s for s in extra if s.end > earliest), key=_START_END)
        j, m = 0, len(more)
        # A sweep in start order over both lists: ``start`` is the candidate; ``ends`` the ends of the spans
        # running at the latest start read. Usage only rises where a span starts, so once the next span starts
        # after the candidate's end, the candidate fits; where usage reaches the machines, the candidate moves
        # to the first end that brings it below them (no start before that end fits).
        start = earliest
        ends: list[int] = []
        while True:
            if i < n and (j >= m or spans[i].start <= more[j].start):
                span = spans[i]
                i += 1
                if span.end <= earliest or (
                    skip is not None and span.start < start + duration and skip(span)
                ):
                    continue
            elif j < m:
                span = more[j]
                j += 1
            else:
                return start
            if span.start >= start + duration:
                return start
            now = max(span.start, start)
            while ends and ends[0] <= now:
                heapq.heappop(ends)
            if span.end <= now:
                continue
            heapq.heappush(ends, span.end)
            if len(ends) >= machines:
                for _ in range(len(ends) - machines + 1):
                    start = heapq.heappop(ends)

    @staticmethod
    def peak(spans: Iterable[BusySpan], start: int, end: int) -> int:
        """Most ``spans`` overlapping at any minute of ``[start, end)``."""
        events = []
        for s in spans:
            if s.start < end and s.end > start:
                events.append((max(s.start, start), 1))
                events.append((s.end, -1))
        events.sort()  # at equal minutes an end (-1) comes before a start: spans are half-open
        level = peak = 0
        for _, step in events:
            level += step
            peak = max(peak, level)
        return peak
