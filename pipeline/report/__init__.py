"""The run's HTML report (beside the manifest) and what feeds it and the metrics file.

``gather_facts`` reads what the manifest lacks (per-clip loudness/SNR/peak, the ledger's events
and retries) while the run still has them; ``publish`` writes the report and the Prometheus
textfile after the manifest and never raises.
"""

from __future__ import annotations

from pipeline.report.facts import ClipFigures, RunFacts, clip_figures, gather_facts
from pipeline.report.html import render_html
from pipeline.report.publish import publish, report_path, write_report

__all__ = [
    "ClipFigures",
    "RunFacts",
    "clip_figures",
    "gather_facts",
    "publish",
    "render_html",
    "report_path",
    "write_report",
]
