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
  them; the ledger keeps them resumable). The worker then exits 0, as a service should;
- a lost database (PostgreSQL restarted, a failover): procrastinate stops its worker when its
  heartbeat or listener meets the error; the running jobs are cancelled at once (the ledger
  keeps them resumable), and once the database answers again (within ``[limits]
  outage_window``; else exit 3) a fresh procrastinate worker takes over in the same process;
  the old one's jobs come back as stalled jobs.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable
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
from pipeline.ledger.postgres import PostgresLedger, describe_url, error_reason
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
from pipeline.stages.outage import Breaker
from pipeline.stages.prepare import PrepareContext

log = structlog.get_logger("pipeline.scaleout.worker")

EXIT_OK: Final = 0
EXIT_STUCK: Final = 1  #: --until-done: some voices stopped before submission; enqueue again
#: Losses of the database one worker process rides out (each waited for up to the job file's
#: [limits] outage_window, the same patience as with the provider).
_MAX_RESTARTS: Final = 20


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
            breaker=Breaker.for_provider(
                config.limits.circuit_breaker, provider, config.limits.outage_window_s
            ),
            worker=name,
        )

        def make_worker() -> Worker:
            return Worker(
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
                # No grace when procrastinate stops on its own (it lost the database): its
                # running jobs are cancelled at once, so none goes on driving a voice that a
                # stalled-job retry hands to another worker. A signal grants the grace (_stop).
                shutdown_graceful_timeout=0.0,
                fetch_job_polling_interval=min(5.0, options.heartbeat_s),
            )

        workers = _Workers(make_worker, options.shutdown_grace_s)
        log.info(
            "worker.started",
            worker=name,
            batch=config.batch,
            queue=queue,
            database=describe_url(url),
            endpoint=endpoint,
            concurrency=options.concurrency,
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(_on_signals, workers, stop, tg.cancel_scope)
            tg.start_soon(_recover_stalled, app, queue, options)
            if options.until_done:
                tg.start_soon(_until_done, workers, stop, resources, app, queue, options)
            await _supervise(workers, stop, url, config.limits.outage_window_s)
            tg.cancel_scope.cancel()
    log.info("worker.stopped", worker=name, reason=stop.reason)
    if stop.reason == "until-done" and stop.stuck:
        return EXIT_STUCK
    return EXIT_OK


class _Workers:
    """This process's procrastinate worker: the current one, made anew after the database was
    lost (procrastinate stops a worker whose heartbeat or listener meets a database error)."""

    def __init__(self, make: Callable[[], Worker], grace_s: float) -> None:
        self._make = make
        self._grace_s = grace_s
        self.current = make()
        self.restarts = 0

    def renew(self) -> None:
        self.current = self._make()
        self.restarts += 1

    def stop(self) -> None:
        """Stop taking jobs; the running ones get the grace period to finish."""
        self.current.shutdown_graceful_timeout = self._grace_s
        self.current.stop()  # type: ignore[no-untyped-call]


async def _supervise(workers: _Workers, stop: _Stop, url: str, patience_s: float) -> None:
    """Run procrastinate's worker until we stop it; when it stops on its own (the database
    went away: a restart, a failover), wait for the database and start a fresh one. The jobs
    the old one was running are cancelled, recorded by nobody, and come back as stalled jobs
    (``_recover_stalled``); the ledger resumes them where they stopped."""
    while True:
        error: str | None = None
        try:
            await workers.current.run()  # type: ignore[no-untyped-call]
        except procrastinate.exceptions.ProcrastinateException as exc:
            error = str(exc).strip() or type(exc).__name__
        if stop.reason is not None:
            return
        if workers.restarts >= _MAX_RESTARTS:
            raise RunInterrupted(
                f"the worker lost its database {workers.restarts + 1} times: "
                f"{error or 'procrastinate stopped'}; see the log"
            )
        log.warning("worker.database_lost", error=error, restarts=workers.restarts)
        await _wait_for_database(url, patience_s)
        workers.renew()
        log.info("worker.reconnected", restarts=workers.restarts)


async def _wait_for_database(url: str, patience_s: float) -> None:
    """Until the database answers a query; RunInterrupted after ``patience_s``."""
    deadline = anyio.current_time() + patience_s
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                url, autocommit=True, connect_timeout=5
            ) as conn:
                await conn.execute("SELECT 1")
            return
        except psycopg.Error as exc:
            if anyio.current_time() > deadline:
                raise RunInterrupted(
                    f"{describe_url(url)}: the database did not come back within "
                    f"{patience_s:g} s ({error_reason(exc)}); the ledger is true up to the loss: "
                    "start the worker again once it is back"
                ) from None
        await anyio.sleep(1.0)


async def _on_signals(workers: _Workers, stop: _Stop, scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            if stop.reason is None or stop.reason == "until-done":
                stop.reason = "signal"
                log.warning("worker.stopping", signal=signal.Signals(signum).name)
                workers.stop()
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
    workers: _Workers,
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
        try:
            states = await res.ledger.all()
        except LedgerError as exc:  # the database restarting: ask again next round
            log.warning("worker.progress_check_failed", error=str(exc))
            continue
        if any(s.stage is Phase.SUBMITTED for s in states):
            continue  # the provider is still working; the periodic poll will finish them
        stuck = [s.key for s in states if s.stage.order < Phase.SUBMITTED.order]
        if stop.reason is None:
            stop.reason = "until-done"
            stop.stuck = len(stuck)
            log.info("worker.batch_finished", voices=len(states), stuck=stuck[:20])
            workers.stop()
        return
