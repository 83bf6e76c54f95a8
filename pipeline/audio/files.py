"""Checks on a recording's file before anything opens it, and the error for unusable input.

NumPy-free, so the cache's look-ups (a re-run over unchanged input answers every clip from
them) import no audio stack.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pipeline.errors import InputError

__all__ = ["check_regular_file", "regular_stat", "unreadable"]


def unreadable(file: str | None, message: str) -> InputError:
    """The one error analyze()/normalize() raise for input libsndfile cannot use."""
    return InputError(code="audio.unreadable", file=file, message=message)


def check_regular_file(path: Path, *, file: str | None, max_bytes: int | None) -> int:
    """Return the file's size; refuse FIFOs, devices and oversized files before opening them.

    A FIFO or /dev/zero named like a WAV would make libsndfile block or read forever.
    """
    return regular_stat(path, file=file, max_bytes=max_bytes).st_size


def regular_stat(path: Path, *, file: str | None, max_bytes: int | None) -> os.stat_result:
    """:func:`check_regular_file`, returning the whole stat."""
    try:
        st = path.stat()
    except OSError as exc:
        raise unreadable(file, f"cannot stat: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise unreadable(file, "not a regular file")
    if st.st_size == 0:
        raise unreadable(file, "empty file (0 bytes)")
    if max_bytes is not None and st.st_size > max_bytes:
        raise InputError(
            code="audio.file_too_large",
            file=file,
            message=f"{st.st_size} bytes > {max_bytes} bytes limit",
        )
    return st
