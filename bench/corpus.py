"""Generated inputs for the benchmarks, written once under ``var/bench/`` and reused.

Every corpus is deterministic (seeded) and announces itself complete with a ``.complete``
marker written last, so an interrupted generation is redone instead of half reused.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import soundfile as sf

F64 = npt.NDArray[np.float64]

MARKER: Final = ".complete"

#: Benchmark 1: clips in the input format the issue names (44.1 kHz stereo 24-bit).
NORM_CLIPS: Final = 400
NORM_RATE: Final = 44100
NORM_SECONDS: Final = (5.0, 10.0)


def _ready(folder: Path, spec: dict[str, object]) -> bool:
    marker = folder / MARKER
    try:
        return bool(json.loads(marker.read_text(encoding="utf-8")) == spec)
    except (OSError, ValueError):
        return False


def _build(folder: Path, spec: dict[str, object], write: Callable[[Path], None]) -> Path:
    """``folder`` holding what ``write`` makes, rebuilt unless a complete matching one exists."""
    if _ready(folder, spec):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    (tmp / MARKER).write_text(json.dumps(spec), encoding="utf-8")
    os.replace(tmp, folder)
    return folder


def speechlike(rng: np.random.Generator, rate: int, seconds: float, channels: int) -> F64:
    """Syllable-like harmonic bursts with pauses, quiet edges and room noise (-55 dBFS).

    Real speech's structure where it matters to the pipeline: pauses (for the noise floor and
    SNR), quiet edges (trimmed), a peak to normalize; the second channel is a second
    microphone (quieter, its own noise).
    """
    n = round(seconds * rate)
    x = np.zeros(n)
    pos, end = round(rng.uniform(0.3, 0.6) * rate), n - round(rng.uniform(0.3, 0.6) * rate)
    f0 = rng.uniform(100, 230)
    harmonics = np.arange(1, 9)
    while pos < end:
        length = min(round(rate * rng.uniform(0.12, 0.28)), end - pos)
        t = np.arange(length) / rate
        pitch = f0 * (1 + 0.05 * rng.standard_normal())
        phases = rng.uniform(0, 2 * np.pi, harmonics.size)
        burst = (np.sin(2 * np.pi * pitch * np.outer(t, harmonics) + phases) / harmonics).sum(1)
        x[pos : pos + length] = burst * np.hanning(length) * rng.uniform(0.5, 1.0)
        pos += length + round(rate * rng.uniform(0.03, 0.25))
    x *= 10 ** (rng.uniform(-12, -2) / 20) / np.abs(x).max()
    out = np.empty((n, channels))
    for c in range(channels):
        out[:, c] = x * (1.0 if c == 0 else 0.85) + rng.standard_normal(n) * 10 ** (-55 / 20)
    return out


def norm_corpus(root: Path) -> Path:
    """Benchmark 1's clips: ``NORM_CLIPS`` WAVs, 44.1 kHz stereo PCM_24, 5-10 s each."""
    spec: dict[str, object] = {
        "clips": NORM_CLIPS,
        "rate": NORM_RATE,
        "seconds": list(NORM_SECONDS),
        "version": 1,
    }

    def write(folder: Path) -> None:
        rng = np.random.default_rng(20261121)
        for i in range(NORM_CLIPS):
            seconds = float(rng.uniform(*NORM_SECONDS))
            x = speechlike(rng, NORM_RATE, seconds, 2)
            sf.write(folder / f"clip-{i:03d}.wav", x, NORM_RATE, subtype="PCM_24")

    return _build(root / "norm-corpus", spec, write)


def clips_of(folder: Path) -> list[Path]:
    """The corpus's WAV files, sorted."""
    return sorted(folder.glob("*.wav"))


def audio_seconds(paths: list[Path]) -> float:
    """Total duration of ``paths`` from their headers."""
    return sum(sf.info(str(p)).duration for p in paths)
