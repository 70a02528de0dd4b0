"""Dates in questions, absolute and relative, Chinese and English, against an injected planning clock."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from assistant.offline.numbers import parse_number

# A month-day without a year that lies further back than this is read as next year's (1月8日 in December).
PAST_WINDOW_DAYS = 60

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
WEEKDAYS_EN = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2, "thursday": 3,
    "thu": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "1": 0, "2": 1,
               "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip

_NUM = r"\d{1,3}|[零〇一二两三四五六七八九十]{1,3}"
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY_EN_RE = "|".join(sorted(WEEKDAYS_EN, key=len, reverse=True))


@dataclass(frozen=True)
class DateMention:
    """A date said in a question and where it was said."""

    value: date
    start: int
    end: int
    text: str


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's last day (Jan 31 + 1 month = Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def end_of_month(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def _int(text: str) -> int:
    value = parse_number(text)
    if value is None:
        raise ValueError(text)
    return int(value)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_day(today: date, month: int, day: int, year: int | None = None) -> date | None:
    if year is not None:
        return _safe_date(year, month, day)
    found = _safe_date(today.year, month, day)
    if found is not None and found < today - timedelta(days=PAST_WINDOW_DAYS):
        found = _safe_date(today.year + 1, month, day)
    return found


def _day_of_month(today: date, day: int, month_offset: int = 0) -> date | None:
    """The ``day`` of this month, or of next month when it has passed (15号 said on the 20th)."""
    base = add_months(today.replace(day=1), month_offset)
    found = _safe_date(base.year, base.month, day)
    if month_offset == 0 and found is not None and found < today:
        nxt = add_months(base, 1)
        found = _safe_date(nxt.year, nxt.month, day)
    return found


def _weekday(today: date, weekday: int, week_offset: int | None) -> date:
    """``week_offset`` None: the next such weekday on or after today; 0 this week; 1 next week (Mon-Sun)."""
    if week_offset is None:
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(days=7 * week_offset + weekday)


def _shift(today: date, amount: int, unit: str) -> date:
    unit = unit.casefold()
    if unit.startswith(("天", "日", "day")):
        return today + timedelta(days=amount)
    if unit.startswith(("周", "星期", "礼拜", "week")):
        return today + timedelta(weeks=amount)
    return add_months(today, amount)


def _zh_week_offset(prefix: str | None) -> int | None:
    """这/本 → this week, 下 → next week, 下下 → the week after; no prefix → the next such day."""
    if not prefix:
        return None
    return prefix.count("下") if prefix.startswith("下") else 0


Rule = tuple[re.Pattern[str], Callable[[re.Match[str], date], date | None]]

RULES: list[Rule] = [
    (
        re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?"),
        lambda m, t: _safe_date(int(m[1]), int(m[2]), int(m[3])),
    ),
    (
        re.compile(rf"(下个?月|本月|这个?月)\s*({_NUM})\s*[日号]"),
        lambda m, t: _day_of_month(t, _int(m[2]), 1 if m[1].startswith("下") else 0),
    ),
    (
        re.compile(rf"({_NUM})\s*月\s*({_NUM})\s*[日号]?"),
        lambda m, t: _month_day(t, _int(m[1]), _int(m[2])),
    ),
    (
        re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(\d{{4}}))?", re.IGNORECASE),
        lambda m, t: _month_day(t, MONTHS[m[1].casefold()], int(m[2]), int(m[3]) if m[3] else None),
    ),
    (
        re.compile(
            rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\b\.?(?:,?\s*(\d{{4}}))?", re.IGNORECASE
        ),
        lambda m, t: _month_day(t, MONTHS[m[2].casefold()], int(m[1]), int(m[3]) if m[3] else None),
    ),
    (
        re.compile(r"(?<![\w/-])(\d{1,2})/(\d{1,2})(?![\w/])"),
        lambda m, t: (
            _month_day(t, int(m[1]), int(m[2])) if int(m[1]) <= 12 else _month_day(t, int(m[2]), int(m[1]))
        ),
    ),
    (re.compile(r"大后天"), lambda m, t: t + timedelta(days=3)),
    (re.compile(r"后天|day after tomorrow", re.IGNORECASE), lambda m, t: t + timedelta(days=2)),
    (re.compile(r"明天|明日|\btomorrow\b", re.IGNORECASE), lambda m, t: t + timedelta(days=1)),
    (re.compile(r"今天|今日|\btoday\b", re.IGNORECASE), lambda m, t: t),
    (
        re.compile(r"(下下个?|下个?|这个?|本)?\s*(?:周|星期|礼拜)([一二三四五六日天1-7])"),
        lambda m, t: _weekday(t, WEEKDAYS_ZH[m[2]], _zh_week_offset(m[1])),
    ),
    (
        re.compile(rf"\b(next|this|coming)?\s*({_WEEKDAY_EN_RE})\b\.?", re.IGNORECASE),
        lambda m, t: _weekday(
            t,
            WEEKDAYS_EN[m[2].casefold()],
            {None: None, "this": 0, "coming": None, "next": 1}[m[1].casefold() if m[1] else None],
        ),
    ),
    (re.compile(r"下下?个?月\s*(?:底|末)"), lambda m, t: end_of_month(add_months(t, m[0].count("下")))),
    (re.compile(r"(?:本|这个?)?月\s*(?:底|末)"), lambda m, t: end_of_month(t)),
    (re.compile(r"下个?月\s*初"), lambda m, t: add_months(t.replace(day=1), 1)),
    (re.compile(r"(?:今)?年\s*(?:底|末)"), lambda m, t: date(t.year, 12, 31)),
    (
        re.compile(
            r"\b(?:the\s+)?end\s+of\s+(?:the\s+)?(this|next)?\s*month\b|\bmonth[- ]end\b", re.IGNORECASE
        ),
        lambda m, t: end_of_month(add_months(t, 1 if (m[1] or "").casefold() == "next" else 0)),
    ),
    (
        re.compile(r"\b(?:the\s+)?end\s+of\s+(?:the\s+)?(?:this\s+)?year\b|\byear[- ]end\b", re.IGNORECASE),
        lambda m, t: date(t.year, 12, 31),
    ),
    (
        re.compile(r"\b(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?week\b", re.IGNORECASE),
        lambda m, t: _weekday(t, 4, 0),
    ),
    (
        re.compile(r"\b(?:the\s+)?end\s+of\s+next\s+week\b", re.IGNORECASE),
        lambda m, t: _weekday(t, 4, 1),
    ),
    (
        re.compile(rf"({_NUM})\s*个?\s*(天|日|周|星期|礼拜|月)\s*(?:后|以后|之后|内|以内|之内)"),
        lambda m, t: _shift(t, _int(m[1]), m[2]),
    ),
    (
        re.compile(
            r"\b(?:in|within)\s+(\d{1,3}|a|one|two|three|four|five|six|seven|eight|ten)\s+"
            r"(days?|weeks?|months?)\b",
            re.IGNORECASE,
        ),
        lambda m, t: _shift(t, 1 if m[1].casefold() == "a" else _int(m[1]), m[2]),
    ),
    (
        re.compile(
            r"\b(\d{1,3}|one|two|three|four|five|six)\s+(days?|weeks?|months?)\s+from\s+(?:now|today)\b",
            re.IGNORECASE,
        ),
        lambda m, t: _shift(t, _int(m[1]), m[2]),
    ),
    (re.compile(r"下下周|下下个?星期"), lambda m, t: _weekday(t, 4, 2)),
    (re.compile(r"下周|下个?星期|下个?礼拜|\bnext week\b", re.IGNORECASE), lambda m, t: _weekday(t, 4, 1)),
    (
        re.compile(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE),
        lambda m, t: _day_of_month(t, int(m[1])),
    ),
    (re.compile(rf"(?<![\d月])({_NUM})\s*[号]"), lambda m, t: _day_of_month(t, _int(m[1]))),
]


def extract_dates(text: str, today: date) -> list[DateMention]:
    """Every date in ``text``, earliest in the text first; rules earlier in RULES win overlapping spans."""
    taken: list[tuple[int, int]] = []
    found: list[DateMention] = []
    for pattern, build in RULES:
        for m in pattern.finditer(text):
            start, end = m.span()
            start += len(m.group(0)) - len(m.group(0).lstrip())
            if not m.group(0).strip() or any(start < e and s < end for s, e in taken):
                continue
            try:
                value = build(m, today)
            except (ValueError, KeyError):
                value = None
            if value is None:
                continue
            taken.append((start, end))
            found.append(DateMention(value, start, end, text[start:end]))
    found.sort(key=lambda d: d.start)
    return found
