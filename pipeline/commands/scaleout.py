"""The scale-out subcommands as the CLI calls them: config in, exit code (or report) out."""

from __future__ import annotations

import os
import sys

import anyio

from pipeline import log
from pipeline.config import Credentials, JobConfig
from pipeline.ledger.postgres import url_password
from pipeline.stages.results import RunReport


def _redact_database_password(config: JobConfig) -> None:
    password = url_password(config.ledger_url) if config.ledger_url else None
    if password:
        log.REDACTOR.add([password])


def enqueue(config: JobConfig) -> int:
    """``voice-onboard enqueue JOB``: prints one summary line; exit 0."""
    from pipeline.scaleout.enqueue import enqueue as run

    _redact_database_password(config)
    report = anyio.run(run, config)
    print(report.summary(), file=sys.stdout)
    return 0


def worker(config: JobConfig, *, concurrency: int, until_done: bool, heartbeat_s: float) -> int:
    """``voice-onboard worker JOB``: runs until stopped (or, with --until-done, finished)."""
    from pipeline.scaleout.worker import WorkerOptions, run_worker

    _redact_database_password(config)
    credentials = Credentials.from_env(os.environ).for_provider(config)
    log.REDACTOR.add(credentials.secrets())
    options = WorkerOptions(concurrency=concurrency, until_done=until_done, heartbeat_s=heartbeat_s)

    async def go() -> int:
        return await run_worker(config, credentials, options)

    return anyio.run(go)


def manifest(config: JobConfig) -> RunReport:
    """``voice-onboard manifest JOB``: the manifest from the ledger; the CLI prints it."""
    from pipeline.scaleout.manifest import manifest_from_ledger

    _redact_database_password(config)
    return anyio.run(manifest_from_ledger, config)
