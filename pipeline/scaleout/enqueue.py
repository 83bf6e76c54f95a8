"""``voice-onboard enqueue JOB``: one drive job per voice of the inbox that still needs one.

A voice is skipped when it already has a job waiting or running (procrastinate's queueing
lock would refuse a second one anyway), or when the ledger says it was sent (``submitted``:
the periodic poll takes it from there) or finished. A rejected voice is enqueued again only
when one of its files changed after the rejection, so a fixed voice is picked up by the next
cron run and an unchanged one is not re-checked forever. Running it again therefore adds
nothing, and after a crash or a failed job it adds exactly what is missing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
import procrastinate
import structlog

from pipeline.config import JobConfig
from pipeline.ledger.binding import ensure_binding
from pipeline.ledger.postgres import PostgresLedger
from pipeline.records import Phase, VoiceSource, VoiceState, VoiceStatus
from pipeline.scaleout.app import (
    DRIVE_TASK,
    build_app,
    ensure_schema,
    queue_of,
    shared_ledger_url,
    voice_lock,
)
from pipeline.stages.discover import discover

log = structlog.get_logger("pipeline.scaleout.enqueue")


@dataclass(frozen=True, slots=True, kw_only=True)
class EnqueueReport:
    """What one ``enqueue`` did, by voice key."""

    batch: str
    deferred: tuple[str, ...]  #: a new job was queued
    queued: tuple[str, ...]  #: a job was already waiting or running
    settled: tuple[str, ...]  #: sent or finished per the ledger

    def summary(self) -> str:
        n = len(self.deferred)
        return (
            f"batch {self.batch}: enqueued {n} voice{'' if n == 1 else 's'} "
            f"({len(self.queued)} already queued or running, "
            f"{len(self.settled)} already sent or finished)"
        )


def _changed_since(folder: Path, since: float) -> bool:
    """Whether the voice folder or any file in it was modified after ``since``."""
    try:
        if folder.stat().st_mtime > since:
            return True
        return any(entry.stat().st_mtime > since for entry in os.scandir(folder))
    except OSError:
        return True  # unreadable now: let the job look and report it


def _settled(state: VoiceState | None, source: VoiceSource) -> bool:
    if state is None or state.stage.order < Phase.SUBMITTED.order:
        return False
    if state.status is VoiceStatus.REJECTED:
        return not _changed_since(source.folder, state.updated_at)
    return True


async def _active_keys(app: procrastinate.App, queue: str) -> set[str]:
    keys: set[str] = set()
    for status in ("todo", "doing"):
        for job in await app.job_manager.list_jobs_async(
            queue=queue, task=DRIVE_TASK, status=status
        ):
            keys.add(str(job.task_kwargs.get("key")))
    return keys


async def enqueue(config: JobConfig) -> EnqueueReport:
    """Defer the missing drive jobs of ``config``'s batch; see the module docstring."""
    url = shared_ledger_url(config)
    sources = await anyio.to_thread.run_sync(discover, config.inbox)
    app = build_app(config, url)
    queue = queue_of(config.batch)
    deferred: list[str] = []
    queued: list[str] = []
    settled: list[str] = []
    async with PostgresLedger(url, config.batch) as ledger, app.open_async():
        await ensure_binding(ledger, config)
        await ensure_schema(app, url)
        states = {s.key: s for s in await ledger.all()}
        active = await _active_keys(app, queue)
        for source in sources:
            key = source.key
            if key in active:
                queued.append(key)
                continue
            settled_now = await anyio.to_thread.run_sync(_settled, states.get(key), source)
            if settled_now:
                settled.append(key)
                continue
            lock = voice_lock(config.batch, key)
            deferrer = app.configure_task(DRIVE_TASK, lock=lock, queueing_lock=lock)
            try:
                await deferrer.defer_async(key=key)
            except procrastinate.exceptions.AlreadyEnqueued:
                queued.append(key)  # another enqueue (or a retry) got there first
                continue
            deferred.append(key)
    report = EnqueueReport(
        batch=config.batch,
        deferred=tuple(deferred),
        queued=tuple(queued),
        settled=tuple(settled),
    )
    log.info(
        "enqueue.finished",
        batch=config.batch,
        deferred=len(deferred),
        queued=len(queued),
        settled=len(settled),
    )
    return report
