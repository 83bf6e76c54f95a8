"""Multipart bodies of the Azure creates, spooled to a file so audio never sits in memory whole.

The boundary is derived from the ``Operation-Id`` (:func:`boundary`), so every attempt, in this
run or the next, sends the same bytes: Azure replays an identical request under a used
``Operation-Id`` and refuses a different one (reference §2.1).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO, Final

import anyio
import anyio.to_thread

from pipeline.providers.azure.records import AudioFile

_COPY_CHUNK: Final = 64 * 1024


def boundary(seed: str) -> str:
    """The multipart boundary of the request with Operation-Id ``seed``."""
    # Deterministic so a retry is byte-identical (Operation-Id replay compares the request);
    # 32 hex digits of a hash never occur by chance inside the audio.
    return "voiceonboarding" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def _disposition_value(text: str) -> str:
    # Form names and file names are ours (ASCII); quote marks and line breaks would break
    # the header, so refuse them rather than escape them differently from the server.
    if any(c in text for c in '"\r\n'):
        raise ValueError(f"unsafe multipart name {text!r}")
    return text


def write_multipart(
    target: BinaryIO,
    fields: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, AudioFile]],
    boundary: str,
) -> None:
    """Write a ``multipart/form-data`` body to ``target``: text fields (UTF-8), then the file
    parts copied from disk in 64 KiB pieces (never a whole file in memory). Blocking."""
    dash = f"--{boundary}\r\n".encode()
    for name, value in fields:
        target.write(dash)
        target.write(
            f'Content-Disposition: form-data; name="{_disposition_value(name)}"\r\n'.encode()
        )
        target.write(b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
        target.write(value.encode("utf-8"))
        target.write(b"\r\n")
    for name, audio in files:
        target.write(dash)
        target.write(
            (
                f'Content-Disposition: form-data; name="{_disposition_value(name)}"; '
                f'filename="{_disposition_value(audio.filename)}"\r\n'
                f"Content-Type: {audio.content_type}\r\n\r\n"
            ).encode()
        )
        with audio.path.open("rb") as source:
            shutil.copyfileobj(source, target, _COPY_CHUNK)
        target.write(b"\r\n")
    target.write(f"--{boundary}--\r\n".encode())


def spool_multipart(
    folder: Path | None,
    fields: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, AudioFile]],
    boundary: str,
) -> Path:
    """The body written to a temporary file (the caller deletes it). Blocking."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="azure-", suffix=".multipart", dir=folder)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            write_multipart(out, fields, files, boundary)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@asynccontextmanager
async def spooled(
    folder: Path | None,
    fields: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, AudioFile]],
    operation_id: str,
) -> AsyncIterator[tuple[Path, dict[str, str]]]:
    """The body of the create with ``operation_id`` spooled to a file in ``folder`` (None: the
    system's temporary folder), and its headers; the file is deleted on the way out."""
    mark = boundary(operation_id)
    body = await anyio.to_thread.run_sync(spool_multipart, folder, fields, files, mark)
    try:
        size = (await anyio.to_thread.run_sync(body.stat)).st_size
        yield (
            body,
            {
                "Content-Type": f"multipart/form-data; boundary={mark}",
                "Content-Length": str(size),
                "Operation-Id": operation_id,
            },
        )
    finally:
        await anyio.to_thread.run_sync(lambda: body.unlink(missing_ok=True))
