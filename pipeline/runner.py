"""Runs the stages in order, voices concurrently, with one limiter per kind of resource.

``check``: discover → prepare (validate, normalize, pair) → manifest; no network.
``run``:   discover → prepare → create → upload → submit per voice, streaming (uploads of early
voices run while later voices are still being normalized), then one batch-level ``await`` that
polls every pending voice together, then the manifest. The ledger is written before every
remote side effect and after it, so a run killed anywhere resumes where it stopped."""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import UTC, datetime

import anyio
import anyio.abc
import structlog

from pipeline.config import AwaitMode, Credentials, JobConfig
from pipeline.errors import (
    CircuitOpen,
    LedgerError,
    ProviderError,
    RunInterrupted,
)
from pipeline.ledger import open_ledger
from pipeline.ledger.base import Ledger
from pipeline.ledger.binding import ensure_binding, forget_ended_emulator_jobs
from pipeline.lock import batch_lock
from pipeline.providers.base import Provider
from pipeline.records import (
    PreparedVoice,
    VoiceSource,
    VoiceStatus,
)
from pipeline.report import RunFacts, clip_figures, gather_facts
from pipeline.stages.await_ import await_batch
from pipeline.stages.discover import discover
from pipeline.stages.manifest import VoiceResult
from pipeline.stages.outage import Breaker, unreachable_line
from pipeline.stages.results import (
    RunReport,
    _deferred_reason,
    _prepared_result,
    collect_results,
    finish_run,
)
from pipeline.stages.send import send_all
from pipeline.stages.stream import Progress, prepare_stream, workers_started_early

__all__ = ["Progress", "ProviderOpener", "RunReport", "run_batch", "run_check"]

log = structlog.get_logger("pipeline.runner")

#: Opens a provider for a run: (config, credentials, endpoint base URL) → async context.
ProviderOpener = Callable[[JobConfig, Credentials, str], AbstractAsyncContextManager[Provider]]


async def run_check(
    config: JobConfig, *, progress: Progress | None = None, voices: Sequence[str] = ()
) -> RunReport:
    """Pre-flight only: no network; every voice ends ``ready`` or ``rejected``. ``voices``:
    only the voice folders matching these globs (none: all)."""
    progress = progress or Progress()
    started = datetime.now(UTC)
    results: list[VoiceResult] = []
    prepared: dict[str, PreparedVoice] = {}  # for the report's audio charts
    with workers_started_early(config):
        sources = discover(config.inbox).only(voices)
        async with prepare_stream(config, progress, sources) as stream:
            async for voice in stream:
                prepared[voice.key] = voice
                status = VoiceStatus.REJECTED if voice.rejected else VoiceStatus.READY
                results.append(_prepared_result(voice, status))
                log.info(
                    "voice.checked",
                    voice=voice.key,
                    status=str(status),
                    findings=len(voice.findings),
                )
    facts = RunFacts(clips=clip_figures(prepared))
    return finish_run(
        config, "check", started, results, None, facts=facts, findings=sources.findings
    )


async def run_batch(
    config: JobConfig,
    credentials: Credentials,
    *,
    open_provider: ProviderOpener,
    detach: bool | None = None,
    progress: Progress | None = None,
    rebind: bool = False,
    voices: Sequence[str] = (),
) -> RunReport:
    """The whole pipeline for one batch; safe to run again at any time. ``voices``: only the
    voice folders matching these globs (none: all), e.g. one voice on a first real run."""
    progress = progress or Progress()
    detach = config.await_.mode is AwaitMode.DETACH if detach is None else detach
    started = datetime.now(UTC)
    prepared: dict[str, PreparedVoice] = {}
    interrupted: str | None = None
    # Whether an unreachable provider is the run's story (not a signal, deadline or disk).
    outage_told = True
    async with AsyncExitStack() as stack:
        stack.enter_context(workers_started_early(config))
        # A missing inbox (or a --voices glob matching nothing) is a ConfigError before
        # anything.
        sources = discover(config.inbox).only(voices)
        stack.enter_context(batch_lock(config.state_dir, config.batch))
        ledger = await stack.enter_async_context(open_ledger(config))
        await ensure_binding(ledger, config, rebind=rebind)
        if config.provider.is_emulator:
            await forget_ended_emulator_jobs(ledger)
        # endpoint = "emulator": the command layer's opener starts the in-process emulator.
        provider = await stack.enter_async_context(
            open_provider(config, credentials, config.provider.endpoint)
        )
        limits = config.limits
        breaker = Breaker.for_provider(limits.circuit_breaker, provider, limits.outage_window_s)
        try:
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    await tg.start(_watch_signals, scope, len(sources))
                    try:
                        await send_all(
                            config, ledger, provider, sources, prepared, progress, breaker=breaker
                        )
                        # Detached runs still collect what finished since the last run (one
                        # polling round), so a detach-only cron setup sees its results.
                        await await_batch(
                            config,
                            ledger,
                            provider,
                            prepared,
                            progress,
                            once=bool(detach),
                            breaker=breaker,
                        )
                    finally:
                        tg.cancel_scope.cancel()
            if scope.cancelled_caught:
                interrupted, outage_told = "signal", False
        except* RunInterrupted as group:
            leaf = _first_leaf(group)
            interrupted, outage_told = str(leaf), isinstance(leaf, CircuitOpen)
        except* ProviderError as group:
            # Errors of single calls end in drive_voice; one that escapes (e.g. the Azure
            # project ensured before the first create) means no voice can be sent.
            interrupted = f"the provider could not be used: {_first_leaf(group)}"
        except* (LedgerError, OSError) as group:
            # The disk filled up (or the ledger's database went away) under the run. What the
            # ledger holds is true up to the failed write; the manifest below says the rest.
            interrupted, outage_told = _environment_fault(_first_leaf(group), config), False
        results = await _results_or_ledger_fault(ledger, prepared, sources, config)
        if interrupted is None:
            interrupted = _deferred_reason(results)
        if interrupted is not None and outage_told:
            # Said as since when and why, for every way the run ended on it (the breaker,
            # the await stage giving up, voices deferred); None when the provider answers.
            service = config.provider.kind.value.partition("-")[0]
            interrupted = unreachable_line(breaker, service, results) or interrupted
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


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real exception inside (possibly nested) task-group exception groups."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


async def _watch_signals(
    scope: anyio.CancelScope,
    voices: int,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """SIGTERM/SIGINT: stop starting new work and let the run write its manifest (exit 3).
    Started before any voice is sent, so no signal finds the default handler (which would
    end the process without a manifest); ``run.started`` in the log says it is in place."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        log.info("run.started", voices=voices)
        task_status.started()
        async for signum in signals:
            log.warning("run.signal", signal=signal.Signals(signum).name)
            scope.cancel()
            return
