"""The per-batch lock: ``flock`` on a file in ``state_dir``, so overlapping cron runs of the
same batch never work at once. The kernel drops the lock when the process dies, so a killed
run never leaves a stale lock behind."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import LockHeld


@contextmanager
def batch_lock(state_dir: Path, batch: str) -> Iterator[Path]:
    """Hold the batch's lock for the ``with`` body; raises LockHeld at once if it is taken."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / f"{batch}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise LockHeld(
                f"{path}: batch '{batch}' is locked by pid {holder}; nothing was done"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)
