"""The send stage, per voice: create → upload → submit, the ledger checkpointed around each
remote side effect, provider faults retried a few times per voice (an outage waited out, see
:mod:`.outage`), a circuit breaker per run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import anyio
import structlog

from pipeline.config import JobConfig
from pipeline.errors import (
    AuthenticationFailed,
    CircuitOpen,
    ProviderError,
    ProviderProtocolError,
    ProviderRejected,
    ProviderUnavailable,
    UploadRejected,
)
from pipeline.ledger.base import Ledger
from pipeline.providers.base import Provider, TenantLimits
from pipeline.records import (
    Finding,
    Phase,
    PreparedVoice,
    Severity,
    VoiceSource,
    VoiceState,
    VoiceStatus,
    same_content,
)
from pipeline.stages.outage import Breaker
from pipeline.stages.stream import Progress, prepare_stream
from pipeline.stages.tenant import read_tenant, within_tenant

# Breaker lived here before the outage rules moved to .outage; callers may still import it here.
__all__ = ["Breaker", "Claims", "drive_voice", "initial_state", "send_all"]

log = structlog.get_logger("pipeline.send")

#: A voice whose provider calls keep failing (after each call's own retries) is tried this many
#: times per run, pausing _VOICE_PAUSE_S × try in between, before it is left for the next run.
_VOICE_TRIES = 3

_VOICE_PAUSE_S = 2.0


async def send_all(
    config: JobConfig,
    ledger: Ledger,
    provider: Provider,
    sources: Sequence[VoiceSource],
    prepared: dict[str, PreparedVoice],
    progress: Progress,
    *,
    breaker: Breaker | None = None,
) -> None:
    """Send every voice that passes the pre-flight, streaming; ``breaker``: the run's (one
    counting alone when not given)."""
    breaker = breaker or Breaker(config.limits.circuit_breaker)
    states = await ledger.all()
    claims = Claims.of(states)
    tenant: TenantLimits | None = None
    unread: ProviderError | None = None  # the tenant could not be read: nothing is created
    try:
        tenant = await read_tenant(config, provider, sources, states)  # once, before any create
    except AuthenticationFailed as exc:
        raise CircuitOpen(f"the provider rejected our credentials: {exc}") from None
    except (ProviderUnavailable, ProviderProtocolError) as exc:
        log.warning("tenant.unread", error=str(exc))
        unread = exc
    # The tenant's range judges voices not created yet; a remote job keeps its own verdict.
    created = {s.key for s in states if s.stage.order >= Phase.CREATED.order}
    # Voices in flight on the network side at once; uploads and API calls have their own limits
    # inside the provider, this only bounds memory and open tasks for very large batches.
    in_flight = anyio.Semaphore(max(config.limits.uploads * 4, 16))
    async with (
        anyio.create_task_group() as tg,
        prepare_stream(config, progress, sources) as voices,
    ):
        async for prepared_voice in voices:
            voice = prepared_voice
            if voice.key not in created:
                voice = within_tenant(voice, tenant, config)
            prepared[voice.key] = voice
            if voice.rejected:
                log.info("voice.rejected", voice=voice.key, findings=len(voice.findings))
                continue
            if unread is not None and voice.key not in created:
                # Its quota and duration range are unknown: left for the next run (deferred).
                state = await initial_state(voice, ledger)
                await ledger.put(
                    replace(state, attempts=state.attempts + 1, last_error=str(unread))
                )
                if breaker.failed():
                    raise CircuitOpen(breaker.open_message(unread))
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
            stage=Phase.PREPARED,
            status=VoiceStatus.PENDING,
        )
        await ledger.put(state, detail="first seen")
        return state
    if state.status is VoiceStatus.REJECTED:
        # Rejected earlier (workers record that) and passing the pre-flight now: nothing was
        # ever sent, so it starts afresh.
        fresh = state.advance(
            Phase.PREPARED,
            status=VoiceStatus.PENDING,
            fingerprint=voice.fingerprint,
            findings=(),
            last_error=None,
        )
        await ledger.put(fresh, detail="passes the pre-flight now")
        return fresh
    if same_content(state.fingerprint, voice.fingerprint):  # a forced retry's suffix aside
        return state
    if state.stage in (Phase.PREPARED, Phase.CREATING):
        return replace(state, fingerprint=voice.fingerprint)
    if state.stage in (Phase.CREATED, Phase.UPLOADED):
        # Not submitted yet: the same remote job takes the new files (a PUT overwrites).
        new = state.advance(Phase.CREATED, fingerprint=voice.fingerprint, uploaded=())
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
        # Progress inside a stage (an uploaded object, a recorded id) is the voice's state from
        # now on: a failure later in the same call must not write the pre-call state over it.
        nonlocal state
        state = s
        await ledger.put(s)

    tries = 0
    failing_since: float | None = None  # this voice's failing streak (breaker's clock)
    while state.stage.order < Phase.SUBMITTED.order:
        try:
            if state.stage in (Phase.PREPARED, Phase.CREATING):
                if state.stage is Phase.PREPARED:
                    state = state.advance(Phase.CREATING)
                    await ledger.put(state)  # intent, durable before the create call
                known = claims or Claims.of(await ledger.all())
                state = await provider.create(voice, state, save, taken=known.others(voice.key))
                known.add(state)
            elif state.stage is Phase.CREATED:
                state = await provider.upload(voice, state, save)
            else:
                if state.stage is Phase.UPLOADED:
                    state = state.advance(Phase.SUBMITTING)
                    await ledger.put(state)  # intent, durable before the commit call
                state = await provider.submit(voice, state, save)
        except AuthenticationFailed as exc:
            # Every other voice would fail the same way: stop the run (exit 3) at once.
            state = replace(state, attempts=state.attempts + 1, last_error=str(exc))
            await ledger.put(state, detail="credentials rejected")
            raise CircuitOpen(f"the provider rejected our credentials: {exc}") from None
        except ProviderRejected as exc:
            state = state.advance(
                Phase.DONE,
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
            failing_since = breaker.now() if failing_since is None else failing_since
            pause = breaker.wait_for(failing_since, tries)
            if pause is not None:
                # The provider answered earlier in this run and stopped: an outage, waited
                # out while it is younger than [limits] outage_window.
                log.warning("voice.waiting_out_outage", stage=str(state.stage), error=str(exc))
                await anyio.sleep(pause)
                continue
            if tries < _VOICE_TRIES:
                log.warning("voice.retrying", stage=str(state.stage), error=str(exc), tries=tries)
                await anyio.sleep(_VOICE_PAUSE_S * tries)
                continue
            log.warning("voice.deferred", stage=str(state.stage), error=str(exc))
            if breaker.failed():
                raise CircuitOpen(breaker.open_message(exc)) from None
            return
        tries, failing_since = 0, None  # the step went through: a new failure starts afresh
        if state.last_error is not None:
            # The step went through: an error of an earlier try no longer describes the voice.
            state = replace(state, last_error=None)
        await ledger.put(state)
        log.info("voice.stage", stage=str(state.stage), status=str(state.status))
        if state.stage is Phase.DONE:
            break
    breaker.ok()
