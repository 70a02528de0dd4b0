"""Reading facts out of an answer: numbers and dates however they are written, in Chinese or English."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

MONTHS = {
    name: n
    for n, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"

# Order matters: the longest, most explicit forms first; each match is blanked before the next pattern.
DATE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?"), "ymd"),
    (re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"), "md"),
    (re.compile(rf"(?<![A-Za-z]){_MONTH}\s+{_DAY}(?![0-9])(?:\s*,?\s*(\d{{4}}))?", re.I), "mdy_name"),
    (
        re.compile(rf"(?<![0-9]){_DAY}\s+(?:of\s+)?{_MONTH}(?![A-Za-z])(?:\s*,?\s*(\d{{4}}))?", re.I),
        "dmy_name",
    ),
    (re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])"), "slash"),
)

_CJK_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CJK_UNITS = {"十": 10, "百": 100, "千": 1000}
_CJK_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万]+")
# A number, with thousands separators or decimals; a sign only when it stands apart (not inside a code).
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])([-−]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:\s*([万千kK])(?![A-Za-z]))?"
)
# Codes carry digits that are not quantities: SO-1020, MO-2612-05, L2, M6, P-3f9a.
_CODE = re.compile(
    r"(?<![A-Za-z0-9_])[A-Za-z]+[-_]?[A-Za-z0-9]*\d[A-Za-z0-9_-]*|(?<![A-Za-z0-9_])[A-Za-z]+-[A-Za-z0-9_-]+"
)


@dataclass(frozen=True)
class AnswerFacts:
    """What an answer states: its dates, its numbers (dates and codes left out) and its folded text."""

    text: str
    dates: frozenset[date]
    numbers: tuple[Decimal, ...]


def fold(text: str) -> str:
    """Full-width to half-width, case folded, runs of white space as one space."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).casefold().strip()


def _year_near(month: int, day: int, today: date) -> date | None:
    """The date with this month and day nearest to ``today`` (a year is rarely written in chat)."""
    found: list[date] = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            found.append(date(year, month, day))
        except ValueError:
            continue
    return min(found, key=lambda d: abs((d - today).days)) if found else None


def _dates_of(match: re.Match[str], form: str, today: date) -> list[date]:
    groups = match.groups()
    try:
        if form == "ymd":
            return [date(int(groups[0]), int(groups[1]), int(groups[2]))]
        if form == "md":
            found = _year_near(int(groups[0]), int(groups[1]), today)
            return [found] if found else []
        if form in ("mdy_name", "dmy_name"):
            month_s, day_s = (groups[0], groups[1]) if form == "mdy_name" else (groups[1], groups[0])
            month = MONTHS[month_s.lower().rstrip(".")]
            if groups[2]:
                return [date(int(groups[2]), month, int(day_s))]
            found = _year_near(month, int(day_s), today)
            return [found] if found else []
        # 12/15 or 15/12: either reading that is a date counts
        a, b = int(groups[0]), int(groups[1])
        return [d for d in (_year_near(a, b, today), _year_near(b, a, today)) if d is not None]
    except (ValueError, KeyError):
        return []


def _cjk_value(text: str) -> int | None:
    """五百 → 500, 两千三百 → 2300, 一万二 → 12000 (None when it is not a plain numeral)."""
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _CJK_DIGITS:
            digit = _CJK_DIGITS[ch]
        elif ch in _CJK_UNITS:
            section += (1 if digit is None else digit) * _CJK_UNITS[ch]
            digit = None
        elif ch == "万":
            total += (section + (digit or 0)) * 10_000
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def read_answer(answer: str, today: date) -> AnswerFacts:
    """The dates and numbers an answer states, normalised: 12月15日 = Dec 15 = 2026-12-15, 1,200 = 1200.0."""
    # a Chinese comma separates list items: it must not read as a thousands separator after NFKC
    text = unicodedata.normalize("NFKC", answer.replace("，", "， "))
    dates: set[date] = set()
    for pattern, form in DATE_PATTERNS:

        def blank(m: re.Match[str], form: str = form) -> str:
            found = _dates_of(m, form, today)
            dates.update(found)
            return " " if found else m.group(0)

        text = pattern.sub(blank, text)
    text = _CODE.sub(" ", text)
    numbers: list[Decimal] = []
    for m in _NUMBER.finditer(text):
        sign, whole, frac, scale = m.groups()
        try:
            value = Decimal(whole.replace(",", "") + (frac or ""))
        except InvalidOperation:
            continue
        if scale in ("万",):
            value *= 10_000
        elif scale in ("千", "k", "K"):
            value *= 1000
        numbers.append(-value if sign else value)
        if sign:
            numbers.append(value)  # "-5" also states 5 when the sign was only a dash
        if scale:
            numbers.append(Decimal(whole.replace(",", "") + (frac or "")))
        if "," in whole:
            # "100,200" may be a list as well as a thousands-separated number
            numbers.extend(Decimal(part) for part in whole.split(","))
    for m in _CJK_NUMBER.finditer(text):
        cjk = _cjk_value(m.group(0))
        # a lone 一/两 is an article ("一张"), a lone unit (万) no number at all
        if cjk and m.group(0) not in ("一", "两") and not re.fullmatch(r"[万千百]+", m.group(0)):
            numbers.append(Decimal(cjk))
    return AnswerFacts(text=fold(answer), dates=frozenset(dates), numbers=tuple(numbers))


def to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    return None


def _decimals(value: Decimal, *, as_written: bool = False) -> int:
    """Places after the point: as written (373.10 → 2) or as needed (373.10 → 1)."""
    exponent = (value if as_written else value.normalize()).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def number_stated(value: Decimal, facts: AnswerFacts) -> bool:
    """Whether the answer states ``value``: exactly, or rounded to at least two decimals (373.1016 ≈ 373.10).

    A whole number must be stated exactly; a fraction may be rounded half-up to the places the answer shows,
    but never to fewer than two (or than it has).
    """
    needed = min(2, _decimals(value))
    for stated in facts.numbers:
        if stated == value:
            return True
        places = _decimals(stated, as_written=True)
        if needed <= places < _decimals(value):
            step = Decimal(1).scaleb(-places)
            if abs(stated - value) <= step / 2:
                return True
    return False


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def fact_stated(value: Any, facts: AnswerFacts) -> bool:
    """Whether one fact (a number, an ISO date or a text such as an item code) is in the answer."""
    number = to_decimal(value)
    if number is not None:
        return number_stated(number, facts)
    text = str(value).strip()
    if _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text) in facts.dates
        except ValueError:
            return False
    number = _plain_number(text)
    if number is not None:
        return number_stated(number, facts)
    return fold(text) in facts.text


def _plain_number(text: str) -> Decimal | None:
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        return None
    return Decimal(text)


def describe_fact(value: Any) -> str:
    """A fact as a report shows it: numbers without trailing zeros."""
    number = to_decimal(value)
    if number is not None:
        text = format(number.normalize(), "f")
        return text
    return str(value)
