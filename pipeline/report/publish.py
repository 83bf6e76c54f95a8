"""After the manifest: the HTML report beside it and the Prometheus textfile.

Both are extras. The manifest is already on disk when this runs, and nothing here may take it
away: every failure is logged (``report.failed``, ``metrics.failed``) and the run goes on with
the exit code it had.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from pipeline import metrics
from pipeline.config import JobConfig
from pipeline.outputs import latest_name, write_atomic
from pipeline.report.facts import RunFacts
from pipeline.report.html import render_html

log = structlog.get_logger("pipeline.report")


def _job_arg(job: Path) -> str:
    """The job file as the operator would type it: relative to the working directory (where
    cron and make run the tool) when it lies below it, else absolute."""
    try:
        return str(job.relative_to(Path.cwd()))
    except ValueError:
        return str(job)


def report_path(manifest_path: Path) -> Path:
    """Where the HTML report of the manifest at ``manifest_path`` goes."""
    return manifest_path.with_suffix(".html")


def write_report(
    config: JobConfig, doc: Mapping[str, Any], manifest_path: Path, facts: RunFacts
) -> Path:
    """Render and write ``<manifest>.html`` and its "latest" copy; returns the first."""
    page = render_html(
        doc, facts, config.profile, manifest_name=manifest_path.name, job=_job_arg(config.path)
    ).encode("utf-8")
    path = report_path(manifest_path)
    write_atomic(path, page)
    latest = latest_name(config.batch, doc.get("command"))
    write_atomic(manifest_path.parent / f"{latest}.html", page)
    return path


def publish(
    config: JobConfig,
    doc: Mapping[str, Any],
    manifest_path: Path,
    facts: RunFacts,
    *,
    exit_code: int,
) -> Path | None:
    """Write what ``[report]`` asks for; never raises. Returns the report's path, if written.

    Metrics are written for ``run`` and ``manifest`` (the scale-out summary from the ledger),
    never for ``check``: a pre-flight on a laptop must not reset the figures cron published.
    """
    written: Path | None = None
    if config.report.html:
        try:
            written = write_report(config, doc, manifest_path, facts)
        except Exception as exc:  # the manifest is written; the report is an extra
            log.exception("report.failed", error=f"{type(exc).__name__}: {exc}")
        else:
            log.info("report.written", path=str(written))
    target = config.report.metrics_textfile
    if target is not None and doc.get("command") in ("run", "manifest"):
        try:
            metrics.publish(
                target,
                doc,
                exit_code=exit_code,
                bytes_uploaded=facts.bytes_uploaded,
                retries=facts.retries,
            )
        except Exception as exc:  # as above: never lose the run for a metric
            log.exception("metrics.failed", path=str(target), error=f"{type(exc).__name__}: {exc}")
        else:
            log.info("metrics.written", path=str(target))
    return written
