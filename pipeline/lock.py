"""The per-batch lock: ``flock`` on a file in ``state_dir``, so overlapping cron runs of the
same batch never work at once. The kernel drops the lock when the process dies, so a killed
run never leaves a stale lock behind."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import ConfigError, LockHeld, PipelineError, RunInterrupted

_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def state_dir_error(exc: OSError, state_dir: Path) -> PipelineError:
    """An OSError on ``state_dir`` as the error the operator can act on: a full disk cuts the
    run short (exit 3), anything else is the job file's or the machine's setup (exit 2)."""
    why = exc.strerror or str(exc)
    if exc.errno in _NO_SPACE:
        return RunInterrupted(f"{state_dir}: {why}; free space there and run again")
    return ConfigError(
        f"{state_dir}: state_dir is not usable ({why}); make it a writable folder or point "
        "[batch] state_dir elsewhere"
    )


@contextmanager
def batch_lock(state_dir: Path, batch: str) -> Iterator[Path]:
    """Hold the batch's lock for the ``with`` body; raises LockHeld at once if it is taken."""
    path = state_dir / f"{batch}.lock"
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise state_dir_error(exc, state_dir) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise LockHeld(
                f"{path}: batch '{batch}' is locked by pid {holder}; nothing was done"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError as exc:
            raise state_dir_error(exc, state_dir) from None
        yield path
    finally:
        os.close(fd)
