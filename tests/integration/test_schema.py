"""Migrations, the stock ledger and document states."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, select

import data_model.tables  # noqa: F401
from data_model.states import StateError, transition
from data_model.stock import StockError, on_hand, post_move
from data_model.tables import Item, ProductionOrder, StockMove
from tools.context import engine_for, open_context


def test_migrations_match_the_models(db_url: str) -> None:
    engine = engine_for(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], "run scripts/regen_initial_migration.py (or add a revision) after changing tables"


def test_on_hand_is_derived_from_the_ledger_and_never_goes_negative(bike_url: str) -> None:
    with open_context(bike_url) as ctx:
        rim = ctx.session.exec(select(Item).where(Item.code == "RIM")).one()
        post_move(ctx.session, item_id=rim.id, qty=Decimal(4), from_code="STOCK", to_code="PRODUCTION",
                  move_type="issue", move_date=date(2026, 12, 2), doc_type="production_order", doc_ref="MO-X")
        post_move(ctx.session, item_id=rim.id, qty=Decimal("1.5"), from_code="VENDOR", to_code="QC",
                  move_type="receipt", move_date=date(2026, 12, 2))
    with open_context(bike_url) as ctx:
        # 6 opening - 4 issued = 2 available; 1.5 under inspection is not available
        assert on_hand(ctx.session, [rim.id]) == {rim.id: Decimal(2)}
        assert on_hand(ctx.session, [rim.id], kinds=("inspection",)) == {rim.id: Decimal("1.5")}
        moves = ctx.session.exec(select(StockMove).where(StockMove.item_id == rim.id)).all()
        assert len(moves) == 3
    with pytest.raises(StockError, match="not enough RIM at STOCK: 2 on hand, 3 requested"), \
            open_context(bike_url) as ctx:
        post_move(ctx.session, item_id=rim.id, qty=Decimal(3), from_code="STOCK", to_code="PRODUCTION",
                  move_type="issue", move_date=date(2026, 12, 2))
    with open_context(bike_url) as ctx:
        assert on_hand(ctx.session, [rim.id]) == {rim.id: Decimal(2)}


def test_document_states_refuse_illegal_moves() -> None:
    mo = ProductionOrder(code="MO-1", item_id=1, qty=Decimal(1), due_date=date(2026, 12, 1), status="planned")
    transition("production_order", mo, "released")
    transition("production_order", mo, "in_progress")
    assert mo.status == "in_progress"
    with pytest.raises(StateError, match="MO-1 is in_progress: it cannot become cancelled"):
        transition("production_order", mo, "cancelled")
    transition("production_order", mo, "completed")
    transition("production_order", mo, "closed")
    with pytest.raises(StateError, match="it is final"):
        transition("production_order", mo, "released")


def test_moving_average_values_receipts_at_price_and_issues_at_average(bike_url: str) -> None:
    from data_model.stock import moving_average_cost

    with open_context(bike_url) as ctx:
        rim = ctx.session.exec(select(Item).where(Item.code == "RIM")).one()
        # opening: 6 RIM at the standard 8.00 = 48.00
        assert moving_average_cost(ctx.session, rim.id) == Decimal(8)
        post_move(ctx.session, item_id=rim.id, qty=Decimal(4), from_code="VENDOR", to_code="STOCK",
                  move_type="receipt", move_date=date(2026, 12, 2), unit_cost=Decimal("10.5"))
        # (48 + 4 × 10.5) / 10 = 90 / 10 = 9.00
        assert moving_average_cost(ctx.session, rim.id) == Decimal(9)
        issue = post_move(ctx.session, item_id=rim.id, qty=Decimal(5), from_code="STOCK", to_code="PRODUCTION",
                          move_type="issue", move_date=date(2026, 12, 3), doc_type="production_order",
                          doc_ref="MO-1")
        assert issue.unit_cost == Decimal(9)
        # a transfer inside the factory does not change the value
        post_move(ctx.session, item_id=rim.id, qty=Decimal(1), from_code="STOCK", to_code="QC",
                  move_type="transfer", move_date=date(2026, 12, 3))
        assert moving_average_cost(ctx.session, rim.id) == Decimal(9)


def test_opening_stock_of_a_made_item_is_valued_at_its_bom_cost(bike_url: str) -> None:
    from data_model.stock import moving_average_cost

    with open_context(bike_url) as ctx:
        code = {i.code: i.id for i in ctx.session.exec(select(Item))}
        # WHEEL = RIM 8 + SPOKE 36 × 1.02 × 0.2 + TIRE 6 = 21.344 (bike_factory.md); BIKE = 102.688
        assert moving_average_cost(ctx.session, code["WHEEL"]) == Decimal("21.344")
        assert moving_average_cost(ctx.session, code["BIKE"]) == Decimal("102.688")
        assert moving_average_cost(ctx.session, code["SEAT"]) == Decimal(10)


def test_approved_requisitions_are_open_supply_in_the_planning_snapshot(bike_url: str) -> None:
    from data_model.tables import PurchaseRequisition
    from tools.snapshot import load_plant

    with open_context(bike_url) as ctx:
        seat = ctx.session.exec(select(Item).where(Item.code == "SEAT")).one()
        ctx.session.add(PurchaseRequisition(code="PR-00001", item_id=seat.id, qty=Decimal(6),
                                            need_date=date(2026, 12, 11), status="approved"))
    with open_context(bike_url) as ctx:
        supply = [s for s in load_plant(ctx).supplies if s.item == "SEAT"]
    assert [(s.id, s.qty, s.due.isoformat()) for s in supply] == [("PR-00001", Decimal(6), "2026-12-11")]


def test_a_month_closed_for_accounting_takes_no_stock_documents(bike_url: str) -> None:
    from data_model.tables import FinancePeriod

    with open_context(bike_url) as ctx:
        ctx.session.add(FinancePeriod(code="2026-12", status="locked"))
        rim = ctx.session.exec(select(Item).where(Item.code == "RIM")).one()
    with pytest.raises(StockError, match="2026-12 is closed for accounting"), open_context(bike_url) as ctx:
        post_move(ctx.session, item_id=rim.id, qty=Decimal(1), from_code="VENDOR", to_code="STOCK",
                  move_type="receipt", move_date=date(2026, 12, 2), doc_type="purchase_order", doc_ref="PO-X")
    # a move in another month is not affected, and re-opening the month lets documents in again
    with open_context(bike_url) as ctx:
        post_move(ctx.session, item_id=rim.id, qty=Decimal(1), from_code="VENDOR", to_code="STOCK",
                  move_type="receipt", move_date=date(2027, 1, 4))
        period = ctx.session.exec(select(FinancePeriod).where(FinancePeriod.code == "2026-12")).one()
        period.status = "open"
    with open_context(bike_url) as ctx:
        post_move(ctx.session, item_id=rim.id, qty=Decimal(1), from_code="VENDOR", to_code="STOCK",
                  move_type="receipt", move_date=date(2026, 12, 2))
        assert on_hand(ctx.session, [rim.id]) == {rim.id: Decimal(8)}
