"""Business events, their voucher templates, and the default chart of accounts and rules (小企业会计准则)."""

from __future__ import annotations

from dataclasses import dataclass

from tools.finance.rules import AccountRule


@dataclass(frozen=True, slots=True)
class Event:
    """A business transaction and its voucher template: the roles whose accounts are debited and credited."""

    debit_role: str
    credit_role: str
    title_zh: str
    title_en: str


# Each line of a voucher is one side of an event; its account is the rule's account for that side's role.
EVENTS: dict[str, Event] = {
    "purchase_receipt": Event("inventory", "gr_ir", "采购入库", "purchase receipt"),
    "purchase_return": Event("gr_ir", "inventory", "采购退货", "return to vendor"),
    "stock_transfer": Event("inventory", "inventory", "库存调拨", "stock transfer"),
    "subcontract_send": Event("inventory", "inventory", "委外发料", "material sent to a subcontractor"),
    "subcontract_return": Event("inventory", "inventory", "委外退料", "material back from a subcontractor"),
    "subcontract_consume": Event("wip", "inventory", "委外耗用", "material used by a subcontractor"),
    "subcontract_scrap": Event("wip", "inventory", "委外报废", "material spoilt at a subcontractor"),
    "subcontract_fee": Event("wip", "gr_ir", "委外加工费", "subcontract processing fee"),
    "subcontract_receipt": Event("inventory", "wip", "委外入库", "subcontracted goods received"),
    "material_issue": Event("wip", "inventory", "生产领料", "material issue"),
    "material_return": Event("inventory", "wip", "生产退料", "material return"),
    "production_receipt": Event("inventory", "wip", "完工入库", "production receipt"),
    "semi_finished_flow": Event("wip", "wip", "半成品流转", "semi-finished flow between orders"),
    "quality_return": Event("wip", "inventory", "质检退回生产", "rejected goods back to production"),
    "quality_scrap": Event("inventory_loss", "inventory", "质检报废", "scrapped at inspection"),
    "stock_scrap": Event("inventory_loss", "inventory", "报废", "scrapped"),
    "sales_shipment": Event("cost_of_sales", "inventory", "销售出库", "shipment to a customer"),
    "sales_return": Event("inventory", "cost_of_sales", "销售退回", "return from a customer"),
    "stock_gain": Event("inventory", "inventory_loss", "盘盈", "inventory gain"),
    "stock_loss": Event("inventory_loss", "inventory", "盘亏", "inventory loss"),
    "labor_allocation": Event("wip", "labor_payable", "分配直接人工", "direct labor charged to orders"),
    "overhead_allocation": Event("wip", "overhead", "分配制造费用", "overhead allocated to orders"),
    "transferred_in": Event("wip", "inventory", "半成品成本调整", "semi-finished goods at actual cost"),
    "cost_variance": Event("inventory", "wip", "结转完工成本", "completed cost at actual"),
}

# Moves that never become voucher lines, and why.
MEMO_EVENTS = {"customer_material": ("客供料(不入账)", "customer-supplied material, kept off the books")}
NO_ENTRY_EVENTS = {
    "opening_balance": ("期初余额", "opening balance: the ledger's own opening entry"),
    "same_account": ("同科目(无需凭证)", "both sides on the same account"),
    "zero_value": ("零金额", "no value"),
}

EVENT_GROUPS = {
    "purchase": ("purchase_receipt", "purchase_return"),
    "production": (
        "material_issue",
        "material_return",
        "production_receipt",
        "semi_finished_flow",
        "quality_return",
    ),
    "subcontract": (
        "subcontract_send",
        "subcontract_return",
        "subcontract_consume",
        "subcontract_scrap",
        "subcontract_fee",
        "subcontract_receipt",
    ),
    "close": ("labor_allocation", "overhead_allocation", "transferred_in", "cost_variance"),
    "inventory": ("stock_transfer", "quality_scrap", "stock_scrap", "stock_gain", "stock_loss"),
    "sales": ("sales_shipment", "sales_return"),
}


def event_group(event: str) -> str:
    """The group (purchase, production, subcontract, close, inventory, sales) an event belongs to."""
    return next((group for group, events in EVENT_GROUPS.items() if event in events), "other")


def event_title(event: str) -> str:
    """The Chinese name of an event (or of a memo / no-entry treatment)."""
    if event in EVENTS:
        return EVENTS[event].title_zh
    found = MEMO_EVENTS.get(event) or NO_ENTRY_EVENTS.get(event)
    return found[0] if found else event


@dataclass(frozen=True, slots=True)
class AccountDefault:
    code: str
    name: str
    aux: str = ""


# A small manufacturer's accounts under the Small Business Accounting Standards (小企业会计准则).
DEFAULT_ACCOUNTS: tuple[AccountDefault, ...] = (
    AccountDefault("1402", "在途物资", "supplier,item"),
    AccountDefault("1403", "原材料", "item"),
    AccountDefault("1405", "库存商品", "item"),
    AccountDefault("1408", "委托加工物资", "supplier"),
    AccountDefault("1408.01", "委托加工物资-发出材料", "supplier,item"),
    AccountDefault("1408.02", "委托加工物资-加工中", "supplier,production_order"),
    AccountDefault("1411", "周转材料", "item"),
    AccountDefault("1901", "待处理财产损溢", "item"),
    AccountDefault("2202", "应付账款", "supplier"),
    AccountDefault("2202.01", "应付账款-货款", "supplier"),
    AccountDefault("2202.02", "应付账款-暂估", "supplier"),
    AccountDefault("2211", "应付职工薪酬"),
    AccountDefault("2211.01", "应付职工薪酬-工资", "cost_center"),
    AccountDefault("5001", "生产成本"),
    AccountDefault("5001.01", "生产成本-直接材料", "cost_center,production_order"),
    AccountDefault("5001.02", "生产成本-直接人工", "cost_center,production_order"),
    AccountDefault("5001.03", "生产成本-制造费用", "cost_center,production_order"),
    AccountDefault("5101", "制造费用", "cost_center"),
    AccountDefault("6401", "主营业务成本", "item,customer"),
)

DEFAULT_RULES: tuple[AccountRule, ...] = (
    # inventory: raw material by default, made goods as finished goods, material at a subcontractor
    AccountRule("inventory", "1403"),
    AccountRule("inventory", "1405", item_category="make"),
    AccountRule("inventory", "1403", item_category="原材料"),
    AccountRule("inventory", "1405", item_category="半成品"),
    AccountRule("inventory", "1405", item_category="产成品"),
    AccountRule("inventory", "1405", item_category="库存商品"),
    AccountRule("inventory", "1411", item_category="周转材料"),
    AccountRule("inventory", "1408.01", location_kind="supplier"),
    # goods received not invoiced: the estimate (暂估) a supplier's invoice later clears
    AccountRule("gr_ir", "2202.02"),
    # work in process per cost element; a subcontract order's stays with the subcontracted material
    AccountRule("wip", "5001.01"),
    AccountRule("wip", "5001.02", cost_element="labor"),
    AccountRule("wip", "5001.03", cost_element="overhead"),
    AccountRule("wip", "5001.03", cost_element="other_conversion"),
    AccountRule("wip", "1408.02", doc_type="subcontract_order"),
    AccountRule("labor_payable", "2211.01"),
    AccountRule("overhead", "5101"),
    AccountRule("cost_of_sales", "6401"),
    AccountRule("inventory_loss", "1901"),
)
