"""Upload bodies: what ``put_file`` can send, and how their bytes reach aiohttp.

A body is reopened for every attempt (a consumed stream cannot be replayed) and read in
:data:`UPLOAD_READ` blocks, from the page cache on the event loop (:mod:`.pagecache`) and
otherwise in a worker thread, so the loop never waits on the disk.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final, Protocol

import anyio
import anyio.lowlevel
import anyio.to_thread

from pipeline.errors import ProviderProtocolError
from pipeline.providers.http.pagecache import read_at

#: Bytes per read of an upload body. Cached blocks are read on the event loop and handed to the
#: socket at once; a block the socket cannot take whole is copied into asyncio's write buffer,
#: so blocks about the size of a socket buffer cost least (measured here, client CPU for
#: 512 MiB: 64 KiB 0.21 s, 256 KiB 0.17 s, 1 MiB 0.21 s, 2 MiB 0.24 s; curl 0.18 s).
UPLOAD_READ: Final = 256 << 10
#: Bytes read on the event loop between two checkpoints. aiohttp only waits when the socket
#: pushes back, which a fast link may never do; anyio's checkpoint costs 0.05-0.1 ms of CPU
#: measured here, too much to take after every block.
_CHECKPOINT_BYTES: Final = 8 << 20


class BodyReader(Protocol):
    """An open upload body: its exact length, the next bytes (b"" at the end), close().

    ``read(n)`` may wait on the disk (it runs in a worker thread); ``read_nowait(n)`` runs on
    the event loop and answers only from the page cache: the next bytes (possibly fewer than
    ``n``), or None when reading them would wait (the caller then uses ``read`` in a thread).
    """

    @property
    def size(self) -> int: ...

    def read(self, n: int, /) -> bytes | bytearray: ...

    def read_nowait(self, n: int, /) -> bytes | bytearray | None: ...

    def close(self) -> None: ...


class UploadBody(Protocol):
    """Something put_file can send, opened afresh for every attempt (a stream is consumed)."""

    def open(self) -> BodyReader: ...


class FileBody:
    """A file on disk as an upload body."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self) -> BodyReader:
        return _FileReader(self.path)


class _FileReader:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.size = os.fstat(self._fd).st_size
        self._position = 0

    def read(self, n: int, /) -> bytearray:
        block = self._read(n, wait=True)
        assert block is not None  # a waiting read always gets its bytes
        return block

    def read_nowait(self, n: int, /) -> bytearray | None:
        return self._read(n, wait=False)

    def _read(self, n: int, *, wait: bool) -> bytearray | None:
        block = bytearray(n)
        got = read_at(self._fd, memoryview(block), self._position, wait=wait)
        if got is None:
            return None
        self._position += got
        del block[got:]
        return block

    def close(self) -> None:
        os.close(self._fd)


async def stream(reader: BodyReader, size: int, what: str) -> AsyncIterator[memoryview]:
    """The body's bytes for aiohttp; exactly ``size`` of them (``what`` names the request).

    Cached bytes are read right here on the event loop (a page-cache copy costs less than the
    hop to a worker thread, see :mod:`.pagecache`); only bytes that would wait on the
    disk are read in a thread. Blocks go out as memoryviews: aiohttp slices every chunk to the
    Content-Length, which copies a bytearray but not a view.
    """
    sent = 0
    unchecked = 0  # bytes read on the loop since it last let other tasks run
    while True:
        block = reader.read_nowait(UPLOAD_READ)
        if block is None:
            block = await anyio.to_thread.run_sync(reader.read, UPLOAD_READ)
            unchecked = 0
        else:
            unchecked += len(block)
            if unchecked >= _CHECKPOINT_BYTES:
                # Let other tasks (polls, heartbeats, other uploads) run now and then.
                await anyio.lowlevel.checkpoint()
                unchecked = 0
        if not block:
            break
        sent += len(block)
        if sent > size:
            break
        yield memoryview(block)
    if sent != size:
        # The server would wait for the missing bytes (or take extra ones as the next
        # request): stop here, the connection is dropped and nothing is stored.
        raise ProviderProtocolError(
            f"{what}: the body is not the {size} bytes announced (the file changed)"
        )
