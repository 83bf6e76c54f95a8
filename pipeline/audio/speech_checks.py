"""What the voice-activity detector says about one clip: its findings, and its speech map on
the normalized clip's timeline.

- ``audio.no_speech`` (error): sound, but less than :data:`MIN_SPEECH_TOTAL_S` of speech in
  it (noise, music, a tone); never beside ``audio.silent``, which says more.
- ``audio.little_speech`` (warning): under :data:`MIN_SPEECH_RATIO` of the normalized clip is
  speech (the rest is noise, music or long pauses the provider will train on).
- ``audio.long_pause`` (warning, sentence profiles: Huawei basic/middle): a pause inside the
  sentence of :data:`MAX_PAUSE_S` or more. Huawei splits its long recordings on pauses of 2-3 s
  (reference §8) and aligns each sentence's audio with its text; a pause that long inside one
  sentence is either a sentence boundary or a hesitation the audit may not accept.
"""

from __future__ import annotations

from typing import Final

from pipeline.audio.analyze import Measurements
from pipeline.audio.clip_checks import silence_reason
from pipeline.audio.edits import Plan
from pipeline.audio.profiles import AudioProfile
from pipeline.audio.speech_map import SpeechMap, SpeechSpan
from pipeline.records import AudioInfo, Finding, Severity

__all__ = [
    "MAX_PAUSE_S",
    "MIN_SPEECH_RATIO",
    "MIN_SPEECH_TOTAL_S",
    "output_speech",
    "speech_findings",
]

#: Less speech than this in a clip is none (the VAD's rare false alarms on music are shorter).
MIN_SPEECH_TOTAL_S: Final = 0.5
#: Read sentences are ~80-95 % speech once their edges are trimmed (espeak-ng: ~85-95 %).
MIN_SPEECH_RATIO: Final = 0.5
#: Below Huawei's 2-3 s sentence-splitting pause, with a margin.
MAX_PAUSE_S: Final = 1.5


def output_speech(
    speech: SpeechMap, plan: Plan, info_in: AudioInfo, info_out: AudioInfo, rate_out: int
) -> SpeechMap:
    """``speech`` (on the source's timeline) moved to the normalized clip's: shifted by what was
    trimmed or padded before it, cut to what was kept."""
    shift = plan.pad_start / rate_out - plan.keep_start / info_in.sample_rate
    duration = info_out.duration_s
    spans = []
    for span in speech.spans:
        start, end = max(0.0, span.start + shift), min(duration, span.end + shift)
        if end > start:
            spans.append(SpeechSpan(round(start, 4), round(end, 4)))
    return SpeechMap(tuple(spans), duration)


def speech_findings(
    m: Measurements, speech: SpeechMap, profile: AudioProfile, *, file: str
) -> list[Finding]:
    """The VAD's findings on one clip; ``speech`` is its map on the normalized timeline."""
    out: list[Finding] = []

    def add(severity: Severity, code: str, message: str) -> None:
        out.append(Finding(severity=severity, code=code, file=file, message=message))

    if silence_reason(m.info) is not None:
        return out  # audio.silent (from assess) says it better
    if speech.speech_seconds < MIN_SPEECH_TOTAL_S:
        add(
            Severity.ERROR,
            "audio.no_speech",
            f"no speech detected in {m.info.duration_s:.2f} s of sound "
            f"({speech.speech_seconds:.2f} s; noise or music?)",
        )
        return out
    if speech.speech_ratio < MIN_SPEECH_RATIO:
        add(
            Severity.WARNING,
            "audio.little_speech",
            f"speech is {speech.speech_ratio:.0%} of the clip "
            f"({speech.speech_seconds:.2f} s of {speech.duration:.2f} s; < {MIN_SPEECH_RATIO:.0%})",
        )
    if profile.needs_transcripts and speech.longest_pause >= MAX_PAUSE_S:
        gap = max(
            zip(speech.spans, speech.spans[1:], strict=False), key=lambda p: p[1].start - p[0].end
        )
        add(
            Severity.WARNING,
            "audio.long_pause",
            f"{speech.longest_pause:.2f} s pause inside the sentence at {gap[0].end:.2f} s "
            f"(>= {MAX_PAUSE_S:.1f} s: Huawei splits sentences on 2-3 s pauses)",
        )
    return out
