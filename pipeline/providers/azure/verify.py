"""Checking finished voices against the service: a consent or personal voice deleted since.

A voice that succeeded is never re-sent on its own, so a resource deleted afterwards (in Speech
Studio, by a clean-up script) would otherwise leave the ledger and the manifest saying
``succeeded`` about a voice that no longer works. ``deleted_since`` lists the project's consents
and personal voices once (a page per 100, never one GET per voice), asks once more by id for
anything not listed (a list may lag), and turns each voice missing either into
``needs_attention`` with a ``remote.deleted`` finding: ``voice-onboard retry --force`` then makes
new ones under new ids, and the old ids stay in the voice's history.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from pipeline.providers.azure.client import AzureClient
from pipeline.records import Finding, Phase, Severity, VoiceState, VoiceStatus

log = structlog.get_logger("pipeline.providers.azure")

#: ``remote.state`` of a voice whose resources were deleted at the service.
DELETED = "Deleted"


async def deleted_since(
    client: AzureClient, project: str, states: Sequence[VoiceState]
) -> list[VoiceState]:
    """The succeeded voices of ``states`` whose consent or personal voice no longer exists,
    each as its new ``needs_attention`` state."""
    finished = [
        s
        for s in states
        if s.stage is Phase.DONE
        and s.status is VoiceStatus.SUCCEEDED
        and s.remote.get("personal_voice_id")
    ]
    if not finished:
        return []
    voices = {v.id async for v in client.iter_personal_voices(project)}
    consents = {c.id async for c in client.iter_consents(project)}
    changed: list[VoiceState] = []
    for state in finished:
        gone: list[str] = []
        pv_id = state.remote["personal_voice_id"]
        if pv_id not in voices and await client.find_personal_voice(pv_id) is None:
            gone.append(f"personal voice {pv_id}")
        consent_id = state.remote.get("consent_id")
        if (
            consent_id
            and consent_id not in consents
            and await client.find_consent(consent_id) is None
        ):
            gone.append(f"consent {consent_id}")
        if gone:
            log.info("verify.deleted", voice=state.key, deleted=gone)
            changed.append(_deleted(state, gone))
    return changed


def _deleted(state: VoiceState, gone: Sequence[str]) -> VoiceState:
    what = " and ".join(gone)
    message = (
        f"{what} no longer exists at the provider (deleted after the voice succeeded); "
        f"`voice-onboard retry --force --voices {state.key}` creates new ones"
    )
    finding = Finding(severity=Severity.ERROR, code="remote.deleted", file=None, message=message)
    return state.advance(
        Phase.DONE,
        status=VoiceStatus.NEEDS_ATTENTION,
        remote=state.with_remote(state=DELETED),
        findings=(*state.findings, finding),
        last_error=message,
    )
