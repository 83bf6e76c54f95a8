"""Which provider account a batch's ledger belongs to.

Remote ids (job ids, consent and voice ids) mean something only at the endpoint and account
that issued them. A ledger filled by a run on the emulator must never make a later run on the
real service skip those voices as "succeeded", so the ledger remembers its binding and a run
against another one is refused (exit 2) unless the operator rebinds on purpose.
"""

from __future__ import annotations

import structlog

from pipeline.config import AZURE, JobConfig, ProviderConfig
from pipeline.errors import ConfigError
from pipeline.ledger.base import Ledger
from pipeline.records import Phase, VoiceState, VoiceStatus

log = structlog.get_logger("pipeline.ledger")


def _holds_remote(state: VoiceState) -> bool:
    """Whether a voice's state means something only at its account: remote ids, or a result."""
    finished = state.stage is Phase.DONE and state.status is not VoiceStatus.REJECTED
    return bool(state.job_ids or state.history) or finished


def binding_of(provider: ProviderConfig) -> str:
    """The account a provider config addresses: kind, endpoint and project, as one string."""
    endpoint = provider.endpoint.rstrip("/")
    if provider.kind == AZURE:
        return f"{provider.kind} {endpoint} project={provider.project}"
    return f"{provider.kind} {endpoint} project_id={provider.project_id}"


async def ensure_binding(ledger: Ledger, config: JobConfig, *, rebind: bool = False) -> None:
    """Bind a new ledger to the job file's account; refuse another account's ledger unless
    ``rebind``, which forgets every remote id the ledger holds (they move to each voice's
    history) so the voices are sent afresh to the new account."""
    wanted = binding_of(config.provider)
    bound = await ledger.binding()
    if bound == wanted:
        return
    states = await ledger.all()
    if bound is None or not any(_holds_remote(s) for s in states):
        # A new ledger, one written before ledgers were bound, or one whose voices the old
        # account never accepted (nothing there to mistake for this account's): bind it.
        await ledger.bind(wanted)
        log.info("ledger.bound", binding=wanted, previous=bound)
        return
    if not rebind:
        raise ConfigError(
            f"{config.path}: the ledger of batch '{config.batch}' belongs to {bound}, "
            f"not {wanted}; use a fresh state_dir, or `voice-onboard run --rebind` to forget "
            "the old account's remote jobs and send every voice again"
        )
    forgotten = 0
    for state in states:
        if state.stage is Phase.PREPARED and not state.remote:
            continue
        await ledger.put(_afresh(state, bound), detail=f"rebound from {bound}")
        forgotten += 1
    await ledger.bind(wanted)
    log.warning("ledger.rebound", old=bound, new=wanted, voices=forgotten)


def _afresh(state: VoiceState, where: str) -> VoiceState:
    """``state`` back at ``prepared`` with no remote ids (they move to its history)."""
    return state.advance(
        Phase.PREPARED,
        status=VoiceStatus.PENDING,
        remote={},
        uploaded=(),
        history=(*state.history, *(f"{where}: {v}" for v in state.job_ids)),
        attempts=0,
        last_error=None,
        findings=(),
    )


async def forget_ended_emulator_jobs(ledger: Ledger) -> int:
    """With ``endpoint = "emulator"`` every run starts a new in-process emulator, so the
    remote jobs of voices an earlier run left unfinished ended with that run: send those
    voices again (finished voices keep their results). Returns how many were reset."""
    reset = 0
    for state in await ledger.all():
        if state.stage is Phase.DONE or not (state.job_ids or state.stage is Phase.CREATING):
            continue
        await ledger.put(_afresh(state, "an earlier run's in-process emulator"))
        reset += 1
    if reset:
        log.warning("emulator.jobs_ended", voices=reset)
    return reset
