"""The report's inline style sheet (no font or image from the network)."""

from __future__ import annotations

from typing import Final

_CSS: Final = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--ok:#1a7f37;--warn:#9a6700;
--bad:#cf222e;--card:#fff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:26px;margin:0}h1 small,h2 small,h3 small{font-weight:400;color:var(--muted);
font-size:60%;margin-left:6px}
h2{font-size:18px;margin:30px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0 0 2px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,"DejaVu Sans Mono",monospace;
background:#eff2f5;padding:1px 5px;border-radius:4px}
.muted{color:var(--muted)}
.top{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:20px 22px}
.verdict{font-size:17px;font-weight:600;margin:10px 0 14px;padding:8px 12px;border-radius:6px;
border-left:5px solid}
.v-ok{background:#dafbe1;border-color:var(--ok);color:#116329}
.v-warn{background:#fff8c5;border-color:#d4a72c;color:#7d4e00}
.v-bad{background:#ffebe9;border-color:var(--bad);color:#a40e26}
.tiles{display:flex;gap:10px;flex-wrap:wrap;margin-bottom:10px}
.tile{flex:1 1 110px;background:var(--bg);border:1px solid var(--line);border-radius:8px;
padding:8px 12px;border-top:4px solid #8c959f}
.tile b{display:block;font-size:26px;line-height:1.1}.tile span{color:var(--muted)}
.tile.zero{opacity:.45}
.tile.st-succeeded{border-top-color:#1a7f37}.tile.st-failed{border-top-color:#cf222e}
.tile.st-needs_attention{border-top-color:#bf8700}.tile.st-rejected{border-top-color:#8250df}
.tile.st-pending{border-top-color:#0969da}.tile.st-deferred{border-top-color:#bc4c00}
.tile.st-ready{border-top-color:#0a7ea4}
.tile.total{border-top-color:#24292f}
.status-bar{display:block;border-radius:4px;overflow:hidden;margin:4px 0 12px}
.facts{display:grid;grid-template-columns:repeat(4,auto 1fr);gap:4px 10px;margin:0;
font-size:13px}
.facts dt{color:var(--muted)}.facts dd{margin:0}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;
color:#fff;white-space:nowrap;background:#8c959f}
.pill.st-succeeded{background:#1a7f37}.pill.st-failed{background:#cf222e}
.pill.st-needs_attention{background:#bf8700}.pill.st-rejected{background:#8250df}
.pill.st-pending{background:#0969da}.pill.st-deferred{background:#bc4c00}
.pill.st-ready{background:#0a7ea4}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
.voice-card header{font-size:15px;margin-bottom:6px}
.voice-card[data-status=needs_attention]{border-left:5px solid #bf8700}
.voice-card[data-status=failed]{border-left:5px solid #cf222e}
.voice-card[data-status=rejected]{border-left:5px solid #8250df}
.voice-card[data-status=pending]{border-left:5px solid #0969da}
.voice-card[data-status=deferred]{border-left:5px solid #bc4c00}
.hint{margin:8px 0 0;color:#31373d;font-size:13px}
pre.cmd{margin:4px 0 0;padding:6px 10px;background:#f6f8fa;border:1px solid #eaeef2;
border-radius:6px;font:12px ui-monospace,SFMono-Regular,Menlo,"DejaVu Sans Mono",monospace;
white-space:pre-wrap;overflow-wrap:anywhere}
.voice-card.look{border-left:5px solid #d4a72c}
.more{color:var(--muted);font-size:12px;white-space:nowrap}
.last-error{margin:4px 0 8px;padding:6px 10px;background:#ffebe9;border-radius:6px;
overflow-wrap:anywhere}
.findings{list-style:none;margin:0;padding:0}
.finding{padding:3px 0;border-top:1px dashed #eaeef2;overflow-wrap:anywhere}
.sev{display:inline-block;min-width:58px;font-size:11px;font-weight:700;text-transform:uppercase;
letter-spacing:.03em}
.sev-error .sev{color:var(--bad)}.sev-warning .sev{color:var(--warn)}.sev-fixed .sev{color:#0969da}
.file{color:var(--muted);font-size:12.5px}
.fixed{font-size:12.5px;margin:6px 0 0}
.ok-note{padding:10px 14px;background:#dafbe1;border-radius:8px;color:#116329}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);
border-radius:10px;overflow:hidden}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-size:12px;text-transform:uppercase;letter-spacing:.04em;
color:var(--muted)}
td.num,td.counts{white-space:nowrap}td.num{text-align:right}
td.note{max-width:420px;overflow-wrap:anywhere;color:#31373d}
.c-error{color:var(--bad);font-weight:600}.c-warning{color:var(--warn);font-weight:600}
.c-fixed{color:var(--muted)}
.rstate{font-weight:600;font-size:12.5px}.job{font-size:11px;white-space:nowrap}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.chart-card{margin:0}.chart-card figcaption p{margin:0 0 6px;font-size:12.5px}
.chart-facts{margin:4px 0 0;font-size:12.5px;color:var(--muted)}
.t-bad{color:var(--bad)}.t-warn{color:var(--warn)}.t-ok{color:var(--ok)}
.legend{font-size:12.5px;color:var(--muted);margin:0 0 10px}
.dot,.swatch{display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px 0 10px;
vertical-align:-1px}
.swatch{border-radius:2px;width:14px}
.line-swatch{display:inline-block;width:16px;border-top:2px dotted #8c959f;margin:0 4px 0 10px;
vertical-align:3px}
svg.chart{display:block}
footer{margin-top:28px;color:var(--muted);font-size:12px}
@media (max-width:900px){.grid2{grid-template-columns:1fr}.cards{grid-template-columns:1fr}
.facts{grid-template-columns:auto 1fr}}
@media print{body{background:#fff}.card,.top,table{break-inside:avoid}}
"""
