"""Bring one recording into a profile's format (:func:`normalize`) and join clips (:func:`join`).

normalize() makes two block-wise passes over the source, so memory stays flat for hour-long
recordings: the first measures (analyze.Meter), the second downmixes to mono, removes the DC
offset, trims or pads the edge silences, applies the peak gain, resamples with soxr's streaming
resampler (HQ) and writes integer PCM. The audio it writes is fed to a second Meter on the way
out, so the output is measured without being read back. A source of up to
:data:`IN_MEMORY_FRAMES` frames (minutes of audio: every clip of a sentence profile) is decoded
only once: the first pass keeps the mono downmix it computes anyway, and the second pass works
from it. soxr's stream resampler gives the same samples however its input is chunked, so both
paths write identical files.

Results are content-addressed: the key is the SHA-256 of the source bytes plus the profile's
fingerprint, the WAV lives at ``cache_dir/<key[:2]>/<key>.wav`` and a JSON sidecar beside it
holds the measurements, findings and edits. A re-run over unchanged input hashes the file,
finds the sidecar and returns ``cached=True`` without decoding any audio.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

from pipeline.audio._sndfile import AtomicWavWriter, Reader, check_regular_file
from pipeline.audio.analyze import Measurements, Meter, downmix, measure_reader
from pipeline.audio.loudness import gated_loudness, sub_block_frames
from pipeline.audio.profiles import AudioProfile
from pipeline.checksums import file_crc32, file_sha256
from pipeline.errors import InputError
from pipeline.records import AudioInfo, Finding, Severity

F32 = npt.NDArray[np.float32]
I16 = npt.NDArray[np.int16]
I32 = npt.NDArray[np.int32]

#: Bump when the sidecar's layout changes; older sidecars then count as cache misses.
#: 2: the normalized file's CRC-32.
SIDECAR_VERSION: Final = 2
#: soxr "HQ": 20-bit precision, band-limited; VHQ costs ~1.5x for no audible gain at 16 bits.
RESAMPLE_QUALITY: Final = "HQ"
#: Resampling can raise the sample peak (inter-sample overs, band-limiting a clipped edge);
#: when the rate changes, a peak this close to the ceiling is pulled down to the target.
RESAMPLE_HEADROOM_DB: Final = 0.5
#: Sources up to this many frames are decoded once (the mono downmix kept between the passes
#: costs 4 bytes a frame: 32 MB at most, about 3 minutes at 48 kHz); longer ones are read twice.
IN_MEMORY_FRAMES: Final = 1 << 23
#: Frames per step of the second pass over an in-memory downmix: small enough that the
#: float32 temporaries (gain, resampled, quantized) stay in cache.
RENDER_BLOCK: Final = 1 << 16


@dataclass(frozen=True, slots=True, kw_only=True)
class NormalizedAudio:
    """One recording in the profile's format, in the cache, with what was done to it."""

    path: Path  #: the normalized WAV in the cache
    source_sha256: str
    #: CRC-32 of the normalized WAV: computed once here, while the file is hot in the page
    #: cache, so an upload package can state every member's CRC before streaming it
    crc32: int
    info_in: AudioInfo
    info_out: AudioInfo
    findings: tuple[Finding, ...]  #: what normalization changed (fixed) or could not (warning)
    cached: bool  #: served from the cache with no audio work
    lead_trimmed_s: float = 0.0  #: source audio dropped before the speech
    lead_padded_s: float = 0.0  #: digital silence added before it
    trail_trimmed_s: float = 0.0
    trail_padded_s: float = 0.0
    gain_db: float = 0.0

    @property
    def expected_duration_s(self) -> float:
        """The input's duration minus trimmed plus padded silence: the output's, within 10 ms."""
        return (
            self.info_in.duration_s
            - self.lead_trimmed_s
            - self.trail_trimmed_s
            + self.lead_padded_s
            + self.trail_padded_s
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """The edits the second pass makes, decided from the first pass's measurements."""

    keep_start: int  #: first source frame kept
    keep_end: int  #: one past the last source frame kept
    pad_start: int  #: output frames of silence written before
    pad_end: int
    dc: float  #: subtracted from the mono downmix (0.0 when below the profile's threshold)
    gain_db: float
    peak_dbfs: float  #: of the kept, DC-free mono signal before gain
    capped: bool  #: the gain cap kept the peak below the floor


def normalize(
    src: Path,
    profile: AudioProfile,
    cache_dir: Path,
    *,
    file: str,
    source_sha256: str | None = None,
) -> NormalizedAudio:
    """Convert ``src`` to ``profile``'s format in the cache (or find it there).

    ``source_sha256``: the source's hash when the caller has just computed it (a
    :func:`lookup` that missed), so the file is not hashed twice.

    Raises InputError: ``audio.unreadable`` (as analyze), ``audio.file_too_large`` and
    ``audio.low_sample_rate`` (a source below the profile's minimum is never upsampled).
    """
    if source_sha256 is None:
        source_sha, hit = lookup(src, profile, cache_dir, file=file)
        if hit is not None:
            return hit
    else:
        check_regular_file(src, file=file, max_bytes=profile.max_file_bytes)
        source_sha = source_sha256
    wav = _cache_path(cache_dir, source_sha, profile)
    sidecar = wav.with_suffix(".json")
    with Reader(src, file=file, max_bytes=profile.max_file_bytes) as reader:
        if reader.rate < profile.min_input_rate:
            raise InputError(
                code="audio.low_sample_rate",
                file=file,
                message=f"{reader.rate} Hz < {profile.min_input_rate} Hz; never upsampled",
            )
        measured = measure_reader(reader, keep_mono=reader.frames <= IN_MEMORY_FRAMES)
    plan = _plan(measured, profile)
    info_out = _render(src, measured, plan, profile, wav, file=file)
    result = NormalizedAudio(
        path=wav,
        source_sha256=source_sha,
        crc32=file_crc32(wav),  # the file was just written: read from the page cache
        info_in=measured.info,
        info_out=info_out,
        findings=tuple(_findings(measured.info, info_out, plan, profile, file)),
        cached=False,
        lead_trimmed_s=plan.keep_start / measured.info.sample_rate,
        lead_padded_s=plan.pad_start / profile.sample_rate,
        trail_trimmed_s=(measured.info.frames - plan.keep_end) / measured.info.sample_rate,
        trail_padded_s=plan.pad_end / profile.sample_rate,
        gain_db=plan.gain_db,
    )
    _store(sidecar, result, profile)
    return result


def lookup(
    src: Path, profile: AudioProfile, cache_dir: Path, *, file: str
) -> tuple[str, NormalizedAudio | None]:
    """The source's SHA-256 and its cache entry, if complete: all a re-run needs, with no
    audio decoded (cheap enough for the caller's thread; only a miss needs a worker)."""
    check_regular_file(src, file=file, max_bytes=profile.max_file_bytes)
    source_sha = _sha256(src, file)
    wav = _cache_path(cache_dir, source_sha, profile)
    hit = _load(wav.with_suffix(".json"), wav, source_sha=source_sha, profile=profile, file=file)
    return source_sha, hit


def _cache_path(cache_dir: Path, source_sha: str, profile: AudioProfile) -> Path:
    key = f"{source_sha}-{profile.fingerprint}"
    return cache_dir / key[:2] / f"{key}.wav"


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


def _sha256(path: Path, file: str) -> str:
    try:
        return file_sha256(path)
    except OSError as exc:
        raise InputError(
            code="audio.unreadable", file=file, message=f"cannot read: {exc.strerror or exc}"
        ) from None


def _plan(m: Measurements, profile: AudioProfile) -> _Plan:
    info = m.info
    rate_in, rate_out = info.sample_rate, profile.sample_rate
    dc = info.dc_offset if abs(info.dc_offset) >= profile.dc_offset_threshold else 0.0
    keep_start, keep_end, pad_start, pad_end = 0, info.frames, 0, 0
    if m.first_active is None or m.last_active is None:  # silence: nothing to trim or level
        return _Plan(
            keep_start=0,
            keep_end=info.frames,
            pad_start=0,
            pad_end=0,
            dc=dc,
            gain_db=0.0,
            peak_dbfs=-math.inf,
            capped=False,
        )
    aim_s = profile.edge_silence_target_s
    lead = m.first_active * m.frame_len
    trail = max(0, info.frames - (m.last_active + 1) * m.frame_len)
    for edge, frames in (("lead", lead), ("trail", trail)):
        seconds = frames / rate_in
        if seconds > profile.edge_silence_max_s:
            cut = frames - round(aim_s * rate_in)
            if edge == "lead":
                keep_start = cut
            else:
                keep_end = info.frames - cut
        elif seconds < profile.edge_silence_min_s:
            pad = round((aim_s - seconds) * rate_out)
            if edge == "lead":
                pad_start = pad
            else:
                pad_end = pad
    # The peak of what will be kept, after DC removal, from the per-frame extremes.
    first = keep_start // m.frame_len
    last = -(-keep_end // m.frame_len)
    top = float(m.frame_max[first:last].max()) - dc
    bottom = dc - float(m.frame_min[first:last].min())
    peak = max(top, bottom)
    peak_dbfs = 20.0 * math.log10(peak) if peak > 0 else -math.inf
    ceiling = profile.peak_ceiling_dbfs
    if rate_in != rate_out:
        ceiling -= RESAMPLE_HEADROOM_DB
    gain_db, capped = 0.0, False
    if peak_dbfs > -math.inf and not profile.peak_floor_dbfs <= peak_dbfs <= ceiling:
        gain_db = profile.peak_target_dbfs - peak_dbfs
        if gain_db > profile.max_gain_db:
            gain_db = profile.max_gain_db
            capped = peak_dbfs + gain_db < profile.peak_floor_dbfs
    return _Plan(
        keep_start=keep_start,
        keep_end=keep_end,
        pad_start=pad_start,
        pad_end=pad_end,
        dc=dc,
        gain_db=gain_db,
        peak_dbfs=peak_dbfs,
        capped=capped,
    )


class _Resampler:
    """Typed wrapper of soxr.ResampleStream for mono float32 (soxr has no type stubs)."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self._stream = soxr.ResampleStream(
            rate_in, rate_out, 1, dtype="float32", quality=RESAMPLE_QUALITY
        )

    def feed(self, x: F32, *, last: bool = False) -> F32:
        return np.asarray(self._stream.resample_chunk(x, last=last), dtype=np.float32)


def _render(
    src: Path, measured: Measurements, plan: _Plan, profile: AudioProfile, wav: Path, *, file: str
) -> AudioInfo:
    """The second pass: write the normalized WAV atomically and measure it on the way."""
    info = measured.info
    rate_out = profile.sample_rate
    resampler = _Resampler(info.sample_rate, rate_out) if info.sample_rate != rate_out else None
    gain = np.float32(10.0 ** (plan.gain_db / 20.0))
    dc = np.float32(plan.dc)
    # Everything about the output is measured on the way out but its loudness, which is
    # derived from the source (see _output_loudness): K-weighting the output as well was a
    # tenth of all the work per clip.
    meter = Meter(rate_out, 1, subtype=profile.subtype, loudness=False)
    with AtomicWavWriter(wav, rate=rate_out, subtype=profile.subtype) as writer:
        scale = np.float32(2 ** (writer.bits - 1))
        unscale = np.float32(1.0) / scale  # a power of two: y * unscale == y / scale exactly
        shift = 32 - writer.bits

        def emit(y: F32) -> None:
            """Quantize ``y`` (owned: changed in place), write it and meter what was written."""
            if y.shape[0] == 0:
                return
            # Round to the output's integer grid ourselves (no dither: the output stays
            # deterministic) and clip, rather than trust libsndfile's float conversion.
            # In place: these arrays are the largest temporaries of the pass.
            y *= scale
            np.rint(y, out=y)
            np.clip(y, -scale, scale - 1, out=y)
            writer.write(y.astype(np.int16) if shift == 16 else y.astype(np.int32) << shift)
            y *= unscale
            meter.feed(y[:, None])

        emit(np.zeros(plan.pad_start, np.float32))
        for mono in _kept_mono(src, measured, plan, profile, file=file):
            # Fresh arrays from here on: the kept downmix is never modified.
            y = mono - dc if plan.dc else mono.copy()
            if plan.gain_db:
                y *= gain
            emit(resampler.feed(y) if resampler else y)
        if resampler:
            emit(resampler.feed(np.zeros(0, np.float32), last=True))
        emit(np.zeros(plan.pad_end, np.float32))
        loudness = _output_loudness(measured, plan, rate_out, meter.frames)
        return meter.finish(loudness_lufs=loudness).info


def _output_loudness(measured: Measurements, plan: _Plan, rate_out: int, frames_out: int) -> float:
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
    src: Path, measured: Measurements, plan: _Plan, profile: AudioProfile, *, file: str
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


def _findings(
    info_in: AudioInfo, info_out: AudioInfo, plan: _Plan, profile: AudioProfile, file: str
) -> list[Finding]:
    out: list[Finding] = []

    def fixed(code: str, message: str) -> None:
        out.append(Finding(severity=Severity.FIXED, code=code, file=file, message=message))

    if info_in.sample_rate != profile.sample_rate:
        fixed("audio.resampled", f"{info_in.sample_rate} Hz → {profile.sample_rate} Hz")
    if info_in.channels > 1:
        fixed("audio.downmixed", f"{info_in.channels} channels → mono")
    if info_in.subtype != profile.subtype:
        fixed("audio.requantized", f"{info_in.subtype} → {profile.subtype}")
    if plan.dc:
        fixed("audio.dc_offset", f"removed DC offset {plan.dc:+.4f}")
    edges = []
    rate_in, rate_out = info_in.sample_rate, profile.sample_rate
    lead_in = info_in.lead_silence_s
    trail_in = info_in.trail_silence_s
    if plan.keep_start:
        s = plan.keep_start / rate_in
        edges.append(f"lead {lead_in:.3f} s → {lead_in - s:.3f} s (trimmed {s:.3f} s)")
    if plan.pad_start:
        s = plan.pad_start / rate_out
        edges.append(f"lead {lead_in:.3f} s → {lead_in + s:.3f} s (padded {s:.3f} s)")
    if plan.keep_end != info_in.frames:
        s = (info_in.frames - plan.keep_end) / rate_in
        edges.append(f"trail {trail_in:.3f} s → {trail_in - s:.3f} s (trimmed {s:.3f} s)")
    if plan.pad_end:
        s = plan.pad_end / rate_out
        edges.append(f"trail {trail_in:.3f} s → {trail_in + s:.3f} s (padded {s:.3f} s)")
    if edges:
        fixed("audio.silence_trimmed", "; ".join(edges))
    if plan.gain_db:
        fixed(
            "audio.gain_adjusted",
            f"{plan.gain_db:+.1f} dB: peak {plan.peak_dbfs:.1f} → "
            f"{plan.peak_dbfs + plan.gain_db:.1f} dBFS",
        )
    if plan.capped:
        out.append(
            Finding(
                severity=Severity.WARNING,
                code="audio.gain_capped",
                file=file,
                message=(
                    f"peak {info_out.peak_dbfs:.1f} dBFS < {profile.peak_floor_dbfs:.1f} dBFS: "
                    f"gain capped at +{profile.max_gain_db:.0f} dB"
                ),
            )
        )
    return out


# --- the sidecar: a cache entry's measurements, findings and edits --------------------------


def _info_json(info: AudioInfo) -> dict[str, object]:
    return {f.name: getattr(info, f.name) for f in dataclasses.fields(info)}


def _info_from(raw: object) -> AudioInfo:
    """Rebuild an AudioInfo, checking every field's type (a bad sidecar is a cache miss)."""
    if not isinstance(raw, dict):
        raise TypeError("info is not an object")
    values: dict[str, object] = {}
    for f in dataclasses.fields(AudioInfo):
        value = raw[f.name]
        if f.type == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
            raise TypeError(f"{f.name} is not an int")
        if f.type == "str" and not isinstance(value, str):
            raise TypeError(f"{f.name} is not a str")
        if f.type == "float":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError(f"{f.name} is not a number")
            value = float(value)
        values[f.name] = value
    return AudioInfo(**values)  # type: ignore[arg-type]


def _store(sidecar: Path, result: NormalizedAudio, profile: AudioProfile) -> None:
    """Write the sidecar atomically, after the WAV: its presence marks a complete entry."""
    document = {
        "version": SIDECAR_VERSION,
        "source_sha256": result.source_sha256,
        "profile": profile.name,
        "fingerprint": profile.fingerprint,
        "wav_bytes": result.path.stat().st_size,
        "crc32": result.crc32,
        "info_in": _info_json(result.info_in),
        "info_out": _info_json(result.info_out),
        # Without `file`: identical bytes in two voices share the entry, and each caller's
        # findings name its own file.
        "findings": [
            {"severity": str(f.severity), "code": f.code, "message": f.message}
            for f in result.findings
        ],
        "edits": {
            "lead_trimmed_s": result.lead_trimmed_s,
            "lead_padded_s": result.lead_padded_s,
            "trail_trimmed_s": result.trail_trimmed_s,
            "trail_padded_s": result.trail_padded_s,
            "gain_db": result.gain_db,
        },
    }
    # json writes -inf (peak or loudness of silence) as -Infinity and reads it back.
    # No indent: with one, json falls back to its pure-Python encoder, which cost ~1.5 ms a
    # clip (7% of normalizing it); compact output goes through the C encoder.
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, sidecar)
    finally:
        tmp.unlink(missing_ok=True)


def _load(
    sidecar: Path, wav: Path, *, source_sha: str, profile: AudioProfile, file: str
) -> NormalizedAudio | None:
    """The cached result, or None when there is no complete, matching entry."""
    try:
        document = json.loads(sidecar.read_text(encoding="utf-8"))
        if (
            document["version"] != SIDECAR_VERSION
            or document["source_sha256"] != source_sha
            or document["fingerprint"] != profile.fingerprint
            or wav.stat().st_size != document["wav_bytes"]
        ):
            return None
        findings = tuple(
            Finding(
                severity=Severity(str(f["severity"])),
                code=str(f["code"]),
                file=file,
                message=str(f["message"]),
            )
            for f in document["findings"]
        )
        edits = document["edits"]
        crc32 = document["crc32"]
        if not isinstance(crc32, int) or isinstance(crc32, bool):
            return None
        return NormalizedAudio(
            path=wav,
            source_sha256=source_sha,
            crc32=crc32,
            info_in=_info_from(document["info_in"]),
            info_out=_info_from(document["info_out"]),
            findings=findings,
            cached=True,
            lead_trimmed_s=float(edits["lead_trimmed_s"]),
            lead_padded_s=float(edits["lead_padded_s"]),
            trail_trimmed_s=float(edits["trail_trimmed_s"]),
            trail_padded_s=float(edits["trail_padded_s"]),
            gain_db=float(edits["gain_db"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
