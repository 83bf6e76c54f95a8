"""Judge one recording's measurements against a profile (:func:`assess`).

Apart from :mod:`.analyze`, which measures: this needs no NumPy, so a re-run that answers
every clip from the cache judges them without importing the audio stack.
"""

from __future__ import annotations

import math
from typing import Final

from pipeline.audio.profiles import AudioProfile
from pipeline.records import AudioInfo, Finding, Severity

__all__ = ["SILENT_SNR_DB", "assess", "silence_reason"]

#: Below this SNR there is nothing above the noise floor worth calling speech: audio.silent.
SILENT_SNR_DB: Final = 3.0


def assess(info: AudioInfo, profile: AudioProfile, *, file: str) -> list[Finding]:
    """Per-clip checks of a recording's measurements against ``profile``.

    Every check uses ``info`` as given. Duration bounds are meant for what will be uploaded:
    callers pass the source's info with ``duration_s`` replaced by the normalized duration
    (edge silence trimmed or padded), as ``pipeline.stages.prepare`` does. A silent clip gets
    audio.silent and no clipping, SNR or loudness findings.
    """
    out: list[Finding] = []

    def add(severity: Severity, code: str, message: str) -> None:
        out.append(Finding(severity=severity, code=code, file=file, message=message))

    if info.sample_rate < profile.min_input_rate:
        add(
            Severity.ERROR,
            "audio.low_sample_rate",
            f"{info.sample_rate} Hz < {profile.min_input_rate} Hz",
        )
    duration = info.duration_s
    if profile.max_clip_s is not None and duration > profile.max_clip_s:
        add(Severity.ERROR, "audio.too_long", f"{duration:.2f} s > {profile.max_clip_s:.2f} s")
    if profile.min_clip_s is not None and duration < profile.min_clip_s:
        add(Severity.ERROR, "audio.too_short", f"{duration:.2f} s < {profile.min_clip_s:.2f} s")
    silent = silence_reason(info)
    if silent is not None:
        add(Severity.ERROR, "audio.silent", silent)
        return out
    if info.clipped_samples:
        fraction = f"{info.clipped_samples} clipped samples ({info.clip_fraction:.3%})"
        if info.clip_fraction >= profile.clipping_error_fraction:
            limit = f"{profile.clipping_error_fraction:.3%}"
            add(Severity.ERROR, "audio.clipping", f"{fraction} >= {limit}")
        else:
            add(Severity.WARNING, "audio.clipping", fraction)
    if info.snr_db < profile.snr_error_db:
        add(
            Severity.ERROR,
            "audio.low_snr",
            f"estimated SNR {info.snr_db:.0f} dB (< {profile.snr_error_db:.0f} dB)",
        )
    elif info.snr_db < profile.snr_warn_db:
        add(
            Severity.WARNING,
            "audio.low_snr",
            f"estimated SNR {info.snr_db:.0f} dB (< {profile.snr_warn_db:.0f} dB)",
        )
    # -inf loudness here means "shorter than one 400 ms gating block", not "quiet".
    if -math.inf < info.loudness_lufs < profile.quiet_lufs:
        add(
            Severity.WARNING,
            "audio.quiet",
            f"loudness {info.loudness_lufs:.1f} LUFS (< {profile.quiet_lufs:.0f} LUFS)",
        )
    return out


def silence_reason(info: AudioInfo) -> str | None:
    """Why the clip counts as silent, or None when there is something to hear."""
    if info.frames == 0:
        return "no audio frames"
    if info.peak_dbfs == -math.inf:
        return "digital silence"
    if info.duration_s >= 0.4 and info.loudness_lufs == -math.inf:
        return "nothing above -70 LUFS"
    if info.snr_db < SILENT_SNR_DB:
        return f"nothing above the noise floor (estimated SNR {info.snr_db:.0f} dB)"
    return None
