"""Real speech for the sample voices, from espeak-ng where it is installed.

The pre-flight's voice-activity detector finds little or no speech in the numpy-made
syllables of :mod:`.synth` (they are speech-like, not speech), so sample voices speak with
espeak-ng when it is on the PATH: each clip says its transcript, fitted to the clip's planned
length (espeak's speaking rate chosen for it, then a resampling of at most a few per cent).
Without espeak-ng the sample voices fall back to the synthetic syllables and the content
checks reject them (``[content] check = false`` runs them anyway). espeak-ng is
deterministic, so the same arguments still write the same bytes on one machine.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Sequence
from typing import Final

import numpy as np
import soundfile as sf
import soxr

from pipeline.commands.sample_data.formats import Signal
from pipeline.commands.sample_data.synth import _Style

#: espeak voices per (language, female): US and British English, Mandarin.
_VOICES: Final = {
    ("EN", True): ("en-us+f3", "en-gb+f4"),
    ("EN", False): ("en-us", "en-gb+m3"),
    ("CN", True): ("cmn+f3",),
    ("CN", False): ("cmn",),
}
_BASE_WPM: Final = 175
_MIN_WPM, _MAX_WPM = 80, 400
#: Average length of one sample sentence at espeak's speed _BASE_WPM, for grouping sentences.
SENTENCE_S: Final = {"EN": 3.0, "CN": 6.3}
#: Characters espeak-ng says per second at _BASE_WPM (measured: English 17-18, Mandarin 2.5-2.9).
_CHARS_PER_S: Final = {"EN": 17.5, "CN": 2.7}
#: The pause between two sentences of one clip (varied by +-25 %): read text has them, and the
#: pre-flight's noise floor needs some quiet frames.
_GAP_S: Final = 0.5
#: Quiet before and after the sentences, inside the clip's speech span: people draw breath
#: before they speak, and the pre-flight takes its noise floor from such frames.
_MARGIN_S: Final = 0.25


def espeak() -> str | None:
    """The espeak-ng executable, or None (the samples are then synthetic)."""
    return shutil.which("espeak-ng")


def voice_for(language: str, style: _Style, female: bool) -> str:
    """One espeak voice per speaker, chosen from its style (deterministic)."""
    choices = _VOICES[("CN" if language == "CN" else "EN", female)]
    return choices[int(style.f0 * 10) % len(choices)]


def _pitch(style: _Style) -> int:
    """espeak's pitch (0-99, 50 by default) from the speaker's mean f0 (95-235 Hz)."""
    return int(np.clip(20 + (style.f0 - 95.0) * 0.4, 5, 95))


class _Espeak:
    """Runs espeak-ng, one sentence at a time, its WAV read from its standard output."""

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def _say(self, text: str, voice: str, wpm: int, pitch: int) -> tuple[Signal, int]:
        wav = subprocess.run(
            [self.binary, "-v", voice, "-s", str(wpm), "-p", str(pitch), "--stdout", text],
            check=True,
            capture_output=True,
            timeout=120,
        ).stdout
        samples, rate = sf.read(io.BytesIO(wav), dtype="float64")
        if samples.ndim > 1:
            samples = samples.mean(axis=1)
        return _trimmed(samples), int(rate)

    def speech(
        self, sentences: Sequence[str], voice: str, style: _Style, rate: int, seconds: float
    ) -> tuple[Signal, Signal]:
        """``sentences`` read one after another with a breath's pause between them, in
        ``seconds`` at ``rate`` (peak 1), and the activity envelope (1 = speaking)."""
        pitch = _pitch(style)
        gaps = [_GAP_S * (1.0 + 0.25 * ((len(t) + k) % 3 - 1)) for k, t in enumerate(sentences)]
        gaps = gaps[1:]  # between sentences only
        per_char = _CHARS_PER_S["CN" if voice.startswith("cmn") else "EN"]
        chars = sum(len(t) for t in sentences)
        target = max(0.5, seconds - sum(gaps) - 2 * _MARGIN_S)  # of speech, shared by length
        # One espeak run per sentence at the speaking rate that should fit; the rest of the
        # fit is a resampling (as if recorded at a slightly other rate: a small pitch shift).
        wpm = int(np.clip(round(_BASE_WPM * chars / per_char / target), _MIN_WPM, _MAX_WPM))
        parts: list[Signal] = []
        native = 22050
        for k, text in enumerate(sentences):
            said, native = self._say(text, voice, wpm, pitch)
            if k:
                parts.append(np.zeros(round(gaps[k - 1] * native)))
            parts.append(said)
        margin = np.zeros(round(_MARGIN_S * native))
        samples = _high_pass(np.concatenate([margin, *parts, margin]), native)
        n = max(1, round(seconds * rate))
        # Read at rate * size / n Hz, the samples last exactly n at ``rate``.
        x = _fit(np.asarray(soxr.resample(samples, rate * samples.size / n, rate)), n)
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        x = x / peak if peak > 0 else x
        return x, _activity(x, rate)


def _trimmed(x: Signal) -> Signal:
    """Without espeak's own silence at either end (the clip adds its own lead-in and tail)."""
    loud = np.flatnonzero(np.abs(x) > 10 ** (-50 / 20) * max(float(np.max(np.abs(x))), 1e-9))
    return x[loud[0] : loud[-1] + 1] if loud.size else x


def _high_pass(x: Signal, rate: int) -> Signal:
    """Without content below 40 Hz: espeak-ng's voiced sounds carry a DC bias (about 1e-3 of
    full scale), which would read as a DC offset, and as noise in the pauses once removed."""
    size = 1 << max(1, (x.size - 1).bit_length())  # a power of two: odd sizes are slow
    spectrum = np.fft.rfft(x, size)
    spectrum[np.fft.rfftfreq(size, 1.0 / rate) < 40.0] = 0.0
    return np.fft.irfft(spectrum, size)[: x.size]


def _fit(x: Signal, n: int) -> Signal:
    """Exactly ``n`` samples (the resampler may be off by one)."""
    if x.size >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - x.size)])


def _activity(x: Signal, rate: int) -> Signal:
    """1 where someone speaks (10 ms frames within 30 dB of the loudest), else 0: the
    clip's SNR is set on the speech's RMS over all of them, as the pre-flight measures it."""
    frame = max(1, rate // 100)
    whole = -(-x.size // frame)
    padded = np.concatenate([np.abs(x), np.zeros(whole * frame - x.size)])
    peaks = padded.reshape(whole, frame).max(axis=1)
    top = float(peaks.max()) if peaks.size else 0.0
    speaking = (peaks > top * 10 ** (-30 / 20)).astype(np.float64)
    return np.repeat(speaking, frame)[: x.size]


def speaker() -> _Espeak | None:
    """The espeak-ng runner, or None where espeak-ng is not installed."""
    binary = espeak()
    return _Espeak(binary) if binary is not None else None
