"""Runs the stages in order, voices concurrently, with one limiter per kind of resource.

``check``: discover → prepare (validate, normalize, pair) → manifest; no network.
``run``:   discover → prepare → create → upload → submit per voice, streaming (uploads of early
voices run while later voices are still being normalized), then one batch-level ``await`` that
polls every pending voice together, then the manifest. The ledger is written before every
remote side effect and after it, so a run killed anywhere resumes where it stopped.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import anyio
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream

from pipeline.config import Credentials, JobConfig
from pipeline.errors import (
    AuthenticationFailed,
    CircuitOpen,
    DeadlineExceeded,
    LedgerError,
    ProviderError,
    ProviderProtocolError,
    ProviderRejected,
    ProviderUnavailable,
    RunInterrupted,
    UploadRejected,
)
from pipeline.ledger import open_ledger
from pipeline.ledger.base import Ledger, Stage, VoiceState
from pipeline.ledger.binding import ensure_binding
from pipeline.lock import batch_lock
from pipeline.providers.base import Provider
from pipeline.records import Finding, PreparedVoice, Severity, VoiceSource, VoiceStatus
from pipeline.report import RunFacts, clip_figures, gather_facts, publish
from pipeline.retry import same_content
from pipeline.stages import manifest
from pipeline.stages.discover import discover
from pipeline.stages.manifest import VoiceResult, files_of
from pipeline.stages.prepare import PrepareContext, prepare

log = structlog.get_logger("pipeline.runner")

#: A voice whose provider calls keep failing (after each call's own retries) is tried this many
#: times per run, pausing _VOICE_PAUSE_S × try in between, before it is left for the next run.
_VOICE_TRIES = 3
_VOICE_PAUSE_S = 2.0

#: Opens a provider for a run: (config, credentials, endpoint base URL) → async context.
ProviderOpener = Callable[[JobConfig, Credentials, str], AbstractAsyncContextManager[Provider]]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """What a command produced; the CLI turns it into an exit code."""

    command: str
    manifest: Path
    results: tuple[VoiceResult, ...]
    interrupted: str | None = None

    @property
    def exit_code(self) -> int:
        if self.interrupted or any(r.status is VoiceStatus.DEFERRED for r in self.results):
            return 3
        return 0 if all(r.status.is_good for r in self.results) else 1

    @property
    def summary(self) -> dict[str, int]:
        return manifest.summarize(self.results)


class Progress:
    """Counters the terminal progress display reads; no-ops when nobody reads them."""

    def __init__(self) -> None:
        self.voices_total = 0
        self.voices_prepared = 0
        self.voices_submitted = 0
        self.voices_done = 0
        self.bytes_uploaded = 0


def _prepare_context(config: JobConfig) -> PrepareContext:
    return PrepareContext(
        profile=config.profile,
        cache_dir=config.cache_dir,
        limits=config.limits,
        cpu=anyio.CapacityLimiter(config.limits.cpu_workers),
    )


@asynccontextmanager
async def prepare_stream(
    config: JobConfig, progress: Progress, sources: Sequence[VoiceSource]
) -> AsyncIterator[MemoryObjectReceiveStream[PreparedVoice]]:
    """Prepare the discovered voices concurrently (a few more than there are cores, so I/O
    overlaps); the stream hands out each voice as soon as it is ready.

    A context manager, not an async generator: the producers' task group then lives in the
    caller's task and scope, so cancellation and errors travel the way anyio expects."""
    progress.voices_total = len(sources)
    ctx = _prepare_context(config)
    send, receive = anyio.create_memory_object_stream[PreparedVoice](config.limits.cpu_workers * 2)
    voice_slots = anyio.CapacityLimiter(config.limits.cpu_workers * 2)

    async def one(src_index: int) -> None:
        async with voice_slots:
            voice = await prepare(sources[src_index], ctx)
        progress.voices_prepared += 1
        await send.send(voice)

    async def produce() -> None:
        async with send, anyio.create_task_group() as tg:
            for i in range(len(sources)):
                tg.start_soon(one, i)

    async with anyio.create_task_group() as tg, receive:
        tg.start_soon(produce)
        yield receive


def _provider_info(config: JobConfig) -> dict[str, str]:
    p = config.provider
    info = {"kind": p.kind, "endpoint": p.endpoint}
    if p.kind == "huawei-metastudio":
        info |= {"edition": p.edition, "upload_mode": p.upload_mode, "project_id": p.project_id}
    else:
        info |= {"api_version": p.api_version, "project": p.project, "upload_mode": p.upload_mode}
    info["profile"] = config.profile.name
    return info


def _prepared_result(voice: PreparedVoice, status: VoiceStatus) -> VoiceResult:
    return VoiceResult(
        voice=voice.key,
        voice_name=voice.meta.voice_name if voice.meta else None,
        status=status,
        files=files_of(voice),
        findings=voice.findings,
    )


async def run_check(config: JobConfig, *, progress: Progress | None = None) -> RunReport:
    """Pre-flight only: no network; every voice ends ``ready`` or ``rejected``."""
    progress = progress or Progress()
    started = datetime.now(UTC)
    results: list[VoiceResult] = []
    prepared: dict[str, PreparedVoice] = {}  # for the report's audio charts
    sources = discover(config.inbox)
    async with prepare_stream(config, progress, sources) as voices:
        async for voice in voices:
            prepared[voice.key] = voice
            status = VoiceStatus.REJECTED if voice.rejected else VoiceStatus.READY
            results.append(_prepared_result(voice, status))
            log.info(
                "voice.checked", voice=voice.key, status=str(status), findings=len(voice.findings)
            )
    facts = RunFacts(clips=clip_figures(prepared))
    return finish_run(
        config, "check", started, results, None, facts=facts, findings=sources.findings
    )


def finish_run(
    config: JobConfig,
    command: str,
    started: datetime,
    results: Sequence[VoiceResult],
    interrupted: str | None,
    *,
    facts: RunFacts | None = None,
    findings: Sequence[Finding] = (),
) -> RunReport:
    doc = manifest.build(
        batch=config.batch,
        command=command,
        provider=_provider_info(config),
        started_at=started,
        finished_at=datetime.now(UTC),
        results=results,
        interrupted=interrupted,
        findings=findings,
    )
    path = manifest.write(doc, config.manifest_dir, config.batch, started)
    report = RunReport(
        command=command, manifest=path, results=tuple(results), interrupted=interrupted
    )
    # The HTML report beside the manifest and the metrics file. publish() logs its own failures
    # and never raises: the manifest written above stands whatever happens there.
    publish(config, doc, path, facts or RunFacts(), exit_code=report.exit_code)
    log.info(
        "run.finished",
        command=command,
        manifest=str(path),
        interrupted=interrupted,
        **report.summary,
    )
    return report


class Breaker:
    """Counts consecutive voices that failed on an unreachable provider; opens past a limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.consecutive = 0

    def ok(self) -> None:
        self.consecutive = 0

    def failed(self) -> bool:
        self.consecutive += 1
        return self.consecutive >= self.limit


async def run_batch(
    config: JobConfig,
    credentials: Credentials,
    *,
    open_provider: ProviderOpener,
    detach: bool | None = None,
    progress: Progress | None = None,
    rebind: bool = False,
) -> RunReport:
    """The whole pipeline for one batch; safe to run again at any time."""
    progress = progress or Progress()
    detach = config.await_.mode == "detach" if detach is None else detach
    started = datetime.now(UTC)
    sources = discover(config.inbox)  # a missing inbox is a ConfigError before anything else
    prepared: dict[str, PreparedVoice] = {}
    interrupted: str | None = None
    async with AsyncExitStack() as stack:
        stack.enter_context(batch_lock(config.state_dir, config.batch))
        ledger = await stack.enter_async_context(open_ledger(config))
        await ensure_binding(ledger, config, rebind=rebind)
        endpoint = config.provider.endpoint
        if config.provider.is_emulator:
            from pipeline.emulator.server import Emulator  # only runs that use it pay the import

            assert config.emulator is not None
            emu = await stack.enter_async_context(Emulator(config.emulator))
            endpoint = emu.base_url
            log.info("emulator.started", base_url=endpoint)
        provider = await stack.enter_async_context(open_provider(config, credentials, endpoint))
        try:
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_watch_signals, scope)
                    try:
                        await send_all(config, ledger, provider, sources, prepared, progress)
                        # Detached runs still collect what finished since the last run (one
                        # polling round), so a detach-only cron setup sees its results.
                        await await_batch(
                            config, ledger, provider, prepared, progress, once=bool(detach)
                        )
                    finally:
                        tg.cancel_scope.cancel()
            if scope.cancelled_caught:
                interrupted = "signal"
        except* RunInterrupted as group:
            interrupted = str(_first_leaf(group))
        except* ProviderError as group:
            # Errors of single calls end in drive_voice; one that escapes (e.g. the Azure
            # project ensured before the first create) means no voice can be sent.
            interrupted = f"the provider could not be used: {_first_leaf(group)}"
        except* (LedgerError, OSError) as group:
            # The disk filled up (or the ledger's database went away) under the run. What the
            # ledger holds is true up to the failed write; the manifest below says the rest.
            interrupted = _environment_fault(_first_leaf(group), config)
        results = await _results_or_ledger_fault(ledger, prepared, sources, config)
        if interrupted is None:
            interrupted = _deferred_reason(results)
        facts = await gather_facts(ledger, prepared, bytes_uploaded=provider.bytes_uploaded)
    try:
        return finish_run(
            config, "run", started, results, interrupted, facts=facts, findings=sources.findings
        )
    except OSError as exc:
        raise RunInterrupted(
            f"{interrupted or 'run finished'}; the manifest could not be written to "
            f"{config.manifest_dir} ({exc.strerror or exc}); the ledger {_ledger_where(config)} "
            "holds every voice's state: free space and run again (`voice-onboard status` shows it)"
        ) from None


def _ledger_where(config: JobConfig) -> str:
    return "in the database" if config.ledger_url else f"at {config.ledger_path}"


def _environment_fault(exc: BaseException, config: JobConfig) -> str:
    """One line for a fault of the machine (disk full, database gone) that ended the run."""
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}; free space or fix the folder and run again"
    return f"{exc}; the ledger {_ledger_where(config)} is true up to this point; run again"


async def _results_or_ledger_fault(
    ledger: Ledger,
    prepared: Mapping[str, PreparedVoice],
    sources: Sequence[VoiceSource],
    config: JobConfig,
) -> list[VoiceResult]:
    try:
        return await collect_results(ledger, prepared, sources)
    except LedgerError as exc:
        raise RunInterrupted(
            f"the ledger cannot be read to write the manifest: {exc}; run again"
        ) from None


def _deferred_reason(results: Sequence[VoiceResult]) -> str | None:
    """The run's one line when voices could not be sent (they make it exit 3), else None."""
    deferred = [r for r in results if r.status is VoiceStatus.DEFERRED]
    if not deferred:
        return None
    errors = Counter(r.last_error for r in deferred if r.last_error)
    why = errors.most_common(1)[0][0] if errors else "the run ended before they were sent"
    return f"{len(deferred)} of {len(results)} voices could not be sent: {why}"


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real exception inside (possibly nested) task-group exception groups."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


async def _watch_signals(scope: anyio.CancelScope) -> None:
    """SIGTERM/SIGINT: stop starting new work and let the run write its manifest (exit 3)."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.warning("run.signal", signal=signal.Signals(signum).name)
            scope.cancel()
            return


async def send_all(
    config: JobConfig,
    ledger: Ledger,
    provider: Provider,
    sources: Sequence[VoiceSource],
    prepared: dict[str, PreparedVoice],
    progress: Progress,
) -> None:
    breaker = Breaker(config.limits.circuit_breaker)
    claims = Claims.of(await ledger.all())
    # Voices in flight on the network side at once; uploads and API calls have their own limits
    # inside the provider, this only bounds memory and open tasks for very large batches.
    in_flight = anyio.Semaphore(max(config.limits.uploads * 4, 16))
    async with (
        anyio.create_task_group() as tg,
        prepare_stream(config, progress, sources) as voices,
    ):
        async for voice in voices:
            prepared[voice.key] = voice
            if voice.rejected:
                log.info("voice.rejected", voice=voice.key, findings=len(voice.findings))
                continue
            await in_flight.acquire()
            tg.start_soon(
                _drive_task, voice, ledger, provider, breaker, claims, in_flight, progress
            )


class Claims:
    """Remote ids the ledger's voices hold (current and earlier jobs), by voice: a create that
    reconciles with the provider must never adopt another voice's job."""

    def __init__(self) -> None:
        self._by_voice: dict[str, set[str]] = {}

    @classmethod
    def of(cls, states: Sequence[VoiceState]) -> Claims:
        claims = cls()
        for state in states:
            claims.add(state)
        return claims

    def add(self, state: VoiceState) -> None:
        self._by_voice.setdefault(state.key, set()).update(state.job_ids, state.history)

    def others(self, key: str) -> frozenset[str]:
        return frozenset(i for k, ids in self._by_voice.items() if k != key for i in ids)


async def _drive_task(
    voice: PreparedVoice,
    ledger: Ledger,
    provider: Provider,
    breaker: Breaker,
    claims: Claims,
    in_flight: anyio.Semaphore,
    progress: Progress,
) -> None:
    try:
        with structlog.contextvars.bound_contextvars(voice=voice.key):
            await drive_voice(voice, ledger, provider, breaker, claims=claims)
        progress.voices_submitted += 1
        progress.bytes_uploaded = provider.bytes_uploaded
    finally:
        in_flight.release()


async def initial_state(voice: PreparedVoice, ledger: Ledger) -> VoiceState:
    assert voice.meta is not None  # a voice without voice.toml is rejected
    state = await ledger.get(voice.key)
    if state is None:
        state = VoiceState(
            batch=ledger.batch,
            key=voice.key,
            fingerprint=voice.fingerprint,
            voice_name=voice.meta.voice_name,
            stage=Stage.PREPARED,
            status=VoiceStatus.PENDING,
        )
        await ledger.put(state, detail="first seen")
        return state
    if state.status is VoiceStatus.REJECTED:
        # Rejected earlier (workers record that) and passing the pre-flight now: nothing was
        # ever sent, so it starts afresh.
        fresh = state.advance(
            Stage.PREPARED,
            status=VoiceStatus.PENDING,
            fingerprint=voice.fingerprint,
            findings=(),
            last_error=None,
        )
        await ledger.put(fresh, detail="passes the pre-flight now")
        return fresh
    if same_content(state.fingerprint, voice.fingerprint):  # a forced retry's suffix aside
        return state
    if state.stage in (Stage.PREPARED, Stage.CREATING):
        return replace(state, fingerprint=voice.fingerprint)
    if state.stage in (Stage.CREATED, Stage.UPLOADED):
        # Not submitted yet: the same remote job takes the new files (a PUT overwrites).
        new = state.advance(Stage.CREATED, fingerprint=voice.fingerprint, uploaded=())
        await ledger.put(new, detail="input changed before submission; re-uploading")
        return new
    # Submitted or finished: never re-sent on its own (it may cost a training); keep the old
    # result and say so. `voice-onboard retry` starts a new remote job on purpose.
    note = Finding(
        severity=Severity.WARNING,
        code="voice.changed_after_submit",
        file=voice.key,
        message="the recordings changed after submission; the earlier job is kept "
        "(use `voice-onboard retry` to train again)",
    )
    if note not in state.findings:
        state = replace(state, findings=(*state.findings, note))
        await ledger.put(state)
    return state


async def drive_voice(
    voice: PreparedVoice,
    ledger: Ledger,
    provider: Provider,
    breaker: Breaker,
    *,
    claims: Claims | None = None,
) -> None:
    """create → upload → submit for one voice, checkpointing the ledger around each step.
    ``claims``: the remote ids other voices hold (read from the ledger when not given)."""
    state = await initial_state(voice, ledger)

    async def save(s: VoiceState) -> None:
        await ledger.put(s)

    tries = 0
    while state.stage.order < Stage.SUBMITTED.order:
        try:
            if state.stage in (Stage.PREPARED, Stage.CREATING):
                if state.stage is Stage.PREPARED:
                    state = state.advance(Stage.CREATING)
                    await ledger.put(state)  # intent, durable before the create call
                known = claims or Claims.of(await ledger.all())
                state = await provider.create(voice, state, save, taken=known.others(voice.key))
                known.add(state)
            elif state.stage is Stage.CREATED:
                state = await provider.upload(voice, state, save)
            else:
                if state.stage is Stage.UPLOADED:
                    state = state.advance(Stage.SUBMITTING)
                    await ledger.put(state)  # intent, durable before the commit call
                state = await provider.submit(voice, state, save)
        except AuthenticationFailed as exc:
            # Every other voice would fail the same way: stop the run (exit 3) at once.
            state = replace(state, attempts=state.attempts + 1, last_error=str(exc))
            await ledger.put(state, detail="credentials rejected")
            raise CircuitOpen(f"the provider rejected our credentials: {exc}") from None
        except ProviderRejected as exc:
            state = state.advance(
                Stage.DONE,
                status=VoiceStatus.FAILED,
                attempts=state.attempts + 1,
                last_error=str(exc),
                findings=(
                    *state.findings,
                    Finding(
                        severity=Severity.ERROR,
                        code="remote.upload_failed"
                        if isinstance(exc, UploadRejected)
                        else "remote.error",
                        file=None,
                        message=str(exc),
                    ),
                ),
            )
            await ledger.put(state, detail="provider rejected a request")
            breaker.ok()
            return
        except (ProviderUnavailable, ProviderProtocolError) as exc:
            # The call's own retries are spent (or the answer made no sense, which a later
            # try may not repeat). Give the voice a few more tries with a growing
            # pause (a provider hiccup of a minute should not cost a whole nightly run); then
            # leave it where it stopped — the next run resumes it — and count it towards the
            # circuit breaker.
            state = replace(state, attempts=state.attempts + 1, last_error=str(exc))
            await ledger.put(state, detail="provider unavailable")
            tries += 1
            if tries < _VOICE_TRIES:
                log.warning("voice.retrying", stage=str(state.stage), error=str(exc), tries=tries)
                await anyio.sleep(_VOICE_PAUSE_S * tries)
                continue
            log.warning("voice.deferred", stage=str(state.stage), error=str(exc))
            if breaker.failed():
                raise CircuitOpen(
                    f"the provider kept failing ({breaker.consecutive} voices in a row): {exc}"
                ) from None
            return
        await ledger.put(state)
        log.info("voice.stage", stage=str(state.stage), status=str(state.status))
        if state.stage is Stage.DONE:
            break
    breaker.ok()


async def await_batch(
    config: JobConfig,
    ledger: Ledger,
    provider: Provider,
    prepared: Mapping[str, PreparedVoice],
    progress: Progress,
    *,
    once: bool = False,
) -> None:
    """Poll every submitted voice of the batch together until all are terminal (``once``: a
    single round, for detached runs)."""
    deadline = anyio.current_time() + config.await_.deadline_s
    interval = config.await_.poll_interval_s
    while True:
        pending = [s for s in await ledger.all() if s.stage is Stage.SUBMITTED]
        if not pending:
            return
        try:
            changed = await provider.poll(pending, prepared)
        except (ProviderUnavailable, ProviderProtocolError) as exc:
            log.warning("await.poll_failed", error=str(exc))
            changed = []
        for state in changed:
            await ledger.put(state)
            if state.stage is Stage.DONE:
                progress.voices_done += 1
                log.info(
                    "job.status_changed",
                    voice=state.key,
                    status=str(state.status),
                    remote_state=state.remote.get("state"),
                )
        still = len(pending) - sum(1 for s in changed if s.stage is Stage.DONE)
        if still == 0 or once:
            return
        if anyio.current_time() + interval > deadline:
            raise DeadlineExceeded(
                f"deadline of {config.await_.deadline_s:g} s passed with {still} voices pending"
            )
        await anyio.sleep(interval)


async def collect_results(
    ledger: Ledger,
    prepared: Mapping[str, PreparedVoice],
    sources: Sequence[VoiceSource] | None = None,
) -> list[VoiceResult]:
    """One manifest entry per voice: every voice discovered in the inbox (even one a cut-short
    run never reached), every voice the ledger knows (even one gone from the inbox), with this
    run's pre-flight and the ledger's state. A voice is ``pending`` only once the provider has
    accepted it for training; one that was not sent (yet) is ``deferred``. ``sources``: this
    run's view of the inbox (None for a manifest written from the ledger alone)."""
    states = {s.key: s for s in await ledger.all()}
    discovered = {s.key: s for s in sources or ()}
    results: list[VoiceResult] = []
    for key in sorted(set(prepared) | set(states) | set(discovered)):
        voice = prepared.get(key)
        state = states.get(key)
        if voice is not None and voice.rejected:
            results.append(_prepared_result(voice, VoiceStatus.REJECTED))
            continue
        findings: tuple[Finding, ...] = voice.findings if voice else ()
        if state is None:
            source = discovered.get(key)
            name = voice.meta if voice else source.meta if source else None
            results.append(
                VoiceResult(
                    voice=key,
                    voice_name=name.voice_name if name else None,
                    status=VoiceStatus.DEFERRED,
                    files=files_of(voice) if voice else (),
                    findings=findings,
                    last_error=None if voice else "the run ended before its pre-flight",
                )
            )
            continue
        status = outcome(state)
        if status is VoiceStatus.DEFERRED and sources is not None and key not in discovered:
            # Never sent, and its folder is gone: no run can send it until it is back.
            status = VoiceStatus.REJECTED
            findings = (*findings, _GONE)
        results.append(
            VoiceResult(
                voice=key,
                voice_name=state.voice_name,
                status=status,
                remote=state.remote,
                files=files_of(voice) if voice else (),
                findings=(*findings, *state.findings),
                last_error=state.last_error if status is not VoiceStatus.SUCCEEDED else None,
            )
        )
    return results


_GONE = Finding(
    severity=Severity.ERROR,
    code="voice.gone",
    file=None,
    message="the voice folder is no longer in the inbox and was never sent; put it back to send it",
)


def outcome(state: VoiceState) -> VoiceStatus:
    """A ledger state as a manifest status: terminal as recorded; ``pending`` once submitted
    (the provider is training it); ``deferred`` before that, whatever ids it already has."""
    if state.stage is Stage.DONE:
        return state.status
    if state.stage is Stage.SUBMITTED:
        return VoiceStatus.PENDING
    return VoiceStatus.DEFERRED
