"""Every label of the web UI in Chinese and English, and the registry that relabels components on a switch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import gradio as gr

Lang = Literal["zh", "en"]
LANGUAGES: list[tuple[str, Lang]] = [("中文", "zh"), ("English", "en")]

TEXTS: dict[str, tuple[str, str]] = {
    # shell
    "app_title": ("OrderPilot 订单助手", "OrderPilot"),
    "app_tagline": (
        "接单、缺料、交期、成本——问一句就有答案;改数据前一定由人确认。",
        "Orders, shortages, delivery dates and costs — ask, and confirm before anything changes.",
    ),
    "language": ("语言", "Language"),
    "sign_out": ("退出登录", "Sign out"),
    "signed_in_as": ("{name} · {role}", "{name} · {role}"),
    "not_signed_in": ("请先登录。", "Please sign in first."),
    # sign-in
    "signin_title": ("登录", "Sign in"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "signin_button": ("登录", "Sign in"),
    "signin_failed": (
        "用户名或密码不对,或者账号已停用。",
        "Wrong username or password, or the account is deactivated.",
    ),
    "signin_demo_hint": (
        "演示账号:{users}(密码都是 `{password}`)。",
        "Demo accounts: {users} (password `{password}` for each).",
    ),
    "session_ended": ("账号已停用或角色已变更,请重新登录:{reason}", "Please sign in again: {reason}"),
    # tabs
    "tab_home": ("首页", "Home"),
    "tab_chat": ("助手", "Assistant"),
    "tab_proposals": ("提案", "Proposals"),
    "tab_orders": ("订单", "Orders"),
    "tab_planning": ("计划", "Planning"),
    "tab_costs": ("成本", "Costs"),
    "tab_records": ("查询", "Lookup"),
    # common
    "refresh": ("刷新", "Refresh"),
    "open": ("打开", "Open"),
    "none": ("无", "none"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "error": ("出错了:{message}", "Error: {message}"),
    "not_found": ("没有找到 {key}。", "{key} was not found."),
    "more_rows": ("另有 {n} 行未显示。", "{n} more rows not shown."),
    "as_of": ("截至 {today}", "As of {today}"),
    # home
    "home_title": ("今日概览", "Today at a glance"),
    "kpi_open_orders": ("未完成销售订单", "Open sales orders"),
    "kpi_overdue": ("已逾期订单", "Overdue orders"),
    "kpi_at_risk": ("有风险订单", "Orders at risk"),
    "kpi_pending": ("待你确认的提案", "Proposals you may confirm"),
    "kpi_late_supply": ("逾期未到的供应", "Overdue supply"),
    "warnings_title": ("预警", "Warnings"),
    "severity_high": ("严重", "high"),
    "severity_medium": ("注意", "medium"),
    "severity_low": ("提示", "low"),
    "warning_sales_overdue": ("销售订单逾期", "Sales order overdue"),
    "warning_sales_projected_late": ("销售订单预计晚交", "Sales order projected late"),
    "warning_sales_at_risk": ("销售订单有风险", "Sales order at risk"),
    "warning_production_overdue": ("生产订单逾期", "Production order overdue"),
    "warning_subcontract_overdue": ("委外订单逾期", "Subcontract order overdue"),
    "warning_purchase_overdue": ("采购逾期未到", "Purchase overdue"),
    "warning_purchase_late_for_need": ("采购到货晚于需求", "Purchase arrives after it is needed"),
    "warning_production_due_soon": ("生产订单即将到期", "Production order due soon"),
    "warning_subcontract_due_soon": ("委外订单即将到期", "Subcontract order due soon"),
    "warning_supply_overdue": ("供应逾期未到", "Supply overdue"),
    "warning_suggestion_late": ("采购/生产建议已晚", "Suggested supply already late"),
    "warning_expedite": ("需加急", "Needs expediting"),
    "at_risk": ("有风险", "at risk"),
    "no_warnings": ("没有逾期或风险。", "Nothing overdue or at risk."),
    # chat
    "chat_label": ("对话", "Conversation"),
    "chat_welcome": (
        "问我订单、缺料、交期、MRP、排程和成本。每个数字都来自系统里的工具;要改数据时我只起草提案,由有权限的人确认。",
        "Ask about orders, shortages, delivery dates, MRP, the schedule and costs. Every figure comes from "
        "the system's tools; to change data I only draft a proposal, which a person allowed to confirms.",
    ),
    "chat_placeholder": (
        "用中文或英文提问,例如:CAB-3D 现在能做多少套?",
        "Ask in Chinese or English, e.g. How many CAB-3D can we build now?",
    ),
    "chat_input": ("问题", "Question"),
    "send": ("发送", "Send"),
    "new_chat": ("新对话", "New conversation"),
    "suggested": ("试试这些问题", "Try asking"),
    "backend_offline": (
        "助手:离线引擎(本机运行,不联网)",
        "Assistant: offline engine (runs here, no network)",
    ),
    "backend_llm": ("助手:模型 {model}", "Assistant: model {model}"),
    "backend_unknown": ("助手不可用:{message}", "Assistant unavailable: {message}"),
    "tool_call_title": ("调用工具 {name}", "Tool call: {name}"),
    "tool_ok": ("成功", "succeeded"),
    "tool_failed": ("失败:{message}", "failed: {message}"),
    "tool_args": ("参数", "Arguments"),
    "tool_result": ("结果", "Result"),
    "proposal_made": (
        "已生成提案 {link}(待确认):{summary}\n到「提案」页查看变更并确认或拒绝。",
        "Proposal {link} is pending: {summary}\nOpen Proposals to review the change and confirm or reject it.",
    ),
    "assistant_error": ("助手出错:{message}", "The assistant failed: {message}"),
    # proposals
    "proposals_filter": ("状态", "Status"),
    "filter_mine": ("我可处理的", "For me to decide"),
    "filter_pending": ("全部待确认", "All pending"),
    "filter_all": ("全部", "All"),
    "proposal_pick": ("选择提案", "Proposal"),
    "proposal_none": ("没有提案。", "No proposals."),
    "proposal_choose": (
        "从上面的列表点一个提案,或在下拉框里选择。",
        "Click a proposal in the list or pick one above.",
    ),
    "confirm": ("确认执行", "Confirm"),
    "reject": ("拒绝", "Reject"),
    "reject_reason": ("拒绝原因(可选)", "Reason for rejecting (optional)"),
    "proposal_kind": ("类型", "Kind"),
    "proposal_status": ("状态", "Status"),
    "proposal_summary": ("内容", "Summary"),
    "proposal_requested_by": ("提出人", "Requested by"),
    "proposal_created": ("提出时间", "Created"),
    "proposal_expires": ("有效期至", "Expires"),
    "proposal_approvers": ("可确认的角色", "Roles that may confirm"),
    "proposal_you_may": ("你可以确认", "You may confirm"),
    "proposal_you_may_not": ("你的角色不能确认", "Your role may not confirm"),
    "proposal_effect": ("确认后将执行的变更", "What confirming will apply"),
    "proposal_effect_decided": ("提案的变更", "The change it proposed"),
    # proposal kinds (others are shown by their name)
    "kind_purchase_requests": ("请购单", "purchase requisitions"),
    "kind_purchase_orders": ("采购订单", "purchase orders"),
    "kind_production_orders": ("生产订单", "production orders"),
    "kind_subcontract_orders": ("委外订单", "subcontract orders"),
    "kind_order_promise": ("交期承诺", "order promise"),
    "kind_dispatch_list": ("派工单(排程)", "dispatch list (schedule)"),
    "kind_material_issue": ("领料", "material issue"),
    "kind_material_over_issue": ("超领", "over-issue"),
    "kind_material_return": ("退料", "material return"),
    "kind_purchase_receipt": ("采购收货", "purchase receipt"),
    "kind_completion_receipt": ("完工入库", "completion receipt"),
    "kind_planned_order_release": ("计划订单投放", "planned order release"),
    "kind_production_release": ("生产订单下达", "production order release"),
    "kind_production_close": ("生产订单关闭", "production order close"),
    "kind_production_cancel": ("生产订单取消", "production order cancellation"),
    "kind_rework_order": ("返修单", "rework order"),
    "kind_inspection_order": ("检验单", "inspection order"),
    "kind_inspection_result": ("检验结果", "inspection result"),
    "kind_subcontract_shipment": ("委外发料", "subcontract shipment"),
    "kind_subcontract_receipt": ("委外收货", "subcontract receipt"),
    "kind_subcontract_material_return": ("委外退料", "subcontract material return"),
    "kind_customer_material_receipt": ("客供料入库", "customer material receipt"),
    "kind_customer_material_return": ("客供料退回", "customer material return"),
    "kind_customer_material_consumption": ("客供料领用", "customer material consumption"),
    "kind_bom_change": ("BOM 变更", "BOM change"),
    "kind_bom_batch_change": ("BOM 批量变更", "BOM batch change"),
    "kind_ecn_draft": ("工程变更(草稿)", "ECN draft"),
    "kind_ecn_approval": ("工程变更批准", "ECN approval"),
    "kind_ecn_application": ("工程变更生效", "ECN application"),
    "kind_ecn_cancellation": ("工程变更取消", "ECN cancellation"),
    "kind_cost_collection": ("成本归集", "cost collection"),
    "kind_cost_period_close": ("成本期间关账", "cost period close"),
    "kind_cost_period_reopen": ("成本期间反结账", "cost period reopen"),
    "kind_labor_report": ("工时报告", "labour report"),
    "kind_overhead_pools": ("制造费用池", "overhead pools"),
    "kind_order_cost_input": ("订单成本数据", "order cost inputs"),
    "kind_account_mapping": ("科目映射", "account mapping"),
    "proposal_args": ("提案参数", "Arguments"),
    "proposal_versions": ("计算时的数据版本", "Data versions it was computed on"),
    "proposal_decision": ("决定", "Decision"),
    "proposal_decided": ("{status}:{who} 于 {at}", "{status} by {who} at {at}"),
    "proposal_result": ("执行结果", "Result"),
    "proposal_confirmed": ("已确认并执行:{id}", "Confirmed and applied: {id}"),
    "proposal_rejected": ("已拒绝:{id}", "Rejected: {id}"),
    "refused_forbidden": (
        "不能确认:你的角色「{role}」不能确认「{kind}」类提案;可以确认的角色:{allowed}。",
        "Refused: your role '{role}' may not confirm {kind} proposals; roles that may: {allowed}.",
    ),
    "refused_forbidden_reject": (
        "不能拒绝:你的角色「{role}」不能处理「{kind}」类提案;可以处理的角色:{allowed}。",
        "Refused: your role '{role}' may not reject {kind} proposals; roles that may: {allowed}.",
    ),
    "refused_conflict": ("没有执行:{message}", "Not applied: {message}"),
    "refused_other": ("没有执行({code}):{message}", "Not applied ({code}): {message}"),
    # orders
    "orders_open_only": ("只看未完成", "Open orders only"),
    "orders_title": ("销售订单", "Sales orders"),
    "order_pick": ("订单", "Order"),
    "order_choose": ("点订单号查看明细。", "Click an order number to see its details."),
    "order_lines": ("订单行", "Lines"),
    "order_production": ("关联的生产 / 委外订单", "Linked production and subcontract orders"),
    "order_no_production": ("没有关联的生产或委外订单。", "No linked production or subcontract orders."),
    "order_flags": ("风险", "Risks"),
    "order_no_flags": ("没有发现风险。", "No risks found."),
    "shortages_button": ("分析缺料", "Analyze shortages"),
    "use_substitutes": ("考虑替代料", "Use substitutes"),
    "shortages_title": ("{order} 缺料", "Shortages of {order}"),
    "shortages_none": ("{order} 不缺料。", "{order} has no shortages."),
    "col_order": ("订单", "Order"),
    "col_customer": ("客户", "Customer"),
    "col_status": ("状态", "Status"),
    "col_priority": ("优先级", "Priority"),
    "col_requested": ("要求交期", "Requested"),
    "col_promised": ("承诺交期", "Promised"),
    "col_shipped": ("发货进度", "Shipped"),
    "col_production": ("生产进度", "Production"),
    "col_subcontract": ("委外进度", "Subcontract"),
    "col_risk": ("风险", "Risk"),
    "col_line": ("行", "Line"),
    "col_item": ("物料", "Item"),
    "col_name": ("名称", "Name"),
    "col_qty": ("数量", "Qty"),
    "col_open": ("未发", "Open"),
    "col_delay": ("承诺晚于要求(天)", "Promise delay (days)"),
    "col_kind": ("类型", "Kind"),
    "col_due": ("到期", "Due"),
    "col_progress": ("完成", "Done"),
    "col_supplier": ("供应商", "Supplier"),
    "col_level": ("层级", "Level"),
    "col_required": ("需求", "Required"),
    "col_available": ("可用", "Available"),
    "col_short": ("缺", "Short"),
    "col_uncovered": ("无人订购", "Uncovered"),
    "col_need_date": ("需求日", "Needed"),
    "col_covered": ("预计补齐", "Covered by"),
    "col_receipts": ("预计到货", "Expected receipts"),
    "col_substitutes": ("替代料", "Substitutes"),
    "col_action": ("动作", "Action"),
    "col_release": ("下达日", "Release"),
    "col_late": ("已晚", "Late"),
    "col_pegging": ("需求来源(追溯)", "Pegged to"),
    "col_message": ("说明", "Message"),
    "col_date": ("日期", "Date"),
    "col_suggested": ("建议日期", "Suggested"),
    "col_total": ("合计", "Total"),
    "col_unit_cost": ("单位成本", "Unit cost"),
    "col_completed": ("完工数量", "Completed"),
    "col_wip": ("在制品", "WIP"),
    "col_warning": ("预警", "Warning"),
    "col_projected": ("预计完成", "Projected"),
    "col_related": ("相关单据", "Related"),
    "col_cause": ("原因", "Cause"),
    "col_stage": ("阶段", "Stage"),
    "col_for": ("供给", "For"),
    # risk flags
    "flag_overdue": ("已逾期", "overdue"),
    "flag_promise_late": ("承诺晚于要求", "promised late"),
    "flag_late": ("采购/生产建议已晚", "supply suggestion late"),
    "flag_past_due_demand": ("需求已过期", "demand past due"),
    "flag_past_due_supply": ("供应逾期未到", "supply overdue"),
    "flag_reschedule_in": ("需加急", "needs expediting"),
    "flag_reschedule_out": ("可推迟", "can be postponed"),
    "flag_projected_late": ("预计晚交", "projected late"),
    "flag_uncovered_shortage": ("缺料无人订购", "short, not covered"),
    "flag_late_supply": ("供应晚于需求", "supply late for need"),
    "flag_supply_overdue": ("供应逾期未到", "supply overdue"),
    "flag_linked_order_overdue": ("关联订单逾期", "linked order overdue"),
    # stages of an order line (tracking tool)
    "stage_shipped": ("已发货", "shipped"),
    "stage_ready_to_ship": ("可发货", "ready to ship"),
    "stage_in_production": ("生产中", "in production"),
    "stage_scheduled": ("已排产", "scheduled"),
    "stage_waiting_for_material": ("等料", "waiting for material"),
    "stage_awaiting_supply": ("等待到货", "awaiting supply"),
    "stage_not_covered": ("未安排", "not covered"),
    "stage_not_planned": ("未计划", "not planned"),
    # planning
    "mrp_title": ("MRP 物料需求建议", "MRP suggestions"),
    "mrp_horizon": ("计划天数", "Horizon (days)"),
    "mrp_run": ("运行 MRP", "Run MRP"),
    "mrp_not_run": ("点「运行 MRP」计算建议。", "Press Run MRP to compute suggestions."),
    "mrp_summary": (
        "{today} 起 {days} 天:建议 {total} 条({actions}),其中已晚 {late} 条;例外 {exceptions} 条。",
        "From {today}, {days} days: {total} suggestions ({actions}), {late} already late; {exceptions} exceptions.",
    ),
    "mrp_exceptions": ("例外信息", "Exceptions"),
    "mrp_only_late": ("只看已晚的建议", "Late suggestions only"),
    "progress_loading": ("读取数据…", "Loading data…"),
    "progress_planning": ("计算中…", "Planning…"),
    "progress_rendering": ("整理结果…", "Preparing the result…"),
    "shortage_title": ("订单缺料分析", "Shortages of an order"),
    "shortage_pick": ("销售订单或生产订单", "Sales or production order"),
    "schedule_title": ("生产排程(甘特图)", "Production schedule (Gantt)"),
    "schedule_run": ("排程", "Schedule"),
    "schedule_unavailable": (
        "排程功能还没有上线:这个版本里没有 get_schedule 工具,所以暂时没有甘特图。",
        "Scheduling is not available yet: this build has no get_schedule tool, so there is no Gantt chart.",
    ),
    "schedule_empty": ("没有可排的工序。", "No operations to schedule."),
    "schedule_summary": (
        "{ops} 道工序,{orders} 张订单,{late} 张会延迟(状态 {status})。",
        "{ops} operations, {orders} orders, {late} late (status {status}).",
    ),
    "schedule_problems": ("排程问题", "Schedule problems"),
    "gantt_resource": ("工作中心", "Work center"),
    "problem_late": ("延迟", "late"),
    "problem_due_in_past": ("到期日已过", "due in the past"),
    "problem_no_routing": ("无工艺路线", "no routing"),
    "problem_not_optimized": ("未优化", "not optimized"),
    # costs
    "costs_period": ("成本期间(YYYY-MM)", "Cost period (YYYY-MM)"),
    "costs_run": ("一键成本计算", "Run costing"),
    "costs_orders": ("生产订单成本", "Production order costs"),
    "costs_problems": ("成本计算问题", "Costing problems"),
    "costs_pick": ("生产订单", "Production order"),
    "costs_report_title": ("{order} 成本报告({period})", "Cost report of {order} ({period})"),
    "costs_choose": (
        "点订单号查看成本报告和构成图。",
        "Click an order number for its cost report and chart.",
    ),
    "cost_material": ("材料", "Material"),
    "cost_labor": ("人工", "Labour"),
    "cost_overhead": ("制造费用", "Overhead"),
    "cost_subcontract": ("委外加工费", "Subcontract"),
    "cost_other_conversion": ("其他加工费", "Other conversion"),
    "cost_rework": ("返工", "Rework"),
    "cost_conversion": ("加工费", "Conversion"),
    "cost_completed_output": ("完工产出", "Completed output"),
    "cost_ending_wip": ("期末在制", "Ending WIP"),
    "cost_composition": ("完工成本构成", "Cost of completed output"),
    "cost_split": ("完工与在制", "Completed vs WIP"),
    "cost_outputs": ("产出", "Outputs"),
    "cost_allocations": ("费用分配", "Overhead allocations"),
    "cost_elements": ("成本要素(约当产量)", "Cost elements (equivalent units)"),
    "cost_checks": ("核对", "Checks"),
    "cost_warnings": ("提示", "Warnings"),
    # records
    "record_lookup": ("单号或物料编码", "Document number or item code"),
    "record_placeholder": ("例如 MO-2612-05、PO-2611-01、CAB-3D", "e.g. MO-2612-05, PO-2611-01, CAB-3D"),
    "record_unknown": (
        "不认识 {key}:请输入生产/委外单(MO-、SC-、RW-)、采购单(PO-)或物料编码。",
        "{key} is not a production/subcontract order (MO-, SC-, RW-), purchase order (PO-) or item code.",
    ),
}

ROLE_LABELS: dict[str, tuple[str, str]] = {
    "sales": ("销售", "sales"),
    "planner": ("计划", "planner"),
    "buyer": ("采购", "buyer"),
    "warehouse": ("仓库", "warehouse"),
    "quality": ("质检", "quality"),
    "manager": ("经理", "manager"),
    "admin": ("管理员", "admin"),
}

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "draft": ("草稿", "draft"),
    "confirmed": ("已确认", "confirmed"),
    "in_progress": ("进行中", "in progress"),
    "partial": ("部分发货", "partly shipped"),
    "shipped": ("已发货", "shipped"),
    "open": ("未发货", "open"),
    "done": ("已完成", "done"),
    "completed": ("已完工", "completed"),
    "closed": ("已关闭", "closed"),
    "cancelled": ("已取消", "cancelled"),
    "planned": ("计划", "planned"),
    "released": ("已下达", "released"),
    "pending": ("待确认", "pending"),
    "rejected": ("已拒绝", "rejected"),
    "expired": ("已过期", "expired"),
    "failed": ("失败", "failed"),
    "approved": ("已批准", "approved"),
    "applied": ("已生效", "applied"),
    "received": ("已收货", "received"),
    "material": ("材料", "material"),
    "conversion": ("加工费", "conversion"),
    "labor_hours": ("人工工时", "labour hours"),
    "material_cost": ("材料成本", "material cost"),
    "output_qty": ("产量", "output quantity"),
    "ordered": ("已下单", "ordered"),
    "production": ("生产", "production"),
    "sales_order": ("销售订单", "sales order"),
    "purchase_order": ("采购订单", "purchase order"),
    "production_order": ("生产订单", "production order"),
    "subcontract_order": ("委外订单", "subcontract order"),
    "dependent": ("相关需求", "dependent demand"),
    "forecast": ("预测", "forecast"),
    "planned_order": ("计划订单", "planned order"),
    "subcontract": ("委外", "subcontract"),
    "rework": ("返修", "rework"),
    "purchase": ("采购", "purchase"),
    "buy": ("采购", "buy"),
    "make": ("自制", "make"),
}

# Field names of tool outputs shown as table headers or labels by the generic record view.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "code": ("编号", "Code"),
    "item": ("物料", "Item"),
    "item_name": ("名称", "Name"),
    "name": ("名称", "Name"),
    "description": ("描述", "Description"),
    "category": ("类别", "Category"),
    "uom": ("单位", "UoM"),
    "source": ("来源", "Source"),
    "qty": ("数量", "Qty"),
    "requested_qty": ("申请数量", "Requested qty"),
    "completed_qty": ("完工", "Completed"),
    "received_qty": ("已收", "Received"),
    "accepted_qty": ("合格", "Accepted"),
    "rejected_qty": ("不合格", "Rejected"),
    "in_inspection_qty": ("质检中", "In inspection"),
    "open_qty": ("未完成", "Open"),
    "shipped_qty": ("已发", "Shipped"),
    "status": ("状态", "Status"),
    "line_status": ("行状态", "Line status"),
    "kind": ("类型", "Kind"),
    "priority": ("优先级", "Priority"),
    "start_date": ("开工", "Start"),
    "due_date": ("到期", "Due"),
    "need_date": ("需求日", "Needed"),
    "order_date": ("下单日", "Ordered"),
    "requested_date": ("要求交期", "Requested"),
    "promised_date": ("承诺交期", "Promised"),
    "supplier": ("供应商", "Supplier"),
    "supplier_name": ("供应商名称", "Supplier name"),
    "supplier_source": ("供应商来源", "Supplier from"),
    "customer": ("客户", "Customer"),
    "customer_name": ("客户名称", "Customer name"),
    "unit_price": ("单价", "Unit price"),
    "unit_cost": ("单位成本", "Unit cost"),
    "unit_fee": ("加工单价", "Unit fee"),
    "amount": ("金额", "Amount"),
    "total_amount": ("总金额", "Total amount"),
    "source_ref": ("来源单据", "Source"),
    "requisitions": ("请购单", "Requisitions"),
    "lines": ("明细", "Lines"),
    "line": ("行", "Line"),
    "line_no": ("行号", "Line"),
    "components": ("用料", "Components"),
    "materials": ("材料", "Materials"),
    "receipts": ("收货", "Receipts"),
    "issues": ("领料", "Issues"),
    "per_unit": ("单位用量", "Per unit"),
    "required": ("需求", "Required"),
    "issued": ("已领", "Issued"),
    "remaining": ("待领", "Remaining"),
    "over_issued": ("超领", "Over-issued"),
    "issue_method": ("领料方式", "Issue method"),
    "substitute_for": ("替代", "Substitute for"),
    "sent": ("已发", "Sent"),
    "consumed": ("已耗用", "Consumed"),
    "scrapped": ("报废", "Scrapped"),
    "returned": ("已退", "Returned"),
    "at_supplier": ("在供应商处", "At supplier"),
    "to_send": ("待发", "To send"),
    "on_hand": ("库存", "On hand"),
    "in_inspection": ("质检中", "In inspection"),
    "at_subcontractors": ("在委外商", "At subcontractors"),
    "open_supply": ("在途供应", "Open supply"),
    "open_demand": ("未完成需求", "Open demand"),
    "open_supply_qty": ("在途合计", "Open supply"),
    "open_demand_qty": ("需求合计", "Open demand"),
    "projected_qty": ("预计结存", "Projected"),
    "safety_stock": ("安全库存", "Safety stock"),
    "lead_time_days": ("提前期(天)", "Lead time (days)"),
    "min_order_qty": ("最小订量", "Min order qty"),
    "order_multiple": ("订量倍数", "Order multiple"),
    "max_order_qty": ("最大订量", "Max order qty"),
    "phantom": ("虚拟件", "Phantom"),
    "inspection_required": ("需检验", "Inspected"),
    "active": ("启用", "Active"),
    "aliases": ("别名", "Aliases"),
    "location": ("库位", "Location"),
    "overdue": ("逾期", "Overdue"),
    "days_late": ("晚(天)", "Days late"),
    "due": ("到期", "Due"),
    "date": ("日期", "Date"),
    "ref": ("单据", "Ref"),
    "doc": ("单据", "Document"),
    "document": ("单据", "Document"),
    "order": ("订单", "Order"),
    "orders": ("订单", "Orders"),
    "parent_order": ("上级订单", "Parent order"),
    "sub_orders": ("下级订单", "Sub-orders"),
    "sales_order": ("销售订单", "Sales order"),
    "production_order": ("生产订单", "Production order"),
    "material_cost": ("材料成本", "Material cost"),
    "received_value": ("入库金额", "Received value"),
    "rework_origin": ("返修来源", "Rework of"),
    "reason": ("原因", "Reason"),
    "note": ("备注", "Note"),
    "created": ("新建", "Created"),
    "updated": ("更新", "Updated"),
    "result": ("结果", "Result"),
    "message": ("说明", "Message"),
    "period": ("期间", "Period"),
    "total": ("合计", "Total"),
    "material": ("材料", "Material"),
    "labor": ("人工", "Labour"),
    "overhead": ("制造费用", "Overhead"),
    "subcontract": ("委外", "Subcontract"),
    "conversion": ("加工费", "Conversion"),
    "pool": ("费用池", "Pool"),
    "basis": ("分配基础", "Basis"),
    "basis_qty": ("基础数量", "Basis qty"),
    "share": ("占比", "Share"),
    "amount_cents": ("金额(分位)", "Amount (cents)"),
    "element": ("成本要素", "Element"),
    "opening": ("期初", "Opening"),
    "current": ("本期", "Current"),
    "charged": ("合计投入", "Charged"),
    "equivalent_units": ("约当产量", "Equivalent units"),
    "cost_per_eu": ("约当单位成本", "Cost per EU"),
    "completed": ("完工", "Completed"),
    "wip": ("在制", "WIP"),
    "by_product": ("副产品", "By-product"),
    "expected": ("应为", "Expected"),
    "actual": ("实际", "Actual"),
    "ok": ("通过", "OK"),
    "qty_open": ("未完成数量", "Open qty"),
    "partner": ("往来单位", "Partner"),
    "ordered": ("订购", "Ordered"),
    "received": ("已收", "Received"),
}


def t(lang: str, key: str, /, **values: Any) -> str:
    """The text ``key`` in ``lang`` (Chinese for anything but "en"), with ``{name}`` fields filled."""
    zh, en = TEXTS[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def pick(lang: str, pair: tuple[str, str]) -> str:
    return pair[1] if lang == "en" else pair[0]


def role_label(lang: str, role: str) -> str:
    return pick(lang, ROLE_LABELS[role]) if role in ROLE_LABELS else role


def status_label(lang: str, status: str) -> str:
    return pick(lang, STATUS_LABELS[status]) if status in STATUS_LABELS else status


def field_label(lang: str, name: str) -> str:
    """A tool output's field name as a header; an unknown field keeps its name, made readable."""
    return pick(lang, FIELD_LABELS[name]) if name in FIELD_LABELS else name.replace("_", " ")


def language_from_header(accept_language: str | None) -> Lang:
    """English when the browser prefers English to Chinese, else Chinese (the default)."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"


Prop = str | Callable[[str], Any]


@dataclass(frozen=True)
class Labelled:
    component: gr.components.Component | gr.blocks.BlockContext
    props: dict[str, Prop]


class Labels:
    """Components whose labels, placeholders or texts follow the language; ``updates`` relabels them all.

    A prop is a text key of ``TEXTS`` or a function of the language (e.g. for a radio's choices).
    """

    def __init__(self, default_lang: Lang = "zh") -> None:
        self.entries: list[Labelled] = []
        self.default_lang = default_lang

    def make(self, factory: Callable[..., Any], texts: dict[str, Prop], **kwargs: Any) -> Any:
        """``factory(**kwargs)`` with the ``texts`` props in the default language, registered for switches."""
        entry_values = {
            name: (t(self.default_lang, p) if isinstance(p, str) else p(self.default_lang))
            for name, p in texts.items()
        }
        component = factory(**kwargs, **entry_values)
        self.entries.append(Labelled(component, texts))
        return component

    @property
    def components(self) -> list[Any]:
        return [e.component for e in self.entries]

    def values(self, lang: str, entry: Labelled) -> dict[str, Any]:
        return {name: (t(lang, p) if isinstance(p, str) else p(lang)) for name, p in entry.props.items()}

    def updates(self, lang: str) -> list[Any]:
        return [gr.update(**self.values(lang, e)) for e in self.entries]
