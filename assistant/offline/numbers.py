"""Quantities in questions: Arabic and Chinese numerals (五百, 1.2万, 两千三百), with units (500件, 20 pcs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

CN_DIGITS = {
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
CN_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
EN_SMALL = {
    "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
EN_MULTIPLIERS = {"hundred": 100, "thousand": 1000}

# Units people put after a quantity; the count words (件, 张, 把 …) and the item units of measure.
# fmt: off
UNITS = (
    "件", "张", "套", "个", "把", "台", "只", "支", "根", "块", "米", "公斤", "千克", "副", "对", "箱", "卷", "片",
    "条", "桶", "吨", "组", "pcs", "pc", "piece", "pieces", "units", "unit", "sets", "set", "pairs", "pair",
    "sheets", "sheet", "kg", "m", "meters", "metres", "boxes", "box", "ea",
)
# fmt: on
_CN_NUM_CHARS = "零〇一二两三四五六七八九十百千万亿"
_UNIT_RE = "|".join(sorted((re.escape(u) for u in UNITS), key=len, reverse=True))
_ARABIC = r"\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# A Chinese numeral starts with a digit or 十 (so 千万/万一 "by all means/in case" are not numbers).
_CN = rf"[零〇一二两三四五六七八九十][{_CN_NUM_CHARS}]*"
QTY_RE = re.compile(
    rf"(?P<num>(?:{_ARABIC})\s*(?:[万千kK](?![a-zA-Z]))?|{_CN})\s*"
    rf"(?P<unit>(?:{_UNIT_RE})(?![a-zA-Z]))?",
)
_EN_SMALL_RE = "|".join(sorted(EN_SMALL, key=len, reverse=True))
EN_WORD_RE = re.compile(
    rf"\b(?P<num>(?:{_EN_SMALL_RE})(?:\s+(?:hundred|thousand))?|hundred|thousand)\b\s*"
    rf"(?P<unit>(?:{_UNIT_RE})(?![a-zA-Z]))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Quantity:
    """A quantity mentioned in a question, where it was, and the unit said with it (if any)."""

    value: Decimal
    unit: str | None
    start: int
    end: int


def parse_chinese_integer(text: str) -> int | None:
    """五百 → 500, 两千三百 → 2300, 两千三 → 2300, 一万二 → 12000, 十五 → 15, 一二零零 → 1200; else None."""
    if not text or any(ch not in _CN_NUM_CHARS for ch in text):
        return None
    if all(ch in CN_DIGITS for ch in text):
        # read digit by digit, as in 一二零零
        return int("".join(str(CN_DIGITS[ch]) for ch in text))
    total = section = number = 0
    last_unit = 0
    for ch in text:
        if ch in CN_DIGITS:
            number = CN_DIGITS[ch]
        elif ch in CN_SMALL_UNITS:
            unit = CN_SMALL_UNITS[ch]
            section += (number or 1) * unit
            number, last_unit = 0, unit
        else:
            unit = CN_BIG_UNITS[ch]
            total += (section + number) * unit
            section = number = 0
            last_unit = unit
    if number and last_unit >= 100 and not text.endswith(("零", "〇")) and "零" not in text[-2:]:
        # colloquial: 两千三 = 2300, 一万二 = 12000 (the trailing digit counts in the next unit down)
        number *= last_unit // 10
    return total + section + number


def parse_number(text: str) -> Decimal | None:
    """A number written as 500, 1,200, 1.2万, 3千, 2k, 五百 or two hundred-style words (simple ones)."""
    raw = text.strip().replace(",", "").replace(" ", "")
    if not raw:
        return None
    multiplier = Decimal(1)
    if raw[-1] in "万千kK" and len(raw) > 1 and (raw[-2].isdigit()):
        multiplier = {"万": Decimal(10_000), "千": Decimal(1000), "k": Decimal(1000), "K": Decimal(1000)}[
            raw[-1]
        ]
        raw = raw[:-1]
    try:
        return _plain(Decimal(raw) * multiplier)
    except InvalidOperation:
        pass
    cn = parse_chinese_integer(raw)
    if cn is not None:
        return Decimal(cn)
    return parse_english_number(text)


def parse_english_number(text: str) -> Decimal | None:
    """twenty → 20, two hundred → 200, a thousand → 1000, five thousand → 5000; else None."""
    words = text.casefold().split()
    if not words or len(words) > 2:
        return None
    if words[0] in EN_MULTIPLIERS and len(words) == 1:
        return Decimal(EN_MULTIPLIERS[words[0]])
    if words[0] not in EN_SMALL or (len(words) == 2 and words[1] not in EN_MULTIPLIERS):
        return None
    value = EN_SMALL[words[0]] * (EN_MULTIPLIERS[words[1]] if len(words) == 2 else 1)
    return Decimal(value)


def _plain(value: Decimal) -> Decimal:
    """12000.0 → 12000 (an integral value without a fractional exponent), 1.50 → 1.5."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def extract_quantities(text: str) -> list[Quantity]:
    """Every quantity in ``text`` (numbers inside codes and dates should be masked out beforehand)."""
    found: list[Quantity] = []
    for m in QTY_RE.finditer(text):
        num, unit = m.group("num"), m.group("unit")
        # a Chinese numeral of one character is a quantity only with a unit (一下, 一些 are not)
        if num[0] in _CN_NUM_CHARS and len(num) == 1 and not unit:
            continue
        before = text[m.start() - 1] if m.start() > 0 else " "
        if (before.isalpha() and before.isascii()) or before in "-_/.":
            continue  # part of a code such as DSK-1200 or M6
        value = parse_number(num)
        if value is None:
            continue
        end = m.end() if unit else m.start("num") + len(num.rstrip())
        found.append(Quantity(value=value, unit=unit.casefold() if unit else None, start=m.start(), end=end))
    for m in EN_WORD_RE.finditer(text):
        value = parse_english_number(m.group("num"))
        if value is not None and m.group("unit"):
            # "one"/"a" without a unit are too often plain words
            found.append(Quantity(value, m.group("unit").casefold(), m.start(), m.end()))
    found.sort(key=lambda q: q.start)
    return found


def format_qty(value: object) -> str:
    """A quantity without trailing zeros: 25.0 → 25, 1526.400 → 1526.4, 0.000001 stays as written."""
    if value is None:
        return ""
    try:
        dec = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if dec == dec.to_integral_value():
        return f"{dec.to_integral_value():f}"
    return f"{dec.normalize():f}"
