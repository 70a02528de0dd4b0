"""Every table of OrderPilot; importing this module registers them all on the metadata."""

from data_model.tables.assistant import AssistantThread
from data_model.tables.boms import Bom, BomLine, BomSubstitute
from data_model.tables.costing import CostPeriod, JointProductOutput, OrderCostInput, OverheadPool
from data_model.tables.costing_docs import AccountMapping, CostFigureSource, CostResult, CostRun, LaborReport
from data_model.tables.engineering import Ecn, EcnChange
from data_model.tables.finance import (
    FinancePeriod,
    LedgerAccount,
    Voucher,
    VoucherAccountRule,
    VoucherLine,
    VoucherSource,
)
from data_model.tables.inventory import ItemValuation, Location, Reservation, StockMove, Warehouse
from data_model.tables.items import Item, ItemAlias, Uom
from data_model.tables.orders import (
    Forecast,
    ProductionOrder,
    ProductionOrderComponent,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseRequisition,
    SalesOrder,
    SalesOrderLine,
)
from data_model.tables.partners import Customer, PriceList, Supplier
from data_model.tables.production import CompletionReceipt, MaterialIssue, MaterialIssueLine, ReworkOrigin
from data_model.tables.purchasing_docs import ReceiptNotice, ReceiptNoticeLine, SubcontractTerms
from data_model.tables.quality import InspectionOrder
from data_model.tables.resources import CalendarDay, Routing, RoutingOperation, WorkCenter
from data_model.tables.scheduling import DispatchEntry
from data_model.tables.system import ApiToken, AuditLog, DataVersion, Meta, Proposal, User

__all__ = [
    "AccountMapping",
    "ApiToken",
    "AssistantThread",
    "AuditLog",
    "Bom",
    "BomLine",
    "BomSubstitute",
    "CalendarDay",
    "CompletionReceipt",
    "CostFigureSource",
    "CostPeriod",
    "CostResult",
    "CostRun",
    "Customer",
    "DataVersion",
    "DispatchEntry",
    "Ecn",
    "EcnChange",
    "FinancePeriod",
    "Forecast",
    "InspectionOrder",
    "Item",
    "ItemAlias",
    "ItemValuation",
    "JointProductOutput",
    "LaborReport",
    "LedgerAccount",
    "Location",
    "MaterialIssue",
    "MaterialIssueLine",
    "Meta",
    "OrderCostInput",
    "OverheadPool",
    "PriceList",
    "ProductionOrder",
    "ProductionOrderComponent",
    "Proposal",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PurchaseRequisition",
    "ReceiptNotice",
    "ReceiptNoticeLine",
    "Reservation",
    "ReworkOrigin",
    "Routing",
    "RoutingOperation",
    "SalesOrder",
    "SalesOrderLine",
    "StockMove",
    "SubcontractTerms",
    "Supplier",
    "Uom",
    "User",
    "Voucher",
    "VoucherAccountRule",
    "VoucherLine",
    "VoucherSource",
    "Warehouse",
    "WorkCenter",
]
