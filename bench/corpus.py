"""Generated inputs for the benchmarks, written once under ``var/bench/`` and reused.

Every corpus is deterministic (seeded) and is written to a ``.partial`` folder that is renamed
into place with a marker holding its spec, so an interrupted generation is redone rather than
half reused, and a changed spec regenerates it.
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

from pipeline.commands.sample_data import write_inbox

F64 = npt.NDArray[np.float64]

MARKER: Final = ".complete"

#: Benchmark 1: clips in the input format the issue names (44.1 kHz stereo 24-bit), laid out
#: as an inbox (20 voices of 20 sentences) so the real CLI can run over it.
NORM_VOICES: Final = 20
NORM_CLIPS_PER_VOICE: Final = 20
NORM_RATE: Final = 44100
NORM_SECONDS: Final = (5.8, 10.0)

#: Benchmark 3: basic voices from the project's own sample-data generator (mixed formats).
E2E_VOICES: Final = 200

#: Benchmark 4: one long recording.
#: One minute under two hours: Huawei's advance edition accepts at most 7,200 s of audio
#: (the tenant's duration config), and normalization pads the edges with up to 0.2 s of
#: silence, so a recording of exactly two hours is (rightly) rejected as too long.
LONG_SECONDS: Final = 119 * 60
LONG_RATE: Final = 48000
_LONG_SEGMENT_S: Final = 60

#: The whole-command benchmark: 200 clips in mixed real-world formats (10 basic voices of 20),
#: ~31 minutes of audio. Clip i has format i mod 32 (every rate x sample type x channel count),
#: and every other round of 32 is written with a WAVE_FORMAT_EXTENSIBLE header.
MIXED_VOICES: Final = 10
MIXED_CLIPS_PER_VOICE: Final = 20
MIXED_RATES: Final = (44100, 48000, 96000, 16000)
MIXED_SUBTYPES: Final = ("PCM_16", "PCM_24", "PCM_32", "FLOAT")
MIXED_CHANNELS: Final = (1, 2)
MIXED_SECONDS: Final = (5.8, 12.8)

#: Benchmark 2: upload payloads, the size of a basic voice's package.
UPLOAD_FILES: Final = 32
UPLOAD_BYTES: Final = 16 * 1024 * 1024

_VOICE_TOML: Final = 'voice_name = "Bench voice {n:02d}"\nsex = "FEMALE"\nlanguage = "EN"\n'
_PDF: Final = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


def _ready(folder: Path, spec: dict[str, object]) -> bool:
    try:
        return bool(json.loads((folder / MARKER).read_text(encoding="utf-8")) == spec)
    except (OSError, ValueError):
        return False


def _build(folder: Path, spec: dict[str, object], write: Callable[[Path], None]) -> Path:
    """``folder`` holding what ``write`` makes, rebuilt unless a complete matching one exists."""
    if _ready(folder, spec):
        return folder
    print(f"bench: generating {folder} (once; reused by later runs)", flush=True)
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
    pos, end = round(rng.uniform(0.3, 0.5) * rate), n - round(rng.uniform(0.3, 0.5) * rate)
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


def _voice_files(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "voice.toml").write_text(_VOICE_TOML.format(n=n), encoding="utf-8")
    (folder / "authorization.pdf").write_bytes(_PDF)


def norm_corpus(root: Path) -> Path:
    """Benchmark 1's inbox: 400 WAVs, 44.1 kHz stereo PCM_24, 5.8-10 s, with transcripts."""
    spec: dict[str, object] = {
        "voices": NORM_VOICES,
        "clips": NORM_CLIPS_PER_VOICE,
        "rate": NORM_RATE,
        "seconds": list(NORM_SECONDS),
        "version": 2,
    }

    def write(folder: Path) -> None:
        rng = np.random.default_rng(20261121)
        for v in range(NORM_VOICES):
            voice = folder / f"voice-{v:02d}"
            _voice_files(voice, v)
            for c in range(NORM_CLIPS_PER_VOICE):
                x = speechlike(rng, NORM_RATE, float(rng.uniform(*NORM_SECONDS)), 2)
                sf.write(voice / f"clip-{c:02d}.wav", x, NORM_RATE, subtype="PCM_24")
                (voice / f"clip-{c:02d}.txt").write_text(f"Sentence {c}.\n", encoding="utf-8")

    return _build(root / "norm-corpus", spec, write)


def e2e_inbox(root: Path) -> Path:
    """Benchmark 3's inbox: 200 basic voices (4,000 clips) from the sample-data generator."""
    spec: dict[str, object] = {"voices": E2E_VOICES, "profile": "huawei-basic", "seed": 11}

    def write(folder: Path) -> None:
        write_inbox(folder, voices=E2E_VOICES, profile="huawei-basic", seed=11)

    return _build(root / "e2e-inbox", spec, write)


def long_inbox(root: Path) -> Path:
    """Benchmark 4's inbox: one advance voice whose recording is 119 minutes of 48 kHz 24-bit
    stereo (2.06 GB), written block by block from a one-minute segment varied per minute."""
    spec: dict[str, object] = {"seconds": LONG_SECONDS, "rate": LONG_RATE, "version": 2}

    def write(folder: Path) -> None:
        voice = folder / "speaker-01"
        _voice_files(voice, 1)
        rng = np.random.default_rng(7200)
        segment = speechlike(rng, LONG_RATE, _LONG_SEGMENT_S, 2).astype(np.float32)
        with sf.SoundFile(
            str(voice / "recording.wav"),
            "w",
            samplerate=LONG_RATE,
            channels=2,
            subtype="PCM_24",
            format="WAV",
        ) as out:
            for _ in range(LONG_SECONDS // _LONG_SEGMENT_S):
                # A different level and start point each minute, so no two blocks are equal.
                gain = np.float32(10 ** (rng.uniform(-4, 0) / 20))
                out.write(np.roll(segment, int(rng.integers(segment.shape[0])), axis=0) * gain)

    return _build(root / "long-inbox", spec, write)


def mixed_format(index: int) -> tuple[int, str, int, str]:
    """(rate, subtype, channels, container) of the mixed batch's clip ``index``."""
    combo = index % 32
    rate = MIXED_RATES[combo % 4]
    subtype = MIXED_SUBTYPES[combo // 4 % 4]
    channels = MIXED_CHANNELS[combo // 16]
    return rate, subtype, channels, "WAVEX" if index // 32 % 2 else "WAV"


def mixed_inbox(root: Path) -> Path:
    """The whole-command benchmark's inbox: 10 basic voices of 20 clips in mixed formats."""
    spec: dict[str, object] = {
        "voices": MIXED_VOICES,
        "clips": MIXED_CLIPS_PER_VOICE,
        "rates": list(MIXED_RATES),
        "subtypes": list(MIXED_SUBTYPES),
        "seconds": list(MIXED_SECONDS),
        "version": 1,
    }

    def write(folder: Path) -> None:
        rng = np.random.default_rng(20261202)
        for v in range(MIXED_VOICES):
            voice = folder / f"voice-{v:02d}"
            _voice_files(voice, v)
            for c in range(MIXED_CLIPS_PER_VOICE):
                rate, subtype, channels, container = mixed_format(v * MIXED_CLIPS_PER_VOICE + c)
                x = speechlike(rng, rate, float(rng.uniform(*MIXED_SECONDS)), channels)
                path = voice / f"clip-{c:02d}.wav"
                sf.write(path, x, rate, subtype=subtype, format=container)
                (voice / f"clip-{c:02d}.txt").write_text(f"Sentence {c}.\n", encoding="utf-8")

    return _build(root / "mixed-inbox", spec, write)


def upload_files(root: Path) -> list[Path]:
    """Benchmark 2's payloads: incompressible files the size of a basic voice's package."""
    spec: dict[str, object] = {"files": UPLOAD_FILES, "bytes": UPLOAD_BYTES}

    def write(folder: Path) -> None:
        rng = np.random.default_rng(16)
        for i in range(UPLOAD_FILES):
            (folder / f"package-{i:02d}.zip").write_bytes(rng.bytes(UPLOAD_BYTES))

    folder = _build(root / "upload-files", spec, write)
    return sorted(folder.glob("*.zip"))


def clips_of(inbox: Path) -> list[Path]:
    """The inbox's recordings, sorted."""
    return sorted(inbox.glob("*/*.wav"))


def audio_seconds(paths: list[Path]) -> float:
    """Total duration of ``paths`` from their headers."""
    return float(sum(sf.info(str(p)).duration for p in paths))


def warm(paths: list[Path]) -> None:
    """Read ``paths`` once so every contender starts from the page cache, not the disk."""
    for path in paths:
        with path.open("rb") as f:
            while f.read(1 << 22):
                pass
