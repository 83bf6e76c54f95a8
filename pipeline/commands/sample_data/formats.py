"""Sample clips' audio formats (rate, sample type, channels) and their deterministic WAV bytes."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import soundfile as sf

Signal = npt.NDArray[np.float64]


# A voice's usual format is a common one; a clip that differs from it may be anything libsndfile
# writes, 96 kHz and 32-bit included. Weighted so a default tree stays moderate in size.
_BASE_RATES: Final = ((16000, 3), (22050, 1), (44100, 3), (48000, 4))
_BASE_SUBTYPES: Final = (("PCM_16", 7), ("PCM_24", 2), ("FLOAT", 1))
_RATES: Final = ((16000, 2), (22050, 1), (44100, 2), (48000, 2), (96000, 2))
_SUBTYPES: Final = (("PCM_16", 1), ("PCM_24", 1), ("PCM_32", 1), ("FLOAT", 1))
_STEREO_P: Final = 0.12
_OTHER_FORMAT_P: Final = 0.2  #: a clip that differs from its voice's usual format


@dataclass(frozen=True, slots=True)
class _Format:
    rate: int
    subtype: str
    channels: int


def _weighted(rng: np.random.Generator, items: tuple[tuple[int, int], ...]) -> int:
    weights = np.array([w for _, w in items], dtype=np.float64)
    return items[int(rng.choice(len(items), p=weights / weights.sum()))][0]


def _pick_format(rng: np.random.Generator, *, base: bool) -> _Format:
    rate = _weighted(rng, _BASE_RATES if base else _RATES)
    names = _BASE_SUBTYPES if base else _SUBTYPES
    subtype = names[_weighted(rng, tuple((i, w) for i, (_, w) in enumerate(names)))][0]
    return _Format(rate, subtype, 2 if rng.random() < _STEREO_P else 1)


def _wav_bytes(data: Signal, rate: int, subtype: str) -> bytes:
    """WAV bytes via libsndfile, made deterministic."""
    buf = io.BytesIO()
    sf.write(buf, data, rate, subtype=subtype, format="WAV")
    raw = bytearray(buf.getvalue())
    # libsndfile stamps float WAVs' PEAK chunk with the wall-clock time; zero it so two runs with
    # the same seed write identical bytes.
    data_at = raw.find(b"data", 12)
    peak_at = raw.find(b"PEAK", 12, data_at if data_at > 0 else None)
    if peak_at > 0:
        raw[peak_at + 12 : peak_at + 16] = bytes(4)
    return bytes(raw)
