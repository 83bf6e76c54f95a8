"""Bring one recording into a profile's format (:func:`normalize`), composing the passes.

normalize() makes two block-wise passes over the source, so memory stays flat for hour-long
recordings: the first measures (analyze.Meter), :mod:`.edits` plans from those measurements
what to change, and the second (:mod:`.render`) downmixes to mono, removes the DC offset, trims
or pads the edge silences, applies the peak gain, resamples and writes integer PCM, measuring
the output on the way. A source of up to :data:`IN_MEMORY_FRAMES` frames (minutes of audio:
every clip of a sentence profile) is decoded only once: the first pass keeps the mono downmix
it computes anyway, and the second pass works from it. The result goes to the content-addressed
cache (:mod:`.cache`, :func:`lookup`). A source whose hash the caller does not know (its stat
identity did not vouch for it, :mod:`.identity`) is read once: hashed, looked up under that
hash, and decoded from the same bytes; joining clips is :mod:`.joining` (:func:`join`,
:func:`write_joined`). This module's names are the ones the rest of the pipeline imports.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Final

from pipeline.audio._sndfile import Reader, check_regular_file, unreadable
from pipeline.audio.analyze import measure_reader
from pipeline.audio.cache import (
    SIDECAR_VERSION,
    NormalizedAudio,
    cache_path,
    cached,
    lookup,
    store,
)
from pipeline.audio.edits import edit_findings, plan_edits
from pipeline.audio.identity import Source, read_source, remember
from pipeline.audio.joining import join, write_joined
from pipeline.audio.profiles import AudioProfile
from pipeline.audio.render import render
from pipeline.audio.speech_checks import output_speech, speech_findings
from pipeline.checksums import file_crc32
from pipeline.errors import InputError

__all__ = [
    "IN_MEMORY_FRAMES",
    "SIDECAR_VERSION",
    "NormalizedAudio",
    "join",
    "lookup",
    "normalize",
    "write_joined",
]

#: Sources up to this many frames are decoded once (the mono downmix kept between the passes
#: costs 4 bytes a frame: 32 MB at most, about 3 minutes at 48 kHz); longer ones are read twice.
IN_MEMORY_FRAMES: Final = 1 << 23


def normalize(
    src: Path,
    profile: AudioProfile,
    cache_dir: Path,
    *,
    file: str,
    source_sha256: str | None = None,
    speech_detection: bool = True,
    record_identity: bool = True,
) -> NormalizedAudio:
    """Convert ``src`` to ``profile``'s format in the cache (or find it there).

    ``source_sha256``: the source's hash when the caller knows it (its stat identity vouched
    for it, :func:`lookup`); without it the file is read once, hashed, looked up under that
    hash (content seen before, under another name or stat) and decoded from the same bytes,
    and its identity is recorded for the next look-up (``record_identity``; else only
    returned as ``hashed``, for the caller to record with others: the workers' way).

    ``speech_detection``: run the voice-activity detector in the same pass
    (:mod:`.speech`): edge silence is then measured, trimmed and padded on the speech's
    edges, and the findings of :mod:`.speech_checks` join the result's (``[content] check``).

    Raises InputError: ``audio.unreadable`` (as analyze), ``audio.file_too_large`` and
    ``audio.low_sample_rate`` (a source below the profile's minimum is never upsampled).
    """
    check_regular_file(src, file=file, max_bytes=profile.max_file_bytes)
    read: Source | None = None
    if source_sha256 is None:
        try:
            read = read_source(src)
        except OSError as exc:
            raise unreadable(file, f"cannot read: {exc.strerror or exc}") from None
        source_sha = read.sha256
        hit = cached(cache_dir, source_sha, profile, file=file, speech_detection=speech_detection)
        if hit is not None:
            return _recorded(replace(hit, hashed=read.hashed(src)), cache_dir, record_identity)
    else:
        source_sha = source_sha256
    wav = cache_path(cache_dir, source_sha, profile, speech_detection=speech_detection)
    sidecar = wav.with_suffix(".json")
    data = read.data if read is not None else None
    with Reader(src, file=file, max_bytes=profile.max_file_bytes, data=data) as reader:
        if reader.rate < profile.min_input_rate:
            raise InputError(
                code="audio.low_sample_rate",
                file=file,
                message=f"{reader.rate} Hz < {profile.min_input_rate} Hz; never upsampled",
            )
        measured = measure_reader(
            reader, keep_mono=reader.frames <= IN_MEMORY_FRAMES, speech=speech_detection
        )
    plan = plan_edits(measured, profile)
    rendered = render(src, measured, plan, profile, wav, file=file)
    info_out = rendered.info
    findings = edit_findings(measured.info, info_out, plan, profile, file)
    speech = None
    if measured.speech is not None:
        speech = output_speech(measured.speech, plan, measured.info, info_out, profile.sample_rate)
        findings += speech_findings(measured, speech, profile, file=file)
    result = NormalizedAudio(
        path=wav,
        source_sha256=source_sha,
        # Taken as the file was written where it could be; else read from the page cache.
        crc32=rendered.crc32 if rendered.crc32 is not None else file_crc32(wav),
        info_in=measured.info,
        info_out=info_out,
        findings=tuple(findings),
        cached=False,
        lead_trimmed_s=plan.keep_start / measured.info.sample_rate,
        lead_padded_s=plan.pad_start / profile.sample_rate,
        trail_trimmed_s=(measured.info.frames - plan.keep_end) / measured.info.sample_rate,
        trail_padded_s=plan.pad_end / profile.sample_rate,
        gain_db=plan.gain_db,
        speech=speech,
        hashed=read.hashed(src) if read is not None else None,
    )
    store(sidecar, result, profile)
    return _recorded(result, cache_dir, record_identity)


def _recorded(result: NormalizedAudio, cache_dir: Path, record: bool) -> NormalizedAudio:
    if record and result.hashed is not None:
        remember(cache_dir, [result.hashed])
    return result
