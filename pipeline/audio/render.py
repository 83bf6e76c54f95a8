"""The second pass of normalization: write the planned output and measure it on the way out.

The kept part of the source's mono downmix has its DC offset removed and the peak gain applied,
is resampled with soxr (HQ) and written as integer PCM. The audio written
is fed to a Meter as it goes, so the output is measured without being read back; its loudness
is derived from the source's (:func:`_output_loudness`). A source whose downmix the first pass
kept is not decoded again, and is resampled in one call (:data:`ONE_SHOT_FRAMES`); a longer
one streams through soxr's stream resampler, block by block. soxr gives the same samples
however its input is chunked, one call included, so both paths write identical files
(``tests/unit/test_audio_render.py``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

from pipeline.audio._sndfile import AtomicWavWriter, Reader
from pipeline.audio._wavwrite import BITS
from pipeline.audio.analyze import Measurements, Meter, downmix
from pipeline.audio.edits import Plan
from pipeline.audio.loudness import gated_loudness, sub_block_frames
from pipeline.audio.profiles import AudioProfile
from pipeline.records import AudioInfo

__all__ = ["ONE_SHOT_FRAMES", "RENDER_BLOCK", "RESAMPLE_QUALITY", "Rendered", "render"]

F32 = npt.NDArray[np.float32]

#: soxr "HQ": 20-bit precision, band-limited; VHQ costs ~1.5x for no audible gain at 16 bits.
RESAMPLE_QUALITY: Final = "HQ"
#: Frames per step of the second pass over an in-memory downmix: small enough that the
#: float32 temporaries (gain, resampled, quantized) stay in cache.
RENDER_BLOCK: Final = 1 << 16
#: A kept downmix resampled to at most this many frames (about 87 s at 48 kHz, 16 MB of
#: float32) is resampled in one call: soxr's one-shot call took 10-25 % less time than
#: streaming the same clip in blocks (measured for 9 s from 16, 44.1 and 96 kHz), for the same
#: samples.
ONE_SHOT_FRAMES: Final = 1 << 22


class _Resampler:
    """Typed wrapper of soxr.ResampleStream for mono float32 (soxr has no type stubs)."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self._stream = soxr.ResampleStream(
            rate_in, rate_out, 1, dtype="float32", quality=RESAMPLE_QUALITY
        )

    def feed(self, x: F32, *, last: bool = False) -> F32:
        return np.asarray(self._stream.resample_chunk(x, last=last), dtype=np.float32)


def _resample_all(x: F32, rate_in: int, rate_out: int) -> F32:
    """``x`` resampled in one call: the samples the stream resampler gives for all of it."""
    return np.asarray(soxr.resample(x, rate_in, rate_out, quality=RESAMPLE_QUALITY), np.float32)


@dataclass(frozen=True, slots=True)
class Rendered:
    """What the second pass wrote: the output's measurements and, when it could be taken on
    the way out, the file's CRC-32 (else None: read the file for it)."""

    info: AudioInfo
    crc32: int | None


def render(
    src: Path, measured: Measurements, plan: Plan, profile: AudioProfile, wav: Path, *, file: str
) -> Rendered:
    """The second pass: write the normalized WAV atomically and measure it on the way."""
    info = measured.info
    rate_out = profile.sample_rate
    resample = info.sample_rate != rate_out
    gain = np.float32(10.0 ** (plan.gain_db / 20.0))
    dc = np.float32(plan.dc)
    bits = BITS[profile.subtype]
    scale = np.float32(2 ** (bits - 1))
    shift = 32 - bits
    # The signal is taken to the output's integer scale with the gain, before resampling:
    # scaling by a power of two is exact in every float operation (soxr's as well), so the
    # samples are the same as scaling after it, for two passes fewer. The meter takes them at
    # that scale too. Everything about the output is measured on the way out but its
    # loudness, which is derived from the source (see _output_loudness): K-weighting the
    # output as well was a tenth of all the work per clip.
    factor = np.float32(gain * scale)
    meter = Meter(
        rate_out,
        1,
        subtype=profile.subtype,
        loudness=False,
        full_scale=float(scale),
        extremes=False,
    )

    def scaled(mono: F32) -> F32:
        """A fresh array (the kept downmix is never modified): DC removed, gain, scale."""
        if plan.dc:
            y = mono - dc
            y *= factor
            return y
        return mono * factor

    # The output's blocks, and how many frames they hold where that is known beforehand (the
    # writer then takes the file's CRC on the way out). A kept downmix short enough is
    # handled whole (resampled in one call) and cut into blocks of whole meter chunks, so the
    # meter meters them where they lie (the padded edges aside, blocks of any other length
    # are joined in the meter first: a copy of every block).
    kept = None if measured.mono is None else measured.mono[plan.keep_start : plan.keep_end]
    blocks: Iterable[F32]
    frames: int | None = None
    if kept is not None and 0 < kept.shape[0] * rate_out <= ONE_SHOT_FRAMES * info.sample_rate:
        body = scaled(kept)
        if resample:
            body = _resample_all(body, info.sample_rate, rate_out)
        blocks = _padded_blocks(body, plan.pad_start, plan.pad_end, meter.chunk_frames)
        frames = plan.pad_start + body.shape[0] + plan.pad_end
    else:
        monos = _kept_mono(src, measured, plan, profile, file=file)
        if resample:
            body_blocks = _streamed(monos, scaled, info.sample_rate, rate_out)
        else:
            body_blocks = (scaled(m) for m in monos)
            # fewer only if the file is cut short: the writer then patches its header
            frames = plan.pad_start + (plan.keep_end - plan.keep_start) + plan.pad_end
        blocks = itertools.chain(
            [np.zeros(plan.pad_start, np.float32)],
            body_blocks,
            [np.zeros(plan.pad_end, np.float32)],
        )
    with AtomicWavWriter(wav, rate=rate_out, subtype=profile.subtype, frames=frames) as writer:
        for y in blocks:
            if y.shape[0] == 0:
                continue
            # Round to the output's integer grid ourselves (no dither: the output stays
            # deterministic) and clip, rather than trust libsndfile's float conversion.
            # In place (every block is the pass's own): these arrays are its largest
            # temporaries.
            np.rint(y, out=y)
            np.clip(y, -scale, scale - 1, out=y)
            writer.write(y.astype(np.int16) if shift == 16 else y.astype(np.int32) << shift)
            meter.feed(y[:, None])
    loudness = _output_loudness(measured, plan, rate_out, meter.frames)
    return Rendered(meter.finish(loudness_lufs=loudness).info, writer.crc32)


def _padded_blocks(body: F32, pad_start: int, pad_end: int, size: int) -> Iterator[F32]:
    """``pad_start`` zeros, ``body``, ``pad_end`` zeros, in blocks of ``size`` frames (the
    last one shorter): views of ``body`` where a block lies within it, fresh arrays where it
    takes in padding."""
    n = body.shape[0]
    total = pad_start + n + pad_end
    for start in range(0, total, size):
        lo, hi = start - pad_start, min(start + size, total) - pad_start  # in body's frames
        if lo >= 0 and hi <= n:
            yield body[lo:hi]
            continue
        block = np.zeros(hi - lo, np.float32)
        a, b = max(lo, 0), min(hi, n)
        if b > a:
            block[a - lo : b - lo] = body[a:b]
        yield block


def _streamed(
    monos: Iterator[F32], scaled: Callable[[F32], F32], rate_in: int, rate_out: int
) -> Iterator[F32]:
    """The blocks of the downmix through soxr's stream resampler, its tail included."""
    resampler = _Resampler(rate_in, rate_out)
    for mono in monos:
        yield resampler.feed(scaled(mono))
    yield resampler.feed(np.zeros(0, np.float32), last=True)


def _output_loudness(measured: Measurements, plan: Plan, rate_out: int, frames_out: int) -> float:
    """The output's BS.1770 loudness, from the source's K-weighted mono mix.

    The output is the kept part of the mono downmix, DC removed, times the gain, resampled,
    with silence padded. K-weighting is linear and its 38 Hz high-pass removes DC, so the
    filtered output is the gain times the filtered downmix, and resampling keeps the energy
    of the band both rates carry. The output's 100 ms gating sub-blocks are rebuilt from the
    source's 10 ms frames of mono energy, on the output's own grid (which starts at the
    padded start, not at a source sub-block edge) to within half a frame; padded silence
    adds nothing. ``tests/unit/test_audio_normalize.py`` checks the result against reading
    the file back (within 0.1 LU).
    """
    frames = measured.mono_loudness_frames
    flen = measured.frame_len
    if frames.shape[0] == 0:
        return -math.inf
    rate_in = measured.info.sample_rate
    sub_out = sub_block_frames(rate_out)
    subs = frames_out // sub_out
    # Where each output sub-block starts, in source frames (negative: in the lead padding).
    offset = plan.keep_start - plan.pad_start * rate_in / rate_out
    step = sub_out * rate_in / rate_out
    starts = np.rint((offset + step * np.arange(subs + 1)) / flen).astype(np.int64)
    # Sums over frames [starts[k], starts[k+1]) via a cumulative sum, clamped to the kept
    # frames (outside them: padding or trimmed audio, silence in the output).
    lo = -(-plan.keep_start // flen)
    hi = min(plan.keep_end // flen, frames.shape[0])
    csum = np.concatenate(([0.0], np.cumsum(frames[lo:hi])))
    edges = np.clip(starts - lo, 0, hi - lo)
    energies = (csum[edges[1:]] - csum[edges[:-1]]) * 10.0 ** (plan.gain_db / 10.0)
    return gated_loudness(energies, round(step))


def _kept_mono(
    src: Path, measured: Measurements, plan: Plan, profile: AudioProfile, *, file: str
) -> Iterator[F32]:
    """The mono downmix of source frames ``keep_start:keep_end``, block by block: from the
    first pass's copy when it kept one, else decoded again."""
    if measured.mono is not None:
        kept = measured.mono[plan.keep_start : plan.keep_end]
        for start in range(0, kept.shape[0], RENDER_BLOCK):
            yield kept[start : start + RENDER_BLOCK]
        return
    with Reader(src, file=file, max_bytes=profile.max_file_bytes) as reader:
        position = 0
        for block in reader.blocks():
            start, position = position, position + block.shape[0]
            lo = max(plan.keep_start - start, 0)
            hi = min(plan.keep_end - start, block.shape[0])
            if hi > lo:
                yield downmix(block[lo:hi])
            if position >= plan.keep_end:
                return
