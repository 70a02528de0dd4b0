"""The UI's look (local fonts only: no web-font requests) and the script that makes record links navigate."""

from __future__ import annotations

import gradio as gr

FONTS = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "system-ui",
         "sans-serif"]  # fmt: skip
MONO_FONTS = ["Noto Sans Mono CJK SC", "DejaVu Sans Mono", "ui-monospace", "monospace"]


def theme() -> gr.themes.Base:
    """The default theme with installed fonts (the stock one fetches Google Fonts)."""
    return gr.themes.Default(primary_hue="blue", secondary_hue="slate", font=FONTS, font_mono=MONO_FONTS)


# Record links are "#op/<kind>/<key>" anchors (in chat answers and tables): a click hands the target to the
# hidden navigation button instead of changing the page.
LINK_SCRIPT = """
() => {
  if (window.__opLinksInstalled) return;
  window.__opLinksInstalled = true;
  document.addEventListener('click', (event) => {
    const anchor = event.target && event.target.closest && event.target.closest('a[href^="#op/"]');
    if (!anchor) return;
    event.preventDefault();
    event.stopPropagation();
    window.__opLink = anchor.getAttribute('href');
    const button = document.querySelector('#op-link-button');
    if (button) button.click();
  }, true);
}
"""

LINK_VALUE_SCRIPT = "() => window.__opLink || ''"

CSS = """
.op-hidden { display: none !important; }
.op-controls { align-items: flex-end !important; }
.op-controls > button { max-height: 44px; }
#op-header { align-items: center; }
#op-header .op-title h2 { margin: 0; }
#op-signin { margin-top: 32px; }
.op-muted { color: #6b7280; font-size: 0.92em; }
.op-link, .op-link:visited { color: #1d4ed8 !important; text-decoration: none !important; padding: 0 !important;
  border-bottom: 1px dotted #1d4ed8; cursor: pointer; white-space: nowrap; }
.op-link:hover { background: #eff6ff; }
.op-badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em; white-space: nowrap;
  border: 1px solid transparent; }
.op-badge.op-ok { background: #dcfce7; color: #166534; border-color: #bbf7d0; }
.op-badge.op-warn { background: #fef3c7; color: #92400e; border-color: #fde68a; }
.op-badge.op-bad { background: #fee2e2; color: #991b1b; border-color: #fecaca; }
.op-badge.op-info { background: #dbeafe; color: #1e40af; border-color: #bfdbfe; }
.op-badge.op-muted { background: #f3f4f6; color: #374151; border-color: #e5e7eb; }
.op-flag { display: inline-block; margin: 1px 6px 1px 0; }
.op-late { color: #b91c1c; font-weight: 600; }
.op-table-wrap { overflow-x: auto; margin: 4px 0 12px; }
table.op-table { border-collapse: collapse; width: 100%; font-size: 0.92em; border: none !important; }
table.op-table th, table.op-table td { border-left: none !important; border-right: none !important; }
table.op-table th { text-align: left; background: #f8fafc; border-bottom: 2px solid #e2e8f0; padding: 6px 8px;
  white-space: nowrap; }
table.op-table td { border-bottom: 1px solid #eef2f7; padding: 5px 8px; vertical-align: top;
  white-space: nowrap; }
table.op-table td:last-child { white-space: normal; min-width: 220px; }
table.op-table tr:hover td { background: #f8fafc; }
.op-progress { display: inline-block; width: 80px; height: 8px; background: #e5e7eb; border-radius: 4px;
  overflow: hidden; vertical-align: middle; margin-right: 6px; }
.op-progress .op-bar { height: 100%; }
.op-progress .op-bar.op-info { background: #3b82f6; }
.op-progress .op-bar.op-ok { background: #22c55e; }
.op-progress-text { font-size: 0.85em; color: #374151; white-space: nowrap; }
.op-kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 16px; }
.op-kpi { flex: 1 1 150px; border-radius: 10px; padding: 12px 14px; border: 1px solid #e5e7eb; background: #fff; }
.op-kpi-value { font-size: 1.7em; font-weight: 700; }
.op-kpi-label { color: #4b5563; font-size: 0.9em; }
.op-kpi.op-bad .op-kpi-value { color: #b91c1c; }
.op-kpi.op-warn .op-kpi-value { color: #b45309; }
.op-kpi.op-ok .op-kpi-value { color: #15803d; }
.op-kpi.op-info .op-kpi-value { color: #1d4ed8; }
.op-notice { border-radius: 8px; padding: 10px 14px; margin: 8px 0; border: 1px solid; }
.op-notice.op-ok { background: #f0fdf4; border-color: #bbf7d0; color: #14532d; }
.op-notice.op-warn { background: #fffbeb; border-color: #fde68a; color: #78350f; }
.op-notice.op-bad { background: #fef2f2; border-color: #fecaca; color: #7f1d1d; }
.op-notice.op-info { background: #eff6ff; border-color: #bfdbfe; color: #1e3a8a; }
.op-record-head { font-size: 1.1em; margin: 6px 0 8px; }
.op-record-code { font-weight: 700; font-size: 1.15em; margin-right: 6px; }
.op-summary { font-size: 1.05em; }
.op-fields { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 4px 16px;
  margin: 6px 0 10px; }
.op-field { display: flex; gap: 8px; border-bottom: 1px dashed #eef2f7; padding: 2px 0; }
.op-field-name { color: #6b7280; min-width: 90px; }
.op-h { margin: 14px 0 6px; }
.op-empty { color: #6b7280; }
.op-suggestion { white-space: normal !important; }
"""
