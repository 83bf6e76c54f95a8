"""The second pass writes the same file whichever way it reads and resamples the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.audio import PROFILES
from pipeline.audio._sndfile import Reader
from pipeline.audio.analyze import measure_reader
from pipeline.audio.edits import plan_edits
from pipeline.audio.render import ONE_SHOT_FRAMES, render
from pipeline.checksums import file_crc32
from tests.unit.audio_signals import speechlike, write

PROFILE = PROFILES["huawei-basic"]  # 48 kHz PCM_16


def _render(src: Path, out: Path, *, keep_mono: bool) -> bytes:
    with Reader(src, file=src.name) as reader:
        measured = measure_reader(reader, keep_mono=keep_mono)
    assert (measured.mono is not None) == keep_mono
    rendered = render(src, measured, plan_edits(measured, PROFILE), PROFILE, out, file=src.name)
    if rendered.crc32 is not None:  # taken on the way out: the file's own
        assert rendered.crc32 == file_crc32(out)
    return out.read_bytes()


@pytest.mark.parametrize(
    ("rate", "seconds", "channels", "subtype", "lead", "trail"),
    [
        (16000, 7.3, 1, "PCM_24", 0.02, 0.05),  # upsampled in one call, both edges padded
        (44100, 6.1, 2, "FLOAT", 0.9, 0.05),  # 160/147 and downmixed; trimmed, then padded
        (96000, 5.2, 1, "PCM_16", 0.03, 0.8),  # halved; padded, then trimmed
        (48000, 5.5, 2, "PCM_32", 0.15, 0.15),  # no resampling, no edge edits
        # longer than one call takes: the kept downmix streamed in blocks
        (16000, ONE_SHOT_FRAMES / 48000 + 3.0, 1, "PCM_16", 0.02, 0.05),
    ],
)
def test_kept_downmix_and_decoding_again_write_identical_files(
    tmp_path: Path,
    rate: int,
    seconds: float,
    channels: int,
    subtype: str,
    lead: float,
    trail: float,
) -> None:
    """Rendering from the first pass's downmix (whole, resampled in one call, when short
    enough, else streamed) and decoding the source again (streamed block by block) agree byte
    for byte, edges trimmed or padded."""
    x = speechlike(
        rate, seconds, lead=lead, trail=trail, peak=0.3, noise_dbfs=-70, channels=channels
    )
    x += 0.004  # a DC offset to remove
    src = write(tmp_path / "in.wav", x, rate, subtype)
    kept = _render(src, tmp_path / "kept.wav", keep_mono=True)
    decoded = _render(src, tmp_path / "decoded.wav", keep_mono=False)
    assert len(kept) > 44
    assert kept == decoded
