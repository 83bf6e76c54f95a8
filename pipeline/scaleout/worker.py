"""``voice-onboard worker JOB``: one procrastinate worker for the job's batch, on any host.

Beside procrastinate's own loop it runs:

- stalled-job recovery: every heartbeat interval it asks procrastinate for ``doing`` jobs of
  this batch whose worker has not sent a heartbeat for three intervals (``get_stalled_jobs``)
  and puts them back in the queue (``retry_job``). Several workers may race for one stalled
  job; the loser's retry is refused and ignored. A job retried this way resumes from the
  ledger (intent stages, Huawei list-and-adopt), and the per-voice advisory lock stops it if
  the "dead" worker was only slow;
- ``--until-done``: every few seconds it checks whether the batch has any drive job waiting
  or running, or any voice waiting for the provider; when not, the worker stops (exit 0, or
  1 when some voices were left before submission because their jobs failed for good);
- SIGTERM/SIGINT: stop taking jobs and let the running ones finish (a second signal aborts
  them; the ledger keeps them resumable). The worker then exits 0, as a service should.
"""

from __future__ import annotations

import os
import signal
import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Final

import anyio
import procrastinate
import psycopg
import structlog
from procrastinate.worker import Worker
from psycopg_pool import AsyncConnectionPool

from pipeline.config import Credentials, JobConfig
from pipeline.errors import ConfigError, LedgerError, RunInterrupted
from pipeline.ledger.binding import ensure_binding
from pipeline.ledger.postgres import PostgresLedger, describe_url
from pipeline.records import Phase
from pipeline.scaleout.app import (
    CONTEXT_KEY,
    DRIVE_TASK,
    build_app,
    ensure_schema,
    queue_of,
    shared_ledger_url,
)
from pipeline.scaleout.locks import VoiceLocks
from pipeline.scaleout.provider import open_worker_provider
from pipeline.scaleout.ratelimit import provider_windows
from pipeline.scaleout.tasks import SourceCache, WorkerResources
from pipeline.stages.prepare import PrepareContext
from pipeline.stages.send import Breaker

log = structlog.get_logger("pipeline.scaleout.worker")

EXIT_OK: Final = 0
EXIT_STUCK: Final = 1  #: --until-done: some voices stopped before submission; enqueue again


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    """The ``worker`` command's flags."""

    concurrency: int = 8  #: voices driven at once by this worker
    until_done: bool = False  #: exit once the batch has nothing left to do
    heartbeat_s: float = 10.0  #: procrastinate heartbeat; stalled after three missed ones
    shutdown_grace_s: float = 60.0  #: on SIGTERM, wait this long for running jobs

    @property
    def stalled_after_s(self) -> float:
        return 3 * self.heartbeat_s


class _Stop:
    """Why the worker was asked to stop (None: it stopped on its own, which is a failure)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.stuck = 0


def worker_endpoint(config: JobConfig) -> str:
    """The provider endpoint every worker shares; the in-process emulator cannot be shared."""
    if config.provider.is_emulator:
        raise ConfigError(
            f'{config.path}: workers need one shared endpoint, and endpoint = "emulator" '
            "would start a separate emulator in every worker: run `voice-onboard emulator "
            '--port 8600` and set endpoint = "http://127.0.0.1:8600"'
        )
    return config.provider.endpoint


async def run_worker(config: JobConfig, credentials: Credentials, options: WorkerOptions) -> int:
    """Run a worker for ``config``'s batch until stopped; returns the exit code."""
    if options.concurrency < 1:
        raise ConfigError("--concurrency must be >= 1")
    if options.heartbeat_s <= 0:
        raise ConfigError("--heartbeat must be > 0")
    url = shared_ledger_url(config)
    endpoint = worker_endpoint(config)
    name = f"{socket.gethostname()}:{os.getpid()}"
    queue = queue_of(config.batch)
    app = build_app(config, url)
    stop = _Stop()
    async with AsyncExitStack() as stack:
        ledger = await stack.enter_async_context(PostgresLedger(url, config.batch))
        await ensure_binding(ledger, config)
        await stack.enter_async_context(app.open_async())
        await ensure_schema(app, url)
        windows_pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=4,  # short transactions; windows of one process take turns
            kwargs={"autocommit": True},
            check=AsyncConnectionPool.check_connection,
            open=False,
            name="voice-onboard-ratelimit",
        )
        try:
            await windows_pool.open(wait=True, timeout=10.0)
        except psycopg.Error as exc:
            raise LedgerError(f"{describe_url(url)}: cannot connect: {exc}") from None
        stack.push_async_callback(windows_pool.close)
        provider = await stack.enter_async_context(
            open_worker_provider(
                config, credentials, endpoint, provider_windows(windows_pool, config, endpoint)
            )
        )
        locks = await stack.enter_async_context(VoiceLocks(url, config.batch))
        resources = WorkerResources(
            config=config,
            ledger=ledger,
            provider=provider,
            locks=locks,
            prepare=PrepareContext.from_config(config),
            sources=SourceCache(config.inbox),
            breaker=Breaker(config.limits.circuit_breaker),
            worker=name,
        )
        worker = Worker(
            app=app,
            queues=[queue],
            name=name,
            concurrency=options.concurrency,
            additional_context={CONTEXT_KEY: resources},
            install_signal_handlers=False,  # ours below: stop gracefully, then abort
            update_heartbeat_interval=options.heartbeat_s,
            stalled_worker_timeout=options.stalled_after_s,
            # Finished jobs would pile up (a poll job every interval); the ledger is the record.
            delete_jobs="successful",
            shutdown_graceful_timeout=options.shutdown_grace_s,
            fetch_job_polling_interval=min(5.0, options.heartbeat_s),
        )
        log.info(
            "worker.started",
            worker=name,
            batch=config.batch,
            queue=queue,
            database=describe_url(url),
            endpoint=endpoint,
            concurrency=options.concurrency,
        )
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_on_signals, worker, stop, tg.cancel_scope)
                tg.start_soon(_recover_stalled, app, queue, options)
                if options.until_done:
                    tg.start_soon(_until_done, worker, stop, resources, app, queue, options)
                await worker.run()  # type: ignore[no-untyped-call]
                tg.cancel_scope.cancel()
        except procrastinate.exceptions.ProcrastinateException as exc:
            raise RunInterrupted(f"the worker stopped: {exc}") from None
    log.info("worker.stopped", worker=name, reason=stop.reason)
    if stop.reason is None:
        raise RunInterrupted("the worker stopped on its own (lost its database?); see the log")
    if stop.reason == "until-done" and stop.stuck:
        return EXIT_STUCK
    return EXIT_OK


async def _on_signals(worker: Worker, stop: _Stop, scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            if stop.reason is None or stop.reason == "until-done":
                stop.reason = "signal"
                log.warning("worker.stopping", signal=signal.Signals(signum).name)
                worker.stop()  # type: ignore[no-untyped-call]
                continue
            # A second signal: do not wait for the running jobs (they resume elsewhere).
            log.warning("worker.aborting", signal=signal.Signals(signum).name)
            scope.cancel()
            return


async def _recover_stalled(app: procrastinate.App, queue: str, options: WorkerOptions) -> None:
    manager = app.job_manager
    while True:
        await anyio.sleep(options.heartbeat_s)
        try:
            stalled = await manager.get_stalled_jobs(
                queue=queue, seconds_since_heartbeat=options.stalled_after_s
            )
        except procrastinate.exceptions.ConnectorException as exc:
            log.warning("worker.stalled_check_failed", error=str(exc))
            continue
        for job in stalled:
            try:
                await manager.retry_job(job)
            except procrastinate.exceptions.ConnectorException:
                continue  # another worker put it back first
            log.warning(
                "worker.stalled_job_retried",
                job_id=job.id,
                task=job.task_name,
                voice=job.task_kwargs.get("key"),
                attempts=job.attempts,
            )


async def _until_done(
    worker: Worker,
    stop: _Stop,
    res: WorkerResources,
    app: procrastinate.App,
    queue: str,
    options: WorkerOptions,
) -> None:
    interval = min(5.0, max(0.5, options.heartbeat_s))
    while True:
        await anyio.sleep(interval)
        try:
            stats = await app.job_manager.list_tasks_async(queue=queue, task=DRIVE_TASK)
        except procrastinate.exceptions.ConnectorException as exc:
            log.warning("worker.progress_check_failed", error=str(exc))
            continue
        queued = sum(int(s["todo"]) + int(s["doing"]) for s in stats)
        if queued:
            continue
        states = await res.ledger.all()
        if any(s.stage is Phase.SUBMITTED for s in states):
            continue  # the provider is still working; the periodic poll will finish them
        stuck = [s.key for s in states if s.stage.order < Phase.SUBMITTED.order]
        if stop.reason is None:
            stop.reason = "until-done"
            stop.stuck = len(stuck)
            log.info("worker.batch_finished", voices=len(states), stuck=stuck[:20])
            worker.stop()  # type: ignore[no-untyped-call]
        return
