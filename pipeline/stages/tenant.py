"""The account's own limits, read once per run before anything is created (Huawei: the
training quota of the edition and the tenant's duration range).

No quota left while voices still wait for a training: a ``ConfigError`` (exit 2) naming the
quota, before any voice is sent. A voice whose total audio falls outside the tenant's range is
rejected in the pre-flight with ``voice.duration_out_of_tenant_range`` and the tenant's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import structlog

from pipeline.config import JobConfig
from pipeline.errors import ConfigError
from pipeline.providers.base import Provider, TenantAware, TenantLimits
from pipeline.records import Finding, Phase, PreparedVoice, Severity, VoiceSource, VoiceState

log = structlog.get_logger("pipeline.tenant")

CODE = "voice.duration_out_of_tenant_range"


async def read_tenant(
    config: JobConfig,
    provider: Provider,
    sources: Sequence[VoiceSource],
    states: Sequence[VoiceState],
) -> TenantLimits | None:
    """The account's limits (None for a provider without any); refuses the run when no
    training is left for the voices that still need one (not yet submitted)."""
    if not isinstance(provider, TenantAware):
        return None
    limits = await provider.tenant()
    known = {s.key: s for s in states}
    waiting = sum(
        1
        for source in sources
        if (state := known.get(source.key)) is None or state.stage.order < Phase.SUBMITTED.order
    )
    log.info("tenant.read", quota=limits.quota, waiting=waiting, min_s=limits.min_total_s)
    if waiting and limits.quota is not None and limits.quota <= 0:
        raise ConfigError(
            f"no training resource left: {limits.quota_name} is {limits.quota} for project "
            f"{config.provider.project_id}; {waiting} voices wait for one, nothing was created "
            "(buy or allocate resources of this edition, then run again)"
        )
    if waiting and limits.quota is not None and limits.quota < waiting:
        log.warning("tenant.quota_short", quota=limits.quota, waiting=waiting)
    return limits


def total_seconds(voice: PreparedVoice, config: JobConfig) -> float:
    """The audio a voice uploads, in seconds (a joined recording counts its pauses)."""
    total = sum(clip.duration_s for clip in voice.clips)
    if config.profile.join_clips and voice.clips:
        total += config.profile.join_pause_s * (len(voice.clips) - 1)
    return total


def within_tenant(
    voice: PreparedVoice, limits: TenantLimits | None, config: JobConfig
) -> PreparedVoice:
    """``voice``, rejected when its total duration is outside the tenant's range."""
    if limits is None or voice.rejected or not voice.clips:
        return voice
    low, high = limits.min_total_s, limits.max_total_s
    total = total_seconds(voice, config)
    if (low is None or total >= low) and (high is None or total <= high):
        return voice
    finding = Finding(
        severity=Severity.ERROR,
        code=CODE,
        file=voice.key,
        message=f"{total:.1f} s of audio; {limits.duration_source} accepts "
        f"{_bound(low)}–{_bound(high)} s",
    )
    return replace(voice, findings=(*voice.findings, finding))


def _bound(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"
