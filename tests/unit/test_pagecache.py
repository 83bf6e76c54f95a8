"""Reads from the page cache only: cached bytes come back, uncached ones answer None, errors raise."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.providers.http.pagecache import read_cached

DATA = os.urandom(3 << 20 | 77)

needs_nowait = pytest.mark.skipif(
    not hasattr(os, "RWF_NOWAIT"), reason="preadv2(RWF_NOWAIT) is Linux-only"
)


@pytest.fixture
def fd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An open descriptor of a freshly written (hence cached) file, and its path."""
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    handle = os.open(path, os.O_RDONLY)
    try:
        yield handle, path
    finally:
        os.close(handle)


@needs_nowait
def test_cached_bytes_are_read_in_place(fd: tuple[int, Path]) -> None:
    """A file just written is read whole, at any offset, without a thread."""
    handle, _ = fd
    block = bytearray(len(DATA))
    assert read_cached(handle, memoryview(block), 0) == len(DATA)
    assert block == DATA
    tail = bytearray(1000)
    assert read_cached(handle, memoryview(tail), len(DATA) - 10) == 10
    assert tail[:10] == DATA[-10:]


@needs_nowait
def test_the_end_of_the_file_reads_zero(fd: tuple[int, Path]) -> None:
    """At (or past) the end the answer is 0 bytes, not None: nothing is left to wait for."""
    handle, _ = fd
    assert read_cached(handle, memoryview(bytearray(16)), len(DATA)) == 0
    assert read_cached(handle, memoryview(bytearray(0)), 0) == 0


@needs_nowait
def test_an_evicted_file_would_wait(fd: tuple[int, Path], evict: Callable[[Path], None]) -> None:
    """Bytes that are only on the disk answer None (read them in a thread); once read the
    blocking way they are cached again."""
    handle, path = fd
    evict(path)
    block = bytearray(1 << 20)
    assert read_cached(handle, memoryview(block), 1 << 20) is None
    assert os.pread(handle, 1 << 20, 1 << 20) == DATA[1 << 20 : 2 << 20]
    assert read_cached(handle, memoryview(block), 1 << 20) == 1 << 20
    assert block == DATA[1 << 20 : 2 << 20]


@needs_nowait
def test_a_bad_descriptor_raises(fd: tuple[int, Path]) -> None:
    """A real error (here EBADF) is raised, not taken for "would wait"."""
    handle, _ = fd
    spare = os.dup(handle)
    os.close(spare)
    with pytest.raises(OSError):
        read_cached(spare, memoryview(bytearray(8)), 0)
