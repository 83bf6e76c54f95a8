"""Recognizing the audio Azure accepts (§5.5): WAV at 16/24/44.1/48 kHz and 16/24/32 bit, or MP3.

Reads only headers from the file on disk (the audio itself is never loaded), which is all the
emulator needs to refuse junk and to know a clip's duration. ``accept_audio`` turns a staged
file into the ``StoredAudio`` a resource keeps, or a 400.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from pipeline.emulator.azure.bodies import StagedFile
from pipeline.emulator.azure.errors import bad_argument
from pipeline.emulator.azure.records import StoredAudio

RATES: Final = frozenset({16000, 24000, 44100, 48000})
WAV_BITS: Final = frozenset({16, 24, 32})
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
# MPEG-1 Layer III bit rates (kbps) by index, and sample rates by index (MPEG-1, -2, -2.5)
_MP3_KBPS: Final = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_RATES: Final = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


class AudioFormatError(ValueError):
    """The file is not audio the service accepts."""


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What the headers say."""

    format: str  #: "wav" or "mp3"
    sample_rate: int
    channels: int
    bits: int  #: 0 for mp3
    duration_s: float


def sniff_audio(path: Path) -> AudioInfo:
    """The format and duration of an audio file, or ``AudioFormatError``."""
    with path.open("rb") as f:
        head = f.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return _wav(f, path.stat().st_size)
        if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
            return _mp3(f, path.stat().st_size)
    raise AudioFormatError("not a RIFF/WAVE or MP3 file")


def accept_audio(staged: StagedFile, staging: Path, final: Path, target: str) -> StoredAudio:
    """Check one staged file is accepted audio; record where it will live after commit."""
    try:
        info = sniff_audio(staging / staged.name)
    except AudioFormatError as exc:
        name = staged.filename or staged.part
        raise bad_argument(target, f"'{name}' is not supported audio: {exc}.") from None
    return StoredAudio(
        part=staged.part,
        filename=staged.filename,
        content_type=staged.content_type,
        size=staged.size,
        sha256=staged.sha256,
        path=final / staged.name,
        format=info.format,
        duration_s=info.duration_s,
    )


def _wav(f: BinaryIO, file_size: int) -> AudioInfo:
    fmt: tuple[int, int, int, int, int] | None = None  # tag, channels, rate, byte rate, bits
    pos = 12
    while pos + 8 <= file_size:
        f.seek(pos)
        chunk_id, size = struct.unpack("<4sI", f.read(8))
        if chunk_id == b"fmt ":
            raw = f.read(min(size, 40))
            if len(raw) < 16:
                raise AudioFormatError("truncated fmt chunk")
            tag, channels, rate, byte_rate, _align, bits = struct.unpack("<HHIIHH", raw[:16])
            if tag == _EXTENSIBLE and len(raw) >= 26:
                tag = struct.unpack("<H", raw[24:26])[0]  # the sub-format GUID starts with it
            fmt = (tag, channels, rate, byte_rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioFormatError("data chunk before fmt chunk")
            tag, channels, rate, byte_rate, bits = fmt
            if tag not in (_PCM, _FLOAT):
                raise AudioFormatError(f"unsupported WAV encoding {tag}")
            if rate not in RATES:
                raise AudioFormatError(f"unsupported sample rate {rate} Hz")
            if bits not in WAV_BITS:
                raise AudioFormatError(f"unsupported bit depth {bits}")
            if channels < 1 or byte_rate <= 0:
                raise AudioFormatError("bad WAV header")
            # a streaming writer may leave the size at 0 or 0xFFFFFFFF: use what is there
            available = file_size - (pos + 8)
            data = available if size in (0, 0xFFFFFFFF) else min(size, available)
            return AudioInfo("wav", rate, channels, bits, data / byte_rate)
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    raise AudioFormatError("no data chunk")


def _mp3(f: BinaryIO, file_size: int) -> AudioInfo:
    f.seek(0)
    start = 0
    head = f.read(10)
    if head[:3] == b"ID3":
        # the ID3v2 size is "syncsafe": 7 bits per byte
        start = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
        f.seek(start)
        head = f.read(4)
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        raise AudioFormatError("no MPEG frame header")
    version = (head[1] >> 3) & 3
    layer = (head[1] >> 1) & 3
    bitrate_index = head[2] >> 4
    rate_index = (head[2] >> 2) & 3
    if version == 1 or layer != 1 or not 0 < bitrate_index < 15 or rate_index == 3:
        raise AudioFormatError("not an MPEG Layer III stream")
    rate = _MP3_RATES[version][rate_index]
    if rate not in RATES:
        raise AudioFormatError(f"unsupported sample rate {rate} Hz")
    kbps = _MP3_KBPS[bitrate_index]  # only exact for MPEG-1; an estimate is enough here
    channels = 1 if head[3] >> 6 == 3 else 2
    return AudioInfo("mp3", rate, channels, 0, (file_size - start) * 8 / (kbps * 1000))
