"""Synthetic signals for the audio tests: speech-like bursts with pauses, written as WAVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

F64 = npt.NDArray[np.float64]


def speechlike(
    rate: int,
    seconds: float,
    *,
    lead: float = 0.5,
    trail: float = 0.5,
    peak: float = 0.5,
    noise_dbfs: float | None = None,
    channels: int = 1,
    seed: int = 0,
) -> F64:
    """Syllable-like harmonic bursts with pauses between, silent edges, optional white noise."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    x = np.zeros(n)
    pos, end = round(lead * rate), n - round(trail * rate)
    while pos < end:
        length = round(rate * rng.uniform(0.12, 0.25))
        if end - pos - length < rate // 5:  # the last syllable runs to the trailing edge
            length = end - pos
        t = np.arange(length) / rate
        f0 = rng.uniform(110, 220)
        burst = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 8))
        x[pos : pos + length] = burst * np.hanning(length)
        pos += length + round(rate * rng.uniform(0.04, 0.12))
    x *= peak / np.abs(x).max()
    if noise_dbfs is not None:
        x += rng.standard_normal(n) * 10 ** (noise_dbfs / 20)
    return np.repeat(x[:, None], channels, axis=1)


def write(path: Path, x: F64, rate: int, subtype: str = "PCM_16") -> Path:
    """Write ``x`` as a WAV file and return its path."""
    sf.write(str(path), x, rate, subtype=subtype, format="WAV")
    return path
