"""Joining normalized clips into one long recording, with the profile's pause between them."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.audio._sndfile import AtomicWavWriter, Reader
from pipeline.audio.analyze import Meter
from pipeline.audio.profiles import AudioProfile
from pipeline.records import AudioInfo

__all__ = ["join", "write_joined"]

I16 = npt.NDArray[np.int16]
I32 = npt.NDArray[np.int32]


def join(clips: Sequence[Path], profile: AudioProfile, out: Path) -> AudioInfo:
    """Concatenate normalized clips with ``profile.join_pause_s`` of silence between them.

    Block-wise and atomic (``out`` appears complete or not at all); returns the measurements
    of what was written. Integer samples are copied unchanged. Raises ValueError for a clip
    that is not mono at ``profile.sample_rate`` (normalize it first), InputError when one is
    unreadable.
    """
    meter = Meter(profile.sample_rate, 1, subtype=profile.subtype)
    _concatenate(clips, profile, out, meter)
    return meter.finish().info


def write_joined(clips: Sequence[Path], profile: AudioProfile, out: Path) -> None:
    """What :func:`join` writes, without measuring it (the pipeline has every clip's
    measurements already); a single clip in the profile's format is linked, not copied.

    Measuring is a full K-weighting pass, as costly as the copy itself on an hour-long
    recording. One clip joined is byte for byte the clip (the same header from the same
    writer, the same samples), so a hard link (a copy across file systems) is the same file
    for free.
    """
    if len(clips) == 1 and _is_output_format(clips[0], profile):
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            try:
                os.link(clips[0], tmp)
            except OSError:
                shutil.copyfile(clips[0], tmp)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        return
    _concatenate(clips, profile, out, None)


def _is_output_format(clip: Path, profile: AudioProfile) -> bool:
    """Whether ``clip`` is a plain WAV exactly as normalize() writes for ``profile``."""
    with Reader(clip, file=None) as reader:
        return (reader.format, reader.rate, reader.channels, reader.subtype) == (
            "WAV",
            profile.sample_rate,
            1,
            profile.subtype,
        )


def _concatenate(
    clips: Sequence[Path], profile: AudioProfile, out: Path, meter: Meter | None
) -> None:
    if not clips:
        raise ValueError("join() needs at least one clip")
    rate = profile.sample_rate
    with AtomicWavWriter(out, rate=rate, subtype=profile.subtype) as writer:
        # Samples are copied as integers of the output's width: for PCM_16 (every provider
        # profile) half the memory traffic of int32; libsndfile drops the bits a wider clip
        # has beyond it, so the meter sees exactly what is written.
        pause = np.zeros(round(profile.join_pause_s * rate), np.int16)
        scale = np.float32(2.0 ** -(15 if writer.bits == 16 else 31))
        for index, clip in enumerate(clips):
            if index:
                writer.write(pause)
                if meter is not None:
                    meter.feed(np.zeros((pause.shape[0], 1), np.float32))
            with Reader(clip, file=None) as reader:
                if reader.rate != rate or reader.channels != 1:
                    raise ValueError(
                        f"{clip.name}: {reader.rate} Hz, {reader.channels} channel(s); "
                        f"join() takes clips normalized to {rate} Hz mono"
                    )
                blocks: Iterator[I16] | Iterator[I32]
                if writer.bits == 16:
                    blocks = reader.blocks_int16()
                else:
                    blocks = _truncated(reader.blocks_int32(), 32 - writer.bits)
                for block in blocks:
                    samples = block[:, 0]
                    writer.write(samples)
                    if meter is not None:
                        meter.feed((samples.astype(np.float32) * scale)[:, None])


def _truncated(blocks: Iterator[I32], shift: int) -> Iterator[I32]:
    """Int32 blocks with the bits below the output's width cleared (what the writer keeps)."""
    for block in blocks:
        yield (block >> shift) << shift
