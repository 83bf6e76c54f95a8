"""Deterministic upload packages: the same inputs always give byte-identical zips.

Huawei basic/middle: ``0.wav…N-1.wav`` + ``0.txt…N-1.txt`` (UTF-8, no BOM) at the zip root.
Huawei advance/third-party: one long WAV. Members are STORED (WAV does not compress and it keeps
the packager I/O-bound), with a fixed timestamp and permissions, so a re-run produces the same
bytes and the same content hash.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Final

from pipeline.records import PreparedVoice

_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
#: The long recording's name inside an advance/third-party zip (the docs allow any name).
LONG_RECORDING_NAME: Final = "recording.wav"


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def members(voice: PreparedVoice, *, join: bool) -> list[tuple[str, Path | bytes]]:
    """The (member name, file or bytes) pairs of the voice's package, in order."""
    if join:
        if voice.joined is None:
            raise ValueError(f"voice {voice.key}: no joined recording for a long-recording package")
        return [(LONG_RECORDING_NAME, voice.joined)]
    out: list[tuple[str, Path | bytes]] = []
    for i, clip in enumerate(voice.clips):
        out.append((f"{i}.wav", clip.normalized))
        out.append((f"{i}.txt", (clip.text or "").encode("utf-8")))
    return out


def build_zip(voice: PreparedVoice, out: Path, *, join: bool) -> Path:
    """Write the voice's package to ``out`` atomically (reused when it already exists)."""
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for name, content in members(voice, join=join):
                if isinstance(content, bytes):
                    zf.writestr(_info(name), content)
                else:
                    # Streamed member by member in 1 MiB pieces: memory does not grow with the
                    # recording's length (an advance recording can be hours long).
                    info = _info(name)
                    info.file_size = (
                        content.stat().st_size
                    )  # lets zipfile pick zip64 only if needed
                    with content.open("rb") as src, zf.open(info, "w") as dst:
                        while chunk := src.read(1 << 20):
                            dst.write(chunk)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
