"""Measure a recording (:func:`analyze`); :mod:`.clip_checks` judges the measurements.

Everything is measured in one block-wise pass (:class:`Meter`), so memory stays flat: besides
one block of audio, the meter keeps four numbers per 10 ms frame and one per 100 ms sub-block
(about 9 MB for an hour). normalize() feeds the same meter with the audio it writes, which is
how it measures its output without reading it back.

How the estimates work (all on the DC-free mono downmix, in 10 ms frames):

- *noise floor*: the 10th percentile of frame power. Cheap and robust to dropouts, but it
  needs quiet frames: a clip that is all sound (or a steady synthetic tone) has its floor
  on the sound itself and reads as SNR ≈ 0 dB. Real speech has pauses.
- *silence threshold*: 50 dB below the loudest frame, raised to 10 dB over the noise floor
  for noisy recordings, but never closer than 20 dB to the loudest frame. Relative levels
  only, so a gain change does not move the edges.
- *leading/trailing silence*: whole frames below the threshold at either end; with speech
  detection (:mod:`.speech`), the frames outside the speech the VAD found instead, its edges
  refined on the energy (:func:`.speech.speech_edges`), so a breath, a click or noise before or after
  the speech counts as silence to trim while a soft onset the VAD's coarse window missed is kept.
- *SNR*: mean power of the frames above the threshold over the noise floor, capped at
  :data:`SNR_CAP_DB` (a noise-free synthetic signal has an infinite SNR; the cap keeps the
  value finite for JSON and comparisons, and 100 dB is far above any threshold). With speech
  detection the noise floor is taken from the frames outside the speech instead
  (:func:`.speech.nonspeech_floor`), where there are enough of them: read speech with few
  pauses has fewer than 10 % quiet frames, and the 10th percentile then lands on the speech.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from pipeline.audio._sndfile import Reader
from pipeline.audio.loudness import LoudnessMeter
from pipeline.audio.speech import SpeechDetector, SpeechMap, nonspeech_floor, speech_edges
from pipeline.audio.stats import percentile
from pipeline.records import AudioInfo

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

#: |x| at or above this counts as full scale (int16 full scale reads 32767/32768 ≈ 0.99997).
CLIP_LEVEL: Final = 0.999
#: Consecutive full-scale samples that make a clipped run; shorter touches are legitimate peaks.
CLIP_RUN: Final = 3
SNR_CAP_DB: Final = 100.0
NOISE_PERCENTILE: Final = 10.0
SILENCE_BELOW_LOUDEST_DB: Final = 50.0
SILENCE_OVER_NOISE_DB: Final = 10.0
SILENCE_MIN_GAP_DB: Final = 20.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurements:
    """An AudioInfo plus the per-frame data normalize() plans its edits with."""

    info: AudioInfo
    frame_len: int  #: samples per 10 ms frame
    first_active: int | None  #: index of the first frame above the silence threshold
    last_active: int | None
    frame_max: F64  #: per-frame max of the mono downmix (DC not removed; empty without extremes)
    frame_min: F64
    mono: F32 | None = None  #: the whole mono downmix, when the meter was asked to keep it
    #: energy of the K-weighted mono downmix per 10 ms frame (``frame_len`` samples); empty
    #: when the meter did not measure loudness
    mono_loudness_frames: F64 = dataclasses.field(default_factory=lambda: np.zeros(0))
    #: where the speech is, when the meter was asked to detect it (first/last_active then
    #: mark the speech's edges, unless it found none)
    speech: SpeechMap | None = None


class _ClipRuns:
    """Counts samples in runs of >= CLIP_RUN full-scale samples, per channel, across blocks."""

    def __init__(self, channels: int) -> None:
        self._carry = [0] * channels  # length of the run still open at the end of the last block
        self.count = 0

    def _close(self, run: int) -> None:
        if run >= CLIP_RUN:
            self.count += run

    def clean(self) -> None:
        """A block without any full-scale sample: close the open runs (the common case)."""
        for c, run in enumerate(self._carry):
            if run:
                self._close(run)
                self._carry[c] = 0

    def feed(self, full: npt.NDArray[np.bool_]) -> None:
        n = full.shape[0]
        for c in range(full.shape[1]):
            mask = full[:, c]
            if not mask.any():
                self._close(self._carry[c])
                self._carry[c] = 0
                continue
            edges = np.diff(mask.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
            starts = np.flatnonzero(edges == 1)
            ends = np.flatnonzero(edges == -1)
            lengths = ends - starts
            if starts[0] == 0:  # the run left open by the last block continues here
                lengths[0] += self._carry[c]
            else:
                self._close(self._carry[c])
            self._carry[c] = 0
            if ends[-1] == n:  # still open: the next block may extend it
                self._carry[c] = int(lengths[-1])
                lengths = lengths[:-1]
            self.count += int(lengths[lengths >= CLIP_RUN].sum())

    def finish(self) -> int:
        for c, run in enumerate(self._carry):
            self._close(run)
            self._carry[c] = 0
        return self.count


def downmix(x: F32, out: F32 | None = None) -> F32:
    """The mono mix of a (frames, channels) block: the mean of the channels, in float32
    (written into ``out`` when given; else a mono block is returned as a view).

    The one definition both the meter and normalize() use, so a downmix the meter kept is
    exactly what normalize() would compute again. A float32 matrix-vector product is the
    fastest form (ndarray.mean(axis=1) is ~7x slower over so short an axis).
    """
    channels = x.shape[1]
    if channels == 1:
        if out is None:
            return x[:, 0]
        if x.ctypes.data != out.ctypes.data:  # not already decoded into place
            out[:] = x[:, 0]
        return out
    weights = np.full(channels, 1.0 / channels, np.float32)
    mono: F32 = np.matmul(x, weights, out=out)
    return mono


class Meter:
    """Streaming measurements of one signal: feed (frames, channels) float blocks, then finish.

    With ``keep_mono`` the meter also keeps the float32 mono downmix it computes anyway
    (``Measurements.mono``), so normalize() can render a short clip without decoding it again;
    it is written straight into one growing buffer (sized by ``frames_hint``, the header's
    count), and a mono source can be decoded into that buffer (:meth:`mono_slot`), so the
    kept signal costs no copy at all.
    Without ``loudness`` it skips the K-weighting (the costliest measurement) and
    :meth:`finish` takes the loudness from its caller. With ``speech`` it also runs the voice
    activity detector over the downmix (``Measurements.speech``; edges on the speech).
    """

    def __init__(
        self,
        rate: int,
        channels: int,
        *,
        subtype: str,
        keep_mono: bool = False,
        frames_hint: int = 0,
        loudness: bool = True,
        speech: bool = False,
        full_scale: float = 1.0,
        extremes: bool = True,
    ) -> None:
        self.rate = rate
        self.channels = channels
        self.subtype = subtype
        self.frame_len = max(1, round(rate / 100))  # == LoudnessMeter's sub-block / 10
        self._loudness = (
            LoudnessMeter(rate, channels, LoudnessMeter.block_frames(rate)) if loudness else None
        )
        # Blocks handed to _process hold whole 100 ms sub-blocks (and so whole 10 ms frames),
        # except the very last; incoming blocks of any size are re-chunked to that length.
        # Frame k therefore always starts at sample k * frame_len, which the edges rely on
        # (and which lets finish() derive every frame's length from the total).
        self._chunk = LoudnessMeter.block_frames(rate)
        self._pending: list[F32] = []
        self._pending_frames = 0
        self._frames = 0
        self._peak = 0.0
        # Blocks at another scale (normalize()'s output, fed as integer sample values) are
        # measured as they come and the results scaled once, in finish(): a power of two
        # scales every float32 sum exactly, so this is what unit-scale blocks would give.
        self._scale = full_scale
        self._clip_level = CLIP_LEVEL * full_scale
        # Each frame's extremes (Measurements.frame_max/min) are what plans the edits; a meter
        # of what was written needs only the peak (one max and one min over each block).
        self._extremes = extremes
        self._clips = _ClipRuns(channels)
        self._fmean: list[F64] = []
        self._fvar: list[F64] = []
        self._ones = np.ones(self.frame_len, np.float32)
        self._fmax: list[F32] = []
        self._fmin: list[F32] = []
        self._mono = _Kept(frames_hint) if keep_mono else None
        self._speech = SpeechDetector(rate) if speech else None

    @property
    def frames(self) -> int:
        """Frames fed so far."""
        return self._frames + self._pending_frames

    def mono_slot(self, frames: int) -> F32 | None:
        """Where the kept downmix's next ``frames`` frames go (None when it is not kept): a
        mono block decoded into it and fed next is kept without a copy."""
        return None if self._mono is None else self._mono.slot(frames)

    @property
    def chunk_frames(self) -> int:
        """Frames per internal chunk: feeding multiples of it avoids any copying."""
        return self._chunk

    def feed(self, block: F32) -> None:
        """Add a block of shape (frames, channels), full scale ±1.0."""
        n = block.shape[0]
        if n == 0:
            return
        if not self._pending and n % self._chunk == 0:
            for start in range(0, n, self._chunk):  # whole chunks: processed in place
                self._process(block[start : start + self._chunk])
            return
        self._pending.append(block)
        self._pending_frames += n
        if self._pending_frames < self._chunk:
            return
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        whole = (data.shape[0] // self._chunk) * self._chunk
        for start in range(0, whole, self._chunk):
            self._process(data[start : start + self._chunk])
        rest = data[whole:]
        self._pending = [rest] if rest.shape[0] else []
        self._pending_frames = rest.shape[0]

    def _process(self, x: F32) -> None:
        n = x.shape[0]
        self._frames += n
        mono = downmix(x) if self._mono is None else self._mono.append(x)
        if self._speech is not None:
            self._speech.feed(mono)
        # Per-frame mean and variance: the DC offset is known only at the end, and a
        # frame's power about it is its variance plus its mean's distance from it squared.
        # Both come from float32 sums of the frame's samples taken relative to its own first
        # sample: deviations within one frame are bounded by its own range, so a large DC
        # offset cannot swamp a quiet frame's variance, as it would in plain float32 sums of
        # squares (float64 sums cost 0.96 ns a sample, these 0.40). Extremes are exact in
        # float32, and reduceat over the flat signal takes them in 0.15 ns a sample where
        # max(axis=1) over the (frames, frame_len) view took 0.25.
        fl = self.frame_len
        whole = n // fl
        parts: list[F32] = []
        if whole:
            body = mono[: whole * fl]
            if self._extremes:
                starts = np.arange(0, whole * fl, fl)
                parts += [np.maximum.reduceat(body, starts), np.minimum.reduceat(body, starts)]
            frames = body.reshape(whole, fl)
            first = frames[:, 0].astype(np.float64)
            deviation = frames - frames[:, :1]
            mean = (deviation @ self._ones).astype(np.float64) / fl
            square = np.einsum("ij,ij->i", deviation, deviation).astype(np.float64) / fl
            self._fmean.append(first + mean)
            self._fvar.append(np.maximum(square - mean * mean, 0.0))
        if whole * fl < n:  # the last, partial frame (only ever in the final block)
            rest64 = mono[whole * fl :].astype(np.float64)
            self._fmean.append(np.array([rest64.mean()]))
            self._fvar.append(np.array([rest64.var()]))
            if self._extremes:
                rest = mono[whole * fl :]
                parts += [rest.max(keepdims=True), rest.min(keepdims=True)]
        self._fmax += parts[0::2]
        self._fmin += parts[1::2]
        # The sample peak: of a mono signal the frames' extremes hold it (two passes fewer);
        # of several channels, or without the extremes, max and min over the block (no |x|
        # allocated). The clip-run scan (which needs the mask) only runs when something
        # actually reached full scale.
        if self.channels == 1 and self._extremes:
            top = max(
                max(float(p.max()) for p in parts[0::2]), -min(float(p.min()) for p in parts[1::2])
            )
        else:
            top = max(float(x.max()), -float(x.min()))
        self._peak = max(self._peak, top)
        if top >= self._clip_level:
            self._clips.feed(np.abs(x) >= self._clip_level)
        else:
            self._clips.clean()
        if self._loudness is not None:
            self._loudness.feed(x)

    def finish(self, *, loudness_lufs: float | None = None) -> Measurements:
        """Flush and compute every measurement; ``loudness_lufs`` is the loudness to report
        when the meter does not measure it (and only then)."""
        if self._pending:
            pending = self._pending
            self._process(pending[0] if len(pending) == 1 else np.concatenate(pending))
            self._pending = []
        if self._loudness is not None and loudness_lufs is None:
            loudness = self._loudness.integrated()
        elif self._loudness is None and loudness_lufs is not None:
            loudness = loudness_lufs
        else:
            raise ValueError("pass loudness_lufs exactly when the meter does not measure it")
        frames, rate = self._frames, self.rate
        means, variances = _cat(self._fmean), _cat(self._fvar)
        scale = self._scale
        if scale != 1.0:
            means /= scale
            variances /= scale * scale
        dc = 0.0
        power = np.zeros(0)
        if frames:
            # Every frame is frame_len long but the last (see __init__).
            flen = np.full(means.shape[0], float(self.frame_len))
            flen[-1] = frames - (means.shape[0] - 1) * self.frame_len
            dc = float(means @ flen) / frames
            power = variances + (means - dc) ** 2
        first, last, snr_db, threshold = _activity(power)
        speech = self._speech.finish() if self._speech is not None else None
        if speech is not None and speech.spans and first is not None:
            step = self.frame_len / rate
            first, last = speech_edges(speech, power > threshold, step)
            floor = nonspeech_floor(speech, power, step)
            if floor is not None:  # the noise where the VAD hears none (see the docstring)
                loud = float(power[power > threshold].mean())
                snr_db = SNR_CAP_DB if floor <= 0.0 else min(SNR_CAP_DB, _db(loud / floor))
        duration = frames / rate
        if first is None or last is None:
            lead = trail = duration
        else:
            lead = first * self.frame_len / rate
            trail = max(0.0, (frames - (last + 1) * self.frame_len) / rate)
        clipped = self._clips.finish()
        info = AudioInfo(
            frames=frames,
            sample_rate=rate,
            channels=self.channels,
            subtype=self.subtype,
            duration_s=duration,
            peak_dbfs=_dbfs(self._peak / scale),
            clipped_samples=clipped,
            clip_fraction=clipped / (frames * self.channels) if frames else 0.0,
            dc_offset=dc,
            loudness_lufs=loudness,
            lead_silence_s=lead,
            trail_silence_s=trail,
            snr_db=snr_db,
        )
        mono = self._mono.array() if self._mono is not None else None
        return Measurements(
            info=info,
            frame_len=self.frame_len,
            first_active=first,
            last_active=last,
            frame_max=_cat(self._fmax) / scale,
            frame_min=_cat(self._fmin) / scale,
            mono=mono,
            mono_loudness_frames=(
                self._loudness.mono_frame_energies() if self._loudness is not None else np.zeros(0)
            ),
            speech=speech,
        )


class _Kept:
    """The kept mono downmix: one buffer, filled in order, grown by doubling when a header
    announced fewer frames than arrive (or none)."""

    def __init__(self, frames_hint: int) -> None:
        self._buffer = np.empty(max(frames_hint, 1 << 16), np.float32)
        self._frames = 0

    def slot(self, frames: int) -> F32:
        """The next ``frames`` frames of the buffer (grown to hold them)."""
        end = self._frames + frames
        if end > self._buffer.shape[0]:
            grown = np.empty(max(end, 2 * self._buffer.shape[0]), np.float32)
            grown[: self._frames] = self._buffer[: self._frames]
            self._buffer = grown
        return self._buffer[self._frames : end]

    def append(self, x: F32) -> F32:
        """Keep the downmix of (frames, channels) block ``x``; returns the kept copy. A mono
        block that already lies in its :meth:`slot` is not copied."""
        kept = downmix(x, out=self.slot(x.shape[0]))
        self._frames += x.shape[0]
        return kept

    def array(self) -> F32:
        """Everything kept so far."""
        return self._buffer[: self._frames]


def _cat(parts: Sequence[F64] | Sequence[F32]) -> F64:
    return np.concatenate(parts).astype(np.float64, copy=False) if parts else np.zeros(0)


def _dbfs(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


def _db(ratio: float) -> float:
    return 10.0 * math.log10(ratio)


def _activity(power: F64) -> tuple[int | None, int | None, float, float]:
    """First and last frames above the silence threshold, the SNR estimate, the threshold."""
    if power.shape[0] == 0:
        return None, None, 0.0, 0.0
    loudest = float(power.max())
    if loudest <= 0.0:
        return None, None, 0.0, 0.0
    noise = percentile(power, NOISE_PERCENTILE)
    threshold = max(
        loudest * 10 ** (-SILENCE_BELOW_LOUDEST_DB / 10), noise * 10 ** (SILENCE_OVER_NOISE_DB / 10)
    )
    threshold = min(threshold, loudest * 10 ** (-SILENCE_MIN_GAP_DB / 10))
    active = np.flatnonzero(power > threshold)
    speech = float(power[active].mean())
    snr = SNR_CAP_DB if noise <= 0.0 else min(SNR_CAP_DB, 10.0 * math.log10(speech / noise))
    return int(active[0]), int(active[-1]), snr, threshold


def measure(path: Path, *, file: str | None = None, max_bytes: int | None = None) -> Measurements:
    """One block-wise pass over ``path``: everything analyze() reports, plus frame data."""
    with Reader(path, file=file, max_bytes=max_bytes) as reader:
        return measure_reader(reader)


def measure_reader(
    reader: Reader, *, keep_mono: bool = False, speech: bool = False
) -> Measurements:
    """Read ``reader`` to its end through a Meter (keeping the mono downmix, detecting the
    speech, if asked)."""
    meter = Meter(
        reader.rate,
        reader.channels,
        subtype=reader.subtype,
        keep_mono=keep_mono,
        frames_hint=reader.frames,
        speech=speech,
    )
    # Blocks of whole meter chunks (about as many samples as the reader's default), so the
    # meter never has to join pieces of blocks; a kept mono source is decoded straight into
    # the meter's buffer.
    step = meter.chunk_frames * max(1, reader.block_frames // meter.chunk_frames)
    slot = meter.mono_slot if reader.channels == 1 else None
    for block in reader.blocks(step, into=slot):
        meter.feed(block)
    return meter.finish()


def analyze(path: Path, *, max_bytes: int | None = None) -> AudioInfo:
    """Measure one recording block-wise, in constant memory.

    Raises InputError ``audio.unreadable`` (file None) for an empty, truncated or non-WAV file,
    or anything libsndfile refuses; ``audio.file_too_large`` when ``max_bytes`` is exceeded.
    """
    return measure(path, max_bytes=max_bytes).info
