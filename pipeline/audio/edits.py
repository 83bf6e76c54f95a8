"""What normalization changes in one recording: the edits, planned from its measurements.

:func:`plan_edits` decides from the first pass's measurements alone how much of each edge
silence to trim or pad, whether to remove the DC offset and what peak gain to apply;
:func:`edit_findings` reports what was done (``fixed``) or could not be (``warning``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from pipeline.audio.analyze import Measurements
from pipeline.audio.profiles import AudioProfile
from pipeline.records import AudioInfo, Finding, Severity

__all__ = ["RESAMPLE_HEADROOM_DB", "Plan", "edit_findings", "plan_edits"]

#: Resampling can raise the sample peak (inter-sample overs, band-limiting a clipped edge);
#: when the rate changes, a peak this close to the ceiling is pulled down to the target.
RESAMPLE_HEADROOM_DB: Final = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The edits the second pass makes, decided from the first pass's measurements."""

    keep_start: int  #: first source frame kept
    keep_end: int  #: one past the last source frame kept
    pad_start: int  #: output frames of silence written before
    pad_end: int
    dc: float  #: subtracted from the mono downmix (0.0 when below the profile's threshold)
    gain_db: float
    peak_dbfs: float  #: of the kept, DC-free mono signal before gain
    capped: bool  #: the gain cap kept the peak below the floor


def plan_edits(m: Measurements, profile: AudioProfile) -> Plan:
    info = m.info
    rate_in, rate_out = info.sample_rate, profile.sample_rate
    dc = info.dc_offset if abs(info.dc_offset) >= profile.dc_offset_threshold else 0.0
    keep_start, keep_end, pad_start, pad_end = 0, info.frames, 0, 0
    if m.first_active is None or m.last_active is None:  # silence: nothing to trim or level
        return Plan(
            keep_start=0,
            keep_end=info.frames,
            pad_start=0,
            pad_end=0,
            dc=dc,
            gain_db=0.0,
            peak_dbfs=-math.inf,
            capped=False,
        )
    aim_s = profile.edge_silence_target_s
    lead = m.first_active * m.frame_len
    trail = max(0, info.frames - (m.last_active + 1) * m.frame_len)
    for edge, frames in (("lead", lead), ("trail", trail)):
        seconds = frames / rate_in
        if seconds > profile.edge_silence_max_s:
            cut = frames - round(aim_s * rate_in)
            if edge == "lead":
                keep_start = cut
            else:
                keep_end = info.frames - cut
        elif seconds < profile.edge_silence_min_s:
            pad = round((aim_s - seconds) * rate_out)
            if edge == "lead":
                pad_start = pad
            else:
                pad_end = pad
    # The peak of what will be kept, after DC removal, from the per-frame extremes.
    first = keep_start // m.frame_len
    last = -(-keep_end // m.frame_len)
    top = float(m.frame_max[first:last].max()) - dc
    bottom = dc - float(m.frame_min[first:last].min())
    peak = max(top, bottom)
    peak_dbfs = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    ceiling = profile.peak_ceiling_dbfs
    if rate_in != rate_out:
        ceiling -= RESAMPLE_HEADROOM_DB
    gain_db, capped = 0.0, False
    if peak_dbfs > -math.inf and not profile.peak_floor_dbfs <= peak_dbfs <= ceiling:
        gain_db = profile.peak_target_dbfs - peak_dbfs
        if gain_db > profile.max_gain_db:
            gain_db = profile.max_gain_db
            capped = peak_dbfs + gain_db < profile.peak_floor_dbfs
    return Plan(
        keep_start=keep_start,
        keep_end=keep_end,
        pad_start=pad_start,
        pad_end=pad_end,
        dc=dc,
        gain_db=gain_db,
        peak_dbfs=peak_dbfs,
        capped=capped,
    )


def edit_findings(
    info_in: AudioInfo, info_out: AudioInfo, plan: Plan, profile: AudioProfile, file: str
) -> list[Finding]:
    out: list[Finding] = []

    def fixed(code: str, message: str) -> None:
        out.append(Finding(severity=Severity.FIXED, code=code, file=file, message=message))

    if info_in.sample_rate != profile.sample_rate:
        fixed("audio.resampled", f"{info_in.sample_rate} Hz → {profile.sample_rate} Hz")
    if info_in.channels > 1:
        fixed("audio.downmixed", f"{info_in.channels} channels → mono")
    if info_in.subtype != profile.subtype:
        fixed("audio.requantized", f"{info_in.subtype} → {profile.subtype}")
    if plan.dc:
        fixed("audio.dc_offset", f"removed DC offset {plan.dc:+.4f}")
    edges = []
    rate_in, rate_out = info_in.sample_rate, profile.sample_rate
    lead_in = info_in.lead_silence_s
    trail_in = info_in.trail_silence_s
    if plan.keep_start:
        s = plan.keep_start / rate_in
        edges.append(f"lead {lead_in:.3f} s → {lead_in - s:.3f} s (trimmed {s:.3f} s)")
    if plan.pad_start:
        s = plan.pad_start / rate_out
        edges.append(f"lead {lead_in:.3f} s → {lead_in + s:.3f} s (padded {s:.3f} s)")
    if plan.keep_end != info_in.frames:
        s = (info_in.frames - plan.keep_end) / rate_in
        edges.append(f"trail {trail_in:.3f} s → {trail_in - s:.3f} s (trimmed {s:.3f} s)")
    if plan.pad_end:
        s = plan.pad_end / rate_out
        edges.append(f"trail {trail_in:.3f} s → {trail_in + s:.3f} s (padded {s:.3f} s)")
    if edges:
        fixed("audio.silence_trimmed", "; ".join(edges))
    if plan.gain_db:
        fixed(
            "audio.gain_adjusted",
            f"{plan.gain_db:+.1f} dB: peak {plan.peak_dbfs:.1f} → "
            f"{plan.peak_dbfs + plan.gain_db:.1f} dBFS",
        )
    if plan.capped:
        out.append(
            Finding(
                severity=Severity.WARNING,
                code="audio.gain_capped",
                file=file,
                message=(
                    f"peak {info_out.peak_dbfs:.1f} dBFS < {profile.peak_floor_dbfs:.1f} dBFS: "
                    f"gain capped at +{profile.max_gain_db:.0f} dB"
                ),
            )
        )
    return out
