"""BOM changes: line changes applied to a BOM, the diff of two BOMs, new versions' dates, and their impact."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from planning.bom import explode_totals, where_used
from planning.bom_cost import get_bom_cost
from planning.errors import InvalidInputError
from planning.model import ONE, ZERO, Bom, BomLine, Item, Plant

ISSUE_METHODS = ("manual", "backflush", "kit")


class ChangeType(StrEnum):
    REPLACE = "replace"  # component → new_component (optionally a new qty)
    QTY = "qty"
    SCRAP = "scrap"
    ADD = "add"
    REMOVE = "remove"
    UPDATE = "update"  # another attribute of the line: issue method, substitutes, mixing, the BOM's output


@dataclass(frozen=True, slots=True)
class LineChange:
    """One change to the BOM of ``parent``; ``old_*`` are filled in when it is applied to a BOM."""

    change_type: ChangeType
    parent: str
    component: str
    new_component: str = ""
    qty: Decimal | None = None  # the new quantity (qty, add; replace when it changes too)
    scrap_rate: Decimal | None = None  # the new scrap rate (scrap, add; replace when it changes too)
    issue_method: str = ""  # of an added line
    note: str = ""
    old_qty: Decimal | None = None
    old_scrap_rate: Decimal | None = None


@dataclass(frozen=True)
class ChangedBom:
    """The BOM of ``parent`` before and after its changes; ``changed_lines`` index ``after.lines``."""

    parent: str
    before: Bom | None
    after: Bom
    changes: tuple[LineChange, ...]
    changed_lines: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class VersionSpan:
    """When a BOM version is in force: from ``effective_from`` (inclusive) to ``effective_to`` (exclusive)."""

    effective_from: date | None
    effective_to: date | None


@dataclass(frozen=True, slots=True)
class Supersession:
    """How a new version starting on a date takes over from the version in force then.

    ``base`` is the old version's new span, or None when it is obsoleted (it started that same day, so it
    would never be in force again); the old version's lines are never edited.
    """

    base: VersionSpan | None
    new: VersionSpan


@dataclass(frozen=True, slots=True)
class TotalChange:
    """The gross quantity of ``item`` per one unit of the impacted item, before and after."""

    item: str
    before: Decimal
    after: Decimal


@dataclass(frozen=True)
class ChangeImpact:
    """``item`` per unit before and after a change: rolled-up cost and explosion totals (all levels)."""

    item: str
    unit_cost_before: Decimal | None  # None: the item had no cost before (a new item)
    unit_cost_after: Decimal
    totals_before: Mapping[str, Decimal]
    totals_after: Mapping[str, Decimal]

    @property
    def cost_delta(self) -> Decimal:
        return self.unit_cost_after - (self.unit_cost_before or ZERO)

    @property
    def changed_totals(self) -> tuple[TotalChange, ...]:
        codes = dict.fromkeys([*self.totals_before, *self.totals_after])
        rows = (
            TotalChange(c, self.totals_before.get(c, ZERO), self.totals_after.get(c, ZERO)) for c in codes
        )
        return tuple(row for row in rows if row.before != row.after)


def _refuse(message: str, change: LineChange, **details: object) -> InvalidInputError:
    return InvalidInputError(
        message,
        {
            "parent": change.parent,
            "component": change.component,
            "change_type": str(change.change_type),
            **details,
        },
    )


def _check_qty(change: LineChange, qty: Decimal | None, required: bool) -> None:
    if qty is None:
        if required:
            raise _refuse(f"{change.change_type} of {change.component} needs a quantity", change, field="qty")
        return
    if not qty > 0:
        raise _refuse(f"quantity must be positive, got {qty}", change, field="qty", qty=str(qty))


def _check_scrap(change: LineChange, scrap: Decimal | None, required: bool) -> None:
    if scrap is None:
        if required:
            raise _refuse(
                f"scrap change of {change.component} needs a scrap rate", change, field="scrap_rate"
            )
        return
    if not ZERO <= scrap < ONE:
        raise _refuse(f"scrap rate must be in [0, 1), got {scrap}", change, field="scrap_rate")


def apply_line_changes(bom: Bom, changes: Sequence[LineChange]) -> ChangedBom:
    """``bom`` with ``changes`` applied in order (each to every line of its component), as a new BOM.

    Refuses (InvalidInputError) a change whose component is not on the BOM (or, to add, already is),
    non-positive quantities, scrap outside [0, 1), and removing the last line. A replaced line keeps its
    quantity, scrap, issue method and substitutes unless given, less a substitute that is the new component.
    """
    lines: list[BomLine] = list(bom.lines)
    changed: list[bool] = [False] * len(lines)
    applied: list[LineChange] = []
    for change in changes:
        if change.parent != bom.parent:
            raise _refuse(f"change is for {change.parent}, not {bom.parent}", change)
        at = [i for i, line in enumerate(lines) if line.component == change.component]
        if change.change_type == ChangeType.ADD:
            if at:
                raise _refuse(
                    f"{change.component} is already on the BOM of {bom.parent}: change its quantity instead",
                    change,
                )
            _check_qty(change, change.qty, required=True)
            _check_scrap(change, change.scrap_rate, required=False)
            method = change.issue_method or "manual"
            if method not in ISSUE_METHODS:
                raise _refuse(f"unknown issue method {method!r}", change, field="issue_method")
            assert change.qty is not None
            lines.append(
                BomLine(change.component, change.qty, change.scrap_rate or ZERO, issue_method=method)
            )
            changed.append(True)
            applied.append(replace(change, scrap_rate=change.scrap_rate or ZERO, issue_method=method))
            continue
        if not at:
            raise _refuse(f"{change.component} is not on the BOM of {bom.parent}", change)
        first = lines[at[0]]
        applied.append(replace(change, old_qty=first.qty, old_scrap_rate=first.scrap_rate))
        if change.change_type == ChangeType.REMOVE:
            if len(at) == len(lines):
                raise _refuse(
                    f"removing {change.component} would leave the BOM of {bom.parent} empty", change
                )
            lines = [line for i, line in enumerate(lines) if i not in at]
            changed = [flag for i, flag in enumerate(changed) if i not in at]
            continue
        for i in at:
            lines[i] = _changed_line(lines[i], change)
            changed[i] = True
    after = replace(bom, lines=tuple(lines))
    return ChangedBom(
        bom.parent, bom, after, tuple(applied), frozenset(i for i, flag in enumerate(changed) if flag)
    )


def _changed_line(line: BomLine, change: LineChange) -> BomLine:
    if change.change_type == ChangeType.QTY:
        _check_qty(change, change.qty, required=True)
        return replace(line, qty=change.qty or line.qty)
    if change.change_type == ChangeType.SCRAP:
        _check_scrap(change, change.scrap_rate, required=True)
        return replace(
            line, scrap_rate=change.scrap_rate if change.scrap_rate is not None else line.scrap_rate
        )
    if change.change_type == ChangeType.REPLACE:
        new = change.new_component
        if not new or new == change.component:
            raise _refuse(f"replace {change.component} by what? give another new_component", change)
        _check_qty(change, change.qty, required=False)
        _check_scrap(change, change.scrap_rate, required=False)
        return replace(
            line,
            component=new,
            qty=change.qty if change.qty is not None else line.qty,
            scrap_rate=change.scrap_rate if change.scrap_rate is not None else line.scrap_rate,
            substitutes=tuple(s for s in line.substitutes if s.item != new),
        )
    raise _refuse(f"{change.change_type} is not a line change to apply", change)


def diff_bom(parent: str, before: Bom | None, after: Bom) -> ChangedBom:
    """The changes that turn ``before`` into ``after`` (lines matched by component, in order).

    A changed quantity or scrap rate is its own change; any other changed attribute of a line (issue
    method, substitutes, mixing) or a new output quantity is an ``update``.
    """
    old_lines = list(before.lines) if before else []
    old_output = before.output_qty if before else after.output_qty
    unmatched: dict[str, list[int]] = {}
    for i, line in enumerate(old_lines):
        unmatched.setdefault(line.component, []).append(i)
    changes: list[LineChange] = []
    changed_lines: set[int] = set()
    for j, line in enumerate(after.lines):
        queue = unmatched.get(line.component)
        if not queue:
            changes.append(
                LineChange(
                    ChangeType.ADD,
                    parent,
                    line.component,
                    qty=line.qty,
                    scrap_rate=line.scrap_rate,
                    issue_method=line.issue_method,
                )
            )
            changed_lines.add(j)
            continue
        old = old_lines[queue.pop(0)]
        line_changes: list[LineChange] = []
        if old.qty != line.qty:
            line_changes.append(
                LineChange(
                    ChangeType.QTY,
                    parent,
                    line.component,
                    qty=line.qty,
                    old_qty=old.qty,
                    old_scrap_rate=old.scrap_rate,
                )
            )
        if old.scrap_rate != line.scrap_rate:
            line_changes.append(
                LineChange(
                    ChangeType.SCRAP,
                    parent,
                    line.component,
                    scrap_rate=line.scrap_rate,
                    old_qty=old.qty,
                    old_scrap_rate=old.scrap_rate,
                )
            )
        notes = _other_differences(old, line)
        if old_output != after.output_qty:
            notes.append(f"output qty {_fmt(old_output)} → {_fmt(after.output_qty)}")
        if notes:
            line_changes.append(
                LineChange(
                    ChangeType.UPDATE,
                    parent,
                    line.component,
                    issue_method=line.issue_method,
                    note="; ".join(notes),
                    old_qty=old.qty,
                    old_scrap_rate=old.scrap_rate,
                )
            )
        if line_changes:
            changes.extend(line_changes)
            changed_lines.add(j)
    for i in sorted(i for queue in unmatched.values() for i in queue):
        old = old_lines[i]
        changes.append(
            LineChange(
                ChangeType.REMOVE, parent, old.component, old_qty=old.qty, old_scrap_rate=old.scrap_rate
            )
        )
    return ChangedBom(parent, before, after, tuple(changes), frozenset(changed_lines))


def _fmt(value: Decimal) -> str:
    text = f"{Decimal(value).normalize():f}"
    return "0" if text == "-0" else text


def _other_differences(old: BomLine, new: BomLine) -> list[str]:
    notes: list[str] = []
    if old.issue_method != new.issue_method:
        notes.append(f"issue method {old.issue_method} → {new.issue_method}")
    old_subs = [(s.item, s.ratio, s.priority) for s in old.substitutes]
    new_subs = [(s.item, s.ratio, s.priority) for s in new.substitutes]
    if old_subs != new_subs:
        before = ", ".join(f"{s.item}×{_fmt(s.ratio)}" for s in old.substitutes) or "none"
        after = ", ".join(f"{s.item}×{_fmt(s.ratio)}" for s in new.substitutes) or "none"
        notes.append(f"substitutes {before} → {after}")
    if old.allow_mix != new.allow_mix:
        notes.append(f"allow mix {old.allow_mix} → {new.allow_mix}")
    return notes


def next_version(versions: Iterable[str]) -> str:
    """The version after every numbered one (``"1"``, ``"2"`` → ``"3"``); never one already taken."""
    taken = set(versions)
    numbered = [int(v) for v in taken if v.isdigit()]
    candidate = max(numbered, default=0) + 1
    while str(candidate) in taken:
        candidate += 1
    return str(candidate)


def supersede(base: VersionSpan | None, on: date) -> Supersession:
    """The spans of the version in force on ``on`` (``base``) and of a new version starting ``on``.

    The new version inherits the base's end (a later version already planned still takes over then); the
    base ends on ``on``, or, when it starts that very day, is obsoleted instead of getting an empty span.
    """
    if base is None:
        return Supersession(None, VersionSpan(on, None))
    if (base.effective_from and base.effective_from > on) or (base.effective_to and base.effective_to <= on):
        raise InvalidInputError(
            f"the base version is not in force on {on.isoformat()}",
            {"effective_from": str(base.effective_from), "effective_to": str(base.effective_to)},
        )
    new = VersionSpan(on, base.effective_to)
    if base.effective_from == on:
        return Supersession(None, new)
    return Supersession(VersionSpan(base.effective_from, on), new)


def modify_plant(plant: Plant, boms: Mapping[str, Bom], items: Mapping[str, Item] | None = None) -> Plant:
    """``plant`` with ``boms`` replacing its BOMs of those parents and ``items`` added (a what-if copy)."""
    return replace(plant, items={**plant.items, **(items or {})}, boms={**plant.boms, **boms})


def impacted_items(plant: Plant, parents: Iterable[str], limit: int = 100) -> tuple[list[str], bool]:
    """The changed ``parents`` and every end item that uses them (in ``plant``), at most ``limit``.

    Returns the codes and whether the list was cut short.
    """
    codes: dict[str, None] = {}
    for parent in parents:
        codes[parent] = None
        for top in where_used(plant, parent, multi_level=True).top_items:
            codes[top] = None
    listed = list(codes)
    return listed[:limit], len(listed) > limit


def compare_plants(before: Plant, after: Plant, items: Sequence[str]) -> tuple[ChangeImpact, ...]:
    """Cost per unit and explosion totals per unit of each of ``items`` in ``before`` and ``after``."""
    impacts: list[ChangeImpact] = []
    for code in items:
        known = code in before.items or code in before.boms
        impacts.append(
            ChangeImpact(
                item=code,
                unit_cost_before=get_bom_cost(before, code).unit_cost if known else None,
                unit_cost_after=get_bom_cost(after, code).unit_cost,
                totals_before=explode_totals(before, code) if known else {},
                totals_after=explode_totals(after, code),
            )
        )
    return tuple(impacts)
