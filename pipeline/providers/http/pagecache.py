"""Reads that never wait on the disk, so they may run on the event loop: preadv2(RWF_NOWAIT).

An upload's bytes are nearly always in the page cache (normalization has just written them, or
a checksum has just read them), and handing every block to a worker thread costs about as much
CPU as copying the block (measured here: ~0.2 ms per hop against ~0.1 ms per MiB copied; for
512 MiB of uploads our client spent 0.28 s of CPU with a hop per MiB and 0.18 s reading on the
loop, as much as curl). With ``RWF_NOWAIT`` (Linux >= 4.14) the kernel copies only what is cached
and answers EAGAIN instead of going to the disk, so a caller reads cached bytes in place and
sends only the rest to a thread.

Hand-written because no library offers it: aiofiles and anyio's file wrappers always hop to a
thread. Where the flag does not exist (not Linux) or the filesystem refuses it (EOPNOTSUPP on
some network and FUSE filesystems), :func:`read_cached` answers None and every read goes to the
thread, as before.
"""

from __future__ import annotations

import errno
import os
from typing import Final

#: None where the platform has no preadv2 flags (every read then takes the thread).
_NOWAIT: Final[int | None] = getattr(os, "RWF_NOWAIT", None)
#: Errors that mean "this file cannot be read without waiting" rather than "it cannot be read":
#: EAGAIN (not cached), EOPNOTSUPP/EINVAL (the filesystem or kernel does not know the flag).
_WOULD_WAIT: Final = frozenset({errno.EAGAIN, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})


def read_cached(fd: int, into: memoryview, offset: int) -> int | None:
    """Copy bytes of ``fd`` at ``offset`` into ``into`` only as far as the page cache holds
    them; the count (0 at the end of the file, fewer than asked when only a prefix is cached),
    or None when not even the first byte is there without waiting (read it in a thread).

    Raises OSError for real read errors (EIO, EBADF …), as ``os.pread`` would.
    """
    if _NOWAIT is None:
        return None
    if not into:
        return 0
    try:
        return os.preadv(fd, [into], offset, _NOWAIT)
    except OSError as exc:
        if exc.errno in _WOULD_WAIT:
            return None
        raise


def read_at(fd: int, into: memoryview, offset: int, *, wait: bool) -> int | None:
    """``os.preadv`` of ``fd`` at ``offset`` into ``into`` when the caller may wait on the disk
    (a worker thread), :func:`read_cached` when it may not (the event loop)."""
    return os.preadv(fd, [into], offset) if wait else read_cached(fd, into, offset)
