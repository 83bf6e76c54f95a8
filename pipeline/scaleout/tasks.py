"""What one worker job does: drive one voice to ``submitted``, or poll the batch once.

A drive job is ``prepare`` (validate, normalize, pair — the audio cache is per host, in
``state_dir``) followed by the runner's own ``drive_voice`` on the shared ledger. That function
writes each intent before its remote call, and the Huawei provider looks for an earlier job of
the voice before creating one, so a job retried after its worker died resumes where the ledger
says and never pays for a second remote job. Rejected voices are recorded in the ledger
(``done``/``rejected`` with their findings), so ``manifest`` can report them from any host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread
import structlog

from pipeline.config import JobConfig
from pipeline.errors import PipelineError, ProviderUnavailable
from pipeline.ledger.base import Ledger
from pipeline.providers.base import Provider
from pipeline.records import Phase, PreparedVoice, Severity, VoiceSource, VoiceState, VoiceStatus
from pipeline.scaleout.locks import VoiceLocks
from pipeline.stages.discover import discover
from pipeline.stages.outage import Breaker
from pipeline.stages.prepare import PrepareContext, prepare
from pipeline.stages.send import drive_voice

log = structlog.get_logger("pipeline.scaleout.tasks")

#: How long a discovery of the inbox is trusted before a job looks again: short, so a voice
#: fixed and re-enqueued is prepared from its new files; long enough that a busy worker does
#: not list a big inbox for every voice.
DISCOVERY_TTL_S = 10.0


class VoiceBusy(PipelineError):
    """Another worker holds this voice's lock; the job is retried later."""


class VoiceNotSettled(PipelineError):
    """The voice did not reach ``submitted`` (the provider kept failing); retried later."""


class SourceCache:
    """The inbox's voices as last discovered, refreshed when stale or when a key is missing."""

    def __init__(self, inbox: Path) -> None:
        self._inbox = inbox
        self._by_key: dict[str, VoiceSource] = {}
        self._at = -DISCOVERY_TTL_S
        self._lock = anyio.Lock()

    async def get(self, key: str) -> VoiceSource | None:
        async with self._lock:
            stale = anyio.current_time() - self._at > DISCOVERY_TTL_S
            if stale or key not in self._by_key:
                sources = await anyio.to_thread.run_sync(discover, self._inbox)
                self._by_key = {s.key: s for s in sources}
                self._at = anyio.current_time()
            return self._by_key.get(key)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerResources:
    """What every job of one worker process shares (opened once per process)."""

    config: JobConfig
    ledger: Ledger
    provider: Provider
    locks: VoiceLocks
    prepare: PrepareContext
    sources: SourceCache
    breaker: Breaker
    worker: str  #: host:pid, for logs
    #: voices this process prepared, for the poller's file-name mapping of audit results
    prepared: dict[str, PreparedVoice] = field(default_factory=dict)


async def drive_one(res: WorkerResources, key: str) -> None:
    """The drive job of voice ``key``: raises (so procrastinate retries) until it is sent."""
    with structlog.contextvars.bound_contextvars(voice=key, worker=res.worker):
        async with res.locks.hold(key) as held:
            if not held:
                log.info("task.voice_busy")
                raise VoiceBusy(f"voice {key!r} is being driven by another worker")
            log.info("task.voice_started")
            try:
                await _drive_locked(res, key)
            except VoiceNotSettled:
                raise  # logged where it was decided
            except Exception as exc:
                # procrastinate retries it; the log says why (its own log is plain text).
                log.warning("task.voice_failed", error=f"{type(exc).__name__}: {exc}")
                raise


async def _drive_locked(res: WorkerResources, key: str) -> None:
    state = await res.ledger.get(key)
    if _sent(state):
        # Another job (or a `run`) got it there first; polling takes over from here.
        log.info("task.voice_already_sent", stage=str(state.stage) if state else None)
        return
    source = await res.sources.get(key)
    if source is None:
        log.warning("task.voice_gone", inbox=str(res.config.inbox))
        return
    voice = await prepare(source, res.prepare)
    res.prepared[key] = voice
    if voice.rejected:
        await _record_rejected(res.ledger, voice, state)
        return
    if state is not None and state.status is VoiceStatus.REJECTED:
        # Rejected earlier, fixed since: start over as a voice never sent (nothing was).
        assert voice.meta is not None
        fresh = VoiceState(
            batch=res.ledger.batch,
            key=key,
            fingerprint=voice.fingerprint,
            voice_name=voice.meta.voice_name,
            stage=Phase.PREPARED,
            status=VoiceStatus.PENDING,
        )
        await res.ledger.put(fresh, detail="pre-flight passes now")
    await drive_voice(voice, res.ledger, res.provider, res.breaker)
    after = await res.ledger.get(key)
    if after is None or after.stage.order < Phase.SUBMITTED.order:
        stage = after.stage if after else None
        error = after.last_error if after else None
        log.warning("task.voice_deferred", stage=str(stage), error=error)
        raise VoiceNotSettled(f"voice {key!r} stopped at {stage}: {error}")
    log.info("task.voice_sent", stage=str(after.stage), status=str(after.status))


def _sent(state: VoiceState | None) -> bool:
    return (
        state is not None
        and state.stage.order >= Phase.SUBMITTED.order
        and state.status is not VoiceStatus.REJECTED
    )


async def _record_rejected(ledger: Ledger, voice: PreparedVoice, state: VoiceState | None) -> None:
    """Keep a rejected voice in the ledger with its findings (``manifest`` reads them there)."""
    if state is not None and state.stage is not Phase.PREPARED:
        if state.status is VoiceStatus.REJECTED and state.fingerprint == voice.fingerprint:
            return  # already recorded as it is
        if state.status is not VoiceStatus.REJECTED:
            # Something was sent before the input broke: keep that record, the remote job is real.
            log.warning("task.voice_rejected_after_send", stage=str(state.stage))
            return
    errors = [f for f in voice.findings if f.severity is Severity.ERROR]
    rejected = VoiceState(
        batch=ledger.batch,
        key=voice.key,
        fingerprint=voice.fingerprint,
        voice_name=voice.meta.voice_name if voice.meta else voice.key,
        stage=Phase.DONE,
        status=VoiceStatus.REJECTED,
        last_error=errors[0].message if errors else None,
        findings=voice.findings,
    )
    await ledger.put(rejected, detail="pre-flight errors")
    log.info("task.voice_rejected", findings=len(voice.findings))


async def poll_once(res: WorkerResources) -> int:
    """One polling round over the batch's submitted voices; returns how many changed."""
    pending = [s for s in await res.ledger.all() if s.stage is Phase.SUBMITTED]
    if not pending:
        return 0
    try:
        changed = await res.provider.poll(pending, res.prepared)
    except ProviderUnavailable as exc:
        log.warning("await.poll_failed", error=str(exc), worker=res.worker)
        return 0
    for state in changed:
        await res.ledger.put(state)
        if state.stage is Phase.DONE:
            log.info(
                "job.status_changed",
                voice=state.key,
                status=str(state.status),
                remote_state=state.remote.get("state"),
                worker=res.worker,
            )
    log.info("await.polled", pending=len(pending), changed=len(changed), worker=res.worker)
    return len(changed)
