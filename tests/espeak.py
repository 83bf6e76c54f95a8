"""Real speech for the tests, synthesized by espeak-ng (``sample-data`` cannot make words).

espeak-ng is a Debian package (``apt-get install espeak-ng``; ``make test`` installs it where
apt-get is usable, as it does chromium). Without it a test that asks for speech skips with a
message saying so, except under CI (``CI`` set and not false), where it fails: CI must hear.

Typical use::

    def test_it(tmp_path):
        samples, rate = speak("The quick brown fox.", voice="en-gb+m3")
        write_speech(tmp_path / "a.wav", "Hello there.", rate=48000, lead=0.5, trail=0.5)
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from tests.tools import missing

F32 = npt.NDArray[np.float32]

#: Several speakers: US and British English, a female and a male variant.
VOICES: Final = ("en-us", "en-gb", "en-us+f3", "en-gb+m3")
#: What espeak-ng writes: 16-bit mono at 22.05 kHz.
ESPEAK_RATE: Final = 22050

#: Sentences of about 3-5 s each at espeak's default speed.
SENTENCES: Final = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "We will meet again tomorrow morning at nine o'clock in the small library.",
    "Every recording in this batch should be clear, calm and easy to understand.",
    "A gentle breeze moved the curtains while the children were reading quietly.",
    "Our train leaves from platform four, so we should hurry to the station now.",
)


def espeak_binary() -> str | None:
    """The espeak-ng executable on PATH, or None."""
    return shutil.which("espeak-ng")


def require_espeak() -> str:
    """The espeak-ng binary; skip the calling test without one (fail under CI)."""
    binary = espeak_binary()
    if binary is None:
        missing("espeak-ng", "espeak-ng", "real-speech tests")
    return binary


@functools.lru_cache(maxsize=256)
def _synthesize(text: str, voice: str, speed: int) -> bytes:
    """espeak-ng's WAV bytes for ``text`` (cached: many tests speak the same sentences)."""
    binary = require_espeak()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            [binary, "-v", voice, "-s", str(speed), "-w", str(out), text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return out.read_bytes()


def speak(
    text: str, *, voice: str = "en-us", speed: int = 160, rate: int | None = None
) -> tuple[F32, int]:
    """``text`` spoken by espeak-ng ``voice`` at ``speed`` words per minute: mono float32
    samples and their rate (espeak's 22.05 kHz, or resampled to ``rate``)."""
    samples, native = sf.read(io.BytesIO(_synthesize(text, voice, speed)), dtype="float32")
    if samples.ndim > 1:
        samples = samples.mean(axis=1, dtype=np.float32)
    # espeak-ng's voiced sounds carry a DC bias (~1e-3): off, as a recording's high-pass would.
    size = 1 << max(1, (samples.shape[0] - 1).bit_length())  # a power of two: fast
    spectrum = np.fft.rfft(samples, size)
    spectrum[np.fft.rfftfreq(size, 1.0 / native) < 40.0] = 0.0
    samples = np.fft.irfft(spectrum, size)[: samples.shape[0]].astype(np.float32)
    if rate is not None and rate != native:
        samples = soxr.resample(samples, native, rate).astype(np.float32, copy=False)
        native = rate
    return samples, int(native)


def speech(
    text: str,
    *,
    voice: str = "en-us",
    rate: int = 48000,
    lead: float = 0.5,
    trail: float = 0.5,
    speed: int = 160,
    noise_dbfs: float | None = None,
    seed: int = 0,
) -> F32:
    """``text`` spoken at ``rate`` between ``lead`` and ``trail`` seconds of silence, with
    optional white room noise at ``noise_dbfs`` (RMS) under all of it."""
    samples, _ = speak(text, voice=voice, speed=speed, rate=rate)
    x = np.concatenate(
        [
            np.zeros(round(lead * rate), np.float32),
            samples,
            np.zeros(round(trail * rate), np.float32),
        ]
    )
    if noise_dbfs is not None:
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal((x.shape[0],)) * float(10 ** (noise_dbfs / 20))
        x = x + noise.astype(np.float32)
    return x


def write_speech(
    path: Path,
    text: str,
    *,
    voice: str = "en-us",
    rate: int = 48000,
    subtype: str = "PCM_16",
    lead: float = 0.5,
    trail: float = 0.5,
    speed: int = 160,
    noise_dbfs: float | None = None,
) -> Path:
    """Write :func:`speech` as a WAV file and return its path."""
    x = speech(
        text, voice=voice, rate=rate, lead=lead, trail=trail, speed=speed, noise_dbfs=noise_dbfs
    )
    sf.write(str(path), x, rate, subtype=subtype, format="WAV")
    return path
