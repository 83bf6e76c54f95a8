"""The procrastinate app of one batch: its queue, its two tasks, and the schema it needs.

- ``voice_onboard.drive_voice(key)``: one job per voice, deferred by ``enqueue`` with
  ``lock`` and ``queueing_lock`` = the voice (jobs of one voice run one at a time, and at most
  one waits), retried with backoff when the voice could not reach ``submitted``.
- ``voice_onboard.poll_batch``: periodic (every ``[await] poll_interval``), polls the whole
  batch's submitted voices in bulk; its own lock makes rounds sequential, and procrastinate
  defers each tick once however many workers run.

Every batch has its own queue (``voice-onboard/<batch>``), so one database can serve several
batches and a worker started for one job file only ever takes that batch's jobs.
"""

from __future__ import annotations

from typing import Any, Final, cast

import procrastinate
import psycopg

from pipeline.config import JobConfig
from pipeline.errors import ConfigError, LedgerError
from pipeline.ledger.postgres import describe_url
from pipeline.scaleout.tasks import WorkerResources, drive_one, poll_once

DRIVE_TASK: Final = "voice_onboard.drive_voice"
POLL_TASK: Final = "voice_onboard.poll_batch"
#: Where the worker finds its resources in procrastinate's job context.
CONTEXT_KEY: Final = "voice_onboard"
#: Waits between attempts: 2 + 2**(n+1) s → 6, 10, 18, 34 s … about 17 min over 10 attempts,
#: long enough to ride out a provider outage that the HTTP layer's own retries could not.
DRIVE_RETRY: Final = procrastinate.RetryStrategy(max_attempts=10, wait=2, exponential_wait=2)
_POOL_TIMEOUT_S: Final = 10.0


def queue_of(batch: str) -> str:
    """The procrastinate queue of a batch."""
    return f"voice-onboard/{batch}"


def voice_lock(batch: str, key: str) -> str:
    """The procrastinate lock (and queueing lock) of one voice of a batch."""
    return f"voice-onboard/{batch}/voice/{key}"


def shared_ledger_url(config: JobConfig) -> str:
    """The PostgreSQL URL scale-out needs; ConfigError when the job has none."""
    url = config.ledger_url
    if not url:
        raise ConfigError(
            f"{config.path}: scale-out needs a shared PostgreSQL ledger: set "
            '[batch] ledger = "postgresql://…" or VOICE_ONBOARD_DATABASE_URL'
        )
    if not url.startswith(("postgresql://", "postgres://")) and "=" not in url:
        raise ConfigError(f"{config.path}: batch.ledger must be a postgresql:// URL")
    return url


def every(seconds: float) -> str:
    """A procrastinate cron (seconds as the 6th field) firing about every ``seconds``."""
    s = max(1, round(seconds))
    if s < 60:
        return f"* * * * * */{s}"
    minutes = max(1, round(s / 60))
    if minutes < 60:
        return f"*/{minutes} * * * *"
    hours = min(24, max(1, round(minutes / 60)))
    return f"0 */{hours} * * *"


def resources_of(context: procrastinate.JobContext) -> WorkerResources:
    """The worker's resources, handed to every job through procrastinate's context."""
    return cast(WorkerResources, context.additional_context[CONTEXT_KEY])


def build_app(config: JobConfig, url: str) -> procrastinate.App:
    """The app of ``config``'s batch on the database at ``url`` (not opened yet)."""
    connector = procrastinate.PsycopgConnector(
        conninfo=url,
        min_size=1,
        max_size=4,
        name="voice-onboard-procrastinate",
        # Seconds a query waits for a connection (psycopg's default is 30): a worker that lost
        # its database learns it sooner, so it starts over (or gives up) sooner; a restart
        # is back well within it.
        timeout=_POOL_TIMEOUT_S,
    )
    app = procrastinate.App(connector=connector)
    queue = queue_of(config.batch)
    poll_lock = f"voice-onboard/{config.batch}/poll"

    @app.task(name=DRIVE_TASK, queue=queue, pass_context=True, retry=DRIVE_RETRY)
    async def drive_voice(context: procrastinate.JobContext, key: str) -> None:
        await drive_one(resources_of(context), key)

    @app.periodic(cron=every(config.await_.poll_interval_s), periodic_id=config.batch)
    @app.task(
        name=POLL_TASK, queue=queue, pass_context=True, lock=poll_lock, queueing_lock=poll_lock
    )
    async def poll_batch(context: procrastinate.JobContext, timestamp: int) -> None:
        await poll_once(resources_of(context))

    return app


async def ensure_schema(app: procrastinate.App, url: str) -> None:
    """Install procrastinate's tables in the database (its current schema) when missing.

    Serialized by an advisory lock, so workers starting together install it once. An
    existing schema is left alone: upgrading procrastinate across versions means applying its
    migrations (``procrastinate schema --migrations-path``), as its docs describe.
    """
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(
                "SELECT pg_advisory_lock(hashtextextended("
                "'voice-onboard/procrastinate-schema/' || coalesce(current_schema(), ''), 0))"
            )
            cursor = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            row: Any = await cursor.fetchone()
            if not (row and row[0]):
                await app.schema_manager.apply_schema_async()
    except (psycopg.Error, procrastinate.exceptions.ConnectorException) as exc:
        raise LedgerError(
            f"{describe_url(url)}: cannot install the job queue's schema: {exc}"
        ) from None
