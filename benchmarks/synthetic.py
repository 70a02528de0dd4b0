"""Seeded synthetic factories in the dataset format (CONTRACT.md plus extensions), for planning benchmarks."""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

TODAY = date(2026, 12, 1)
LEVELS = 6  # finished goods at level 0 … raw material at level 5
# share of all items on each level, finished goods first
LEVEL_SHARES = (0.10, 0.15, 0.20, 0.20, 0.15, 0.20)
# intermediate levels: what an item there is (the rest is make)
BUY_SHARE = 0.25
SUBCONTRACT_SHARE = 0.05
PHANTOM_SHARE = 0.015  # of make items on levels 1–3
SUBSTITUTE_SHARE = 0.03  # of BOM lines whose component is bought
SCRAP_SHARE = 0.2
NEAR_LEVEL_SHARE = 0.6  # of extra BOM lines drawn from the level right below the parent
# Items come in product families of about this many items: a parent's made components are drawn from its own
# family, so one finished good reaches a family-sized tree, not the whole factory; bought parts and raw
# material are shared across families with the probability below (common hardware, common stock).
FAMILY_ITEMS = 50
SHARED_BUY_SHARE = 0.2
SHARED_RAW_SHARE = 0.5
NEAR_DEMAND_SHARE = 0.15  # of sales orders due within NEAR_DEMAND_DAYS (or already overdue)
NEAR_DEMAND_DAYS = 28
HOLIDAYS = (date(2027, 1, 1), *(date(2027, 2, d) for d in range(8, 13)), date(2027, 4, 5), date(2027, 5, 3))


@dataclass(frozen=True)
class FactorySize:
    """How big a generated factory is; ``bom_lines`` is a target (a few lines short when a draw finds no new part)."""

    items: int
    bom_lines: int
    demand_lines: int
    supply_orders: int  # open purchase orders plus open production / subcontract orders
    horizon_days: int
    work_centers: int
    customers: int
    suppliers: int


SIZES: dict[str, FactorySize] = {
    "small": FactorySize(
        items=60,
        bom_lines=150,
        demand_lines=40,
        supply_orders=30,
        horizon_days=90,
        work_centers=5,
        customers=8,
        suppliers=8,
    ),
    "medium": FactorySize(
        items=10_000,
        bom_lines=40_000,
        demand_lines=5_000,
        supply_orders=2_000,
        horizon_days=180,
        work_centers=40,
        customers=200,
        suppliers=150,
    ),
    "large": FactorySize(
        items=50_000,
        bom_lines=200_000,
        demand_lines=25_000,
        supply_orders=10_000,
        horizon_days=180,
        work_centers=120,
        customers=800,
        suppliers=500,
    ),
}

_KIND_PREFIX = {"make": "MK", "buy": "BY", "subcontract": "SC", "phantom": "PH"}
_LEVEL_NAMES = {0: "成品", 5: "原材料"}
_KIND_NAMES = {"make": "半成品", "buy": "外购件", "subcontract": "外协件", "phantom": "虚拟件"}


@dataclass(frozen=True)
class _Item:
    code: str
    level: int
    kind: str  # make | buy | subcontract | phantom
    family: int


def generate_factory(size: str = "medium", seed: int = 7) -> dict[str, Any]:
    """A factory dataset dict of the given size (small | medium | large); the same seed gives the same data.

    Item codes carry their level (``L0-FG-00001`` … ``L5-RM-00001``); a level-L item's components all come
    from deeper levels, so the BOMs are acyclic by construction, and every item below level 0 is a component
    of some item on the level right above, so each item's low-level code is the level in its code.
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; use one of {', '.join(SIZES)}")
    return _FactoryBuilder(SIZES[size], random.Random(seed)).build()


class _FactoryBuilder:
    """Draws one factory; the order of the draws is fixed, which is what makes a seed reproducible."""

    def __init__(self, size: FactorySize, rng: random.Random) -> None:
        self.size = size
        self.rng = rng
        self.levels: list[list[_Item]] = []
        self.families = 1
        # draw pools: every item of a (family, level), and the bought items of a level across all families
        self.family_pool: dict[tuple[int, int], list[str]] = {}
        self.buy_pool: list[list[str]] = []
        self.item_rows: dict[str, dict[str, Any]] = {}

    def build(self) -> dict[str, Any]:
        self._draw_items()
        work_centers = self._draw_work_centers()
        suppliers, subcontractors = self._draw_suppliers()
        boms = self._draw_boms()
        routings = self._draw_routings(work_centers)
        price_lists, preferred = self._draw_price_lists(suppliers, subcontractors)
        customers = self._draw_customers()
        sales_orders = self._draw_sales_orders(customers)
        purchase_orders, production_orders = self._draw_supply(preferred, sales_orders)
        return {
            "today": TODAY,
            "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"], "holidays": list(HOLIDAYS)},
            "items": list(self.item_rows.values()),
            "customers": customers,
            "suppliers": suppliers + subcontractors,
            "price_lists": price_lists,
            "boms": boms,
            "stock": self._draw_stock(),
            "purchase_orders": purchase_orders,
            "production_orders": production_orders,
            "sales_orders": sales_orders,
            "work_centers": work_centers,
            "routings": routings,
        }

    # ------------------------------------------------------------------ items

    def _level_counts(self) -> list[int]:
        counts = [max(1, round(self.size.items * share)) for share in LEVEL_SHARES]
        counts[-1] += self.size.items - sum(counts)
        return counts

    def _draw_items(self) -> None:
        rng = self.rng
        serial = 0
        self.families = max(1, self.size.items // FAMILY_ITEMS)
        for level, count in enumerate(self._level_counts()):
            kinds = self._draw_kinds(level, count)
            row_items = []
            for n, kind in enumerate(kinds):
                serial += 1
                prefix = "FG" if level == 0 else "RM" if level == LEVELS - 1 else _KIND_PREFIX[kind]
                code = f"L{level}-{prefix}-{serial:05d}"
                item = _Item(code=code, level=level, kind=kind, family=n % self.families)
                row_items.append(item)
                self.item_rows[item.code] = self._item_row(item, rng)
            self.levels.append(row_items)

    def _draw_kinds(self, level: int, count: int) -> list[str]:
        if level == 0:
            return ["make"] * count
        if level == LEVELS - 1:
            return ["buy"] * count
        rng = self.rng
        kinds = []
        for _ in range(count):
            r = rng.random()
            kind = "buy" if r < BUY_SHARE else "subcontract" if r < BUY_SHARE + SUBCONTRACT_SHARE else "make"
            if kind == "make" and level <= 3 and rng.random() < PHANTOM_SHARE:
                kind = "phantom"
            kinds.append(kind)
        # every intermediate level needs a make item to carry the structure down to the next level
        if "make" not in kinds:
            kinds[0] = "make"
        if level == 1 and "phantom" not in kinds and count > 2:
            kinds[-1] = "phantom"  # at least one phantom per factory
        return kinds

    @staticmethod
    def _item_row(item: _Item, rng: random.Random) -> dict[str, Any]:
        name = _LEVEL_NAMES.get(item.level) or _KIND_NAMES[item.kind]
        row: dict[str, Any] = {
            "code": item.code,
            "name": f"{name} {item.code[-5:]}",
            "category": name,
            "uom": "pcs",
        }
        if item.kind == "phantom":
            row.update(source="make", lead_time_days=0, phantom=True)
            return row
        if item.kind == "buy":
            row.update(
                source="buy",
                lead_time_days=rng.randint(2, 15),
                unit_cost=round(rng.uniform(0.5, 200 if item.level == LEVELS - 1 else 500), 2),
            )
            if item.level == LEVELS - 1:
                row["uom"] = rng.choice(("pcs", "pcs", "kg", "m", "sheet"))
            r = rng.random()
            if r < 0.3:
                row["min_order_qty"] = rng.choice((50, 100, 200, 500, 1000))
            if 0.2 < r < 0.5:
                row["order_multiple"] = rng.choice((10, 25, 50, 100))
            if r > 0.95:
                row["max_order_qty"] = rng.choice((2000, 5000, 10000))
            if rng.random() < 0.1:
                row["inspection_required"] = True
        elif item.kind == "subcontract":
            row.update(
                source="subcontract",
                lead_time_days=rng.randint(3, 7),
                unit_cost=round(rng.uniform(2, 80), 2),
            )
        else:
            row.update(source="make", lead_time_days=rng.randint(1, 3))
            if rng.random() < 0.1:
                row["order_multiple"] = rng.choice((5, 10, 20))
        # safety stock on bought items, and on a few finished goods; rarely on sub-assemblies
        if row["source"] == "buy" and rng.random() < 0.1:
            row["safety_stock"] = rng.choice((20, 50, 100, 200))
        elif item.level == 0 and rng.random() < 0.05:
            row["safety_stock"] = rng.choice((5, 10, 20))
        return row

    # ------------------------------------------------------------------ BOMs

    def _draw_boms(self) -> list[dict[str, Any]]:
        rng = self.rng
        for level, items in enumerate(self.levels):
            for it in items:
                self.family_pool.setdefault((it.family, level), []).append(it.code)
            self.buy_pool.append([it.code for it in items if it.kind == "buy"])
        parents_by_level = [[it for it in items if it.kind != "buy"] for items in self.levels[:-1]]
        family_parents: dict[tuple[int, int], list[_Item]] = {}
        for level, parents in enumerate(parents_by_level):
            for it in parents:
                family_parents.setdefault((it.family, level), []).append(it)
        components: dict[str, list[str]] = {it.code: [] for level in parents_by_level for it in level}
        chosen: dict[str, set[str]] = {code: set() for code in components}

        # coverage: every item below level 0 is a component of a parent right above it, in its own family
        # when the family has a parent on that level
        for level in range(1, LEVELS):
            for family in range(self.families):
                below = list(self.family_pool.get((family, level), ()))
                rng.shuffle(below)
                parents = family_parents.get((family, level - 1)) or parents_by_level[level - 1]
                for i, child in enumerate(below):
                    parent_code = parents[i % len(parents)].code
                    components[parent_code].append(child)
                    chosen[parent_code].add(child)

        # every parent gets at least two lines, then the rest of the target is spread over the parents
        all_parents = [it for level in parents_by_level for it in level]
        for parent in all_parents:
            while len(components[parent.code]) < 2 and self._add_line(parent, components, chosen):
                pass
        remaining = self.size.bom_lines - sum(len(c) for c in components.values())
        weights = [2.0 if p.level == 0 else 0.3 if p.kind == "subcontract" else 1.0 for p in all_parents]
        for parent in rng.choices(all_parents, weights=weights, k=max(0, remaining)):
            self._add_line(parent, components, chosen)

        boms = []
        for parent in all_parents:
            lines = [self._bom_line(code) for code in components[parent.code]]
            bom: dict[str, Any] = {"parent": parent.code, "lines": lines}
            if parent.kind == "make" and rng.random() < 0.05:
                bom["output_qty"] = rng.choice((2, 5, 10))
            boms.append(bom)
        return boms

    def _add_line(self, parent: _Item, components: dict[str, list[str]], chosen: dict[str, set[str]]) -> bool:
        """Add one new component from a deeper level; False if none was found (the pools ran out)."""
        rng = self.rng
        for _ in range(8):
            if parent.level + 2 < LEVELS and rng.random() >= NEAR_LEVEL_SHARE:
                level = rng.randint(parent.level + 2, LEVELS - 1)
            else:
                level = parent.level + 1
            shared = SHARED_RAW_SHARE if level == LEVELS - 1 else SHARED_BUY_SHARE
            own = self.family_pool.get((parent.family, level))
            pool = (
                self.buy_pool[level] if not own or (self.buy_pool[level] and rng.random() < shared) else own
            )
            if not pool:
                continue
            child = rng.choice(pool)
            if child not in chosen[parent.code]:
                components[parent.code].append(child)
                chosen[parent.code].add(child)
                return True
        return False

    def _bom_line(self, code: str) -> dict[str, Any]:
        rng = self.rng
        level = int(code[1])
        source = self.item_rows[code]["source"]
        line: dict[str, Any] = {"component": code}
        # quantities above 1 mostly on bought parts and raw material, so they do not multiply down six levels
        if level == LEVELS - 1:
            line["qty"] = rng.choice((0.25, 0.5, 1, 1.5, 2, 3.2, 4, 6))
        elif source == "buy":
            line["qty"] = rng.choice((1, 1, 2, 2, 4, 6, 8))
        else:
            line["qty"] = rng.choice((1, 1, 1, 1, 1, 1, 2, 2, 4))
        if rng.random() < SCRAP_SHARE:
            line["scrap_rate"] = rng.choice((0.01, 0.02, 0.03, 0.05, 0.08))
        if source == "buy" and rng.random() < SUBSTITUTE_SHARE:
            pool = self.buy_pool[level]
            subs: list[dict[str, Any]] = []
            for _ in range(rng.randint(1, 2)):
                alt = rng.choice(pool)
                if alt != code and all(s["item"] != alt for s in subs):
                    subs.append({"item": alt, "ratio": rng.choice((1, 1, 1.05, 1.1, 1.25))})
            if subs:
                line["substitutes"] = subs
        if level == LEVELS - 1 and rng.random() < 0.2:
            line["issue_method"] = "backflush"
        return line

    # ------------------------------------------------------------------ resources

    def _draw_work_centers(self) -> list[dict[str, Any]]:
        rng = self.rng
        return [
            {
                "code": f"WC-{n:03d}",
                "name": f"工作中心 {n:03d}",
                "machines": rng.randint(1, 4),
                "hours_per_day": rng.choice((8, 8, 16)),
                "cost_per_hour": rng.choice((30, 45, 60, 85, 120)),
                "overtime_hours_per_day": rng.choice((0, 2, 3)),
            }
            for n in range(1, self.size.work_centers + 1)
        ]

    def _draw_routings(self, work_centers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng = self.rng
        codes = [wc["code"] for wc in work_centers]
        routings = []
        for level in self.levels:
            for item in level:
                if item.kind != "make":
                    continue
                operations = [
                    {
                        "seq": 10 * (n + 1),
                        "work_center": rng.choice(codes),
                        "setup_minutes": rng.choice((0, 10, 15, 30, 45, 60)),
                        "run_minutes_per_unit": rng.choice((0.5, 1, 2, 3, 5, 8, 12, 20)),
                    }
                    for n in range(rng.randint(1, 3))
                ]
                routings.append({"item": item.code, "operations": operations})
        return routings

    # ------------------------------------------------------------------ partners

    def _draw_suppliers(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng = self.rng
        n_sub = max(1, self.size.suppliers // 10)
        suppliers = [
            {
                "code": f"S-{n:04d}",
                "name": f"供应商 {n:04d}",
                "subcontractor": False,
                "lead_time_days": rng.randint(3, 15),
            }
            for n in range(1, self.size.suppliers - n_sub + 1)
        ]
        subcontractors = [
            {
                "code": f"SC-{n:04d}",
                "name": f"外协厂 {n:04d}",
                "subcontractor": True,
                "lead_time_days": rng.randint(3, 10),
            }
            for n in range(1, n_sub + 1)
        ]
        return suppliers, subcontractors

    def _draw_price_lists(
        self, suppliers: list[dict[str, Any]], subcontractors: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """One preferred price per bought or subcontracted item, with a quantity break on some."""
        rng = self.rng
        rows: list[dict[str, Any]] = []
        preferred: dict[str, str] = {}
        valid = {"valid_from": date(2026, 1, 1), "valid_to": date(2027, 12, 31), "preferred": True}
        for code, item in self.item_rows.items():
            if item["source"] == "make":
                continue
            kind = "purchase" if item["source"] == "buy" else "subcontract"
            supplier = rng.choice(suppliers if kind == "purchase" else subcontractors)["code"]
            preferred[code] = supplier
            price = item["unit_cost"]
            rows.append(
                {"supplier": supplier, "item": code, "kind": kind, "price": price, "min_qty": 0, **valid}
            )
            if rng.random() < 0.2:
                rows.append(
                    {
                        "supplier": supplier,
                        "item": code,
                        "kind": kind,
                        "price": round(price * 0.93, 2),
                        "min_qty": rng.choice((100, 500, 1000)),
                        **valid,
                    }
                )
        return rows, preferred

    def _draw_customers(self) -> list[dict[str, Any]]:
        return [
            {"code": f"C-{n:04d}", "name": f"客户 {n:04d}", "aliases": [f"customer {n}"]}
            for n in range(1, self.size.customers + 1)
        ]

    # ------------------------------------------------------------------ stock, demand and supply

    def _draw_stock(self) -> list[dict[str, Any]]:
        rng = self.rng
        rows = []
        for code, item in self.item_rows.items():
            if item.get("phantom") or rng.random() < 0.15:
                continue
            # bought items are stocked deeper than made ones: a factory keeps material, not sub-assemblies
            if item["source"] == "buy":
                low, high = (200, 5000) if int(code[1]) == LEVELS - 1 else (50, 1000)
            else:
                low, high = 1, 100
            rows.append({"item": code, "qty": rng.randint(low, high)})
        return rows

    def _draw_sales_orders(self, customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng = self.rng
        finished = [it.code for it in self.levels[0]]
        spares = [it.code for it in self.levels[1] if it.kind != "phantom"]
        orders: list[dict[str, Any]] = []
        lines_left = self.size.demand_lines
        while lines_left > 0:
            n_lines = min(lines_left, rng.randint(1, 5))
            lines_left -= n_lines
            in_progress = rng.random() < 0.1
            lines = []
            # most orders come in with more notice than the cumulative lead time; a few are rush or overdue
            if rng.random() < NEAR_DEMAND_SHARE:
                first_due = TODAY + timedelta(days=rng.randint(-5, NEAR_DEMAND_DAYS))
            else:
                first_due = TODAY + timedelta(days=rng.randint(NEAR_DEMAND_DAYS, self.size.horizon_days - 10))
            for _ in range(n_lines):
                item = rng.choice(finished) if rng.random() < 0.95 or not spares else rng.choice(spares)
                qty = rng.choice((1, 2, 5, 10, 20, 25, 50, 100, 200))
                due = min(
                    first_due + timedelta(days=rng.randint(0, 10)), TODAY + timedelta(self.size.horizon_days)
                )
                line: dict[str, Any] = {
                    "item": item,
                    "qty": qty,
                    "due": due,
                    "unit_price": round(rng.uniform(50, 3000), 2),
                }
                if in_progress and qty > 1 and rng.random() < 0.5:
                    line["shipped_qty"] = rng.randint(1, qty - 1)
                lines.append(line)
            orders.append(
                {
                    "id": f"SO-{len(orders) + 1:06d}",
                    "customer": rng.choice(customers)["code"],
                    "priority": rng.choice((1, 2, 3, 4, 5, 5, 5, 6, 7, 8, 9)),
                    "status": "in_progress" if in_progress else "confirmed",
                    "order_date": min(TODAY, first_due - timedelta(days=rng.randint(7, 60))),
                    "lines": lines,
                }
            )
        return orders

    def _draw_supply(
        self, preferred: dict[str, str], sales_orders: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng = self.rng
        bought = [code for code, row in self.item_rows.items() if row["source"] == "buy"]
        made = [
            code for code, row in self.item_rows.items() if row["source"] != "buy" and not row.get("phantom")
        ]
        so_lines: dict[str, list[str]] = {}
        for so in sales_orders:
            for n, line in enumerate(so["lines"], start=1):
                so_lines.setdefault(line["item"], []).append(f"{so['id']}/{n}")
        n_purchase = round(self.size.supply_orders * 0.6)
        purchase_orders = []
        for n in range(1, n_purchase + 1):
            code = rng.choice(bought)
            row = self.item_rows[code]
            qty = max(row.get("min_order_qty", 0), rng.choice((10, 20, 50, 100, 200, 500)))
            multiple = row.get("order_multiple", 0)
            if multiple:
                qty = -(-qty // multiple) * multiple
            po: dict[str, Any] = {
                "id": f"PO-{n:06d}",
                "item": code,
                "qty": qty,
                "due": TODAY + timedelta(days=rng.randint(-10, 60)),
                "supplier": preferred[code],
                "unit_price": row["unit_cost"],
                "status": "confirmed",
            }
            if rng.random() < 0.15:
                po["received_qty"] = rng.randint(1, qty - 1)
                po["status"] = "partial"
            purchase_orders.append(po)
        production_orders = []
        for n in range(1, self.size.supply_orders - n_purchase + 1):
            code = rng.choice(made)
            row = self.item_rows[code]
            qty = rng.choice((10, 20, 50, 100, 200))
            due = TODAY + timedelta(days=rng.randint(-5, 45))
            status = rng.choices(("released", "in_progress", "planned"), weights=(6, 3, 1))[0]
            mo: dict[str, Any] = {
                "id": f"MO-{n:06d}",
                "item": code,
                "qty": qty,
                "due": due,
                "status": status,
                "start": due - timedelta(days=row["lead_time_days"]),
            }
            if row["source"] == "subcontract":
                mo.update(kind="subcontract", supplier=preferred[code])
            if status == "in_progress":
                mo["completed_qty"] = rng.randint(0, qty - 1)
            if code in so_lines and rng.random() < 0.3:
                mo["sales_order"] = rng.choice(so_lines[code])
            mo["priority"] = rng.randint(1, 9)
            production_orders.append(mo)
        return purchase_orders, production_orders


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """The C emitter when PyYAML has it (large factories are big); no anchors for the shared date objects."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_factory_yaml(data: dict[str, Any], path: Path) -> None:
    """Write a generated factory as YAML, one flow-style mapping per row."""
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(
            data, fh, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None
        )


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.synthetic medium out.yaml --seed 7``."""
    parser = argparse.ArgumentParser(description="Write a seeded synthetic factory dataset as YAML.")
    parser.add_argument("size", choices=sorted(SIZES))
    parser.add_argument("path", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = generate_factory(args.size, args.seed)
    generated = time.perf_counter()
    write_factory_yaml(data, args.path)
    lines = sum(len(bom["lines"]) for bom in data["boms"])
    sys.stderr.write(
        f"{args.size} seed {args.seed}: {len(data['items'])} items, {lines} BOM lines, "
        f"{sum(len(so['lines']) for so in data['sales_orders'])} demand lines, "
        f"{len(data['purchase_orders']) + len(data['production_orders'])} supply orders; "
        f"generated in {generated - started:.2f} s, written in {time.perf_counter() - generated:.2f} s "
        f"to {args.path}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
