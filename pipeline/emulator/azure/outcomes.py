"""How a consent or personal voice ends: forced outcomes, deterministic timings, timelines.

Forced outcomes come from ``EmulatorOptions.outcomes`` (glob → state) and are looked up by the
**consent's ``voiceTalentName``**: the pipeline sets it from ``voice.toml``, and a personal voice
inherits it from its consent, so one glob steers both resources of a speaker. Accepted states:

=====================================  ===============================================
``Succeeded`` (or no match)            both succeed
``AudioAndScriptNotMatch``             the consent fails with that reason
``consent:<Reason>``                   the consent fails with ``<Reason>`` (e.g. ``Internal``)
``consent:NotStarted|Running``         the consent never leaves that status
``SpeakerVerificationFailed`` and the  the personal voice fails with that reason
other ``ModelFailureReason`` values
``personalvoice:<Reason>``             likewise, spelled out
``Failed``                             the personal voice fails with ``Internal``
``NotStarted`` / ``Running``           the personal voice never leaves that status
=====================================  ===============================================

Unknown states (e.g. a Huawei state in a shared glob list) are ignored.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Final

from pipeline.emulator.azure.records import MODEL_REASONS_GA, Timeline

STUCK: Final = frozenset({"NotStarted", "Running"})


@dataclass(frozen=True, slots=True)
class Forced:
    """What a forced state means for each resource (None = natural outcome)."""

    consent_reason: str | None = None
    consent_stuck: str | None = None
    voice_reason: str | None = None
    voice_stuck: str | None = None


def parse_forced(state: str | None) -> Forced:
    if state is None or state == "Succeeded":
        return Forced()
    target, sep, value = state.partition(":")
    if sep:
        if target.lower() == "consent":
            return Forced(consent_stuck=value) if value in STUCK else Forced(consent_reason=value)
        if target.lower() == "personalvoice":
            return Forced(voice_stuck=value) if value in STUCK else Forced(voice_reason=value)
        return Forced()
    if state == "AudioAndScriptNotMatch":
        return Forced(consent_reason=state)
    if state in MODEL_REASONS_GA:
        return Forced(voice_reason=state)
    if state == "Failed":
        return Forced(voice_reason="Internal")
    if state in STUCK:
        return Forced(voice_stuck=state)
    return Forced()


def jitter(seed: int, kind: str, ident: str, slot: str, low: float, high: float) -> float:
    """A duration in [low, high) that depends only on the seed and the resource, so timings do
    not shift when requests arrive in another order and never consume the fault generator."""
    digest = hashlib.sha256(f"{seed}\0{kind}\0{ident}\0{slot}".encode()).digest()
    return low + (high - low) * int.from_bytes(digest[:8], "big") / 2**64


def timeline(
    seed: int,
    kind: str,
    rid: str,
    created: float,
    begin: float,
    queued: tuple[float, float],
    running: tuple[float, float],
    reason: str | None,
    stuck: str | None,
) -> Timeline:
    """The fixed future of a resource created at ``created`` that may start at ``begin``:
    ``queued`` and ``running`` are the (low, high) spans its stages take, ``reason`` the
    failure it ends with (None: success), ``stuck`` a status it never leaves."""
    started = begin + jitter(seed, kind, rid, "queued", *queued)
    finished = started + jitter(seed, kind, rid, "running", *running)
    if stuck == "NotStarted" or math.isinf(begin):
        started = finished = math.inf
    elif stuck == "Running":
        finished = math.inf
    return Timeline(
        created=created,
        started=started,
        finished=finished,
        outcome="Failed" if reason else "Succeeded",
        failure_reason=reason,
    )
