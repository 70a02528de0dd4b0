"""Engineering change tools (工程变更): BOM tree edits, ECNs (draft → approved → applied), batch BOM changes.

Every change creates new BOM versions from an effective date (the version in force then ends on that date)
and never edits a version's lines in place, so planning before the date still uses the old BOM. Each
applied change is an ECN record, and every changed BOM line carries its ECN code (``ecn_ref``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, WithJsonSchema, model_validator
from sqlmodel import Session, select

from data_model.dataset_store import effective_bom_map
from data_model.states import TRANSITIONS, StateError, can_transition, transition
from data_model.tables import AuditLog, Bom, BomLine, BomSubstitute, Ecn, EcnChange, Item, Proposal, Uom
from planning import model as pm
from planning.bom import find_bom_cycle
from planning.bom_change import (
    ChangedBom,
    ChangeImpact,
    ChangeType,
    LineChange,
    Supersession,
    VersionSpan,
    apply_line_changes,
    compare_plants,
    diff_bom,
    impacted_items,
    modify_plant,
    next_version,
    supersede,
)
from planning.errors import InvalidInputError
from tools.catalog.items import resolve_item
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.snapshot import load_plant_from_session
from tools.types import Num

ECN_PREFIX = "ECN-"
BOM_CHANGE = "bom_change"
BOM_BATCH_CHANGE = "bom_batch_change"
ECN_DRAFT = "ecn_draft"
ECN_APPROVAL = "ecn_approval"
ECN_APPLICATION = "ecn_application"
ECN_CANCELLATION = "ecn_cancellation"
# planner = the engineering role; manager and admin may confirm every kind
ENGINEERING_ROLES = ("planner",)
MAX_IMPACTS = 50
MAX_TREE_DEPTH = 30
SUMMARY_CHANGES = 10

IssueMethod = Literal["manual", "backflush", "kit"]
ChangeKind = Literal["replace", "qty", "scrap", "add", "remove"]
EcnStatus = Literal["draft", "approved", "applied", "cancelled"]
ITEM_FIELD = "item code (or exact name / alias)"


# ---------------------------------------------------------------- inputs


class SubstituteSpecIn(BaseModel):
    """``ratio`` units of ``item`` may replace one unit of the line's component (in the order given)."""

    item: str = Field(min_length=1, max_length=200, description=ITEM_FIELD)
    ratio: Num = Field(default=Decimal(1), gt=0)


class BomTreeLineIn(BaseModel):
    """One BOM line, optionally with the component's own BOM below it."""

    component: str = Field(min_length=1, max_length=200, description=ITEM_FIELD)
    qty: Num = Field(gt=0, description="per output_qty of the parent")
    scrap_rate: Num = Field(default=Decimal(0), ge=0, lt=1, description="required = qty × (1 + scrap_rate)")
    issue_method: IssueMethod = "manual"
    allow_mix: bool = Field(default=True, description="may the component and its substitutes be mixed")
    substitutes: list[SubstituteSpecIn] = Field(default_factory=list, max_length=20)
    bom: Annotated[
        BomTreeIn | None,
        WithJsonSchema(
            {
                "anyOf": [{"type": "object"}, {"type": "null"}],
                "description": "the component's own BOM (a sub-tree), same shape as the top `bom`: "
                "{output_qty, lines: [...]}; it replaces the component's BOM. Leave out to keep its BOM.",
            }
        ),
    ] = None


class BomTreeIn(BaseModel):
    """The whole BOM of one parent: its lines replace the lines of the BOM in force."""

    output_qty: Num = Field(default=Decimal(1), gt=0, description="the BOM makes this many parents")
    lines: list[BomTreeLineIn] = Field(min_length=1, max_length=500)


BomTreeLineIn.model_rebuild()


class NewItemIn(BaseModel):
    """An item to create with the change (its basic fields; edit the rest later)."""

    code: str = Field(min_length=1, max_length=64, pattern=r"^\S+$")
    name: str = Field(default="", max_length=200)
    uom: str = Field(default="pcs", min_length=1, max_length=20)
    source: Literal["make", "buy", "subcontract"] = "make"
    lead_time_days: int = Field(default=0, ge=0)
    unit_cost: Num = Field(default=Decimal(0), ge=0, description="purchase price, fee or standard cost")
    category: str = Field(default="", max_length=60)
    phantom: bool = False


class BomTreeChangeIn(BaseModel):
    item: str = Field(
        min_length=1, max_length=200, description="the top item of the tree (" + ITEM_FIELD + ")"
    )
    bom: BomTreeIn = Field(description="its BOM; lines may carry sub-trees for their components")
    new_items: list[NewItemIn] = Field(
        default_factory=list, max_length=200, description="items to create with the change"
    )


# The field each kind of line change cannot do without.
_CHANGE_NEEDS = {"replace": "new_component", "qty": "qty", "scrap": "scrap_rate", "add": "qty"}


def _require_change_field(change: BaseModel, change_type: str) -> None:
    """Refuse a change without the field its kind needs (a new component, a quantity, a scrap rate)."""
    field = _CHANGE_NEEDS.get(change_type)
    if field and getattr(change, field) is None:
        raise ValueError(f"a {change_type} change needs {field}")


class BomLineChangeIn(BaseModel):
    """One change to one parent's BOM."""

    change_type: ChangeKind = Field(
        description="replace (component → new_component), qty (new qty), scrap (new scrap_rate), "
        "add (a new line: component, qty), remove (the component's line)"
    )
    parent: str = Field(min_length=1, max_length=200, description="item whose BOM changes")
    component: str = Field(min_length=1, max_length=200, description="the line's component")
    new_component: str | None = Field(default=None, max_length=200, description="replace: the new component")
    qty: Num | None = Field(default=None, gt=0, description="qty and add: the quantity; replace: optional")
    scrap_rate: Num | None = Field(default=None, ge=0, lt=1, description="scrap; add/replace: optional")
    issue_method: IssueMethod | None = Field(default=None, description="add: how it is issued")
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _needs(self) -> BomLineChangeIn:
        _require_change_field(self, self.change_type)
        return self


class BatchSelectionIn(BaseModel):
    """Which BOMs (in force on the effective date) to change; the filters given must all hold."""

    component: str | None = Field(
        default=None, max_length=200, description="every BOM that uses this item directly (where-used)"
    )
    category: str | None = Field(default=None, max_length=60, description="parents of this item category")
    code_prefix: str | None = Field(default=None, max_length=64, description="parents whose code starts so")
    parents: list[str] = Field(default_factory=list, max_length=500, description="these parents only")

    @model_validator(mode="after")
    def _some_filter(self) -> BatchSelectionIn:
        if not (self.component or self.category or self.code_prefix or self.parents):
            raise ValueError("give at least one of component, category, code_prefix, parents")
        return self


class BatchChangeIn(BaseModel):
    """The change made to every selected BOM."""

    change_type: ChangeKind
    component: str | None = Field(
        default=None, max_length=200, description="the line's component (default: the selection's component)"
    )
    new_component: str | None = Field(default=None, max_length=200)
    qty: Num | None = Field(default=None, gt=0)
    scrap_rate: Num | None = Field(default=None, ge=0, lt=1)
    issue_method: IssueMethod | None = None
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _needs(self) -> BatchChangeIn:
        _require_change_field(self, self.change_type)
        return self


class BomBatchIn(BaseModel):
    select: BatchSelectionIn
    change: BatchChangeIn


EFFECTIVE_FIELD = "first day the new BOM versions are in force (YYYY-MM-DD, today or later; default today)"


class ProposeBomChangeIn(BomTreeChangeIn):
    effective_date: date | None = Field(default=None, description=EFFECTIVE_FIELD)
    title: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=2000)


class ProposeEcnIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000, description="why the change is made")
    effective_date: date = Field(description="first day the changed BOMs are in force (today or later)")
    changes: list[BomLineChangeIn] = Field(min_length=1, max_length=200)


class EcnRefIn(BaseModel):
    ecn: str = Field(min_length=1, max_length=64, description="ECN code, e.g. ECN-00001")


class ProposeEcnApprovalIn(EcnRefIn):
    note: str = Field(default="", max_length=500)


class ProposeEcnCancellationIn(EcnRefIn):
    reason: str = Field(default="", max_length=500)


class ProposeBomBatchChangeIn(BomBatchIn):
    title: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)
    effective_date: date | None = Field(default=None, description=EFFECTIVE_FIELD)


class PreviewBomChangeIn(BaseModel):
    """Exactly one of ``changes``, ``ecn``, ``tree``, ``batch``."""

    changes: list[BomLineChangeIn] | None = Field(
        default=None, max_length=200, description="ECN-style changes"
    )
    ecn: str | None = Field(default=None, max_length=64, description="an existing ECN to preview applying")
    tree: BomTreeChangeIn | None = Field(default=None, description="a BOM tree edit (as propose_bom_change)")
    batch: BomBatchIn | None = Field(default=None, description="a batch change (as propose_bom_batch_change)")
    effective_date: date | None = Field(
        default=None, description="the date the change takes effect (default: the ECN's date, else today)"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> PreviewBomChangeIn:
        given = [k for k in ("changes", "ecn", "tree", "batch") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of changes, ecn, tree, batch")
        return self


# ---------------------------------------------------------------- outputs


class BomLineOut(BaseModel):
    component: str
    name: str
    qty: Num = Field(description="per output_qty of the parent")
    scrap_rate: Num
    issue_method: str
    substitutes: list[str]
    changed: bool = Field(description="changed by this change")
    ecn_ref: str = Field(description="the ECN that last changed the line")


class LineChangeOut(BaseModel):
    parent: str
    change_type: str
    component: str
    new_component: str = ""
    old_qty: Num | None = None
    new_qty: Num | None = None
    old_scrap_rate: Num | None = None
    new_scrap_rate: Num | None = None
    issue_method: str = ""
    note: str = ""
    text: str = Field(description="the change in words")


class BomVersionChangeOut(BaseModel):
    """One parent's BOM: the version in force on the date and the new version that replaces it."""

    parent: str
    name: str
    base_version: str | None = Field(description="the version in force on the date (None: no BOM yet)")
    base_effective_to: date | None = Field(description="the old version's new end date (exclusive)")
    base_obsoleted: bool = Field(description="the old version started that same day and is made obsolete")
    new_version: str
    effective_from: date
    effective_to: date | None = Field(description="when a later version already planned takes over")
    output_qty: Num
    lines_before: list[BomLineOut]
    lines_after: list[BomLineOut]
    changes: list[LineChangeOut]
    unit_cost_before: Num | None
    unit_cost_after: Num | None


class TotalChangeOut(BaseModel):
    item: str
    before: Num
    after: Num


class ImpactOut(BaseModel):
    """An impacted item per unit: BOM cost and gross requirements (all levels), before and after."""

    item: str
    name: str
    unit_cost_before: Num | None = Field(description="None for a new item")
    unit_cost_after: Num
    cost_delta: Num
    totals_before: dict[str, Num]
    totals_after: dict[str, Num]
    changed_totals: list[TotalChangeOut]


class SkippedBomOut(BaseModel):
    parent: str
    reason: str


class BomChangePreviewOut(BaseModel):
    effective_date: date
    boms: list[BomVersionChangeOut] = Field(description="every BOM that gets a new version")
    impacts: list[ImpactOut] = Field(description="the changed parents and the end items using them")
    impacts_truncated: bool
    new_items: list[str]
    skipped: list[SkippedBomOut] = Field(description="selected BOMs the change does not apply to (batch)")
    warnings: list[str]


class BomChangeProposalOut(ProposalOut):
    preview: BomChangePreviewOut


class EcnStepProposalOut(ProposalOut):
    ecn: str
    from_status: str
    to_status: str
    preview: BomChangePreviewOut | None = Field(description="what applying it does, on today's data")


class EcnChangeOut(LineChangeOut):
    seq: int
    from_version: str | None = Field(description="once applied: the BOM version it changed")
    to_version: str | None = Field(description="once applied: the BOM version it created")


class EcnLogOut(BaseModel):
    at: datetime
    actor: str
    action: str
    proposal_id: str


class EcnOut(BaseModel):
    code: str
    title: str
    reason: str
    effective_date: date
    status: EcnStatus
    source: str = Field(description="ecn (a document), bom_change (a BOM edit) or batch (a batch change)")
    created_by: str
    created_at: datetime
    approved_by: str
    approved_at: datetime | None
    applied_by: str
    applied_at: datetime | None
    parents: list[str] = Field(description="items whose BOM it changes")
    changes: list[EcnChangeOut]
    log: list[EcnLogOut] = Field(description="its audit trail")
    next_step: str


class GetEcnOut(EcnOut):
    pass


class ListEcnsIn(BaseModel):
    status: EcnStatus | None = None
    item: str | None = Field(
        default=None, max_length=200, description="ECNs changing this item's BOM or lines"
    )
    limit: int = Field(default=50, ge=1, le=500)


class EcnRowOut(BaseModel):
    code: str
    title: str
    effective_date: date
    status: EcnStatus
    source: str
    parents: list[str]
    change_count: int
    created_by: str
    created_at: datetime


class ListEcnsOut(BaseModel):
    ecns: list[EcnRowOut] = Field(description="newest first")


class GetBomHistoryIn(BaseModel):
    item: str = Field(min_length=1, max_length=200, description=ITEM_FIELD)
    on: date | None = Field(
        default=None, description="which version is in force on this date (default today)"
    )


class BomVersionOut(BaseModel):
    version: str
    status: str
    effective_from: date | None
    effective_to: date | None = Field(description="exclusive")
    in_force: bool = Field(description="the version in force on the date asked")
    ecn: str = Field(description="the ECN that created this version ('' for loaded data)")
    output_qty: Num
    lines: list[BomLineOut]


class HistoryChangeOut(EcnChangeOut):
    ecn: str
    ecn_status: str
    effective_date: date


class GetBomHistoryOut(BaseModel):
    item: str
    name: str
    on: date
    versions: list[BomVersionOut] = Field(description="oldest first")
    changes: list[HistoryChangeOut] = Field(description="ECN changes to this item's BOM, oldest first")
    used_in_changes: list[HistoryChangeOut] = Field(
        description="ECN changes to other BOMs where this item is the component or the new component"
    )


# ---------------------------------------------------------------- loading BOM versions


@dataclass(frozen=True)
class _Version:
    """One stored BOM version with its lines, as the planning core sees them."""

    id: int
    parent: str
    version: str
    effective_from: date | None
    effective_to: date | None
    status: str
    bom: pm.Bom
    ecn_refs: tuple[str, ...]


def _item_codes(session: Session) -> dict[int, str]:
    return {item_id: code for item_id, code in session.execute(sa.select(Item.id, Item.code))}


def _load_versions(
    session: Session, codes: dict[int, str], *, parent_id: int | None = None, active_only: bool = True
) -> list[_Version]:
    stmt = sa.select(Bom)
    if active_only:
        stmt = stmt.where(Bom.status == "active")
    if parent_id is not None:
        stmt = stmt.where(Bom.item_id == parent_id)
    heads = session.execute(stmt.order_by(Bom.id)).scalars().all()
    ids = [h.id for h in heads]
    rows: dict[int, list[BomLine]] = defaultdict(list)
    subs: dict[int, list[pm.Substitute]] = defaultdict(list)
    if ids:
        line_rows = session.execute(
            sa.select(BomLine)
            .where(BomLine.bom_id.in_(ids))  # type: ignore[attr-defined]
            .order_by(BomLine.bom_id, BomLine.seq, BomLine.id)
        ).scalars()
        for ln in line_rows:
            rows[ln.bom_id].append(ln)
        line_ids = [ln.id for lines in rows.values() for ln in lines]
        for sub in session.execute(
            sa.select(BomSubstitute)
            .where(BomSubstitute.bom_line_id.in_(line_ids))  # type: ignore[attr-defined]
            .order_by(BomSubstitute.bom_line_id, BomSubstitute.priority, BomSubstitute.id)
        ).scalars():
            subs[sub.bom_line_id].append(pm.Substitute(codes[sub.item_id], sub.ratio, sub.priority))
    out = []
    for h in heads:
        lines = rows[h.id or 0]
        bom = pm.Bom(
            parent=codes[h.item_id],
            lines=tuple(
                pm.BomLine(
                    component=codes[ln.component_id],
                    qty=ln.qty,
                    scrap_rate=ln.scrap_rate,
                    substitutes=tuple(subs.get(ln.id or 0, ())),
                    issue_method=ln.issue_method,
                    allow_mix=ln.allow_mix,
                )
                for ln in lines
            ),
            output_qty=h.output_qty,
            version=h.version,
        )
        out.append(
            _Version(
                id=h.id or 0,
                parent=codes[h.item_id],
                version=h.version,
                effective_from=h.effective_from,
                effective_to=h.effective_to,
                status=h.status,
                bom=bom,
                ecn_refs=tuple(ln.ecn_ref for ln in lines),
            )
        )
    return out


# ---------------------------------------------------------------- planning a change


@dataclass
class _Plan:
    """A change worked out against the BOMs in force on ``effective_date``; nothing written yet."""

    effective_date: date
    before: pm.Plant
    after: pm.Plant
    changed: list[ChangedBom]
    bases: dict[str, _Version]
    spans: dict[str, Supersession]
    new_versions: dict[str, str]
    new_items: list[NewItemIn]
    impacts: tuple[ChangeImpact, ...]
    impacts_truncated: bool
    warnings: list[str]
    skipped: list[SkippedBomOut]
    top: str = ""  # the top item of a tree edit


class _Planner:
    """Reads the BOM versions once and turns edits of parents' BOMs into a checked plan."""

    def __init__(self, session: Session, on: date, new_items: Sequence[NewItemIn] = ()) -> None:
        self.session = session
        self.on = on
        self.codes = _item_codes(session)
        self.versions = _load_versions(session, self.codes)
        self.in_force: dict[str, _Version] = effective_bom_map(self.versions, on)  # type: ignore[arg-type]
        self.plant = load_plant_from_session(session, on)
        self.new_items = list(new_items)
        self._check_new_items()
        self._new_codes = {n.code for n in self.new_items}
        self._resolved: dict[str, str] = {}

    def _check_new_items(self) -> None:
        seen: set[str] = set()
        for n in self.new_items:
            if n.code in seen:
                raise ToolError("invalid_input", f"new item {n.code} is listed twice", {"field": "new_items"})
            seen.add(n.code)
        taken = sorted(seen & set(self.codes.values()))
        if taken:
            raise ToolError(
                "conflict",
                f"item {taken[0]} already exists: use it as it is instead of creating it",
                {"field": "new_items", "items": taken},
            )

    def code_of(self, key: str) -> str:
        """The code of an active item (or a new one) from a code, exact name or alias."""
        if key in self._new_codes:
            return key
        if key not in self._resolved:
            item = resolve_item(self.session, key)
            if not item.active:
                raise ToolError("invalid_input", f"item {item.code} is inactive", {"item": item.code})
            self._resolved[key] = item.code
        return self._resolved[key]

    def base_bom(self, parent: str) -> pm.Bom | None:
        version = self.in_force.get(parent)
        return version.bom if version else None

    def plan(
        self,
        changed: Iterable[ChangedBom],
        warnings: Iterable[str] = (),
        skipped: Iterable[SkippedBomOut] = (),
    ) -> _Plan:
        """Check the changed BOMs (no cycle on any date from the effective date on) and price them."""
        changed = [c for c in changed if c.changes]
        bases = {c.parent: self.in_force[c.parent] for c in changed if c.parent in self.in_force}
        spans: dict[str, Supersession] = {}
        new_versions: dict[str, str] = {}
        all_versions: dict[str, list[str]] = defaultdict(list)
        for row in self.session.execute(sa.select(Item.code, Bom.version).join(Item, Item.id == Bom.item_id)):  # type: ignore[arg-type]
            all_versions[row[0]].append(row[1])
        for c in changed:
            base = bases.get(c.parent)
            spans[c.parent] = supersede(
                VersionSpan(base.effective_from, base.effective_to) if base else None, self.on
            )
            new_versions[c.parent] = next_version(all_versions.get(c.parent, ()))
        self._check_cycles(changed, bases, spans, new_versions)
        new_items = {
            n.code: pm.Item(
                code=n.code,
                name=n.name,
                source=pm.Source(n.source),
                lead_time_days=n.lead_time_days,
                unit_cost=n.unit_cost,
                phantom=n.phantom,
                uom=n.uom,
            )
            for n in self.new_items
        }
        after = modify_plant(self.plant, {c.parent: c.after for c in changed}, new_items)
        items, truncated = impacted_items(after, [c.parent for c in changed], MAX_IMPACTS)
        notes = list(warnings) + self._warnings(changed, after)
        return _Plan(
            effective_date=self.on,
            before=self.plant,
            after=after,
            changed=changed,
            bases=bases,
            spans=spans,
            new_versions=new_versions,
            new_items=self.new_items,
            impacts=compare_plants(self.plant, after, items),
            impacts_truncated=truncated,
            warnings=notes,
            skipped=list(skipped),
        )

    def _check_cycles(
        self,
        changed: list[ChangedBom],
        bases: dict[str, _Version],
        spans: dict[str, Supersession],
        new_versions: dict[str, str],
    ) -> None:
        """No BOM cycle on any date the BOMs in force can differ, from the effective date on."""
        based = {v.id for v in bases.values()}
        heads = [v for v in self.versions if v.id not in based]
        for parent, base in bases.items():
            span = spans[parent].base
            if span is not None:
                heads.append(replace(base, effective_to=span.effective_to))
        for c in changed:
            span = spans[c.parent].new
            heads.append(
                _Version(
                    0,
                    c.parent,
                    new_versions[c.parent],
                    span.effective_from,
                    span.effective_to,
                    "active",
                    c.after,
                    (),
                )
            )
        days = {self.on} | {d for h in heads for d in (h.effective_from, h.effective_to) if d and d > self.on}
        for day in sorted(days):
            chosen = effective_bom_map(heads, day)  # type: ignore[arg-type]
            cycle = find_bom_cycle({parent: h.bom for parent, h in chosen.items()})
            if cycle:
                when = "" if day == self.on else f" (from {day.isoformat()})"
                raise ToolError(
                    "invalid_input",
                    f"the change would make a BOM cycle{when}: {' → '.join(cycle)}",
                    {"path": cycle, "date": day.isoformat()},
                )

    def _warnings(self, changed: list[ChangedBom], after: pm.Plant) -> list[str]:
        notes: list[str] = []
        later: dict[str, list[_Version]] = defaultdict(list)
        for v in self.versions:
            if v.effective_from and v.effective_from > self.on:
                later[v.parent].append(v)
        for c in changed:
            for v in later.get(c.parent, ()):
                notes.append(
                    f"{c.parent} v{v.version} is already planned from {v.effective_from} and does not "
                    f"include this change"
                )
            item = after.items.get(c.parent)
            if item is not None and item.source == pm.Source.BUY and not item.phantom:
                notes.append(f"{c.parent} is a buy item: its BOM is not exploded by planning")
        used = {ln.component for c in changed for ln in c.after.lines} | {c.parent for c in changed}
        for n in self.new_items:
            if n.code not in used:
                notes.append(f"new item {n.code} is not used in the change")
            elif n.source != "buy" and n.code not in after.boms:
                notes.append(f"new {n.source} item {n.code} has no BOM: it is costed at its unit_cost")
        return notes


def _effective_date(ctx: ToolContext, given: date | None) -> date:
    on = given or ctx.today
    if on < ctx.today:
        raise ToolError(
            "invalid_input",
            f"effective date {on.isoformat()} is in the past (today is {ctx.today.isoformat()}): "
            "a change never rewrites history",
            {"field": "effective_date", "today": ctx.today.isoformat()},
        )
    return on


def _line_change(
    planner: _Planner, c: BomLineChangeIn | BatchChangeIn, parent: str, component: str
) -> LineChange:
    return LineChange(
        change_type=ChangeType(c.change_type),
        parent=parent,
        component=component,
        new_component=planner.code_of(c.new_component) if c.new_component else "",
        qty=c.qty,
        scrap_rate=c.scrap_rate,
        issue_method=c.issue_method or "",
        note=c.note,
    )


def _apply_to_bases(planner: _Planner, changes: Sequence[LineChange]) -> list[ChangedBom]:
    """Group the changes by parent and apply them to the BOMs in force (a parent without one: adds only)."""
    by_parent: dict[str, list[LineChange]] = {}
    for change in changes:
        by_parent.setdefault(change.parent, []).append(change)
    out = []
    for parent, group in by_parent.items():
        base = planner.base_bom(parent)
        if base is None:
            if any(c.change_type != ChangeType.ADD for c in group):
                raise ToolError(
                    "invalid_input",
                    f"{parent} has no BOM in force on {planner.on.isoformat()}: only lines can be added",
                    {"parent": parent, "date": planner.on.isoformat()},
                )
            changed = apply_line_changes(pm.Bom(parent, ()), group)
            out.append(ChangedBom(parent, None, changed.after, changed.changes, changed.changed_lines))
        else:
            out.append(apply_line_changes(base, group))
    return out


def _plan_changes(session: Session, on: date, changes: Sequence[BomLineChangeIn]) -> _Plan:
    planner = _Planner(session, on)
    resolved = [
        _line_change(planner, c, planner.code_of(c.parent), planner.code_of(c.component)) for c in changes
    ]
    return planner.plan(_apply_to_bases(planner, resolved))


def _flatten_tree(planner: _Planner, top: str, tree: BomTreeIn) -> dict[str, pm.Bom]:
    """Every parent's BOM in a nested tree (the top first); a parent given twice must be given alike."""
    out: dict[str, pm.Bom] = {}

    def visit(parent: str, sub: BomTreeIn, depth: int) -> None:
        if depth > MAX_TREE_DEPTH:
            raise ToolError(
                "invalid_input", f"the tree is deeper than {MAX_TREE_DEPTH} levels", {"item": parent}
            )
        lines = tuple(
            pm.BomLine(
                component=planner.code_of(ln.component),
                qty=ln.qty,
                scrap_rate=ln.scrap_rate,
                substitutes=tuple(
                    pm.Substitute(planner.code_of(s.item), s.ratio, priority)
                    for priority, s in enumerate(ln.substitutes, start=1)
                ),
                issue_method=ln.issue_method,
                allow_mix=ln.allow_mix,
            )
            for ln in sub.lines
        )
        bom = pm.Bom(parent, lines, sub.output_qty)
        if parent in out and out[parent] != bom:
            raise ToolError("invalid_input", f"two different BOMs are given for {parent}", {"item": parent})
        out[parent] = bom
        for ln, line in zip(sub.lines, lines, strict=True):
            if ln.bom is not None:
                visit(line.component, ln.bom, depth + 1)

    visit(top, tree, 0)
    return out


def _plan_tree(session: Session, on: date, tree: BomTreeChangeIn) -> _Plan:
    planner = _Planner(session, on, tree.new_items)
    top = planner.code_of(tree.item)
    boms = _flatten_tree(planner, top, tree.bom)
    changed = []
    for parent, bom in boms.items():
        base = planner.base_bom(parent)
        if base is not None:
            bom = replace(bom, version=base.version)
        changed.append(diff_bom(parent, base, bom))
    plan = planner.plan(changed)
    plan.top = top
    if not plan.changed and not plan.new_items:
        raise ToolError(
            "invalid_input",
            f"the tree of {top} is the same as the BOMs in force on {on.isoformat()}: nothing to change",
            {"item": top},
        )
    return plan


def _plan_batch(session: Session, on: date, batch: BomBatchIn) -> _Plan:
    planner = _Planner(session, on)
    sel, spec = batch.select, batch.change
    component_key = spec.component or sel.component
    if not component_key:
        raise ToolError(
            "invalid_input", "which component? give change.component", {"field": "change.component"}
        )
    component = planner.code_of(component_key)
    selected_by = planner.code_of(sel.component) if sel.component else None
    wanted = {planner.code_of(p) for p in sel.parents}
    category: dict[str, str] = {}
    if sel.category is not None:
        category = dict(
            session.execute(sa.select(Item.code, Item.category).where(Item.category == sel.category)).all()  # type: ignore[arg-type]
        )
    chosen: list[str] = []
    for parent, version in sorted(planner.in_force.items()):
        uses = {ln.component for ln in version.bom.lines}
        if selected_by and selected_by not in uses:
            continue
        if sel.category is not None and parent not in category:
            continue
        if sel.code_prefix and not parent.startswith(sel.code_prefix):
            continue
        if wanted and parent not in wanted:
            continue
        chosen.append(parent)
    if not chosen:
        raise ToolError(
            "invalid_input",
            f"no BOM in force on {on.isoformat()} matches the selection",
            {"field": "select", "select": sel.model_dump(mode="json")},
        )
    changes: list[LineChange] = []
    skipped: list[SkippedBomOut] = []
    for parent in chosen:
        uses = {ln.component for ln in planner.in_force[parent].bom.lines}
        if spec.change_type == "add" and component in uses:
            skipped.append(SkippedBomOut(parent=parent, reason=f"already uses {component}"))
        elif spec.change_type != "add" and component not in uses:
            skipped.append(SkippedBomOut(parent=parent, reason=f"does not use {component}"))
        else:
            changes.append(_line_change(planner, spec, parent, component))
    if not changes:
        raise ToolError(
            "invalid_input",
            f"the change applies to none of the {len(chosen)} selected BOM(s)",
            {"skipped": [s.model_dump() for s in skipped]},
        )
    return planner.plan(_apply_to_bases(planner, changes), skipped=skipped)


# ---------------------------------------------------------------- describing


def _fmt(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = f"{Decimal(value).normalize():f}"
    return "0" if text == "-0" else text


def _pct(value: Decimal | None) -> str:
    return f"{_fmt(Decimal(value or 0) * 100)}%"


def _describe(c: LineChange) -> tuple[str, str]:
    """The change in Chinese and English."""
    kind = c.change_type
    if kind == ChangeType.REPLACE:
        extra_en = f" (qty {_fmt(c.qty)})" if c.qty is not None else ""
        extra_zh = f"(用量 {_fmt(c.qty)})" if c.qty is not None else ""
        return (
            f"{c.parent}:{c.component} 替换为 {c.new_component}{extra_zh}",
            f"{c.parent}: replace {c.component} by {c.new_component}{extra_en}",
        )
    if kind == ChangeType.QTY:
        return (
            f"{c.parent}:{c.component} 用量 {_fmt(c.old_qty) or '?'} → {_fmt(c.qty)}",
            f"{c.parent}: {c.component} qty {_fmt(c.old_qty) or '?'} → {_fmt(c.qty)}",
        )
    if kind == ChangeType.SCRAP:
        old = _pct(c.old_scrap_rate) if c.old_scrap_rate is not None else "?"
        return (
            f"{c.parent}:{c.component} 损耗率 {old} → {_pct(c.scrap_rate)}",
            f"{c.parent}: {c.component} scrap {old} → {_pct(c.scrap_rate)}",
        )
    if kind == ChangeType.ADD:
        return (
            f"{c.parent}:新增 {c.component} ×{_fmt(c.qty)}",
            f"{c.parent}: add {c.component} ×{_fmt(c.qty)}",
        )
    if kind == ChangeType.REMOVE:
        return (f"{c.parent}:删除 {c.component}", f"{c.parent}: remove {c.component}")
    return (f"{c.parent}:{c.component} {c.note}", f"{c.parent}: {c.component} {c.note}")


def _changes_text(changes: Sequence[LineChange]) -> tuple[str, str]:
    zh, en = zip(*(_describe(c) for c in changes[:SUMMARY_CHANGES]), strict=True) if changes else ((), ())
    more = len(changes) - SUMMARY_CHANGES
    return (
        ";".join(zh) + (f";等另 {more} 项" if more > 0 else ""),
        "; ".join(en) + (f"; and {more} more" if more > 0 else ""),
    )


def _versions_text(plan: _Plan) -> tuple[str, str]:
    zh, en = [], []
    for c in plan.changed[:SUMMARY_CHANGES]:
        base = plan.bases.get(c.parent)
        new = plan.new_versions[c.parent]
        if base is None:
            zh.append(f"{c.parent} 新建 v{new}")
            en.append(f"{c.parent} new v{new}")
        else:
            zh.append(f"{c.parent} v{base.version}→v{new}")
            en.append(f"{c.parent} v{base.version}→v{new}")
    more = len(plan.changed) - SUMMARY_CHANGES
    return (
        "、".join(zh) + (f" 等 {len(plan.changed)} 个" if more > 0 else ""),
        ", ".join(en) + (f" and {more} more" if more > 0 else ""),
    )


def _name(plant: pm.Plant, code: str) -> str:
    item = plant.items.get(code)
    return item.name if item else ""


def _line_outs(
    plant: pm.Plant, bom: pm.Bom | None, changed: frozenset[int], refs: Sequence[str]
) -> list[BomLineOut]:
    if bom is None:
        return []
    return [
        BomLineOut(
            component=ln.component,
            name=_name(plant, ln.component),
            qty=ln.qty,
            scrap_rate=ln.scrap_rate,
            issue_method=ln.issue_method,
            substitutes=[s.item for s in ln.substitutes],
            changed=i in changed,
            ecn_ref=refs[i] if i < len(refs) else "",
        )
        for i, ln in enumerate(bom.lines)
    ]


def _carried_refs(base: _Version | None, after: pm.Bom, changed: frozenset[int], new_ref: str) -> list[str]:
    """Each new line's ECN reference: ``new_ref`` if changed, else the matching old line's."""
    queues: dict[str, list[str]] = defaultdict(list)
    if base is not None:
        for line, ref in zip(base.bom.lines, base.ecn_refs, strict=True):
            queues[line.component].append(ref)
    refs = []
    for i, line in enumerate(after.lines):
        queue = queues.get(line.component)
        old = queue.pop(0) if queue else ""
        refs.append(new_ref if i in changed else old)
    return refs


def _change_out(c: LineChange) -> LineChangeOut:
    return LineChangeOut(
        parent=c.parent,
        change_type=str(c.change_type),
        component=c.component,
        new_component=c.new_component,
        old_qty=c.old_qty,
        new_qty=c.qty,
        old_scrap_rate=c.old_scrap_rate,
        new_scrap_rate=c.scrap_rate,
        issue_method=c.issue_method,
        note=c.note,
        text=_describe(c)[1],
    )


def _preview(plan: _Plan, new_ref: str = "") -> BomChangePreviewOut:
    costs = {i.item: i for i in plan.impacts}
    boms = []
    for c in plan.changed:
        base = plan.bases.get(c.parent)
        span = plan.spans[c.parent]
        impact = costs.get(c.parent)
        boms.append(
            BomVersionChangeOut(
                parent=c.parent,
                name=_name(plan.after, c.parent),
                base_version=base.version if base else None,
                base_effective_to=span.base.effective_to
                if span.base
                else (base.effective_to if base else None),
                base_obsoleted=base is not None and span.base is None,
                new_version=plan.new_versions[c.parent],
                effective_from=span.new.effective_from or plan.effective_date,
                effective_to=span.new.effective_to,
                output_qty=c.after.output_qty,
                lines_before=_line_outs(
                    plan.after, base.bom if base else None, frozenset(), base.ecn_refs if base else ()
                ),
                lines_after=_line_outs(
                    plan.after,
                    c.after,
                    c.changed_lines,
                    _carried_refs(base, c.after, c.changed_lines, new_ref),
                ),
                changes=[_change_out(ch) for ch in c.changes],
                unit_cost_before=impact.unit_cost_before if impact else None,
                unit_cost_after=impact.unit_cost_after if impact else None,
            )
        )
    return BomChangePreviewOut(
        effective_date=plan.effective_date,
        boms=boms,
        impacts=[
            ImpactOut(
                item=i.item,
                name=_name(plan.after, i.item),
                unit_cost_before=i.unit_cost_before,
                unit_cost_after=i.unit_cost_after,
                cost_delta=i.cost_delta,
                totals_before=dict(i.totals_before),
                totals_after=dict(i.totals_after),
                changed_totals=[
                    TotalChangeOut(item=t.item, before=t.before, after=t.after) for t in i.changed_totals
                ],
            )
            for i in plan.impacts
        ],
        impacts_truncated=plan.impacts_truncated,
        new_items=[n.code for n in plan.new_items],
        skipped=plan.skipped,
        warnings=plan.warnings,
    )


def _cost_text(plan: _Plan) -> tuple[str, str]:
    """The cost change of the first end item above the changed BOMs (else the first changed one)."""
    if not plan.impacts:
        return "", ""
    parents = {c.parent for c in plan.changed}
    top = next((i for i in plan.impacts if i.item not in parents), plan.impacts[0])
    if top.unit_cost_before is None:
        return (
            f";{top.item} 单位成本 {_fmt(top.unit_cost_after)}",
            f"; {top.item} unit cost {_fmt(top.unit_cost_after)}",
        )
    return (
        f";{top.item} 单位成本 {_fmt(top.unit_cost_before)} → {_fmt(top.unit_cost_after)}",
        f"; {top.item} unit cost {_fmt(top.unit_cost_before)} → {_fmt(top.unit_cost_after)}",
    )


# ---------------------------------------------------------------- the effect a confirmation writes


def _plan_effect(plan: _Plan) -> dict[str, Any]:
    """The plan as JSON-ready data: new items, new BOM versions with their lines, and the changes."""
    boms = []
    for c in plan.changed:
        base = plan.bases.get(c.parent)
        span = plan.spans[c.parent]
        boms.append(
            {
                "parent": c.parent,
                "base_id": base.id if base else None,
                "base_version": base.version if base else None,
                "base_effective_to": span.base.effective_to if span.base else None,
                "base_obsolete": base is not None and span.base is None,
                "new_version": plan.new_versions[c.parent],
                "effective_from": span.new.effective_from,
                "effective_to": span.new.effective_to,
                "output_qty": c.after.output_qty,
                "lines": [
                    {
                        "component": ln.component,
                        "qty": ln.qty,
                        "scrap_rate": ln.scrap_rate,
                        "issue_method": ln.issue_method,
                        "allow_mix": ln.allow_mix,
                        "substitutes": [
                            {"item": s.item, "ratio": s.ratio, "priority": s.priority} for s in ln.substitutes
                        ],
                        "changed": i in c.changed_lines,
                        "ecn_ref": ref,
                    }
                    for i, (ln, ref) in enumerate(
                        zip(c.after.lines, _carried_refs(base, c.after, c.changed_lines, ""), strict=True)
                    )
                ],
            }
        )
    return {
        "effective_date": plan.effective_date,
        "new_items": [n.model_dump(mode="json") for n in plan.new_items],
        "boms": boms,
        "changes": [_change_record(c) for ch in plan.changed for c in ch.changes],
    }


def _change_record(c: LineChange) -> dict[str, Any]:
    return {
        "parent": c.parent,
        "change_type": str(c.change_type),
        "component": c.component,
        "new_component": c.new_component,
        "old_qty": c.old_qty,
        "new_qty": c.qty,
        "old_scrap_rate": c.old_scrap_rate,
        "new_scrap_rate": c.scrap_rate,
        "issue_method": c.issue_method,
        "note": c.note,
    }


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _day(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def _item_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(codes))
    found: dict[str, int] = {
        code: item_id
        for code, item_id in session.execute(sa.select(Item.code, Item.id).where(Item.code.in_(wanted)))  # type: ignore[attr-defined]
    }
    missing = [c for c in wanted if c not in found]
    if missing:
        raise ToolError("not_found", f"item {missing[0]!r} not found", {"kind": "item", "key": missing[0]})
    return found


def _create_items(session: Session, actor: Actor, proposal_id: str, items: list[dict[str, Any]]) -> None:
    if not items:
        return
    new = [NewItemIn.model_validate(raw) for raw in items]
    taken = session.exec(select(Item.code).where(Item.code.in_([n.code for n in new]))).all()  # type: ignore[attr-defined]
    if taken:
        raise ToolError("conflict", f"item {taken[0]} already exists", {"items": list(taken)})
    uoms = set(session.exec(select(Uom.code)).all())
    for n in new:
        if n.uom not in uoms:
            session.add(Uom(code=n.uom, name=n.uom))
            uoms.add(n.uom)
    session.flush()
    for n in new:
        session.add(Item(**n.model_dump()))
        audit(
            session,
            actor,
            "create",
            entity="item",
            entity_ref=n.code,
            proposal_id=proposal_id,
            after=n.model_dump(mode="json"),
        )
    session.flush()


def _write_boms(
    session: Session, effect: dict[str, Any], ecn_code: str, actor: Actor, proposal_id: str
) -> dict[str, tuple[int | None, int]]:
    """Create the new BOM versions (changed lines marked with ``ecn_code``) and end the old ones.

    Returns {parent: (old version id, new version id)}.
    """
    boms = effect.get("boms", [])
    codes = {b["parent"] for b in boms}
    for b in boms:
        for ln in b["lines"]:
            codes.add(ln["component"])
            codes.update(s["item"] for s in ln["substitutes"])
    ids = _item_ids(session, codes)
    written: dict[str, tuple[int | None, int]] = {}
    for b in boms:
        parent = b["parent"]
        base_id = b["base_id"]
        before: dict[str, Any] = {}
        if base_id is not None:
            base = session.get(Bom, base_id)
            if base is None or base.status != "active" or base.version != b["base_version"]:
                raise ToolError(
                    "conflict",
                    f"BOM {parent} v{b['base_version']} changed since the proposal: ask for a new one",
                    {"parent": parent, "version": b["base_version"]},
                )
            before = {
                "version": base.version,
                "status": base.status,
                "effective_to": base.effective_to.isoformat() if base.effective_to else None,
            }
            if b["base_obsolete"]:
                try:
                    transition("bom", base, "obsolete", ref=f"{parent} v{base.version}")
                except StateError as exc:
                    raise ToolError("conflict", exc.message, exc.details) from None
            else:
                base.effective_to = _day(b["base_effective_to"])
            session.add(base)
        new = Bom(
            item_id=ids[parent],
            version=b["new_version"],
            output_qty=Decimal(str(b["output_qty"])),
            effective_from=_day(b["effective_from"]),
            effective_to=_day(b["effective_to"]),
            status="active",
        )
        session.add(new)
        session.flush()
        for seq, ln in enumerate(b["lines"], start=1):
            line = BomLine(
                bom_id=new.id or 0,
                seq=seq * 10,
                component_id=ids[ln["component"]],
                qty=Decimal(str(ln["qty"])),
                scrap_rate=Decimal(str(ln["scrap_rate"])),
                issue_method=ln["issue_method"],
                allow_mix=ln["allow_mix"],
                ecn_ref=ecn_code if ln["changed"] else ln["ecn_ref"],
            )
            session.add(line)
            session.flush()
            for s in ln["substitutes"]:
                session.add(
                    BomSubstitute(
                        bom_line_id=line.id or 0,
                        item_id=ids[s["item"]],
                        priority=int(s["priority"]),
                        ratio=Decimal(str(s["ratio"])),
                    )
                )
        audit(
            session,
            actor,
            "create_version",
            entity="bom",
            entity_ref=f"{parent} v{new.version}",
            proposal_id=proposal_id,
            before={"base": before} if before else {},
            after={
                "version": new.version,
                "effective_from": b["effective_from"],
                "effective_to": b["effective_to"],
                "ecn": ecn_code,
                "changed_lines": [ln["component"] for ln in b["lines"] if ln["changed"]],
                "base": {
                    "version": b["base_version"],
                    "status": "obsolete" if b["base_obsolete"] else "active",
                    "effective_to": b["base_effective_to"],
                }
                if base_id is not None
                else None,
            },
        )
        written[parent] = (base_id, new.id or 0)
    session.flush()
    return written


def _new_ecn(
    session: Session,
    *,
    title: str,
    reason: str,
    effective_date: date,
    status: str,
    source: str,
    created_by: str,
    proposal_id: str,
) -> Ecn:
    code = next_codes(session, Ecn.code, ECN_PREFIX, 1)[0]
    ecn = Ecn(
        code=code,
        title=title,
        reason=reason,
        effective_date=effective_date,
        status=status,
        source=source,
        created_by=created_by,
        proposal_id=proposal_id,
    )
    session.add(ecn)
    session.flush()
    return ecn


def _add_change_rows(
    session: Session, ecn: Ecn, changes: list[dict[str, Any]], written: dict[str, tuple[int | None, int]]
) -> None:
    codes: set[str] = set()
    for c in changes:
        codes.update(x for x in (c["parent"], c["component"], c["new_component"]) if x)
    ids = _item_ids(session, codes)
    for seq, c in enumerate(changes, start=1):
        from_id, to_id = written.get(c["parent"], (None, None))
        session.add(
            EcnChange(
                ecn_id=ecn.id or 0,
                seq=seq * 10,
                parent_item_id=ids[c["parent"]],
                change_type=c["change_type"],
                component_id=ids[c["component"]],
                new_component_id=ids[c["new_component"]] if c["new_component"] else None,
                old_qty=_dec(c["old_qty"]),
                new_qty=_dec(c["new_qty"]),
                old_scrap_rate=_dec(c["old_scrap_rate"]),
                new_scrap_rate=_dec(c["new_scrap_rate"]),
                issue_method=c["issue_method"],
                note=c["note"],
                from_bom_id=from_id,
                to_bom_id=to_id,
            )
        )
    session.flush()


def _apply_direct(session: Session, proposal: Proposal, actor: Actor, source: str) -> dict[str, Any]:
    """A BOM edit or batch change: an ECN record created applied, with the new BOM versions."""
    eff = proposal.effect
    _create_items(session, actor, proposal.id, eff.get("new_items", []))
    now = datetime.now(UTC)
    ecn = _new_ecn(
        session,
        title=str(eff.get("title", "")),
        reason=str(eff.get("reason", "")),
        effective_date=date.fromisoformat(eff["effective_date"]),
        status="applied",
        source=source,
        created_by=proposal.requested_by,
        proposal_id=proposal.id,
    )
    ecn.approved_by, ecn.approved_at = actor.username, now
    ecn.applied_by, ecn.applied_at = actor.username, now
    session.add(ecn)
    written = _write_boms(session, eff, ecn.code, actor, proposal.id)
    _add_change_rows(session, ecn, eff.get("changes", []), written)
    record = _applied_record(ecn, eff, written)
    audit(session, actor, "apply", entity="ecn", entity_ref=ecn.code, proposal_id=proposal.id, after=record)
    return record


def _applied_record(
    ecn: Ecn, eff: dict[str, Any], written: dict[str, tuple[int | None, int]]
) -> dict[str, Any]:
    return {
        "ecn": ecn.code,
        "status": ecn.status,
        "effective_date": ecn.effective_date.isoformat(),
        "new_items": [n["code"] for n in eff.get("new_items", [])],
        "boms": [
            {
                "parent": b["parent"],
                "from_version": b["base_version"],
                "to_version": b["new_version"],
                "effective_from": b["effective_from"],
            }
            for b in eff.get("boms", [])
            if b["parent"] in written
        ],
    }


# ---------------------------------------------------------------- BOM tree edit


@tool(kind="propose", tags=("bom", "engineering"))
def propose_bom_change(ctx: ToolContext, args: ProposeBomChangeIn) -> BomChangeProposalOut:
    """Propose creating or editing a whole product tree (BOM维护) in one go: ``item``'s BOM as lines
    (component, qty per output_qty, scrap_rate, issue_method, substitutes), each line optionally with the
    component's own BOM as a sub-tree. A parent's lines replace the lines of its BOM in force; components
    given without a sub-tree keep their BOM. ``new_items`` are created with the change. Checked: known
    items, positive quantities, no BOM cycle (also against the existing BOMs, on every future date).
    Returns a before/after preview (the new versions' lines, and per changed parent and end item the BOM
    cost and explosion totals per unit before and after). Nothing changes until a planner or manager
    confirms; then each changed BOM gets a new version from ``effective_date`` (default today), the old
    version ends that day, and an ECN record (source bom_change) tags the changed lines."""
    on = _effective_date(ctx, args.effective_date)
    plan = _plan_tree(ctx.session, on, args)
    versions_zh, versions_en = _versions_text(plan)
    cost_zh, cost_en = _cost_text(plan)
    top = plan.top
    items_zh = f",新建物料 {'、'.join(n.code for n in plan.new_items)}" if plan.new_items else ""
    items_en = f", create item(s) {', '.join(n.code for n in plan.new_items)}" if plan.new_items else ""
    zh = f"修改 {top} 的BOM结构,自 {on.isoformat()} 起生效:{versions_zh or '无BOM变化'}{items_zh}{cost_zh}。"
    en = f"Change the BOM tree of {top} from {on.isoformat()}: {versions_en or 'no BOM changes'}{items_en}{cost_en}."
    effect = {**_plan_effect(plan), "title": args.title or f"BOM change {top}", "reason": args.reason}
    base = create_proposal(
        ctx,
        kind=BOM_CHANGE,
        tool="propose_bom_change",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
        read_domains=("master",),
    )
    return BomChangeProposalOut(**base.model_dump(), preview=_preview(plan))


@applier(BOM_CHANGE, roles=ENGINEERING_ROLES, domains=("bom", "engineering", "master"))
def apply_bom_change(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Create the new items and BOM versions of a tree edit, recorded as an applied ECN."""
    return _apply_direct(session, proposal, actor, "bom_change")


# ---------------------------------------------------------------- batch change


@tool(kind="propose", tags=("bom", "engineering"))
def propose_bom_batch_change(ctx: ToolContext, args: ProposeBomBatchChangeIn) -> BomChangeProposalOut:
    """Propose one change made to many BOMs at once (批量修改BOM), e.g. replace a component everywhere it
    is used. ``select`` picks the BOMs in force on the effective date: by component (where-used: BOMs
    using it directly), item category, parent code prefix and/or a list of parents (all filters given
    must hold). ``change`` is replace / qty / scrap / add / remove of ``change.component`` (default: the
    selected component). Selected BOMs it cannot apply to are listed as skipped. Returns the before/after
    preview per BOM and for the end items using them. Nothing changes until a planner or manager
    confirms; then every BOM gets a new version from ``effective_date`` (default today), recorded as one
    ECN (source batch) whose code tags every changed line."""
    on = _effective_date(ctx, args.effective_date)
    plan = _plan_batch(ctx.session, on, args)
    changes = [c for ch in plan.changed for c in ch.changes]
    changes_zh, changes_en = _changes_text(changes)
    zh = f"批量修改 {len(plan.changed)} 个BOM「{args.title}」,自 {on.isoformat()} 起生效:{changes_zh}。"
    en = f"Batch change '{args.title}' of {len(plan.changed)} BOM(s) from {on.isoformat()}: {changes_en}."
    effect = {**_plan_effect(plan), "title": args.title, "reason": args.reason}
    base = create_proposal(
        ctx,
        kind=BOM_BATCH_CHANGE,
        tool="propose_bom_batch_change",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
        read_domains=("master",),
    )
    return BomChangeProposalOut(**base.model_dump(), preview=_preview(plan))


@applier(BOM_BATCH_CHANGE, roles=ENGINEERING_ROLES, domains=("bom", "engineering"))
def apply_bom_batch_change(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Create the new BOM versions of a batch change, recorded as one applied ECN."""
    return _apply_direct(session, proposal, actor, "batch")


# ---------------------------------------------------------------- ECN: draft, approve, apply, cancel


class ProposeEcnOut(ProposalOut):
    changes: list[LineChangeOut] = Field(description="the changes as they apply to the BOMs in force then")
    preview: BomChangePreviewOut


@tool(kind="propose", tags=("bom", "engineering"))
def propose_ecn(ctx: ToolContext, args: ProposeEcnIn) -> ProposeEcnOut:
    """Propose a draft engineering change order (ECN, 工程变更单): a list of BOM changes (replace a
    component by another, change a quantity or scrap rate, add or remove a line) with its reason and
    effective date. The changes are checked against the BOMs in force on that date (the components must
    be on them, no BOM cycle) and previewed (BOM cost and explosion totals before and after). Confirming
    (a planner or manager) only creates the ECN as a draft: a manager then approves it
    (propose_ecn_approval) and a planner or manager applies it (propose_ecn_application), which creates
    the new BOM versions from the effective date."""
    on = _effective_date(ctx, args.effective_date)
    plan = _plan_changes(ctx.session, on, args.changes)
    changes = [c for ch in plan.changed for c in ch.changes]
    changes_zh, changes_en = _changes_text(changes)
    zh = f"新建工程变更单草稿「{args.title}」,生效日 {on.isoformat()}:{changes_zh}。"
    en = f"Create draft ECN '{args.title}' effective {on.isoformat()}: {changes_en}."
    effect = {
        "title": args.title,
        "reason": args.reason,
        "effective_date": on,
        "changes": [_change_record(c) for c in changes],
    }
    base = create_proposal(
        ctx,
        kind=ECN_DRAFT,
        tool="propose_ecn",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
        read_domains=("bom", "master"),
    )
    return ProposeEcnOut(
        **base.model_dump(), changes=[_change_out(c) for c in changes], preview=_preview(plan)
    )


@applier(ECN_DRAFT, roles=ENGINEERING_ROLES, domains=("engineering",))
def apply_ecn_draft(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Create the ECN as a draft with its changes (no BOM changes yet)."""
    eff = proposal.effect
    ecn = _new_ecn(
        session,
        title=str(eff["title"]),
        reason=str(eff["reason"]),
        effective_date=date.fromisoformat(eff["effective_date"]),
        status="draft",
        source="ecn",
        created_by=proposal.requested_by,
        proposal_id=proposal.id,
    )
    _add_change_rows(session, ecn, eff["changes"], {})
    record = {
        "ecn": ecn.code,
        "status": ecn.status,
        "title": ecn.title,
        "effective_date": ecn.effective_date.isoformat(),
        "changes": len(eff["changes"]),
    }
    audit(session, actor, "create", entity="ecn", entity_ref=ecn.code, proposal_id=proposal.id, after=record)
    return record


def _ecn(session: Session, code: str, *, lock: bool = False) -> Ecn:
    stmt = select(Ecn).where(Ecn.code == code.strip().upper())
    if lock:
        stmt = stmt.with_for_update()
    row = session.exec(stmt.execution_options(populate_existing=True)).first()
    if row is None:
        raise ToolError("not_found", f"ECN {code!r} not found", {"kind": "ecn", "key": code})
    return row


def _ecn_changes(session: Session, ecn: Ecn) -> list[EcnChange]:
    return list(
        session.exec(
            select(EcnChange).where(EcnChange.ecn_id == ecn.id).order_by(EcnChange.seq, EcnChange.id)
        ).all()
    )  # type: ignore[arg-type]


def _stored_changes(session: Session, ecn: Ecn) -> list[LineChange]:
    codes = _item_codes(session)
    return [
        LineChange(
            change_type=ChangeType(r.change_type),
            parent=codes[r.parent_item_id],
            component=codes[r.component_id],
            new_component=codes[r.new_component_id] if r.new_component_id else "",
            qty=r.new_qty,
            scrap_rate=r.new_scrap_rate,
            issue_method=r.issue_method,
            note=r.note,
        )
        for r in _ecn_changes(session, ecn)
    ]


def _plan_ecn(ctx: ToolContext, ecn: Ecn) -> _Plan:
    """Applying ``ecn`` to the BOMs in force on its date; refused if the date passed or it no longer fits."""
    if ecn.effective_date < ctx.today:
        raise ToolError(
            "conflict",
            f"{ecn.code}'s effective date {ecn.effective_date.isoformat()} has passed (today is "
            f"{ctx.today.isoformat()}): cancel it and draft a new ECN with a new date",
            {"ecn": ecn.code, "effective_date": ecn.effective_date.isoformat()},
        )
    planner = _Planner(ctx.session, ecn.effective_date)
    try:
        return planner.plan(_apply_to_bases(planner, _stored_changes(ctx.session, ecn)))
    except InvalidInputError as exc:
        raise ToolError(
            "conflict", f"{ecn.code} no longer applies: {exc.message}", {"ecn": ecn.code, **exc.details}
        ) from None
    except ToolError as exc:
        if exc.code != "invalid_input":
            raise
        raise ToolError(
            "conflict", f"{ecn.code} no longer applies: {exc.message}", {"ecn": ecn.code, **exc.details}
        ) from None


def _require_status(ecn: Ecn, target: str) -> None:
    """Refuse (conflict) a step the ECN's state does not allow, naming the states it may go to."""
    if ecn.status == target:
        raise ToolError(
            "conflict", f"{ecn.code} is already {target}", {"ecn": ecn.code, "status": ecn.status}
        )
    if not can_transition("ecn", ecn.status, target):
        exc = StateError("ecn", ecn.code, ecn.status, target, TRANSITIONS["ecn"].get(ecn.status, ()))
        raise ToolError("conflict", exc.message, exc.details)


@tool(kind="propose", tags=("bom", "engineering"))
def propose_ecn_approval(ctx: ToolContext, args: ProposeEcnApprovalIn) -> EcnStepProposalOut:
    """Propose approving a draft ECN (审批工程变更). Returns what applying it would do (preview on today's
    data). Only a manager (or admin) may confirm; the ECN then becomes approved, ready to apply with
    propose_ecn_application. Nothing changes until confirmed."""
    ecn = _ecn(ctx.session, args.ecn)
    _require_status(ecn, "approved")
    plan = _plan_ecn(ctx, ecn)
    zh = f"批准工程变更单 {ecn.code}「{ecn.title}」(生效日 {ecn.effective_date.isoformat()})。"
    en = f"Approve ECN {ecn.code} '{ecn.title}' (effective {ecn.effective_date.isoformat()})."
    base = create_proposal(
        ctx,
        kind=ECN_APPROVAL,
        tool="propose_ecn_approval",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect={"ecn": ecn.code, "from_status": ecn.status, "note": args.note},
    )
    return EcnStepProposalOut(
        **base.model_dump(),
        ecn=ecn.code,
        from_status=ecn.status,
        to_status="approved",
        preview=_preview(plan, ecn.code),
    )


def _move_ecn(session: Session, proposal: Proposal, actor: Actor, target: str, action: str) -> Ecn:
    ecn = _ecn(session, str(proposal.effect["ecn"]), lock=True)
    before = ecn.status
    try:
        transition("ecn", ecn, target, ref=ecn.code)
    except StateError as exc:
        raise ToolError("conflict", exc.message, exc.details) from None
    now = datetime.now(UTC)
    if target == "approved":
        ecn.approved_by, ecn.approved_at = actor.username, now
    elif target == "applied":
        ecn.applied_by, ecn.applied_at = actor.username, now
    session.add(ecn)
    session.flush()
    note = str(proposal.effect.get("note") or proposal.effect.get("reason") or "")
    audit(
        session,
        actor,
        action,
        entity="ecn",
        entity_ref=ecn.code,
        proposal_id=proposal.id,
        before={"status": before},
        after={"status": ecn.status, **({"note": note} if note else {})},
    )
    return ecn


@applier(ECN_APPROVAL, roles=(), domains=("engineering",))
def apply_ecn_approval(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Mark the ECN approved (a manager confirmed)."""
    ecn = _move_ecn(session, proposal, actor, "approved", "approve")
    return {"ecn": ecn.code, "status": ecn.status, "approved_by": ecn.approved_by}


@tool(kind="propose", tags=("bom", "engineering"))
def propose_ecn_application(ctx: ToolContext, args: EcnRefIn) -> EcnStepProposalOut:
    """Propose applying an approved ECN (执行工程变更): every BOM it changes gets a new version (version
    + 1) in force from the ECN's effective date, the version in force then ends that day (planning before
    the date still uses it; no version is edited in place), and changed lines carry the ECN code. Returns
    the before/after preview. A planner or manager confirms; nothing changes until then."""
    ecn = _ecn(ctx.session, args.ecn)
    _require_status(ecn, "applied")
    plan = _plan_ecn(ctx, ecn)
    versions_zh, versions_en = _versions_text(plan)
    cost_zh, cost_en = _cost_text(plan)
    on = ecn.effective_date.isoformat()
    zh = f"执行工程变更单 {ecn.code}「{ecn.title}」,自 {on} 起生效:{versions_zh}{cost_zh}。"
    en = f"Apply ECN {ecn.code} '{ecn.title}' from {on}: {versions_en}{cost_en}."
    effect = {**_plan_effect(plan), "ecn": ecn.code}
    base = create_proposal(
        ctx,
        kind=ECN_APPLICATION,
        tool="propose_ecn_application",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
        read_domains=("master",),
    )
    return EcnStepProposalOut(
        **base.model_dump(),
        ecn=ecn.code,
        from_status=ecn.status,
        to_status="applied",
        preview=_preview(plan, ecn.code),
    )


@applier(ECN_APPLICATION, roles=ENGINEERING_ROLES, domains=("bom", "engineering"))
def apply_ecn_application(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Create the ECN's new BOM versions and mark it applied."""
    eff = proposal.effect
    ecn = _move_ecn(session, proposal, actor, "applied", "apply")
    written = _write_boms(session, eff, ecn.code, actor, proposal.id)
    rows = _ecn_changes(session, ecn)
    planned = eff.get("changes", [])
    if len(rows) != len(planned):
        raise ToolError("conflict", f"{ecn.code}'s changes differ from the proposal's", {"ecn": ecn.code})
    for row, c in zip(rows, planned, strict=True):
        row.old_qty, row.old_scrap_rate = _dec(c["old_qty"]), _dec(c["old_scrap_rate"])
        row.from_bom_id, row.to_bom_id = written.get(c["parent"], (None, None))
        session.add(row)
    session.flush()
    return _applied_record(ecn, eff, written)


@tool(kind="propose", tags=("bom", "engineering"))
def propose_ecn_cancellation(ctx: ToolContext, args: ProposeEcnCancellationIn) -> EcnStepProposalOut:
    """Propose cancelling a draft or approved ECN (it will never be applied; the record is kept). A
    planner or manager confirms; nothing changes until then."""
    ecn = _ecn(ctx.session, args.ecn)
    _require_status(ecn, "cancelled")
    zh = f"取消工程变更单 {ecn.code}「{ecn.title}」" + (f"(原因:{args.reason})" if args.reason else "") + "。"
    en = f"Cancel ECN {ecn.code} '{ecn.title}'" + (f" ({args.reason})" if args.reason else "") + "."
    base = create_proposal(
        ctx,
        kind=ECN_CANCELLATION,
        tool="propose_ecn_cancellation",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect={"ecn": ecn.code, "from_status": ecn.status, "reason": args.reason},
    )
    return EcnStepProposalOut(
        **base.model_dump(), ecn=ecn.code, from_status=ecn.status, to_status="cancelled", preview=None
    )


@applier(ECN_CANCELLATION, roles=ENGINEERING_ROLES, domains=("engineering",))
def apply_ecn_cancellation(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Mark the ECN cancelled."""
    ecn = _move_ecn(session, proposal, actor, "cancelled", "cancel")
    return {"ecn": ecn.code, "status": ecn.status}


# ---------------------------------------------------------------- reading ECNs and history


NEXT_STEPS = {
    "draft": "a manager approves it: propose_ecn_approval",
    "approved": "a planner or manager applies it: propose_ecn_application",
    "applied": "",
    "cancelled": "",
}


def _versions_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    stmt = sa.select(Bom.id, Bom.version).where(Bom.id.in_(wanted))  # type: ignore[union-attr]
    return {bom_id: version for bom_id, version in session.execute(stmt)}


def _change_outs(session: Session, rows: Sequence[EcnChange], codes: dict[int, str]) -> list[EcnChangeOut]:
    versions = _versions_by_id(session, [x for r in rows for x in (r.from_bom_id, r.to_bom_id)])
    out = []
    for r in rows:
        change = LineChange(
            change_type=ChangeType(r.change_type),
            parent=codes[r.parent_item_id],
            component=codes[r.component_id],
            new_component=codes[r.new_component_id] if r.new_component_id else "",
            qty=r.new_qty,
            scrap_rate=r.new_scrap_rate,
            issue_method=r.issue_method,
            note=r.note,
            old_qty=r.old_qty,
            old_scrap_rate=r.old_scrap_rate,
        )
        out.append(
            EcnChangeOut(
                **_change_out(change).model_dump(),
                seq=r.seq,
                from_version=versions.get(r.from_bom_id or 0),
                to_version=versions.get(r.to_bom_id or 0),
            )
        )
    return out


def _ecn_out(session: Session, ecn: Ecn) -> EcnOut:
    codes = _item_codes(session)
    changes = _change_outs(session, _ecn_changes(session, ecn), codes)
    log = session.exec(
        select(AuditLog)
        .where(AuditLog.entity == "ecn", AuditLog.entity_ref == ecn.code)
        .order_by(AuditLog.at, AuditLog.id)  # type: ignore[arg-type]
    ).all()
    return EcnOut(
        code=ecn.code,
        title=ecn.title,
        reason=ecn.reason,
        effective_date=ecn.effective_date,
        status=ecn.status,  # type: ignore[arg-type]
        source=ecn.source,
        created_by=ecn.created_by,
        created_at=ecn.created_at,
        approved_by=ecn.approved_by,
        approved_at=ecn.approved_at,
        applied_by=ecn.applied_by,
        applied_at=ecn.applied_at,
        parents=list(dict.fromkeys(c.parent for c in changes)),
        changes=changes,
        log=[EcnLogOut(at=a.at, actor=a.actor, action=a.action, proposal_id=a.proposal_id) for a in log],
        next_step=NEXT_STEPS.get(ecn.status, ""),
    )


@tool(kind="read", tags=("bom", "engineering"))
def get_ecn(ctx: ToolContext, args: EcnRefIn) -> GetEcnOut:
    """One engineering change (ECN): title, reason, effective date, status (draft / approved / applied /
    cancelled), who drafted, approved and applied it, its changes (with the BOM versions they went from and
    to once applied), its audit trail and the next step."""
    return GetEcnOut(**_ecn_out(ctx.session, _ecn(ctx.session, args.ecn)).model_dump())


@tool(kind="read", tags=("bom", "engineering"))
def list_ecns(ctx: ToolContext, args: ListEcnsIn) -> ListEcnsOut:
    """Engineering changes (ECNs), newest first, optionally by status or by an item whose BOM they change
    or that they change in a BOM (as component or new component)."""
    session = ctx.session
    stmt = select(Ecn)
    if args.status:
        stmt = stmt.where(Ecn.status == args.status)
    if args.item:
        item = resolve_item(session, args.item)
        touching = select(EcnChange.ecn_id).where(
            sa.or_(
                EcnChange.parent_item_id == item.id,
                EcnChange.component_id == item.id,
                EcnChange.new_component_id == item.id,
            )
        )
        stmt = stmt.where(Ecn.id.in_(touching))  # type: ignore[union-attr]
    ecns = session.exec(stmt.order_by(Ecn.created_at.desc(), Ecn.id.desc()).limit(args.limit)).all()  # type: ignore[attr-defined,union-attr]
    codes = _item_codes(session)
    parents: dict[int, list[str]] = defaultdict(list)
    counts: dict[int, int] = defaultdict(int)
    if ecns:
        for ecn_id, parent_id in session.execute(
            sa.select(EcnChange.ecn_id, EcnChange.parent_item_id)
            .where(EcnChange.ecn_id.in_([e.id for e in ecns]))  # type: ignore[attr-defined]
            .order_by(EcnChange.ecn_id, EcnChange.seq)
        ):
            counts[ecn_id] += 1
            if codes[parent_id] not in parents[ecn_id]:
                parents[ecn_id].append(codes[parent_id])
    return ListEcnsOut(
        ecns=[
            EcnRowOut(
                code=e.code,
                title=e.title,
                effective_date=e.effective_date,
                status=e.status,  # type: ignore[arg-type]
                source=e.source,
                parents=parents[e.id or 0],
                change_count=counts[e.id or 0],
                created_by=e.created_by,
                created_at=e.created_at,
            )
            for e in ecns
        ]
    )


def _version_sort_key(v: _Version) -> tuple[date, int, str]:
    number = int(v.version) if v.version.isdigit() else 0
    return (v.effective_from or date.min, number, v.version)


@tool(kind="read", tags=("bom", "engineering"))
def get_bom_history(ctx: ToolContext, args: GetBomHistoryIn) -> GetBomHistoryOut:
    """The history of an item's BOM (BOM变更历史): every version with its dates, status, lines (each with the
    ECN that last changed it) and the ECN that created it, which version is in force on ``on`` (default
    today), every ECN change to this BOM, and ECN changes elsewhere that added, removed or replaced this
    item as a component."""
    session = ctx.session
    item = resolve_item(session, args.item)
    on = args.on or ctx.today
    codes = _item_codes(session)
    versions = sorted(
        _load_versions(session, codes, parent_id=item.id, active_only=False), key=_version_sort_key
    )
    in_force = effective_bom_map([v for v in versions if v.status == "active"], on).get(item.code)  # type: ignore[arg-type]
    rows = session.execute(
        sa.select(EcnChange, Ecn)
        .join(Ecn, Ecn.id == EcnChange.ecn_id)  # type: ignore[arg-type]
        .where(
            sa.or_(
                EcnChange.parent_item_id == item.id,
                EcnChange.component_id == item.id,
                EcnChange.new_component_id == item.id,
            )
        )
        .order_by(Ecn.effective_date, Ecn.id, EcnChange.seq)
    ).all()
    created_by: dict[int, str] = {}
    for change, ecn in rows:
        if change.to_bom_id and change.parent_item_id == item.id:
            created_by.setdefault(change.to_bom_id, ecn.code)
    own: list[HistoryChangeOut] = []
    elsewhere: list[HistoryChangeOut] = []
    outs = _change_outs(session, [c for c, _ in rows], codes)
    for (change, ecn), out in zip(rows, outs, strict=True):
        record = HistoryChangeOut(
            **out.model_dump(), ecn=ecn.code, ecn_status=ecn.status, effective_date=ecn.effective_date
        )
        (own if change.parent_item_id == item.id else elsewhere).append(record)
    plant_names: dict[str, str] = {
        code: name for code, name in session.execute(sa.select(Item.code, Item.name))
    }
    return GetBomHistoryOut(
        item=item.code,
        name=item.name,
        on=on,
        versions=[
            BomVersionOut(
                version=v.version,
                status=v.status,
                effective_from=v.effective_from,
                effective_to=v.effective_to,
                in_force=in_force is not None and in_force.id == v.id,
                ecn=created_by.get(v.id, ""),
                output_qty=v.bom.output_qty,
                lines=[
                    BomLineOut(
                        component=ln.component,
                        name=plant_names.get(ln.component, ""),
                        qty=ln.qty,
                        scrap_rate=ln.scrap_rate,
                        issue_method=ln.issue_method,
                        substitutes=[s.item for s in ln.substitutes],
                        changed=bool(ref) and ref == created_by.get(v.id),
                        ecn_ref=ref,
                    )
                    for ln, ref in zip(v.bom.lines, v.ecn_refs, strict=True)
                ],
            )
            for v in versions
        ],
        changes=own,
        used_in_changes=elsewhere,
    )


# ---------------------------------------------------------------- read-only preview


@tool(kind="read", tags=("bom", "engineering"))
def preview_bom_change(ctx: ToolContext, args: PreviewBomChangeIn) -> BomChangePreviewOut:
    """Preview a BOM change without proposing it (变更预览): give exactly one of ``changes`` (ECN-style
    line changes), ``ecn`` (an existing ECN's code), ``tree`` (a BOM tree edit, as propose_bom_change) or
    ``batch`` (a selection and one change, as propose_bom_batch_change). Returns the new BOM versions'
    lines before and after, and per changed parent and end item the BOM cost and explosion totals per unit
    before and after, on the BOMs in force on the effective date. Changes nothing."""
    session = ctx.session
    if args.ecn is not None:
        ecn = _ecn(session, args.ecn)
        return _preview(_plan_ecn(ctx, ecn), ecn.code)
    on = _effective_date(ctx, args.effective_date)
    if args.changes is not None:
        return _preview(_plan_changes(session, on, args.changes))
    if args.tree is not None:
        return _preview(_plan_tree(session, on, args.tree))
    assert args.batch is not None  # the input model requires exactly one
    return _preview(_plan_batch(session, on, args.batch))
