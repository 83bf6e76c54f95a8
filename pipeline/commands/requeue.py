"""``voice-onboard retry``: re-queue ``failed`` and ``needs_attention`` voices on purpose.

A finished voice is never re-sent on its own (a new remote job may cost a training). After the
operator fixed a voice's files, ``retry`` puts it back to stage ``prepared`` with its old remote
job id appended to ``history`` and ``remote`` cleared; the next ``run`` creates a new job (the
Huawei provider never adopts a job listed in ``history``) and the old one stays on record.
Every remote id the voice held goes to ``history`` (Azure: its consent and personal voice).

Refused, one line each: voices the ledger does not know, voices that are not ``failed`` or
``needs_attention``, voices gone from the inbox, voices whose files now fail the pre-flight, and
voices whose files did not change (same content fingerprint) unless ``--force``.

A forced retry of unchanged files records the fingerprint with a ``~retryN`` suffix: Azure
derives its resource ids from the recorded fingerprint, so the suffix gives the new attempt new
ids instead of replaying the failed ones; :func:`pipeline.records.same_content` lets the runner see through it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import structlog

from pipeline.config import JobConfig
from pipeline.ledger import open_ledger
from pipeline.ledger.base import Ledger
from pipeline.lock import batch_lock
from pipeline.oneline import one_line
from pipeline.records import (
    FORCED_MARK,
    Phase,
    Severity,
    VoiceSource,
    VoiceState,
    VoiceStatus,
    same_content,
)
from pipeline.stages.discover import discover
from pipeline.stages.prepare import PrepareContext, prepare
from pipeline.stages.results import outcome_of

log = structlog.get_logger("pipeline.retry")

RETRYABLE: Final = frozenset({VoiceStatus.FAILED, VoiceStatus.NEEDS_ATTENTION})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryOutcome:
    """What ``retry`` did with one voice."""

    voice: str
    requeued: bool
    message: str
    old_job: str | None = None

    def line(self) -> str:
        """``KEY: re-queued|refused: why`` as one line (a quoted provider message may not be)."""
        verdict = "re-queued" if self.requeued else "refused"
        return one_line(f"{self.voice}: {verdict}: {self.message}")


def _old_job(state: VoiceState) -> str | None:
    # Huawei job, else the Azure personal voice, else its consent.
    return next(
        (
            state.remote[k]
            for k in ("job_id", "personal_voice_id", "consent_id")
            if state.remote.get(k)
        ),
        None,
    )


def select(
    patterns: Sequence[str], states: Mapping[str, VoiceState]
) -> tuple[list[str], list[RetryOutcome]]:
    """The voice keys ``patterns`` name, and a refusal for each pattern that names none.

    A plain key names that voice whatever its status (so a refusal can say why); a glob
    (``voice-0*``) names the failed and needs_attention voices it matches.
    """
    keys: list[str] = []
    refused: list[RetryOutcome] = []
    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            if pattern not in keys:
                keys.append(pattern)
            continue
        matched = [
            k
            for k, s in sorted(states.items())
            if fnmatch.fnmatchcase(k, pattern) and s.status in RETRYABLE and s.stage is Phase.DONE
        ]
        if not matched:
            refused.append(
                RetryOutcome(
                    voice=pattern,
                    requeued=False,
                    message="matches no failed or needs_attention voice",
                )
            )
        keys.extend(k for k in matched if k not in keys)
    return keys, refused


async def _one(
    key: str,
    state: VoiceState | None,
    source: VoiceSource | None,
    ctx: PrepareContext,
    ledger: Ledger,
    *,
    force: bool,
) -> RetryOutcome:
    def refuse(message: str) -> RetryOutcome:
        return RetryOutcome(voice=key, requeued=False, message=message)

    if state is None:
        return refuse("the ledger does not know this voice (never sent); nothing to retry")
    if state.stage is not Phase.DONE or state.status not in RETRYABLE:
        # As the manifest and `status` name it: not yet sent is deferred, never pending.
        status = outcome_of(state.stage, state.status)
        where = str(status) if state.stage is Phase.DONE else f"{status} (stage {state.stage})"
        return refuse(f"it is {where}; only failed or needs_attention voices are retried")
    if source is None:
        return refuse("the voice folder is no longer in the inbox")
    voice = await prepare(source, ctx)
    if voice.rejected:
        first = next(f for f in voice.findings if f.severity is Severity.ERROR)
        return refuse(
            f"its files fail the pre-flight now ({first.code}: {first.message}); "
            "fix them (see `voice-onboard check`)"
        )
    old = _old_job(state)
    changed = not same_content(state.fingerprint, voice.fingerprint)
    if not changed and not force:
        return refuse(
            f"its files did not change since job {old or '(none)'} (same content fingerprint); "
            "fix them first, or pass --force to train again with the same files"
        )
    # Every remote id the voice gives up (Azure: its personal voice and its consent) is kept.
    given_up = [v for v in state.job_ids if v not in state.history]
    history = (*state.history, *given_up)
    fingerprint = (
        voice.fingerprint if changed else f"{voice.fingerprint}{FORCED_MARK}{len(history)}"
    )
    new = state.advance(
        Phase.PREPARED,
        status=VoiceStatus.PENDING,
        fingerprint=fingerprint,
        remote={},
        uploaded=(),
        history=history,
        last_error=None,
        findings=(),
    )
    why = "files changed" if changed else "forced, same files"
    await ledger.put(new, detail=f"retry ({why}); replaces job {old or '(none)'}")
    log.info("voice.retry_queued", voice=key, old_job=old, forced=not changed)
    if len(given_up) > 1:
        kept = f"{', '.join(given_up)} kept in history"
    else:
        kept = f"job {old} kept in history" if old else "no earlier job recorded"
    return RetryOutcome(
        voice=key,
        requeued=True,
        old_job=old,
        message=f"{why}; {kept}; the next `voice-onboard run` creates a new job",
    )


async def requeue_voices(
    config: JobConfig, patterns: Sequence[str], *, force: bool = False
) -> list[RetryOutcome]:
    """Re-queue the voices ``patterns`` name; one outcome per voice (or unmatched glob).

    Holds the batch lock (a run must not drive a voice while it is being reset); raises
    ``LockHeld`` when a run holds it.
    """
    if not config.ledger_url and not config.ledger_path.exists():
        return [
            RetryOutcome(voice=p, requeued=False, message="the batch has no ledger yet; run first")
            for p in patterns
        ]
    ctx = PrepareContext.from_config(config)
    with batch_lock(config.state_dir, config.batch):
        async with open_ledger(config) as ledger:
            states = {s.key: s for s in await ledger.all()}
            keys, outcomes = select(patterns, states)
            sources = {s.key: s for s in discover(config.inbox)} if keys else {}
            for key in keys:
                outcomes.append(
                    await _one(key, states.get(key), sources.get(key), ctx, ledger, force=force)
                )
    return outcomes
