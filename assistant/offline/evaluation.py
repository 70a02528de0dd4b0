"""Accuracy of the offline understanding on the held-out questions (data/heldout.yaml): intents and slots."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from assistant.offline.backend import Understanding, understand
from assistant.offline.catalog import Catalog, catalog_from_dataset
from assistant.offline.entities import entity_index

HELDOUT_FILE = Path(__file__).parent / "data" / "heldout.yaml"
DEMO_FILE = Path(__file__).resolve().parents[2] / "data" / "demo" / "demo_factory.yaml"
DEMO_TODAY = date(2026, 12, 1)
TARGET_ACCURACY = 0.95


@dataclass(frozen=True)
class Miss:
    """One held-out question the understanding got wrong, and how."""

    question: str
    expected_intent: str
    got_intent: str
    wrong_slots: dict[str, tuple[Any, Any]]  # slot: (expected, got)


@dataclass(frozen=True)
class HeldoutReport:
    questions: int
    intent_correct: int
    slots_total: int
    slots_correct: int
    by_language: dict[str, tuple[int, int]]  # language: (intents correct, questions)
    misses: list[Miss] = field(default_factory=list)

    @property
    def intent_accuracy(self) -> float:
        return self.intent_correct / self.questions if self.questions else 0.0

    @property
    def slot_accuracy(self) -> float:
        return self.slots_correct / self.slots_total if self.slots_total else 1.0

    def format(self) -> str:
        """A short printable report."""
        lines = [
            f"offline NLU held-out: {self.questions} questions",
            f"  intent accuracy {self.intent_accuracy:.1%} ({self.intent_correct}/{self.questions})",
            f"  slot accuracy   {self.slot_accuracy:.1%} ({self.slots_correct}/{self.slots_total})",
        ]
        for lang, (ok, n) in sorted(self.by_language.items()):
            lines.append(f"  {lang}: intents {ok}/{n}")
        for miss in self.misses:
            lines.append(
                f"  miss: {miss.question!r} expected {miss.expected_intent}, got {miss.got_intent} {miss.wrong_slots}"
            )
        return "\n".join(lines)


def _label(u: Understanding) -> str:
    return "out_of_scope" if u.action == "not_understood" else u.intent


def _got_slot(u: Understanding, name: str) -> Any:
    if name == "ambiguous":
        # candidates to pick from (asked, or listed by a search intent; or held while a tool is missing)
        return u.slots.item is None and bool(u.candidates or u.slots.candidates)
    value = getattr(u.slots, name)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, date):
        return value
    return value


def _expected(name: str, value: Any) -> Any:
    if name == "qty":
        return Decimal(str(value))
    if name == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def evaluate_heldout(
    path: Path = HELDOUT_FILE, catalog: Catalog | None = None, today: date = DEMO_TODAY
) -> HeldoutReport:
    """Run every held-out question through the understanding (one fresh conversation each) and score it."""
    if catalog is None:
        catalog = catalog_from_dataset(yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8")))
    index = entity_index(catalog)
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    intent_ok = slots_total = slots_ok = 0
    by_lang: dict[str, list[int]] = {}
    misses: list[Miss] = []
    for case in cases:
        u = understand(case["q"], index, today)
        got = _label(u)
        ok = got == case["intent"]
        intent_ok += ok
        lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in case["q"]) else "en"
        stats = by_lang.setdefault(lang, [0, 0])
        stats[0] += ok
        stats[1] += 1
        wrong: dict[str, tuple[Any, Any]] = {}
        for name, value in (case.get("slots") or {}).items():
            slots_total += 1
            expected, actual = _expected(name, value), _got_slot(u, name)
            if expected == actual:
                slots_ok += 1
            else:
                wrong[name] = (expected, actual)
        if not ok or wrong:
            misses.append(Miss(case["q"], case["intent"], got, wrong))
    return HeldoutReport(
        questions=len(cases),
        intent_correct=intent_ok,
        slots_total=slots_total,
        slots_correct=slots_ok,
        by_language={k: (v[0], v[1]) for k, v in by_lang.items()},
        misses=misses,
    )
