"""The intent registry: each supported question type is declared once, with its slots, tools and wording.

A new capability is one ``@intent(...)`` function here plus its paraphrases in data/train.yaml: the name,
the slots it needs, the tools it calls (when one is not installed, the answer says the capability is not
available yet) and a handler that builds the tool calls and renders the facts in Chinese or English.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from assistant.backend import TurnLog
from assistant.offline.dates import MONTHS, add_months
from assistant.offline.entities import MAX_CANDIDATES, Candidate, EntityIndex
from assistant.offline.knowledge import KnowledgeBase
from assistant.offline.render import (
    Language,
    bullet_list,
    day,
    describe,
    first_value,
    join,
    more,
    num_arg,
    qty,
    tr,
)
from tools.registry import get_tool, tool_names

SLOT_NAMES = ("item", "qty", "date", "order", "customer", "proposal", "use_substitutes")
ORDER_KINDS_PRODUCTION = ("MO", "SC")


@dataclass(frozen=True)
class Slots:
    """What a question says: the values the intents need (None when not said)."""

    item: str | None = None
    qty: Decimal | None = None
    date: date | None = None
    order: str | None = None
    order_kind: str | None = None
    customer: str | None = None
    proposal: str | None = None
    use_substitutes: bool | None = None
    item_phrase: str = ""
    candidates: tuple[Candidate, ...] = ()

    def merged(self, newer: Slots) -> Slots:
        """These slots with every value ``newer`` says replacing the old one (a follow-up question)."""
        values = {
            name: getattr(newer, name)
            for name in (*SLOT_NAMES, "order_kind")
            if getattr(newer, name) is not None
        }
        if newer.item is not None or newer.candidates:
            values |= {"item_phrase": newer.item_phrase, "candidates": newer.candidates, "item": newer.item}
        return replace(self, **values)


@dataclass
class Turn:
    """One question being answered: its language, the clock, the name index and the tool-call log."""

    lang: Language
    today: date
    index: EntityIndex
    log: TurnLog
    knowledge: KnowledgeBase
    question: str = ""
    notes: list[str] = field(default_factory=list)

    def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return self.log.call(name, args)

    def t(self, zh: str, en: str) -> str:
        return tr(self.lang, zh, en)

    def item(self, code: str) -> str:
        """An item code with its name: DSK-1200 办公桌1200 / DSK-1200 (办公桌1200)."""
        found = self.index.item(code)
        if found is None or not found.name or found.name == code:
            return code
        # in English, an English alias reads better than a Chinese name
        english = next((a for a in found.aliases if a.isascii()), found.name)
        return self.t(f"{code} {found.name}", f"{code} ({english})")

    def uom(self, code: str) -> str:
        found = self.index.item(code)
        return found.uom if found else ""

    def customer(self, code: str) -> str:
        found = self.index.catalog.customer_by_code.get(code)
        if found is None or not found.name:
            return code
        return self.t(f"{code} {found.name}", f"{code} ({found.name})")


Handler = Callable[[Turn, Slots], str]
# For an intent that can answer loose words itself (a search): (turn, words, index candidates) ->
# (answer, candidates offered to pick from).
LooseItemHandler = Callable[[Turn, str, tuple[Candidate, ...]], tuple[str, tuple[Candidate, ...]]]


@dataclass(frozen=True)
class IntentSpec:
    """A question type: the slots it needs, the tools it uses, and the handler that calls and renders."""

    name: str
    tools: tuple[str, ...]
    required: tuple[str, ...]
    handler: Handler
    capability_zh: str
    capability_en: str
    optional: tuple[str, ...] = ()
    order_kinds: tuple[str, ...] = ()
    inherit: tuple[str, ...] = ()
    writes: bool = False
    on_loose_item: LooseItemHandler | None = None

    def missing_tools(self) -> list[str]:
        registry = tool_names()
        return [t for t in self.tools if t not in registry]

    def uses(self, slot: str) -> bool:
        return slot in self.required or slot in self.optional


INTENTS: dict[str, IntentSpec] = {}


def intent(
    name: str,
    *,
    tools: tuple[str, ...] = (),
    required: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
    capability: tuple[str, str] = ("", ""),
    order_kinds: tuple[str, ...] = (),
    inherit: tuple[str, ...] = (),
    writes: bool = False,
    on_loose_item: LooseItemHandler | None = None,
) -> Callable[[Handler], Handler]:
    """Declare an intent; ``capability`` is its (zh, en) line in the list of what can be answered."""

    def register(fn: Handler) -> Handler:
        if name in INTENTS:
            raise TypeError(f"intent {name} is declared twice")
        INTENTS[name] = IntentSpec(
            name=name,
            tools=tools,
            required=required,
            optional=optional,
            handler=fn,
            capability_zh=capability[0],
            capability_en=capability[1],
            order_kinds=order_kinds,
            inherit=inherit,
            writes=writes,
            on_loose_item=on_loose_item,
        )
        return fn

    return register


# ------------------------------------------------------------------------------------------------ helpers


def failed(turn: Turn, name: str, output: dict[str, Any]) -> str | None:
    """The answer when a tool call failed (its own message, nothing invented), else None."""
    error = output.get("error") if isinstance(output, dict) else None
    if not isinstance(error, dict):
        return None
    code, message = str(error.get("code", "")), str(error.get("message", ""))
    suggestions = (error.get("details") or {}).get("suggestions") or []
    hint = ""
    if suggestions:
        hint = turn.t(f" 你是不是指：{'、'.join(suggestions)}？", f" Did you mean {', '.join(suggestions)}?")
    if code == "not_found":
        return turn.t(f"没有找到：{message}。", f"Not found: {message}.") + hint
    return (
        turn.t(f"{name} 没能完成（{code}）：{message}。", f"{name} could not answer ({code}): {message}.")
        + hint
    )


def proposal_note(turn: Turn, proposal_id: str) -> str:
    return turn.t(
        f"这只是提案 {proposal_id}，状态为待确认（pending），任何数据都还没有改动。需要有权限的人在「提案」页面，"
        f"或用命令 `orderpilot proposals confirm {proposal_id}` 确认后才会生效；我不能替你确认。",
        f"This is only proposal {proposal_id}, status pending: nothing has changed yet. It takes effect when a "
        f"person allowed to approve it confirms it in the Proposals view or with "
        f"`orderpilot proposals confirm {proposal_id}`; I cannot confirm it for you.",
    )


def _order_args(slots: Slots) -> dict[str, Any]:
    key = "sales_order" if slots.order_kind == "SO" else "production_order"
    return {key: slots.order}


# ------------------------------------------------------------------------------------------------ intents


@intent(
    "promise_order",
    tools=("promise_order",),
    required=("item", "qty", "date"),
    capability=(
        "能不能接单 / 交期承诺（物料、数量、日期）",
        "order promising: can we accept an item, qty, date",
    ),
)
def promise(turn: Turn, slots: Slots) -> str:
    assert slots.item and slots.qty is not None and slots.date is not None
    out = turn.call(
        "promise_order", {"item": slots.item, "qty": num_arg(slots.qty), "due_date": slots.date.isoformat()}
    )
    if (msg := failed(turn, "promise_order", out)) is not None:
        return msg
    unit = turn.uom(slots.item)
    head = turn.t(
        f"{turn.item(slots.item)}，{qty(slots.qty)} {unit}，要求 {slots.date.isoformat()} 交货：",
        f"{turn.item(slots.item)}, {qty(slots.qty)} {unit} due {slots.date.isoformat()}: ",
    )
    promises = out.get("promise") or []
    parts = [turn.t(f"{day(p.get('date'))} 交 {qty(p.get('qty'))}", f"{qty(p.get('qty'))} on {day(p.get('date'))}")
             for p in promises]  # fmt: skip
    if out.get("on_time"):
        verdict = turn.t("可以按期交付。", "yes, it can ship on time.")
    else:
        verdict = turn.t("不能全部按期交付。", "no, not all of it by that date.")
    lines = [head + verdict]
    if parts:
        lines.append(turn.t("承诺：", "Promise: ") + join(turn.lang, parts) + turn.t("。", "."))
    if out.get("earliest_full_date"):
        lines.append(turn.t(f"全部交齐最早 {day(out['earliest_full_date'])}。",
                            f"Earliest date for the full quantity: {day(out['earliest_full_date'])}."))  # fmt: skip
    constraints = out.get("binding_constraints") or []
    if constraints:
        lines.append(
            turn.t("约束：", "Binding constraints: ") + join(turn.lang, map(describe, constraints[:8]))
        )
    impacts = out.get("impacts") or []
    if impacts:
        lines.append(
            turn.t("会受影响的订单：", "Orders that would slip: ")
            + join(turn.lang, map(describe, impacts[:8]))
        )
    lines.append(
        turn.t(
            "（这只是评估，接单本身要另行确认。）",
            "(This is an assessment; accepting the order is a separate, confirmed step.)",
        )
    )
    return "\n".join(lines)


@intent(
    "check_kitting",
    tools=("check_kitting",),
    required=("item",),
    optional=("qty", "use_substitutes"),
    capability=(
        "齐套：现有库存能做多少（可含替代料）",
        "kitting: how many can we build from stock (substitutes optional)",
    ),
)
def kitting(turn: Turn, slots: Slots) -> str:
    assert slots.item
    args: dict[str, Any] = {"item": slots.item, "use_substitutes": bool(slots.use_substitutes)}
    if slots.qty is not None:
        args["qty"] = num_arg(slots.qty)
    out = turn.call("check_kitting", args)
    if (msg := failed(turn, "check_kitting", out)) is not None:
        return msg
    code = out.get("item", slots.item)
    unit = turn.uom(code)
    subs = (
        turn.t("（已考虑替代料）", " (substitutes allowed)")
        if slots.use_substitutes
        else turn.t("（未用替代料）", " (no substitutes)")
    )
    lines = [
        turn.t(
            f"{turn.item(code)}：按现有库存还能再做 {qty(out.get('buildable_qty'))} {unit}{subs}；"
            f"成品现有库存 {qty(out.get('on_hand'))}（不计入）。",
            f"{turn.item(code)}: {qty(out.get('buildable_qty'))} {unit} more can be built from stock now{subs}; "
            f"{qty(out.get('on_hand'))} already on hand (not counted).",
        )
    ]
    limiting = out.get("limiting_items") or []
    if limiting:
        lines.append(turn.t("限制物料：", "Limiting items: ") + ", ".join(turn.item(c) for c in limiting))
    shortages = out.get("shortages") or []
    if slots.qty is not None:
        if shortages:
            lines.append(
                turn.t(f"要做 {qty(slots.qty)}，缺这些料：", f"To build {qty(slots.qty)}, these are short:")
            )
            lines.append(
                bullet_list([_shortage_line(turn, s) for s in shortages])
                + more(turn.lang, len(shortages), 12)
            )
        else:
            lines.append(
                turn.t(f"做 {qty(slots.qty)} 的料是齐的。", f"All material for {qty(slots.qty)} is there.")
            )
    return "\n".join(lines)


def _shortage_line(turn: Turn, s: dict[str, Any]) -> str:
    issued = ""
    if _positive(s.get("issued")):
        issued = turn.t(f"（已发 {qty(s['issued'])}）", f" ({qty(s['issued'])} issued)")
    text = turn.t(
        f"{turn.item(s.get('item', ''))}：需要 {qty(s.get('required'))}{issued}，可用 {qty(s.get('available'))}，"
        f"缺 {qty(s.get('short'))}",
        f"{turn.item(s.get('item', ''))}: required {qty(s.get('required'))}{issued}, available "
        f"{qty(s.get('available'))}, short {qty(s.get('short'))}",
    )
    if s.get("need_date"):
        text += turn.t(f"，需求日 {s['need_date']}", f", needed {s['need_date']}")
    receipts = s.get("expected_receipts") or []
    if receipts:
        text += turn.t("；预计到货：", "; expected receipts: ") + ", ".join(
            _receipt(turn, r) for r in receipts[:4]
        )
    if s.get("uncovered") is not None and _positive(s.get("uncovered")):
        text += turn.t(
            f"；尚无人订购 {qty(s['uncovered'])}", f"; {qty(s['uncovered'])} not ordered by anyone yet"
        )
    elif s.get("covered_date"):
        text += turn.t(f"；预计 {s['covered_date']} 补齐", f"; covered by {s['covered_date']}")
    return text


def _receipt(turn: Turn, r: Any) -> str:
    if not isinstance(r, dict) or "qty" not in r:
        return describe(r)
    ref = first_value(r, ("supply", "order", "ref", "code")) or ""
    when = first_value(r, ("due", "due_date", "date"))
    late = turn.t("（晚于需求）", " (late)") if r.get("late") else ""
    return f"{ref} {qty(r['qty'])} {day(when)}{late}".strip()


@intent(
    "analyze_shortages",
    tools=("analyze_shortages",),
    required=("order",),
    optional=("use_substitutes",),
    order_kinds=("SO", "MO", "SC"),
    capability=("订单缺料分析（销售单或生产单）", "shortages of a sales or production order"),
)
def shortages(turn: Turn, slots: Slots) -> str:
    out = turn.call("analyze_shortages", _order_args(slots))
    if (msg := failed(turn, "analyze_shortages", out)) is not None:
        return msg
    items = out.get("shortages") or []
    if not items:
        return turn.t(f"{slots.order} 没有缺料。", f"{slots.order} has no shortages.")
    return "\n".join(
        [
            turn.t(
                f"{slots.order} 缺料 {len(items)} 项：", f"{slots.order} is short of {len(items)} item(s):"
            ),
            bullet_list([_shortage_line(turn, s) for s in items], 20) + more(turn.lang, len(items), 20),
            turn.t(
                "需要的话可以说“把这些缺料做成请购单”。",
                "Say “draft purchase requests for these” to propose buying them.",
            ),
        ]
    )


@intent(
    "draft_purchase_requests",
    tools=("analyze_shortages", "propose_purchase_requests"),
    required=("order",),
    order_kinds=("SO", "MO", "SC"),
    inherit=("order",),
    writes=True,
    capability=(
        "把订单缺料起草成请购提案（需人工确认）",
        "draft purchase requests for an order's shortages (a proposal)",
    ),
)
def draft_from_shortages(turn: Turn, slots: Slots) -> str:
    out = turn.call("analyze_shortages", _order_args(slots))
    if (msg := failed(turn, "analyze_shortages", out)) is not None:
        return msg
    items = [s for s in out.get("shortages") or [] if _positive(s.get("short"))]
    if not items:
        return turn.t(
            f"{slots.order} 没有缺料，不需要请购。", f"{slots.order} has no shortages: nothing to request."
        )
    # what open orders already cover needs no request: only the uncovered part (the short part when the
    # analysis does not say what is covered)
    needed = {s["item"]: s.get("uncovered", s.get("short")) for s in items}
    covered = [s["item"] for s in items if not _positive(needed[s["item"]])]
    made = [c for c, q in needed.items() if _positive(q) and _is_made(turn, c)]
    buy = [s for s in items if _positive(needed[s["item"]]) and s["item"] not in made]
    notes = []
    if covered:
        notes.append(
            turn.t(
                f"已有在途订单补齐，不用请购：{'、'.join(covered)}。",
                f"Already covered by open orders, no request needed: {', '.join(covered)}.",
            )
        )
    if made:
        notes.append(
            turn.t(
                f"自制件不请购（需要安排生产）：{'、'.join(made)}。",
                f"Make items are not purchased (they need production): {', '.join(made)}.",
            )
        )
    if not buy:
        head = turn.t(f"{slots.order} 没有需要请购的缺料。", f"{slots.order} has nothing to purchase.")
        return turn.t("", " ").join([head, *notes])
    need = _need_date(turn, slots) if not all(s.get("need_date") for s in buy) else turn.today
    lines_in = [
        {
            "item": s["item"],
            "qty": needed[s["item"]],
            "need_date": str(first_value(s, ("need_date", "required_date", "due_date")) or need.isoformat()),
        }
        for s in buy
    ]
    prop = turn.call(
        "propose_purchase_requests", {"lines": lines_in, "source_ref": f"{slots.order} shortage"}
    )
    if (msg := failed(turn, "propose_purchase_requests", prop)) is not None:
        return msg
    return _render_purchase_proposal(turn, prop, turn.t("", " ").join(notes))


def _is_made(turn: Turn, code: str) -> bool:
    found = turn.index.item(code)
    return found is not None and found.source == "make"


def _positive(value: Any) -> bool:
    try:
        return Decimal(str(value)) > 0
    except ArithmeticError:
        return False


def _need_date(turn: Turn, slots: Slots) -> date:
    """When the order needs its material: a sales order's earliest open line, a production order's start."""
    if slots.order_kind == "SO" and "get_sales_order" in tool_names():
        so = turn.call("get_sales_order", {"order": slots.order})
        dates = [ln.get("requested_date") for ln in so.get("lines") or [] if _positive(ln.get("open_qty"))]
        if dates:
            return max(date.fromisoformat(min(dates)), turn.today)
    if slots.order_kind in ORDER_KINDS_PRODUCTION and "list_production_orders" in tool_names():
        found = _find_production_order(turn, slots.order or "")
        if found is not None:
            start = found.get("start_date") or found.get("due_date")
            if start:
                return max(date.fromisoformat(start), turn.today)
    return turn.today


def _render_purchase_proposal(turn: Turn, prop: dict[str, Any], extra: str = "") -> str:
    reqs = prop.get("requisitions") or []
    lines = [
        turn.t(
            f"已起草请购提案 {prop.get('proposal_id')}，共 {len(reqs)} 行，估算金额 {qty(prop.get('total_amount'))}：",
            f"Drafted purchase-request proposal {prop.get('proposal_id')}: {len(reqs)} line(s), "
            f"estimated {qty(prop.get('total_amount'))}:",
        ),
        bullet_list(
            [
                turn.t(
                    f"{turn.item(r.get('item', ''))} {qty(r.get('qty'))} {r.get('uom', '')}，需求日 {day(r.get('need_date'))}"
                    + (f"，供应商 {r['supplier']}" if r.get("supplier") else "")
                    + f"，单价 {qty(r.get('unit_price'))}",
                    f"{turn.item(r.get('item', ''))} {qty(r.get('qty'))} {r.get('uom', '')} needed {day(r.get('need_date'))}"
                    + (f" from {r['supplier']}" if r.get("supplier") else "")
                    + f" at {qty(r.get('unit_price'))}",
                )
                for r in reqs
            ],
            20,
        )
        + more(turn.lang, len(reqs), 20),
    ]
    if extra:
        lines.append(extra)
    lines.append(proposal_note(turn, str(prop.get("proposal_id"))))
    return "\n".join(lines)


@intent(
    "request_purchase",
    tools=("propose_purchase_requests",),
    required=("item", "qty", "date"),
    writes=True,
    capability=(
        "起草一张请购提案（物料、数量、需求日，需人工确认）",
        "draft a purchase request for an item, qty, need date (a proposal)",
    ),
)
def request_purchase(turn: Turn, slots: Slots) -> str:
    assert slots.item and slots.qty is not None and slots.date is not None
    prop = turn.call(
        "propose_purchase_requests",
        {"lines": [{"item": slots.item, "qty": num_arg(slots.qty), "need_date": slots.date.isoformat()}]},
    )
    if (msg := failed(turn, "propose_purchase_requests", prop)) is not None:
        return msg
    return _render_purchase_proposal(turn, prop)


@intent(
    "order_status",
    tools=("get_sales_order",),
    required=("order",),
    order_kinds=("SO", "MO", "SC", "PO"),
    capability=(
        "订单进度与交期（销售单、生产单、采购单）",
        "order status and ship dates (sales, production, purchase orders)",
    ),
)
def order_status(turn: Turn, slots: Slots) -> str:
    if slots.order_kind in ORDER_KINDS_PRODUCTION:
        return _production_status(turn, slots.order or "")
    if slots.order_kind == "PO":
        return _purchase_status(turn, slots.order or "")
    out = turn.call("get_sales_order", {"order": slots.order})
    if (msg := failed(turn, "get_sales_order", out)) is not None:
        return msg
    lines = [
        turn.t(
            f"{out.get('code')}（客户 {turn.customer(out.get('customer', ''))}，状态 {out.get('status')}，"
            f"优先级 {out.get('priority')}），未发合计 {qty(out.get('open_qty'))}：",
            f"{out.get('code')} (customer {turn.customer(out.get('customer', ''))}, status {out.get('status')}, "
            f"priority {out.get('priority')}), {qty(out.get('open_qty'))} still to ship:",
        )
    ]
    rows = []
    for ln in out.get("lines") or []:
        late = (
            ln.get("line_status") != "shipped"
            and ln.get("requested_date")
            and (date.fromisoformat(ln.get("promised_date") or ln["requested_date"]) < turn.today)
        )
        rows.append(
            turn.t(
                f"第 {ln.get('line_no')} 行 {turn.item(ln.get('item', ''))}：数量 {qty(ln.get('qty'))} {ln.get('uom', '')}，"
                f"已发 {qty(ln.get('shipped_qty'))}，未发 {qty(ln.get('open_qty'))}，要求 {day(ln.get('requested_date'))}，"
                f"承诺 {day(ln.get('promised_date'))}" + ("，已逾期" if late else ""),
                f"line {ln.get('line_no')} {turn.item(ln.get('item', ''))}: qty {qty(ln.get('qty'))} {ln.get('uom', '')}, "
                f"shipped {qty(ln.get('shipped_qty'))}, open {qty(ln.get('open_qty'))}, requested {day(ln.get('requested_date'))}, "
                f"promised {day(ln.get('promised_date'))}" + (", overdue" if late else ""),
            )
        )
    lines.append(bullet_list(rows, 30))
    if "estimate_delivery_date" in tool_names():
        fields = get_tool("estimate_delivery_date").input_schema().get("properties", {})
        key = next((k for k in ("order", "sales_order", "code") if k in fields), "order")
        est = turn.call("estimate_delivery_date", {key: slots.order})
        if failed(turn, "estimate_delivery_date", est) is None:
            lines.append(turn.t("预计交付：", "Estimated delivery: ") + describe(est))
    elif _positive(out.get("open_qty")):
        lines.append(
            turn.t(
                "（按当前计划估算发货日期的功能还没有上线，以上是订单上的要求和承诺日期。）",
                "(Estimating the ship date from the current plan is not available yet; these are the order's requested and promised dates.)",
            )
        )
    return "\n".join(lines)


def _find_production_order(turn: Turn, code: str) -> dict[str, Any] | None:
    offset = 0
    while True:
        out = turn.call("list_production_orders", {"limit": 500, "offset": offset})
        if failed(turn, "list_production_orders", out) is not None:
            return None
        for row in out.get("orders") or []:
            if str(row.get("code", "")).upper() == code.upper():
                return row
        offset += 500
        if offset >= int(out.get("total") or 0):
            return None


def _production_status(turn: Turn, code: str) -> str:
    if "get_production_order" in tool_names():
        row: dict[str, Any] | None = turn.call("get_production_order", {"order": code})
        if (msg := failed(turn, "get_production_order", row or {})) is not None:
            return msg
    elif "list_production_orders" in tool_names():
        row = _find_production_order(turn, code)
    else:
        return not_available(turn, INTENTS["order_status"], ["get_production_order"])
    if row is None:
        return turn.t(f"没有找到生产单 {code}。", f"Production order {code} not found.")
    text = turn.t(
        f"{row.get('code')}（{turn.item(row.get('item', ''))}，{row.get('kind')}，状态 {row.get('status')}）："
        f"数量 {qty(row.get('qty'))}，已完工 {qty(row.get('completed_qty'))}，未完工 {qty(row.get('open_qty'))}，"
        f"开工 {day(row.get('start_date'))}，到期 {day(row.get('due_date'))}",
        f"{row.get('code')} ({turn.item(row.get('item', ''))}, {row.get('kind')}, status {row.get('status')}): "
        f"qty {qty(row.get('qty'))}, completed {qty(row.get('completed_qty'))}, open {qty(row.get('open_qty'))}, "
        f"start {day(row.get('start_date'))}, due {day(row.get('due_date'))}",
    )
    if row.get("sales_order"):
        text += turn.t(f"，对应销售订单 {row['sales_order']}", f", for sales order {row['sales_order']}")
    if row.get("supplier"):
        text += turn.t(f"，外协厂 {row['supplier']}", f", subcontractor {row['supplier']}")
    return text + turn.t("。", ".")


def _purchase_status(turn: Turn, code: str) -> str:
    if "get_purchase_order" in tool_names():
        po = turn.call("get_purchase_order", {"order": code})
        if (msg := failed(turn, "get_purchase_order", po)) is not None:
            return msg
    elif "list_purchase_orders" in tool_names():
        out = turn.call("list_purchase_orders", {"limit": 500})
        if (msg := failed(turn, "list_purchase_orders", out)) is not None:
            return msg
        found = [o for o in out.get("orders") or [] if str(o.get("code", "")).upper() == code.upper()]
        if not found:
            return turn.t(f"没有找到采购单 {code}。", f"Purchase order {code} not found.")
        po = found[0]
    else:
        return not_available(turn, INTENTS["order_status"], ["get_purchase_order"])
    rows = [
        turn.t(
            f"{turn.item(ln.get('item', ''))}：订购 {qty(ln.get('qty'))}，已收 {qty(ln.get('received_qty'))}，"
            f"未收 {qty(ln.get('open_qty'))}，到货期 {day(ln.get('due_date'))}",
            f"{turn.item(ln.get('item', ''))}: ordered {qty(ln.get('qty'))}, received {qty(ln.get('received_qty'))}, "
            f"open {qty(ln.get('open_qty'))}, due {day(ln.get('due_date'))}",
        )
        for ln in po.get("lines") or []
    ]
    return "\n".join(
        [
            turn.t(
                f"{po.get('code')}（供应商 {po.get('supplier')} {po.get('supplier_name', '')}，状态 {po.get('status')}）：",
                f"{po.get('code')} (supplier {po.get('supplier')} {po.get('supplier_name', '')}, status {po.get('status')}):",
            ),
            bullet_list(rows, 20),
        ]
    )


@intent(
    "explode_bom",
    tools=("explode_bom",),
    required=("item",),
    optional=("qty",),
    capability=("BOM 展开（多级用量）", "BOM explosion (gross quantities, all levels)"),
)
def explode(turn: Turn, slots: Slots) -> str:
    assert slots.item
    args: dict[str, Any] = {"item": slots.item}
    if slots.qty is not None:
        args["qty"] = num_arg(slots.qty)
    out = turn.call("explode_bom", args)
    if (msg := failed(turn, "explode_bom", out)) is not None:
        return msg
    lines_out = out.get("lines") or []
    rows = [f"{'  ' * max(int(ln.get('level', 1)) - 1, 0)}L{ln.get('level')} {turn.item(ln.get('item', ''))} {qty(ln.get('qty'))}"
            for ln in lines_out]  # fmt: skip
    totals = out.get("totals") or {}
    text = [
        turn.t(
            f"{turn.item(out.get('item', slots.item))} × {qty(out.get('qty'))} 的 BOM 展开（毛需求，含损耗，未扣库存），共 {len(lines_out)} 行：",
            f"BOM explosion of {turn.item(out.get('item', slots.item))} × {qty(out.get('qty'))} (gross, scrap included, no stock netting), {len(lines_out)} line(s):",
        ),
        "\n".join(f"- {r}" for r in rows[:40]) + more(turn.lang, len(rows), 40),
    ]
    if totals:
        pairs = [f"{code} {qty(v)}" for code, v in list(totals.items())[:40]]
        text.append(
            turn.t("各物料合计：", "Totals per component: ")
            + ", ".join(pairs)
            + more(turn.lang, len(totals), 40)
        )
    return "\n".join(text)


@intent(
    "where_used",
    tools=("where_used",),
    required=("item",),
    capability=("反查：物料用在哪些产品上", "where-used: which products use an item"),
)
def where_used(turn: Turn, slots: Slots) -> str:
    out = turn.call("where_used", {"item": slots.item})
    if (msg := failed(turn, "where_used", out)) is not None:
        return msg
    parents = out.get("parents") or []
    if not parents:
        return turn.t(
            f"{turn.item(slots.item or '')} 没有被任何 BOM 使用。",
            f"{turn.item(slots.item or '')} is not used in any BOM.",
        )
    rows = [
        turn.t(
            f"第 {p.get('level')} 层 {turn.item(p.get('item', ''))}，每个用 {qty(p.get('qty_per'))}",
            f"level {p.get('level')} {turn.item(p.get('item', ''))}, {qty(p.get('qty_per'))} per unit",
        )
        for p in parents
    ]
    return "\n".join(
        [
            turn.t(
                f"{turn.item(slots.item or '')} 用在 {len(parents)} 个上级物料中：",
                f"{turn.item(slots.item or '')} is used in {len(parents)} parent(s):",
            ),
            bullet_list(rows, 30) + more(turn.lang, len(rows), 30),
        ]
    )


@intent(
    "bom_cost",
    tools=("get_bom_cost",),
    required=("item",),
    capability=("BOM 成本卷算", "BOM cost roll-up of an item"),
)
def bom_cost(turn: Turn, slots: Slots) -> str:
    out = turn.call("get_bom_cost", {"item": slots.item})
    if (msg := failed(turn, "get_bom_cost", out)) is not None:
        return msg
    code = out.get("item", slots.item or "")
    parts = [
        (key, zh, en)
        for key, zh, en in (
            ("material_cost", "材料", "material"),
            ("operation_cost", "工序", "operations"),
            ("subcontract_fee_cost", "外协加工费", "subcontract fees"),
        )
        if out.get(key) is not None
    ]
    split = join(turn.lang, [turn.t(f"{zh} {qty(out[k])}", f"{en} {qty(out[k])}") for k, zh, en in parts])
    text = [
        turn.t(
            f"{turn.item(code)} 的 BOM 单位成本：{qty(out.get('unit_cost'))}"
            + (f"（{split}）" if split else "")
            + "。",
            f"BOM unit cost of {turn.item(code)}: {qty(out.get('unit_cost'))}"
            + (f" ({split})" if split else "")
            + ".",
        )
    ]
    lines = out.get("lines") or []
    if lines:
        text.append(turn.t("构成：", "Breakdown:"))
        text.append(bullet_list([_cost_line(turn, ln) for ln in lines], 25) + more(turn.lang, len(lines), 25))
    problems = out.get("problems") or []
    if problems:
        text.append(turn.t("问题：", "Problems: ") + join(turn.lang, map(describe, problems[:5])))
    return "\n".join(text)


def _cost_line(turn: Turn, ln: Any) -> str:
    if not isinstance(ln, dict) or "extended_cost" not in ln:
        return describe(ln)
    indent = "  " * max(int(ln.get("level") or 1) - 1, 0)
    if ln.get("kind") == "operation":
        return indent + turn.t(
            f"L{ln.get('level')} {ln.get('item')} 工序 {ln.get('seq')} {ln.get('work_center')} "
            f"{qty(ln.get('minutes'))} 分钟 = {qty(ln['extended_cost'])}",
            f"L{ln.get('level')} {ln.get('item')} operation {ln.get('seq')} on {ln.get('work_center')}, "
            f"{qty(ln.get('minutes'))} min = {qty(ln['extended_cost'])}",
        )
    return indent + (
        f"L{ln.get('level')} {turn.item(ln.get('item', ''))} × {qty(ln.get('qty'))} @ {qty(ln.get('unit_cost'))}"
        f" = {qty(ln['extended_cost'])}"
    )


@intent(
    "mrp_summary",
    tools=("run_mrp",),
    capability=("MRP 建议与例外汇总", "MRP suggestions and exceptions summary"),
)
def mrp(turn: Turn, slots: Slots) -> str:
    out = turn.call("run_mrp", {})
    if (msg := failed(turn, "run_mrp", out)) is not None:
        return msg
    sugg = out.get("suggestions") or []
    exc = out.get("exceptions") or []
    total = out.get("total_suggestions", len(sugg))
    counts = Counter(str(s.get("action")) for s in sugg)
    by_action = ", ".join(f"{a} {n}" for a, n in sorted(counts.items()))
    late = [s for s in sugg if s.get("late")]
    # what needs attention first: suggestions already late, then by release date
    ordered = sorted(sugg, key=lambda s: (not s.get("late"), str(s.get("release_date")), str(s.get("item"))))
    rows = [
        turn.t(
            f"{s.get('action')} {turn.item(s.get('item', ''))} {qty(s.get('qty'))} {s.get('uom', '')}，"
            f"下达 {day(s.get('release_date'))}，需求 {day(s.get('due_date'))}"
            + ("，已晚" if s.get("late") else ""),
            f"{s.get('action')} {turn.item(s.get('item', ''))} {qty(s.get('qty'))} {s.get('uom', '')}, "
            f"release {day(s.get('release_date'))}, due {day(s.get('due_date'))}"
            + (", late" if s.get("late") else ""),
        )
        for s in ordered
    ]
    exc_counts = out.get("exception_counts") or dict(Counter(str(e.get("kind")) for e in exc))
    text = [
        turn.t(
            f"MRP（{out.get('today', turn.today.isoformat())} 起 {out.get('horizon_days', '')} 天）建议 {total} 条"
            f"（{by_action or '无'}），其中已晚 {len(late)} 条；例外 {len(exc)} 条"
            + (f"（{', '.join(f'{k} {v}' for k, v in sorted(exc_counts.items()))}）" if exc_counts else "")
            + "。",
            f"MRP (from {out.get('today', turn.today.isoformat())}, {out.get('horizon_days', '')} days): {total} "
            f"suggestion(s) ({by_action or 'none'}), {len(late)} already late; {len(exc)} exception(s)"
            + (f" ({', '.join(f'{k} {v}' for k, v in sorted(exc_counts.items()))})" if exc_counts else "")
            + ".",
        )
    ]
    if rows:
        text.append(bullet_list(rows, 12) + more(turn.lang, len(rows), 12))
    if exc:
        text.append(turn.t("例外：", "Exceptions:"))
        text.append(bullet_list([_exception_line(turn, e) for e in exc], 10) + more(turn.lang, len(exc), 10))
    text.append(
        turn.t(
            "（建议不会改动数据；要下单需通过提案确认。）",
            "(Suggestions change nothing; orders go through confirmed proposals.)",
        )
    )
    return "\n".join(text)


def _exception_line(turn: Turn, e: Any) -> str:
    if not isinstance(e, dict) or "kind" not in e:
        return describe(e)
    parts = [str(e["kind"]), str(e.get("ref") or ""), turn.item(e["item"]) if e.get("item") else ""]
    if e.get("qty") is not None:
        parts.append(qty(e["qty"]))
    if e.get("date"):
        parts.append(str(e["date"]))
    if e.get("suggested_date"):
        parts.append(f"→ {e['suggested_date']}")
    return " ".join(p for p in parts if p)


@intent(
    "overdue_orders",
    tools=("list_sales_orders",),
    capability=("逾期未交的销售订单", "overdue sales orders"),
)
def overdue(turn: Turn, slots: Slots) -> str:
    yesterday = turn.today - timedelta(days=1)
    out = turn.call(
        "list_sales_orders", {"open_only": True, "due_before": yesterday.isoformat(), "limit": 500}
    )
    if (msg := failed(turn, "list_sales_orders", out)) is not None:
        return msg
    late = [
        o for o in out.get("orders") or []
        if o.get("earliest_due") and date.fromisoformat(o["earliest_due"]) < turn.today and _positive(o.get("open_qty"))
    ]  # fmt: skip
    if not late:
        return turn.t(
            f"截至 {turn.today.isoformat()}，没有逾期未交的销售订单。",
            f"As of {turn.today.isoformat()} no sales order is overdue.",
        )
    rows = [
        turn.t(
            f"{o.get('code')}（{turn.customer(o.get('customer', ''))}）：未交 {qty(o.get('open_qty'))}，要求 {day(o.get('earliest_due'))}"
            + (f"，已承诺 {o['latest_promised']}" if o.get("latest_promised") else ""),
            f"{o.get('code')} ({turn.customer(o.get('customer', ''))}): {qty(o.get('open_qty'))} open, requested {day(o.get('earliest_due'))}"
            + (f", promised {o['latest_promised']}" if o.get("latest_promised") else ""),
        )
        for o in late
    ]
    return "\n".join(
        [
            turn.t(
                f"截至 {turn.today.isoformat()}，逾期未交的销售订单 {len(late)} 张：",
                f"As of {turn.today.isoformat()}, {len(late)} sales order(s) are overdue:",
            ),
            bullet_list(rows, 30) + more(turn.lang, len(rows), 30),
        ]
    )


@intent(
    "schedule",
    tools=("get_schedule",),
    capability=("生产排程 / 工作中心负荷", "production schedule and work-center load"),
)
def schedule(turn: Turn, slots: Slots) -> str:
    out = turn.call("get_schedule", {})
    if (msg := failed(turn, "get_schedule", out)) is not None:
        return msg
    text = [turn.t("生产排程：", "Production schedule:")]
    for key, value in out.items():
        if isinstance(value, list):
            text.append(f"{key}: {len(value)}")
            text.append(bullet_list([describe(v) for v in value], 10) + more(turn.lang, len(value), 10))
        elif not isinstance(value, dict):
            text.append(f"{key}: {describe(value)}")
    return "\n".join(text)


@intent(
    "cost_report",
    tools=("get_cost_report", "get_cost_composition", "get_cost_variance"),
    required=("order",),
    order_kinds=("MO", "SC"),
    capability=(
        "生产单实际成本报告（成本构成、与标准成本的差异）",
        "actual cost report of a production order (composition, variance against standard)",
    ),
)
def cost_report(turn: Turn, slots: Slots) -> str:
    out = turn.call("get_cost_report", {"production_order": slots.order})
    if (msg := failed(turn, "get_cost_report", out)) is not None:
        return msg
    wip = out.get("wip") or {}
    text = [
        turn.t(
            f"{out.get('production_order')}（{turn.item(out.get('item', ''))}，期间 {out.get('period')}）：完工 {qty(out.get('completed_qty'))}，"
            f"材料 {qty(out.get('material'))}，人工 {qty(out.get('labor'))}，制造费用 {qty(out.get('overhead'))}，"
            f"合计 {qty(out.get('total'))}，单位成本 {qty(out.get('unit_cost'))}。",
            f"{out.get('production_order')} ({turn.item(out.get('item', ''))}, period {out.get('period')}): completed {qty(out.get('completed_qty'))}, "
            f"material {qty(out.get('material'))}, labor {qty(out.get('labor'))}, overhead {qty(out.get('overhead'))}, "
            f"total {qty(out.get('total'))}, unit cost {qty(out.get('unit_cost'))}.",
        ),
        turn.t(
            f"期末在制品 {qty(wip.get('qty'))}：材料 {qty(wip.get('material'))}，加工费 {qty(wip.get('conversion'))}，合计 {qty(wip.get('total'))}。",
            f"Ending WIP {qty(wip.get('qty'))}: material {qty(wip.get('material'))}, conversion {qty(wip.get('conversion'))}, total {qty(wip.get('total'))}.",
        ),
    ]
    outputs = out.get("outputs") or []
    if len(outputs) > 1:
        text.append(turn.t("各产品：", "Outputs: ") + join(turn.lang, [
            f"{o.get('item')} {qty(o.get('qty'))} → {qty(o.get('total'))} ({qty(o.get('unit_cost'))}/u)" for o in outputs
        ]))  # fmt: skip
    period, order = out.get("period"), out.get("production_order")
    if period and order:
        text += [
            line
            for line in (_composition_line(turn, period, order), _variance_line(turn, period, order))
            if line
        ]
    return "\n".join(text)


def _percent(value: Any) -> str:
    """A share (0..1) as the tool gave it, in percent to one decimal: 0.74736 → 74.7%."""
    return f"{Decimal(str(value)) * 100:.1f}%"


def _signed(value: Any) -> str:
    """A variance as the tool gave it, with + when unfavourable."""
    return ("+" if Decimal(str(value)) > 0 else "") + qty(value)


def _composition_line(turn: Turn, period: str, order: str) -> str:
    """The order's cost composition from get_cost_composition (by order); empty when it has none."""
    out = turn.call("get_cost_composition", {"period": period, "by": "order"})
    group = next((g for g in out.get("groups") or [] if g.get("key") == order), None)
    if "error" in out or group is None or not group.get("total"):
        return ""
    shares = group.get("shares") or {}
    parts = [
        (name_zh, name_en, shares.get(key))
        for key, name_zh, name_en in (
            ("material", "材料", "material"),
            ("labor", "人工", "labor"),
            ("overhead", "制造费用", "overhead"),
            ("subcontract", "委外加工费", "subcontract fees"),
            ("rework", "返工", "rework"),
            ("other_conversion", "其他加工费", "other conversion"),
        )
        if shares.get(key)
    ]
    transferred = group.get("transferred_in")
    note_zh = f"（材料中 {qty(transferred)} 来自下层工单）" if transferred else ""
    note_en = f" (material includes {qty(transferred)} from lower-level orders)" if transferred else ""
    return turn.t(
        "成本构成：" + "、".join(f"{zh} {_percent(v)}" for zh, _, v in parts) + note_zh + "。",
        "Cost composition: " + ", ".join(f"{en} {_percent(v)}" for _, en, v in parts) + note_en + ".",
    )


def _variance_line(turn: Turn, period: str, order: str) -> str:
    """The order against its standard cost from get_cost_variance; empty when the tool failed."""
    out = turn.call("get_cost_variance", {"period": period})
    if "error" in out:
        return ""
    found = next((v for v in out.get("orders") or [] if v.get("production_order") == order), None)
    if found is None:
        return turn.t(
            f"{order} 的物料没有标准成本，无法比较差异。", f"{order}'s item has no standard cost to compare."
        )
    variance = Decimal(str(found.get("variance") or 0))
    sign = "+" if variance > 0 else ""
    rate = found.get("variance_rate")
    rate_text = f"，{sign}{_percent(rate)}" if rate is not None else ""
    rate_en = f", {sign}{_percent(rate)}" if rate is not None else ""
    verdict_zh = "不利" if variance > 0 else "有利" if variance < 0 else "无差异"
    verdict_en = "unfavourable" if variance > 0 else "favourable" if variance < 0 else "none"
    source_zh = "BOM 卷算" if found.get("standard_from") == "bom" else "标准单价"
    source_en = "BOM roll-up" if found.get("standard_from") == "bom" else "standard unit cost"
    elements = [e for e in found.get("elements") or [] if e.get("variance")]
    names = {"material": ("材料", "material"), "labor": ("人工", "labor"), "overhead": ("制造费用", "overhead"),
             "subcontract": ("委外", "subcontract")}  # fmt: skip
    detail_zh = "；".join(
        f"{names.get(e['element'], (e['element'],))[0]}差异 {_signed(e['variance'])}" for e in elements
    )
    detail_en = "; ".join(
        f"{names.get(e['element'], ('', e['element']))[1]} {_signed(e['variance'])}" for e in elements
    )
    return turn.t(
        f"与标准成本比较（{source_zh}）：标准单位成本 {qty(found.get('standard_unit_cost'))}，实际 "
        f"{qty(found.get('actual_unit_cost'))}；完工 {qty(found.get('qty'))} 件标准 {qty(found.get('standard_total'))}，"
        f"实际 {qty(found.get('actual_total'))}，差异 {sign}{qty(variance)}{rate_text}（{verdict_zh}）"
        + (f"；{detail_zh}" if detail_zh else "")
        + "。",
        f"Against standard ({source_en}): standard unit cost {qty(found.get('standard_unit_cost'))}, actual "
        f"{qty(found.get('actual_unit_cost'))}; {qty(found.get('qty'))} completed at standard "
        f"{qty(found.get('standard_total'))}, actual {qty(found.get('actual_total'))}, variance "
        f"{sign}{qty(variance)}{rate_en} ({verdict_en})" + (f"; {detail_en}" if detail_en else "") + ".",
    )


@intent(
    "item_info",
    tools=("get_item", "find_items"),
    required=("item",),
    capability=("查物料：编码、库存、在途与需求", "find an item: code, stock, open supply and demand"),
    on_loose_item=lambda turn, phrase, candidates: find_items_answer(turn, phrase, candidates),
)
def item_info(turn: Turn, slots: Slots) -> str:
    out = turn.call("get_item", {"item": slots.item})
    if (msg := failed(turn, "get_item", out)) is not None:
        return msg
    supply = out.get("open_supply") or []
    demand = out.get("open_demand") or []
    text = [
        turn.t(
            f"{out.get('code')} {out.get('name')}（{out.get('category') or out.get('source')}，{out.get('source')}，单位 {out.get('uom')}，"
            f"提前期 {out.get('lead_time_days')} 天）：库存 {qty(out.get('on_hand'))}，检验中 {qty(out.get('in_inspection'))}，"
            f"在外协厂 {qty(out.get('at_subcontractors'))}；在途供应 {qty(out.get('open_supply_qty'))}，未结需求 {qty(out.get('open_demand_qty'))}，"
            f"预计结余 {qty(out.get('projected_qty'))}。",
            f"{out.get('code')} {out.get('name')} ({out.get('category') or out.get('source')}, {out.get('source')}, uom {out.get('uom')}, "
            f"lead time {out.get('lead_time_days')} days): on hand {qty(out.get('on_hand'))}, in inspection {qty(out.get('in_inspection'))}, "
            f"at subcontractors {qty(out.get('at_subcontractors'))}; open supply {qty(out.get('open_supply_qty'))}, open demand "
            f"{qty(out.get('open_demand_qty'))}, projected {qty(out.get('projected_qty'))}.",
        )
    ]
    if supply:
        text.append(
            turn.t("在途：", "Supply: ")
            + join(
                turn.lang,
                [f"{s.get('ref')} {qty(s.get('qty_open'))} {day(s.get('due_date'))}" for s in supply[:8]],
            )
            + more(turn.lang, len(supply), 8)
        )
    if demand:
        text.append(
            turn.t("需求：", "Demand: ")
            + join(
                turn.lang,
                [f"{d.get('ref')} {qty(d.get('qty_open'))} {day(d.get('due_date'))}" for d in demand[:8]],
            )
            + more(turn.lang, len(demand), 8)
        )
    return "\n".join(text)


def find_items_answer(
    turn: Turn, phrase: str, candidates: tuple[Candidate, ...]
) -> tuple[str, tuple[Candidate, ...]]:
    """Items matching loose words (find_items; else the name index's candidates), listed to pick from.

    One match is answered right away; several are listed and offered as the candidates of a question.
    """
    out = turn.call("find_items", {"query": phrase, "limit": 8})
    if (msg := failed(turn, "find_items", out)) is not None:
        return msg, ()
    found = tuple(
        Candidate(m["code"], m.get("name", ""), float(m.get("score", 0))) for m in out.get("matches") or []
    )
    # the name index knows kinds of things (桌子 → desks) that a literal search misses
    seen = {c.code for c in found}
    found = (*found, *(c for c in candidates if c.code not in seen))[:MAX_CANDIDATES]
    if not found:
        return turn.t(f"没有找到和「{phrase}」相符的物料。", f"No item matches '{phrase}'."), ()
    if len(found) == 1:
        return item_info(turn, Slots(item=found[0].code)), ()
    rows = "\n".join(f"{n}. {c.code} {c.name}" for n, c in enumerate(found, 1))
    return (
        turn.t(
            f"和「{phrase}」相符的物料有 {len(found)} 个，你要查哪一个？\n{rows}",
            f"{len(found)} items match '{phrase}' — which one do you mean?\n{rows}",
        ),
        found,
    )


@intent(
    "customer_orders",
    tools=("list_sales_orders",),
    required=("customer",),
    capability=("某客户的销售订单", "a customer's sales orders"),
)
def customer_orders(turn: Turn, slots: Slots) -> str:
    out = turn.call("list_sales_orders", {"customer": slots.customer, "limit": 100})
    if (msg := failed(turn, "list_sales_orders", out)) is not None:
        return msg
    orders = out.get("orders") or []
    if not orders:
        return turn.t(
            f"{turn.customer(slots.customer or '')} 没有销售订单。",
            f"{turn.customer(slots.customer or '')} has no sales orders.",
        )
    rows = [
        turn.t(
            f"{o.get('code')}：{o.get('status')}，{', '.join(o.get('items') or [])}，合计 {qty(o.get('total_qty'))}，未交 {qty(o.get('open_qty'))}，"
            f"最早要求 {day(o.get('earliest_due'))}",
            f"{o.get('code')}: {o.get('status')}, {', '.join(o.get('items') or [])}, total {qty(o.get('total_qty'))}, open {qty(o.get('open_qty'))}, "
            f"earliest due {day(o.get('earliest_due'))}",
        )
        for o in orders
    ]
    return "\n".join(
        [
            turn.t(
                f"{turn.customer(slots.customer or '')} 共 {out.get('total')} 张销售订单：",
                f"{turn.customer(slots.customer or '')} has {out.get('total')} sales order(s):",
            ),
            bullet_list(rows, 30) + more(turn.lang, len(rows), 30),
        ]
    )


# ------------------------------------------------------------------------------------------------ order tracking

_STAGE_ZH = {
    "shipped": "已全部发货",
    "ready_to_ship": "库存已备齐，可以发货",
    "in_production": "生产中",
    "scheduled": "已下达生产，物料齐备待开工",
    "waiting_for_material": "已下达生产，等料中",
    "awaiting_supply": "等待在途到货",
    "not_planned": "部分数量尚未安排生产或采购",
    "draft": "草稿",
    "cancelled": "已取消",
    "done": "已完成",
}
_STAGE_EN = {
    "shipped": "fully shipped",
    "ready_to_ship": "in stock, ready to ship",
    "in_production": "in production",
    "scheduled": "released to production, material there",
    "waiting_for_material": "released to production, waiting for material",
    "awaiting_supply": "waiting for open receipts",
    "not_planned": "part of it not yet ordered or planned",
}


def _pct(value: Any) -> str:
    return qty(round(float(value or 0) * 100, 1)) + "%"


def _risk_text(turn: Turn, r: dict[str, Any]) -> str:
    """A risk record in the question's language, with the records on the way to it."""
    via = r.get("via") or []
    rec, item, amount, on = (
        r.get("record", ""),
        turn.item(r.get("item") or ""),
        qty(r.get("qty")),
        day(r.get("date")),
    )
    zh = {
        "overdue": f"{rec} 已逾期（应交 {on}，未交 {amount}）",
        "projected_late": f"{rec} 预计 {on} 才能完成，晚于应交日期",
        "uncovered_shortage": f"{rec} 缺 {item} {amount}，没有库存或在途覆盖（从头采购/生产最早 {on}）",
        "late_supply": f"{rec} 的 {item} {amount} 预计 {on} 到，晚于需要的日期",
        "supply_overdue": f"{rec}（{item} {amount}）已过交期 {on} 仍未到",
        "linked_order_overdue": f"为它生产的 {rec} 已过完工期 {on}，还有 {amount} 未完工",
    }.get(str(r.get("kind")), str(r.get("message", "")))
    path = turn.t(f"（经 {' → '.join(via)}）", f" (via {' → '.join(via)})") if via else ""
    return turn.t(zh + path, f"{r.get('message', '')}{path}")


def _timing(turn: Turn, projected: Any, owed: Any, days_late: int) -> str:
    if not projected:
        return ""
    if days_late > 0:
        return turn.t(
            f"预计 {day(projected)} 才能全部备齐，比应交日 {day(owed)} 晚 {days_late} 天",
            f"expected ready {day(projected)}, {days_late} day(s) after the date owed {day(owed)}",
        )
    return turn.t(
        f"预计 {day(projected)} 可全部备齐，赶得上应交日 {day(owed)}",
        f"expected ready {day(projected)}, in time for {day(owed)}",
    )


def _linked_text(turn: Turn, o: dict[str, Any]) -> str:
    return turn.t(
        f"{o.get('code')}（{o.get('status')}）完工 {qty(o.get('completed_qty'))}/{qty(o.get('qty'))}，"
        f"领料 {_pct(o.get('issue_progress'))}，到期 {day(o.get('due_date'))}，预计完工 {day(o.get('projected_finish'))}",
        f"{o.get('code')} ({o.get('status')}) completed {qty(o.get('completed_qty'))}/{qty(o.get('qty'))}, "
        f"issued {_pct(o.get('issue_progress'))}, due {day(o.get('due_date'))}, projected {day(o.get('projected_finish'))}",
    )


def _sales_tracking(turn: Turn, code: str) -> str:
    out = turn.call("get_sales_order_tracking", {"sales_order": code})
    if (msg := failed(turn, "get_sales_order_tracking", out)) is not None:
        return msg
    lines = out.get("lines") or []
    if not lines:
        return turn.t(f"{code} 没有订单行。", f"{code} has no lines.")
    first = lines[0]
    head = turn.t(
        f"{first.get('sales_order')}（客户 {turn.customer(first.get('customer', ''))}，状态 {first.get('order_status')}，"
        f"优先级 {first.get('priority')}）共 {out.get('total')} 行，{out.get('at_risk')} 行有延期风险：",
        f"{first.get('sales_order')} (customer {turn.customer(first.get('customer', ''))}, status "
        f"{first.get('order_status')}, priority {first.get('priority')}): {out.get('total')} line(s), "
        f"{out.get('at_risk')} at risk:",
    )
    text = [head]
    for ln in lines:
        stage = str(ln.get("stage", ""))
        text.append(
            turn.t(
                f"第 {ln.get('line_no')} 行 {turn.item(ln.get('item', ''))}：数量 {qty(ln.get('qty'))}，已发 "
                f"{qty(ln.get('shipped_qty'))}，未发 {qty(ln.get('open_qty'))}；现在：{_STAGE_ZH.get(stage, stage)}。"
                f"要求 {day(ln.get('requested_date'))}，承诺 {day(ln.get('promised_date'))}"
                + (
                    f"，{_timing(turn, ln.get('projected_date'), ln.get('owed_date'), int(ln.get('days_late') or 0))}"
                    if ln.get("projected_date")
                    else ""
                )
                + "。",
                f"line {ln.get('line_no')} {turn.item(ln.get('item', ''))}: qty {qty(ln.get('qty'))}, shipped "
                f"{qty(ln.get('shipped_qty'))}, open {qty(ln.get('open_qty'))}; now: {_STAGE_EN.get(stage, stage)}. "
                f"Requested {day(ln.get('requested_date'))}, promised {day(ln.get('promised_date'))}"
                + (
                    f"; {_timing(turn, ln.get('projected_date'), ln.get('owed_date'), int(ln.get('days_late') or 0))}"
                    if ln.get("projected_date")
                    else ""
                )
                + ".",
            )
        )
        if float(ln.get("open_qty") or 0) > 0 and ln.get("projected_date"):
            text.append(
                "  "
                + turn.t(
                    f"未发数量：库存已备 {qty(ln.get('ready_qty'))}，生产中 {qty(ln.get('in_production_qty'))}，"
                    f"待开工 {qty(ln.get('planned_qty'))}，在途 {qty(ln.get('incoming_qty'))}，未安排 {qty(ln.get('uncovered_qty'))}。",
                    f"Open quantity: ready {qty(ln.get('ready_qty'))}, in production {qty(ln.get('in_production_qty'))}, "
                    f"not started {qty(ln.get('planned_qty'))}, incoming {qty(ln.get('incoming_qty'))}, not yet ordered "
                    f"{qty(ln.get('uncovered_qty'))}.",
                )
            )
        orders = [*(ln.get("production_orders") or []), *(ln.get("subcontract_orders") or [])]
        if orders:
            text.append(
                "  "
                + turn.t("生产/委外：", "Orders: ")
                + join(turn.lang, [_linked_text(turn, o) for o in orders])
            )
        buys = ln.get("purchases") or []
        if buys:
            text.append(
                "  "
                + turn.t("相关采购：", "Purchases: ")
                + join(
                    turn.lang,
                    [
                        turn.t(
                            f"{p.get('supply')} {turn.item(p.get('item', ''))} {qty(p.get('qty'))}，预计 {day(p.get('projected'))} 到（供 {p.get('for_record')}）",
                            f"{p.get('supply')} {p.get('item')} {qty(p.get('qty'))} expected {day(p.get('projected'))} (for {p.get('for_record')})",
                        )
                        for p in buys[:6]
                    ],
                )
                + more(turn.lang, len(buys), 6)
            )
        risks = ln.get("risks") or []
        if risks:
            text.append(
                "  "
                + turn.t("风险：", "Risks: ")
                + join(turn.lang, [_risk_text(turn, r) for r in risks[:6]])
                + more(turn.lang, len(risks), 6)
            )
    return "\n".join(text)


def _production_tracking(turn: Turn, code: str) -> str:
    out = turn.call("get_production_order_tracking", {"production_order": code})
    if (msg := failed(turn, "get_production_order_tracking", out)) is not None:
        return msg
    o = (out.get("orders") or [{}])[0]
    late = int(o.get("days_late") or 0)
    text = [
        turn.t(
            f"{o.get('code')}（{turn.item(o.get('item', ''))}，{o.get('kind')}，状态 {o.get('status')}）：完工 "
            f"{qty(o.get('completed_qty'))}/{qty(o.get('qty'))}，领料进度 {_pct(o.get('issue_progress'))}，待检 "
            f"{qty(o.get('in_inspection_qty'))}；计划完工 {day(o.get('planned_finish'))}，预计完工 {day(o.get('projected_finish'))}"
            + (f"，晚 {late} 天" if late else "，按期")
            + "。",
            f"{o.get('code')} ({turn.item(o.get('item', ''))}, {o.get('kind')}, status {o.get('status')}): completed "
            f"{qty(o.get('completed_qty'))}/{qty(o.get('qty'))}, issued {_pct(o.get('issue_progress'))}, in QC "
            f"{qty(o.get('in_inspection_qty'))}; planned finish {day(o.get('planned_finish'))}, projected "
            f"{day(o.get('projected_finish'))}" + (f", {late} day(s) late" if late else ", on time") + ".",
        )
    ]
    comps = [c for c in o.get("components") or [] if float(c.get("remaining") or 0) > 0]
    if comps:
        text.append(
            turn.t("待发料：", "Still to issue: ")
            + join(
                turn.lang,
                [
                    turn.t(
                        f"{c.get('item')} {qty(c.get('remaining'))}（库存 {qty(c.get('from_stock'))}，在途 {qty(c.get('incoming'))}，"
                        f"未安排 {qty(c.get('uncovered'))}，齐备 {day(c.get('ready_date'))}）",
                        f"{c.get('item')} {qty(c.get('remaining'))} (stock {qty(c.get('from_stock'))}, incoming "
                        f"{qty(c.get('incoming'))}, not ordered {qty(c.get('uncovered'))}, there {day(c.get('ready_date'))})",
                    )
                    for c in comps[:8]
                ],
            )
            + more(turn.lang, len(comps), 8)
        )
    if not o.get("operations_recorded"):
        text.append(turn.t("工序完工数量没有记录。", "Completed quantities per operation are not recorded."))
    risks = o.get("risks") or []
    if risks:
        text.append(turn.t("风险：", "Risks: ") + join(turn.lang, [_risk_text(turn, r) for r in risks[:6]]))
    return "\n".join(text)


def _subcontract_tracking(turn: Turn, code: str) -> str:
    out = turn.call("get_subcontract_tracking", {"subcontract_order": code})
    if (msg := failed(turn, "get_subcontract_tracking", out)) is not None:
        return msg
    o = (out.get("orders") or [{}])[0]
    text = [
        turn.t(
            f"{o.get('code')}（外协厂 {o.get('supplier')} {o.get('supplier_name', '')}，{turn.item(o.get('item', ''))}，状态 "
            f"{o.get('status')}）：已收 {qty(o.get('received_qty'))}/{qty(o.get('qty'))}，未交 {qty(o.get('open_qty'))}，到期 "
            f"{day(o.get('due_date'))}，预计 {day(o.get('projected_finish'))}"
            + ("，已逾期" if o.get("overdue") else "")
            + "。",
            f"{o.get('code')} (subcontractor {o.get('supplier')} {o.get('supplier_name', '')}, {turn.item(o.get('item', ''))}, "
            f"status {o.get('status')}): received {qty(o.get('received_qty'))}/{qty(o.get('qty'))}, open "
            f"{qty(o.get('open_qty'))}, due {day(o.get('due_date'))}, projected {day(o.get('projected_finish'))}"
            + (", overdue" if o.get("overdue") else "")
            + ".",
        )
    ]
    text.append(
        turn.t("发料：", "Material: ")
        + join(
            turn.lang,
            [
                turn.t(
                    f"{m.get('item')} 发出 {qty(m.get('sent'))}，耗用 {qty(m.get('consumed'))}，外协报废 {qty(m.get('supplier_scrap'))}，"
                    f"退回 {qty(m.get('returned'))}，在外协厂 {qty(m.get('at_supplier'))}",
                    f"{m.get('item')} sent {qty(m.get('sent'))}, consumed {qty(m.get('consumed'))}, supplier scrap "
                    f"{qty(m.get('supplier_scrap'))}, returned {qty(m.get('returned'))}, at the subcontractor {qty(m.get('at_supplier'))}",
                )
                for m in o.get("materials") or []
            ],
        )
    )
    return "\n".join(text)


@intent(
    "order_tracking",
    tools=("get_sales_order_tracking", "get_production_order_tracking", "get_subcontract_tracking"),
    required=("order",),
    order_kinds=("SO", "MO", "SC"),
    capability=(
        "订单全流程跟踪：到哪一步了、预计何时备齐、卡在哪里",
        "order tracking: where an order is, when it will be ready, what holds it up",
    ),
)
def order_tracking(turn: Turn, slots: Slots) -> str:
    code = slots.order or ""
    if slots.order_kind == "SC":
        return _subcontract_tracking(turn, code)
    if slots.order_kind == "MO":
        return _production_tracking(turn, code)
    return _sales_tracking(turn, code)


_WARNING_ZH = {
    "purchase_overdue": "逾期未到的采购",
    "production_overdue": "逾期未完工的生产单",
    "subcontract_overdue": "逾期未交的委外单",
    "purchase_late_for_need": "到货晚于需求的采购",
    "production_due_soon": "近期到期未完工的生产单",
    "subcontract_due_soon": "近期到期未完工的委外单",
}
_WARNING_EN = {
    "purchase_overdue": "purchase orders overdue",
    "production_overdue": "production orders overdue",
    "subcontract_overdue": "subcontract orders overdue",
    "purchase_late_for_need": "purchases due after they are needed",
    "production_due_soon": "production orders due soon, not complete",
    "subcontract_due_soon": "subcontract orders due soon, not complete",
}


@intent(
    "order_risks",
    tools=("get_warnings",),
    capability=("哪些订单可能延期：预警与原因", "which orders may be late: warnings and their causes"),
)
def order_risks(turn: Turn, slots: Slots) -> str:
    out = turn.call("get_warnings", {"days": 7})
    if (msg := failed(turn, "get_warnings", out)) is not None:
        return msg
    warnings = out.get("warnings") or []
    sales = [w for w in warnings if w.get("kind") in ("sales_overdue", "sales_projected_late")]
    overdue = sum(1 for w in sales if w.get("kind") == "sales_overdue")
    text = [
        turn.t(
            f"截至 {day(out.get('today'))}，可能延期的销售订单行共 {len(sales)} 个（已逾期 {overdue} 个，预计延期 {len(sales) - overdue} 个）：",
            f"As of {day(out.get('today'))}, {len(sales)} sales order line(s) may be late ({overdue} overdue, "
            f"{len(sales) - overdue} projected late):",
        )
    ]
    rows = []
    for w in sales:
        causes = [r for r in w.get("records") or [] if r != w.get("record")]
        rows.append(
            turn.t(
                f"{w.get('record')} {turn.item(w.get('item') or '')} {qty(w.get('qty'))}："
                + ("已逾期，" if w.get("kind") == "sales_overdue" else "")
                + f"应交 {day(w.get('date'))}，预计 {day(w.get('projected_date'))}"
                + (
                    f"，晚 {w.get('days')} 天"
                    if w.get("kind") == "sales_projected_late"
                    else f"，已晚 {w.get('days')} 天"
                )
                + (f"；相关单据 {'、'.join(causes[:5])}" if causes else ""),
                f"{w.get('record')} {w.get('item')} {qty(w.get('qty'))}: "
                + ("overdue, " if w.get("kind") == "sales_overdue" else "")
                + f"owed {day(w.get('date'))}, projected {day(w.get('projected_date'))}, {w.get('days')} day(s) late"
                + (f" — {w.get('cause')}" if w.get("cause") else ""),
            )
        )
    text.append(bullet_list(rows, 20) + more(turn.lang, len(rows), 20))
    others = [(kind, [w for w in warnings if w.get("kind") == kind]) for kind in _WARNING_ZH]
    others = [(kind, ws) for kind, ws in others if ws]
    if others:
        text.append(turn.t("其他预警：", "Other warnings:"))
        text.append(
            bullet_list(
                [
                    turn.t(f"{_WARNING_ZH[kind]} {len(ws)} 个：", f"{_WARNING_EN[kind]}: {len(ws)}: ")
                    + join(
                        turn.lang,
                        [
                            f"{w.get('record')}（{day(w.get('date'))}）"
                            if turn.lang == "zh"
                            else f"{w.get('record')} ({day(w.get('date'))})"
                            for w in ws[:5]
                        ],
                    )
                    + more(turn.lang, len(ws), 5)
                    for kind, ws in others
                ],
                10,
            )
        )
    return "\n".join(text)


@intent(
    "help",
    capability=(
        "使用帮助：齐套、倒冲、虚拟件、替代料、提案确认、MRP 例外、交期承诺、成本",
        "help: kitting, backflush, phantoms, substitutes, proposals, MRP exceptions, promising, costing",
    ),
)
def help_answer(turn: Turn, slots: Slots) -> str:
    match = turn.knowledge.search(turn.question, turn.lang)
    page = match.page
    return f"{page.title}\n\n{page.body}\n\n" + turn.t(f"（出处：{page.path}）", f"(Source: {page.path})")


@intent("chitchat")
def chitchat(turn: Turn, slots: Slots) -> str:
    q = turn.question.casefold()
    if any(w in q for w in ("谢", "thank", "thx", "cheers")):
        return turn.t("不客气！还有什么要查的吗？", "You're welcome! Anything else to check?")
    if any(w in q for w in ("再见", "bye")):
        return turn.t("再见！", "Goodbye!")
    return turn.t(
        "你好！我是 OrderPilot 助手（离线模式），可以回答接单交期、齐套、缺料、订单进度、BOM、成本等问题。",
        "Hello! I'm the OrderPilot assistant (offline mode): ask me about order promising, kitting, shortages, "
        "order status, BOMs and costs.",
    )


@intent("confirm_request")
def refuse_confirm(turn: Turn, slots: Slots) -> str:
    which = f" {slots.proposal}" if slots.proposal else ""
    return turn.t(
        f"我不能确认、批准或驳回提案{which}，也不会跳过确认直接改数据——无论消息或记录里怎么要求。"
        "提案要由有权限的人在网页的「提案」页面确认，或用命令 `orderpilot proposals confirm <提案编号>`。"
        "我可以帮你查询，或起草新的提案（待确认）。",
        f"I cannot confirm, approve or reject proposal{which or 's'}, nor change data without a confirmation — whatever a "
        "message or a record says. A person allowed to approve it confirms it in the Proposals view or with "
        "`orderpilot proposals confirm <proposal id>`. I can look things up or draft a new proposal (pending).",
    )


def not_available(turn: Turn, spec: IntentSpec, missing: list[str]) -> str:
    capability = turn.t(spec.capability_zh, spec.capability_en) or spec.name
    return turn.t(
        f"这个功能（{capability}）目前还没有上线：系统里还没有 {', '.join(missing)} 工具，所以我没法回答，也不会编造数字。",
        f"That capability ({capability}) is not available yet: the {', '.join(missing)} tool is not installed here, "
        "so I can't answer it — and I won't make up numbers.",
    )


def capabilities(turn: Turn) -> str:
    """What the offline assistant can answer now (intents whose tools are all installed)."""
    rows = [
        turn.t(spec.capability_zh, spec.capability_en)
        for spec in INTENTS.values()
        if (spec.capability_zh or spec.capability_en) and not spec.missing_tools()
    ]
    return bullet_list(rows, 40)


# ------------------------------------------------------------------------------------------------ execution


def _issued_line(turn: Turn, ln: dict[str, Any]) -> str:
    return turn.t(
        f"{turn.item(ln.get('item', ''))} {qty(ln.get('qty'))} {ln.get('uom', '')}（需求 {qty(ln.get('required'))}，"
        f"发后累计 {qty(ln.get('issued_after'))}）" + ("，超发" if ln.get("over_issue") else ""),
        f"{turn.item(ln.get('item', ''))} {qty(ln.get('qty'))} {ln.get('uom', '')} (required {qty(ln.get('required'))}, "
        f"{qty(ln.get('issued_after'))} issued after)" + (", over-issue" if ln.get("over_issue") else ""),
    )


@intent(
    "issue_material",
    tools=("propose_kit_issue", "propose_material_issue"),
    required=("order", "qty"),
    optional=("item",),
    order_kinds=("MO",),
    writes=True,
    capability=(
        "生产领料：按套数配套发料，或发某个物料若干（提案，需仓库确认）",
        "material issue to a production order: kit sets or one item (a proposal)",
    ),
)
def issue_material(turn: Turn, slots: Slots) -> str:
    assert slots.order and slots.qty is not None
    if slots.item:
        name = "propose_material_issue"
        args: dict[str, Any] = {
            "order": slots.order,
            "lines": [{"item": slots.item, "qty": num_arg(slots.qty)}],
        }
    else:
        name = "propose_kit_issue"
        args = {"order": slots.order, "sets": int(slots.qty)}
    out = turn.call(name, args)
    if (msg := failed(turn, name, out)) is not None:
        return msg
    lines = out.get("lines") or []
    head = (
        turn.t(
            f"已起草领料提案 {out.get('proposal_id')}：给 {slots.order} 配套发 {int(slots.qty)} 套，从 {out.get('location')} 发 {len(lines)} 项：",
            f"Drafted material-issue proposal {out.get('proposal_id')}: a kit of {int(slots.qty)} set(s) for "
            f"{slots.order} from {out.get('location')}, {len(lines)} line(s):",
        )
        if name == "propose_kit_issue"
        else turn.t(
            f"已起草领料提案 {out.get('proposal_id')}：给 {slots.order} 从 {out.get('location')} 发料：",
            f"Drafted material-issue proposal {out.get('proposal_id')}: issue to {slots.order} from "
            f"{out.get('location')}:",
        )
    )
    text = [head, bullet_list([_issued_line(turn, ln) for ln in lines], 20) + more(turn.lang, len(lines), 20)]
    if out.get("over_issue"):
        text.append(
            turn.t("含超发，需要计划员确认。", "It includes an over-issue: a planner must confirm it.")
        )
    text.append(proposal_note(turn, str(out.get("proposal_id"))))
    return "\n".join(text)


@intent(
    "production_progress",
    tools=("get_production_order",),
    required=("order",),
    order_kinds=("MO", "SC"),
    capability=(
        "生产单领料与完工进度：每个物料需求、已发、未发，完工入库",
        "production order progress: each component required, issued, still to issue; completions",
    ),
)
def production_progress(turn: Turn, slots: Slots) -> str:
    out = turn.call("get_production_order", {"order": slots.order})
    if (msg := failed(turn, "get_production_order", out)) is not None:
        return msg
    comps = out.get("components") or []
    text = [
        turn.t(
            f"{out.get('code')}（{turn.item(out.get('item', ''))}，状态 {out.get('status')}）：数量 {qty(out.get('qty'))}，"
            f"已完工 {qty(out.get('completed_qty'))}，未完工 {qty(out.get('open_qty'))}，到期 {day(out.get('due_date'))}；"
            f"已领料成本 {qty(out.get('material_cost'))}。",
            f"{out.get('code')} ({turn.item(out.get('item', ''))}, status {out.get('status')}): qty {qty(out.get('qty'))}, "
            f"completed {qty(out.get('completed_qty'))}, open {qty(out.get('open_qty'))}, due {day(out.get('due_date'))}; "
            f"material charged {qty(out.get('material_cost'))}.",
        )
    ]
    if comps:
        text.append(turn.t("领料情况：", "Material issued:"))
        text.append(
            bullet_list(
                [
                    turn.t(
                        f"{c.get('item')} {c.get('item_name', '')}：需求 {qty(c.get('required'))}，已发 {qty(c.get('issued'))}，"
                        f"未发 {qty(c.get('remaining'))}"
                        + ("（倒冲）" if c.get("issue_method") == "backflush" else ""),
                        f"{c.get('item')}: required {qty(c.get('required'))}, issued {qty(c.get('issued'))}, still to issue "
                        f"{qty(c.get('remaining'))}"
                        + (" (backflush)" if c.get("issue_method") == "backflush" else ""),
                    )
                    for c in comps
                ],
                30,
            )
            + more(turn.lang, len(comps), 30)
        )
    else:
        text.append(turn.t("还没有物料需求（未下达）。", "No component requirements yet (not released)."))
    receipts = out.get("receipts") or []
    if receipts:
        text.append(
            turn.t("完工入库：", "Completion receipts: ")
            + join(
                turn.lang, [f"{r.get('code')} {day(r.get('date'))} {qty(r.get('qty'))}" for r in receipts[:8]]
            )
            + more(turn.lang, len(receipts), 8)
        )
    return "\n".join(text)


@intent(
    "completion_receipt",
    tools=("propose_completion_receipt",),
    required=("order", "qty"),
    order_kinds=("MO",),
    writes=True,
    capability=(
        "完工入库（含倒冲领料，提案，需确认）",
        "completion receipt of a production order, with backflush (a proposal)",
    ),
)
def completion_receipt(turn: Turn, slots: Slots) -> str:
    assert slots.qty is not None
    out = turn.call("propose_completion_receipt", {"order": slots.order, "qty": num_arg(slots.qty)})
    if (msg := failed(turn, "propose_completion_receipt", out)) is not None:
        return msg
    r = out.get("receipt") or {}
    text = [
        turn.t(
            f"已起草完工入库提案 {out.get('proposal_id')}：{r.get('order')} 完工 {turn.item(r.get('item', ''))} {qty(r.get('qty'))} "
            f"{r.get('uom', '')} 入 {r.get('to_location')}，完工累计 {qty(r.get('completed_after'))}/{qty(r.get('order_qty'))}"
            + ("，订单完工" if r.get("final") else "")
            + f"；估算单位成本 {qty(r.get('estimated_unit_cost'))}。",
            f"Drafted completion-receipt proposal {out.get('proposal_id')}: {r.get('order')} receives "
            f"{turn.item(r.get('item', ''))} {qty(r.get('qty'))} {r.get('uom', '')} into {r.get('to_location')}, "
            f"{qty(r.get('completed_after'))}/{qty(r.get('order_qty'))} completed"
            + (", order complete" if r.get("final") else "")
            + f"; estimated unit cost {qty(r.get('estimated_unit_cost'))}.",
        )
    ]
    backflush = out.get("backflush") or []
    if backflush:
        text.append(
            turn.t("倒冲领料：", "Backflush: ")
            + join(turn.lang, [f"{b.get('item')} {qty(b.get('qty'))}" for b in backflush])
        )
    short = r.get("not_yet_issued") or []
    if short:
        text.append(
            turn.t("注意，这些料发得少于完工所需：", "Note: issued less than the completed quantity needs: ")
            + join(
                turn.lang,
                [
                    turn.t(
                        f"{s.get('item')} 已发 {qty(s.get('issued'))}/需 {qty(s.get('needed'))}",
                        f"{s.get('item')} issued {qty(s.get('issued'))} of {qty(s.get('needed'))}",
                    )
                    for s in short
                ],
            )
        )
    text.append(proposal_note(turn, str(out.get("proposal_id"))))
    return "\n".join(text)


@intent(
    "purchase_receipt",
    tools=("get_purchase_order", "propose_purchase_receipt"),
    required=("order", "qty"),
    optional=("item",),
    order_kinds=("PO",),
    writes=True,
    capability=(
        "采购到货收料（需检验的进待检区，提案，需仓库确认）",
        "receive a delivery on a purchase order (into QC when inspected; a proposal)",
    ),
)
def purchase_receipt(turn: Turn, slots: Slots) -> str:
    assert slots.qty is not None
    line: dict[str, Any] = {"qty": num_arg(slots.qty)}
    if slots.item:
        line["item"] = slots.item
    else:
        po = turn.call("get_purchase_order", {"order": slots.order})
        if (msg := failed(turn, "get_purchase_order", po)) is not None:
            return msg
        open_lines = (
            [ln for ln in po.get("lines") or [] if _positive(ln.get("open_qty"))] or po.get("lines") or []
        )
        if len(open_lines) != 1:
            items = ", ".join(str(ln.get("item")) for ln in open_lines)
            return turn.t(
                f"{slots.order} 有多行（{items}），请说明是哪个物料到货。",
                f"{slots.order} has several lines ({items}): which item arrived?",
            )
        line["line_no"] = open_lines[0].get("line_no")
    out = turn.call("propose_purchase_receipt", {"purchase_order": slots.order, "lines": [line]})
    if (msg := failed(turn, "propose_purchase_receipt", out)) is not None:
        return msg
    rows = [
        turn.t(
            f"第 {ln.get('line_no')} 行 {turn.item(ln.get('item', ''))} {qty(ln.get('qty'))} {ln.get('uom', '')} "
            + ("进待检区 QC 待检" if ln.get("to_location") == "QC" else "直接入库 STOCK")
            + f"，累计收货 {qty(ln.get('received_after'))}/{qty(ln.get('ordered'))}",
            f"line {ln.get('line_no')} {turn.item(ln.get('item', ''))} {qty(ln.get('qty'))} {ln.get('uom', '')} "
            + ("into QC for inspection" if ln.get("to_location") == "QC" else "into STOCK")
            + f", {qty(ln.get('received_after'))}/{qty(ln.get('ordered'))} received",
        )
        for ln in out.get("lines") or []
    ]
    status = str(out.get("status_after", ""))
    return "\n".join(
        [
            turn.t(
                f"已起草收料提案 {out.get('proposal_id')}：{out.get('purchase_order')}（供应商 {out.get('supplier')}）：",
                f"Drafted receipt proposal {out.get('proposal_id')} on {out.get('purchase_order')} (supplier "
                f"{out.get('supplier')}):",
            ),
            bullet_list(rows, 20),
            turn.t(
                f"确认后订单状态：{'全部收货' if status == 'received' else '部分收货'}（{status}）。",
                f"Once confirmed the order is {status}.",
            ),
            proposal_note(turn, str(out.get("proposal_id"))),
        ]
    )


@intent(
    "inspection_status",
    tools=("get_inspection_orders",),
    optional=("item",),
    capability=("待检来料：哪些批次在质检区等检验", "incoming inspection: which lots are waiting in QC"),
)
def inspection_status(turn: Turn, slots: Slots) -> str:
    args: dict[str, Any] = {"status": "pending"}
    if slots.item:
        args["item"] = slots.item
    out = turn.call("get_inspection_orders", args)
    if (msg := failed(turn, "get_inspection_orders", out)) is not None:
        return msg
    orders = out.get("orders") or []
    uncovered = out.get("uncovered") or []
    text = [
        turn.t(f"待检的检验单共 {out.get('total')} 张：", f"{out.get('total')} inspection order(s) waiting:")
    ]
    if orders:
        text.append(
            bullet_list(
                [
                    turn.t(
                        f"{o.get('code')}：{turn.item(o.get('item', ''))} {qty(o.get('qty'))} {o.get('uom', '')}，来自 {o.get('source_ref')}"
                        + (f"（供应商 {o.get('supplier')}）" if o.get("supplier") else "")
                        + f"，{day(o.get('received_on'))} 收到，在 {o.get('location')}",
                        f"{o.get('code')}: {turn.item(o.get('item', ''))} {qty(o.get('qty'))} {o.get('uom', '')} from "
                        f"{o.get('source_ref')}"
                        + (f" (supplier {o.get('supplier')})" if o.get("supplier") else "")
                        + f", received {day(o.get('received_on'))}, in {o.get('location')}",
                    )
                    for o in orders
                ],
                20,
            )
            + more(turn.lang, len(orders), 20)
        )
    if uncovered:
        text.append(
            turn.t("质检区还有没有检验单的库存：", "Stock in QC with no inspection order: ")
            + join(
                turn.lang, [f"{u.get('item')} {qty(u.get('qty'))} ({u.get('location')})" for u in uncovered]
            )
        )
    if not orders and not uncovered:
        text = [turn.t("目前没有待检的来料。", "Nothing is waiting for inspection.")]
    return "\n".join(text)


@intent(
    "subcontract_status",
    tools=("get_subcontract_order",),
    required=("order",),
    order_kinds=("SC",),
    capability=(
        "委外单物料：发出、耗用、报废、还在外协厂多少；收货进度",
        "subcontract order material: sent, consumed, scrapped, still at the subcontractor; goods received",
    ),
)
def subcontract_status(turn: Turn, slots: Slots) -> str:
    out = turn.call("get_subcontract_order", {"order": slots.order})
    if (msg := failed(turn, "get_subcontract_order", out)) is not None:
        return msg
    text = [
        turn.t(
            f"{out.get('code')}（外协厂 {out.get('supplier')} {out.get('supplier_name', '')}，{turn.item(out.get('item', ''))}，"
            f"状态 {out.get('status')}）：已收 {qty(out.get('received_qty'))}/{qty(out.get('qty'))}，未交 {qty(out.get('open_qty'))}，"
            f"待检 {qty(out.get('in_inspection_qty'))}，到期 {day(out.get('due_date'))}"
            + ("，已逾期" if out.get("overdue") else "")
            + "。",
            f"{out.get('code')} (subcontractor {out.get('supplier')} {out.get('supplier_name', '')}, {turn.item(out.get('item', ''))}, "
            f"status {out.get('status')}): received {qty(out.get('received_qty'))}/{qty(out.get('qty'))}, open "
            f"{qty(out.get('open_qty'))}, in QC {qty(out.get('in_inspection_qty'))}, due {day(out.get('due_date'))}"
            + (", overdue" if out.get("overdue") else "")
            + ".",
        )
    ]
    text.append(
        bullet_list(
            [
                turn.t(
                    f"{m.get('item')}：需 {qty(m.get('required'))}，发出 {qty(m.get('sent'))}，耗用 {qty(m.get('consumed'))}，"
                    f"报废 {qty(m.get('scrapped'))}，退回 {qty(m.get('returned'))}，还在外协厂 {qty(m.get('at_supplier'))}，"
                    f"待发 {qty(m.get('to_send'))}",
                    f"{m.get('item')}: required {qty(m.get('required'))}, sent {qty(m.get('sent'))}, consumed "
                    f"{qty(m.get('consumed'))}, scrapped {qty(m.get('scrapped'))}, returned {qty(m.get('returned'))}, "
                    f"still at the subcontractor {qty(m.get('at_supplier'))}, to send {qty(m.get('to_send'))}",
                )
                for m in out.get("materials") or []
            ],
            20,
        )
    )
    return "\n".join(text)


def _named_supplier(question: str, locations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The subcontractor a question names: by code, code word (xincai) or the first two characters of its name."""
    low = question.casefold()
    for loc in locations:
        code = str(loc.get("supplier") or "")
        name = str(loc.get("supplier_name") or "")
        word = code.split("-", 1)[-1].casefold()
        if (
            (code and code.casefold() in low)
            or (len(word) >= 3 and word in low)
            or (len(name) >= 2 and name[:2] in question)
        ):
            return loc
    return None


@intent(
    "subcontractor_stock",
    tools=("get_subcontractor_stock",),
    capability=("外协厂那里有我们多少料（委外仓库存）", "our material held at subcontractors"),
)
def subcontractor_stock(turn: Turn, slots: Slots) -> str:
    out = turn.call("get_subcontractor_stock", {})
    if (msg := failed(turn, "get_subcontractor_stock", out)) is not None:
        return msg
    locations = out.get("locations") or []
    named = _named_supplier(turn.question, locations)
    shown = [named] if named is not None else locations
    if not shown:
        return turn.t("外协厂那里没有我们的料。", "No material of ours is at any subcontractor.")
    text = []
    for loc in shown:
        items = loc.get("items") or []
        text.append(
            turn.t(
                f"{loc.get('supplier')} {loc.get('supplier_name', '')}（{loc.get('location')}）有我们的料 {len(items)} 项，"
                f"金额 {qty(loc.get('total_value'))}：",
                f"{loc.get('supplier')} {loc.get('supplier_name', '')} ({loc.get('location')}) holds {len(items)} item(s) "
                f"of ours worth {qty(loc.get('total_value'))}:",
            )
        )
        text.append(
            bullet_list(
                [
                    f"{turn.item(i.get('item', ''))} {qty(i.get('qty'))} {i.get('uom', '')}"
                    + turn.t(f"，金额 {qty(i.get('value'))}", f", value {qty(i.get('value'))}")
                    for i in items
                ],
                20,
            )
            or turn.t("（没有）", "(none)")
        )
    return "\n".join(text)


@intent(
    "customer_materials",
    tools=("get_customer_materials",),
    optional=("customer",),
    capability=("客供料：每个客户在我们这里还有多少料", "customer-supplied material held for each customer"),
)
def customer_materials(turn: Turn, slots: Slots) -> str:
    args: dict[str, Any] = {"customer": slots.customer} if slots.customer else {}
    out = turn.call("get_customer_materials", args)
    if (msg := failed(turn, "get_customer_materials", out)) is not None:
        return msg
    customers = out.get("customers") or []
    if not customers:
        return turn.t("目前没有客供料。", "No customer-supplied material is held.")
    text = []
    for c in customers:
        text.append(
            turn.t(f"{turn.customer(c.get('customer', ''))}：", f"{turn.customer(c.get('customer', ''))}:")
        )
        text.append(
            bullet_list(
                [
                    turn.t(
                        f"{turn.item(i.get('item', ''))}：结存 {qty(i.get('on_hand'))} {i.get('uom', '')}（收 {qty(i.get('received'))}，"
                        f"耗用 {qty(i.get('consumed'))}，退回 {qty(i.get('returned'))}）",
                        f"{turn.item(i.get('item', ''))}: {qty(i.get('on_hand'))} {i.get('uom', '')} held (received "
                        f"{qty(i.get('received'))}, consumed {qty(i.get('consumed'))}, returned {qty(i.get('returned'))})",
                    )
                    for i in c.get("items") or []
                ],
                20,
            )
        )
    text.append(
        turn.t(
            "客供料归客户所有，不计入我们的库存和成本。",
            "This material belongs to the customers: not in our stock or costs.",
        )
    )
    return "\n".join(text)


_MONTH_ZH = re.compile(r"(?:(\d{4})\s*[-/年.]\s*)?(\d{1,2})\s*月份?(?!\s*\d)")
_MONTH_NUMERIC = re.compile(r"\b(\d{4})-(\d{1,2})\b")
_CLOSE_STATUS = {
    "done": ("成本结转凭证（直接人工、制造费用、完工产品成本）已生成", "the cost closing vouchers (labor, overhead, completed cost) are done"),
    "generated": (
        "成本期间已关闭，成本结转凭证还没有生成（生成本月凭证时会一起生成）",
        "the cost period is closed; its closing vouchers are not generated yet (they come with the month's generation)",
    ),
    "cost_period_open": (
        "成本期间尚未关闭，成本结转凭证要等成本核算关账（propose_period_close）后才能生成",
        "the cost period is still open: the closing vouchers follow its close (propose_period_close)",
    ),
    "no_cost_period": ("该月还没有成本期间，成本结转凭证无从生成", "there is no cost period for the month yet, so no closing vouchers"),
    "waiting_documents": ("还有单据没有凭证，成本结转凭证要等它们都生成后再生成", "closing vouchers wait until every document has its voucher"),
    "waiting_rules": ("缺少科目规则，成本结转凭证无法生成", "an account rule is missing for the closing vouchers"),
    "none": ("该月没有需要结转的成本", "nothing to close for the month"),
}  # fmt: skip


def _voucher_period(turn: Turn, slots: Slots) -> str:
    """The month asked about: named (2026-11, 11月, November), last month, a date's month, else this month."""
    text = turn.question
    if found := _MONTH_NUMERIC.search(text):
        return f"{int(found[1]):04d}-{int(found[2]):02d}"
    if (found := _MONTH_ZH.search(text)) and 1 <= int(found[2]) <= 12:
        month_no = int(found[2])
        year = int(found[1]) if found[1] else turn.today.year - (1 if month_no > turn.today.month else 0)
        return f"{year:04d}-{month_no:02d}"
    lowered = text.casefold()
    named = [n for name, n in MONTHS.items() if re.search(rf"\b{re.escape(name)}\b", lowered)]
    if named:
        year = turn.today.year - (1 if named[0] > turn.today.month else 0)
        return f"{year:04d}-{named[0]:02d}"
    if any(w in lowered for w in ("上个月", "上月", "last month", "previous month")):
        return add_months(turn.today.replace(day=1), -1).strftime("%Y-%m")
    return (slots.date or turn.today).strftime("%Y-%m")


@intent(
    "voucher_status",
    tools=("get_voucher_status",),
    optional=("date",),
    capability=(
        "凭证生成情况：本月（或某月）的生产成本等凭证生成了吗",
        "accounting vouchers: have a month's (production cost) vouchers been generated",
    ),
)
def voucher_status(turn: Turn, slots: Slots) -> str:
    period = _voucher_period(turn, slots)
    out = turn.call("get_voucher_status", {"period": period})
    if (msg := failed(turn, "get_voucher_status", out)) is not None:
        return msg
    groups = {g.get("group"): g for g in out.get("groups") or []}
    production = [groups.get(g) or {} for g in ("production", "subcontract")]
    made = sum(int(g.get("vouchers") or 0) for g in production)
    waiting = sum(int(g.get("pending") or 0) for g in production)
    close_zh, close_en = _CLOSE_STATUS.get(out.get("close_status", ""), (out.get("close_status", ""),) * 2)
    if not out.get("vouchers") and not out.get("pending_documents") and out.get("close_status") in (
        "no_cost_period",
        "none",
    ):
        return turn.t(
            f"{period} 没有需要生成凭证的单据（没有领料、入库、委外等业务），也没有成本结转。",
            f"{period} has no documents to voucher (no issues, receipts or subcontracting) and no cost closing.",
        )
    if out.get("production_generated"):
        verdict = turn.t(
            f"是的，{period} 的生产成本凭证都已生成：领料、完工入库、委外等单据凭证 {made} 张，{close_zh}。",
            f"Yes: {period}'s production cost vouchers are all generated — {made} for issues, receipts and "
            f"subcontracting, and {close_en}.",
        )
    else:
        verdict = turn.t(
            f"{period} 的生产成本凭证还没有全部生成：单据凭证已生成 {made} 张，还有 {waiting} 张单据待生成；{close_zh}。",
            f"Not all of {period}'s production cost vouchers are generated: {made} written for issues, receipts "
            f"and subcontracting, {waiting} document(s) still waiting; {close_en}.",
        )
    text = [verdict]
    status_zh = "已结账" if out.get("finance_status") == "locked" else "未结账"
    text.append(
        turn.t(
            f"{period} 凭证共 {qty(out.get('vouchers'))} 张（草稿 {qty(out.get('drafts'))}，已过账 {qty(out.get('posted'))}），"
            f"{status_zh}；待生成的单据共 {qty(out.get('pending_documents'))} 张。",
            f"The month has {qty(out.get('vouchers'))} voucher(s) ({qty(out.get('drafts'))} draft, "
            f"{qty(out.get('posted'))} posted), {'closed' if out.get('finance_status') == 'locked' else 'open'}; "
            f"{qty(out.get('pending_documents'))} document(s) still without a voucher.",
        )
    )
    rows = [
        turn.t(
            f"{g.get('title', '').split(' ')[0]}：已生成 {qty(g.get('vouchers'))} 张，待生成 {qty(g.get('pending'))}",
            f"{g.get('title', '').split(' ', 1)[-1]}: {qty(g.get('vouchers'))} generated, {qty(g.get('pending'))} waiting",
        )
        for g in out.get("groups") or []
    ]
    if rows:
        text.append(bullet_list(rows, 10))
    if not out.get("rules_configured"):
        text.append(
            turn.t(
                "还没有设置凭证科目规则：先用默认科目表（orderpilot vouchers seed，或 propose_voucher_account_rules）。",
                "No voucher account rules yet: seed the default chart first (orderpilot vouchers seed, or "
                "propose_voucher_account_rules).",
            )
        )
    elif out.get("unmapped"):
        text.append(
            turn.t(
                f"{len(out['unmapped'])} 笔单据缺少科目规则，无法生成凭证。",
                f"{len(out['unmapped'])} document line(s) have no account rule and cannot be vouchered.",
            )
        )
    memos = out.get("memos") or []
    if memos:
        text.append(
            turn.t(
                f"客供料 {len(memos)} 笔只备查、不入账。",
                f"{len(memos)} customer-supplied material move(s) are kept off the books (memo only).",
            )
        )
    if not out.get("production_generated") and out.get("finance_status") != "locked":
        text.append(
            turn.t(
                f"需要生成时，可提议 propose_voucher_generation（期间 {period}），经确认后才写入。",
                f"To generate them, propose_voucher_generation for {period}; nothing is written until a person confirms.",
            )
        )
    return "\n".join(text)
