"""What a run knows besides its manifest, gathered for the HTML report and the metrics file.

The manifest keeps per-file duration only; the report also charts each clip's loudness, SNR and
peak, which the prepared voices carry (``PreparedClip.info_in``/``info_out``). Timelines come from
the ledger's events, retries from its per-voice ``attempts`` and ``history``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from pipeline.errors import LedgerError
from pipeline.ledger.base import Ledger
from pipeline.records import PhaseEvent, PreparedVoice, VoiceState

log = structlog.get_logger("pipeline.report")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClipFigures:
    """The measurements of one clip that the report charts."""

    voice: str
    source: str  #: inbox-relative path
    duration_s: float  #: of the uploaded (normalized) audio: what the duration bounds judge
    loudness_lufs: float | None  #: as recorded; None when unmeasurable (silent, too short)
    snr_db: float | None  #: as recorded (estimate, capped at 100 dB)
    peak_dbfs: float | None  #: as recorded; None for digital silence
    peak_out_dbfs: float | None  #: after normalization (inside the profile's target range)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    """Inputs of the report and the metrics beyond the manifest document."""

    clips: tuple[ClipFigures, ...] = ()
    events: tuple[PhaseEvent, ...] = ()  #: the batch's stage changes, oldest first
    states: tuple[VoiceState, ...] = ()  #: the ledger's view at the end of the run
    bytes_uploaded: int | None = None  #: None when the command uploads nothing (check)

    @property
    def retries(self) -> dict[str, int]:
        """Retries recorded in the ledger, cumulative over the batch's life (see metrics)."""
        return {
            "provider_call": sum(s.attempts for s in self.states),
            "operator": sum(len(s.history) for s in self.states),
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def clip_figures(prepared: Mapping[str, PreparedVoice]) -> tuple[ClipFigures, ...]:
    """One ``ClipFigures`` per clip that was read, voices and clips in inbox order."""
    out: list[ClipFigures] = []
    for key in sorted(prepared):
        for clip in prepared[key].clips:
            info_in, info_out = clip.info_in, clip.info_out
            out.append(
                ClipFigures(
                    voice=key,
                    source=clip.source,
                    duration_s=clip.duration_s,
                    loudness_lufs=_finite(info_in.loudness_lufs) if info_in else None,
                    snr_db=_finite(info_in.snr_db) if info_in else None,
                    peak_dbfs=_finite(info_in.peak_dbfs) if info_in else None,
                    peak_out_dbfs=_finite(info_out.peak_dbfs) if info_out else None,
                )
            )
    return tuple(out)


async def gather_facts(
    ledger: Ledger, prepared: Mapping[str, PreparedVoice], *, bytes_uploaded: int | None
) -> RunFacts:
    """The facts of a ``run``, read while its ledger is still open. Never raises for a ledger
    problem: the manifest matters more than the report, so a failed read leaves the timelines
    empty and says so in the log."""
    clips = clip_figures(prepared)
    try:
        states = tuple(await ledger.all())
        events = tuple(await ledger.events())
    except LedgerError as exc:
        log.warning("report.ledger_unreadable", error=str(exc))
        return RunFacts(clips=clips, bytes_uploaded=bytes_uploaded)
    return RunFacts(clips=clips, events=events, states=states, bytes_uploaded=bytes_uploaded)
