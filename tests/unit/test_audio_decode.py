"""The direct PCM decoder: bit for bit libsndfile's float conversion, from a file or its bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.audio._sndfile import Reader


def _write(path: Path, subtype: str, channels: int, container: str, frames: int) -> None:
    rng = np.random.default_rng(17)
    x = np.clip(rng.standard_normal((frames, channels)) * 0.3, -1.0, 0.999).astype(np.float32)
    x[:3] = [[-1.0] * channels, [0.999] * channels, [0.0] * channels]  # the scale's edges
    sf.write(path, x, 44100, subtype=subtype, format=container)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize("container", ["WAV", "WAVEX"])
def test_direct_decode_equals_libsndfile(
    tmp_path: Path, subtype: str, channels: int, container: str
) -> None:
    """Every sample type, channel count and header, in blocks that do not divide the data
    (the last one ends the file): the file and its bytes decode to libsndfile's floats."""
    path = tmp_path / "x.wav"
    _write(path, subtype, channels, container, frames=10_007)
    expected, _ = sf.read(path, dtype="float32", always_2d=True)
    data = path.read_bytes()
    for source in (None, data):
        with Reader(path, file="x.wav", data=source) as reader:
            assert reader._direct is not None  # the fast path, not libsndfile's
            got = np.concatenate(list(reader.blocks(4_093)))
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)


def test_bytes_with_a_chunk_after_the_data(tmp_path: Path) -> None:
    """A chunk after the data (a LIST tag) leaves the decoder's spare byte inside the file:
    the samples still end where the data chunk does."""
    path = tmp_path / "x.wav"
    _write(path, "PCM_24", 2, "WAV", frames=5_001)
    expected, _ = sf.read(path, dtype="float32", always_2d=True)
    tagged = tmp_path / "tagged.wav"
    body = path.read_bytes() + b"LIST" + (8).to_bytes(4, "little") + b"INFOabcd"
    riff = (len(body) - 8).to_bytes(4, "little")
    tagged.write_bytes(body[:4] + riff + body[8:])
    with Reader(tagged, file="tagged.wav", data=tagged.read_bytes()) as reader:
        assert reader._direct is not None
        got = np.concatenate(list(reader.blocks(1_000)))
    np.testing.assert_array_equal(got, expected)
