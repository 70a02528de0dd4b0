"""Parsers of the offline assistant: Chinese numerals, quantities with units, dates against a fixed clock,
the offline embedding, language detection and code matching."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from assistant.offline.chroma import HashingEmbedding
from assistant.offline.dates import add_months, extract_dates
from assistant.offline.embedding import DEFAULT_DIMS, embed_text
from assistant.offline.nlu import detect_language
from assistant.offline.numbers import extract_quantities, format_qty, parse_chinese_integer, parse_number

# The demo clock: Tuesday 2026-12-01.
TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("五百", 500),
        ("两千三百", 2300),
        ("两千三", 2300),  # colloquial: the trailing digit is hundreds
        ("一万二", 12000),
        ("十五", 15),
        ("二十", 20),
        ("一百零五", 105),
        ("三千零五十", 3050),
        ("一二零零", 1200),  # read digit by digit
        ("十万", 100000),
        ("两百", 200),
    ],
)
def test_chinese_integers(text: str, value: int) -> None:
    assert parse_chinese_integer(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.2万", "12000"),
        ("3千", "3000"),
        ("2k", "2000"),
        ("1,200", "1200"),
        ("0.5", "0.5"),
        ("two hundred", "200"),
        ("a thousand", "1000"),
        ("五百", "500"),
    ],
)
def test_numbers(text: str, value: str) -> None:
    assert parse_number(text) == Decimal(value)


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("能接五百张桌子吗", "500", "张"),
        ("500件 DSK-1200", "500", "件"),
        ("要 1.2万 pcs", "12000", "pcs"),
        ("两千三百套", "2300", "套"),
        ("300把人体工学椅", "300", "把"),
        ("20 sets of desks", "20", "sets"),
        ("2,400 pcs", "2400", "pcs"),
        ("two hundred units", "200", "units"),
        ("0.5 m of fabric", "0.5", "m"),
        ("what about 600?", "600", None),
    ],
)
def test_quantities_with_units(text: str, value: str, unit: str | None) -> None:
    found = extract_quantities(text)
    assert [(q.value, q.unit) for q in found] == [(Decimal(value), unit)]


@pytest.mark.parametrize("text", ["查一下库存", "DSK-1200", "M6 screw", "一些物料", "a desk"])
def test_no_quantity_in_codes_or_words(text: str) -> None:
    assert extract_quantities(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12月15日交货", "2026-12-15"),
        ("十二月十五号", "2026-12-15"),
        ("12/15", "2026-12-15"),
        ("2026-12-15", "2026-12-15"),
        ("2027/1/8", "2027-01-08"),
        ("1月8日", "2027-01-08"),  # a month-day long past is next year's
        ("11月25日", "2026-11-25"),  # a recent one stays in this year
        ("下周五", "2026-12-11"),  # Friday of next week (today is a Tuesday)
        ("这周五", "2026-12-04"),
        ("周五", "2026-12-04"),
        ("下下周一", "2026-12-14"),
        ("下个星期二", "2026-12-08"),
        ("月底", "2026-12-31"),
        ("下月底", "2027-01-31"),
        ("明天", "2026-12-02"),
        ("后天", "2026-12-03"),
        ("大后天", "2026-12-04"),
        ("三周后", "2026-12-22"),
        ("10天后", "2026-12-11"),
        ("两周内", "2026-12-15"),
        ("下个月15号", "2027-01-15"),
        ("15号", "2026-12-15"),
        ("Dec 15", "2026-12-15"),
        ("December 15th, 2026", "2026-12-15"),
        ("15 Dec", "2026-12-15"),
        ("next Friday", "2026-12-11"),
        ("this Friday", "2026-12-04"),
        ("by Friday", "2026-12-04"),
        ("in 3 weeks", "2026-12-22"),
        ("2 weeks from now", "2026-12-15"),
        ("end of month", "2026-12-31"),
        ("end of next month", "2027-01-31"),
        ("tomorrow", "2026-12-02"),
        ("the 20th", "2026-12-20"),
    ],
)
def test_dates_against_the_clock(text: str, expected: str) -> None:
    found = extract_dates(text, TODAY)
    assert [d.value.isoformat() for d in found] == [expected]


def test_a_date_span_covers_only_the_date() -> None:
    [found] = extract_dates("can we ship by Friday?", TODAY)
    assert found.text == "Friday"


@pytest.mark.parametrize("text", ["MO-2612-05", "SO-1020", "DSK-1200", "please check stock"])
def test_no_date_in_codes(text: str) -> None:
    assert extract_dates(text, TODAY) == []


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)


@pytest.mark.parametrize(
    ("value", "text"), [(25.0, "25"), (1526.4, "1526.4"), (0.000001, "0.000001"), (12000, "12000")]
)
def test_quantities_are_written_without_trailing_zeros(value: float, text: str) -> None:
    assert format_qty(value) == text


def test_embedding_is_offline_deterministic_and_normalized() -> None:
    fn = HashingEmbedding()
    first, second = fn(["办公桌1200"]), fn(["办公桌1200"])
    assert np.allclose(first[0], second[0])
    assert len(first[0]) == DEFAULT_DIMS
    assert float(np.linalg.norm(first[0])) == pytest.approx(1.0)
    assert HashingEmbedding.build_from_config(fn.get_config()).dims == DEFAULT_DIMS


def test_embedding_puts_related_names_closer() -> None:
    def similarity(a: str, b: str) -> float:
        return float(embed_text(a) @ embed_text(b))

    assert similarity("气压棒", "三级气压棒") > similarity("气压棒", "办公桌1200")
    assert similarity("ergo chair", "ergonomic chair") > similarity("ergo chair", "steel filing cabinet")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("SO-1020 什么时候发货", "zh"),
        ("when will SO-1020 ship", "en"),
        ("check 一下 _item_ 能做多少", "zh"),
        ("what about 600 张?", "en"),
        ("帮我 draft a PR for _mo_ shortages", "en"),
    ],
)
def test_language_is_the_dominant_script(text: str, language: str) -> None:
    assert detect_language(text) == language
