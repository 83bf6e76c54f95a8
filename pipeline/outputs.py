"""How a run's output files are named and written: below both ``stages`` and ``report``.

The manifest (``stages.manifest``) and the HTML report (``report.publish``) are written the same
way and share the "latest" naming; this module keeps that in one place without either package
importing the other's internals. The audio cache writes its small files with the same
:func:`write_atomic`, without the syncs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a mix.

    ``durable``: on the disk (file and folder synced) before this returns; without it the
    file may be lost in a crash but is never seen half-written (caches, which a crash only
    costs recomputing).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if not durable:
        return
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def latest_name(batch: str, command: object) -> str:
    """The stem of the "latest" copy a command writes: ``<batch>-latest`` for runs (and the
    scale-out manifest), ``<batch>-check-latest`` for ``check``, so a pre-flight never hides
    the last run's statuses and asset ids."""
    return f"{batch}-check-latest" if command == "check" else f"{batch}-latest"
