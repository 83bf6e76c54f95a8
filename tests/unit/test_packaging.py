"""Upload packages: the streamed zip equals zipfile's, reads back (ZIP64 too), refuses a changed file."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.checksums import file_crc32
from pipeline.providers.huawei.packaging import Member, Package, PackageChanged


def zipfile_reference(members: list[tuple[str, bytes]]) -> bytes:
    """The same members written by the standard library (STORED, 1980-01-01, rw-r--r--)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.file_size = len(data)
            with zf.open(info, "w") as dst:
                dst.write(data)
    return out.getvalue()


def streamed(package: Package, read: int = 1 << 20) -> bytes:
    """Every byte a reader of ``package`` hands out, in ``read``-sized requests."""
    reader = package.open()
    parts = []
    try:
        while block := reader.read(read):
            assert len(block) <= read
            parts.append(block)
    finally:
        reader.close()
    return b"".join(parts)


@pytest.fixture
def members(tmp_path: Path) -> list[tuple[str, bytes]]:
    """A mix like a basic voice: WAV-sized files, short texts, an empty text, a non-ASCII name."""
    rng = os.urandom
    return [
        ("0.wav", rng(3 << 20 | 123)),  # more than one read block
        ("0.txt", "你好，世界".encode()),
        ("1.wav", rng(44)),
        ("2.wav", b""),
        ("1.txt", b""),
        ("voix-é.txt", b"caf\xc3\xa9"),
    ]


def as_package(tmp_path: Path, members: list[tuple[str, bytes]], **kwargs: int) -> Package:
    """Files for the .wav members (CRC computed or given), bytes for the rest."""
    out: list[Member] = []
    for i, (name, data) in enumerate(members):
        if name.endswith(".wav"):
            path = tmp_path / f"m{i}.wav"
            path.write_bytes(data)
            crc = file_crc32(path) if i % 2 else None  # both ways of getting the CRC
            out.append(Member.of_file(name, path, crc))
        else:
            out.append(Member.of_bytes(name, data))
    return Package(out, **kwargs)


def test_stream_is_byte_identical_to_zipfile(
    tmp_path: Path, members: list[tuple[str, bytes]]
) -> None:
    """The streamed bytes equal zipfile's for the same members, and size is announced exactly."""
    package = as_package(tmp_path, members)
    data = streamed(package)
    assert data == zipfile_reference(members)
    assert package.size == len(data)
    assert streamed(package, read=7) == data  # any request size, and a package streams twice


def test_zip64_structures_read_back(tmp_path: Path, members: list[tuple[str, bytes]]) -> None:
    """Past the ZIP64 limit (lowered here) sizes and offsets move to ZIP64 fields and the
    end record gets its ZIP64 twin; zipfile reads every member back with its CRC."""
    package = as_package(tmp_path, members, zip64_limit=40)
    data = streamed(package)
    assert package.size == len(data)
    assert b"PK\x06\x06" in data  # the ZIP64 end record
    assert b"PK\x06\x07" in data  # and its locator
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert [(i.filename, zf.read(i)) for i in zf.infolist()] == members


def test_write_to_is_the_same_zip(tmp_path: Path, members: list[tuple[str, bytes]]) -> None:
    """write_to() writes what a reader streams."""
    package = as_package(tmp_path, members)
    with (tmp_path / "out.zip").open("wb") as out:
        package.write_to(out)
    assert (tmp_path / "out.zip").read_bytes() == streamed(package)


def test_cached_and_uncached_reads_make_the_same_zip(
    tmp_path: Path, members: list[tuple[str, bytes]], evict: Callable[[Path], None]
) -> None:
    """With some member files out of the page cache, read_nowait stops where a read would wait
    (a short block, or None when nothing was cached), and taking those blocks with read()
    instead yields exactly zipfile's bytes."""
    package = as_package(tmp_path, members)
    for path in sorted(tmp_path.glob("m*.wav"))[:1]:  # the big first member: no longer cached
        evict(path)
    reader = package.open()
    parts: list[bytes] = []
    stalls = 0  # cached reads that stopped before the package's end
    done = 0
    try:
        while True:
            block = reader.read_nowait(1 << 20)
            if block is None:
                stalls += 1
                block = reader.read(1 << 20)
            elif len(block) < 1 << 20 and done + len(block) < package.size:
                stalls += 1
            if not block:
                break
            done += len(block)
            parts.append(bytes(block))
    finally:
        reader.close()
    # Not "None at least once": the failed cached read starts the kernel's readahead, which
    # may fill the pages before the next call, so the stop can show only as a short block.
    assert stalls >= 1  # the evicted member stopped the cached path
    assert b"".join(parts) == zipfile_reference(members)


def test_read_nowait_refuses_a_grown_file(tmp_path: Path) -> None:
    """The cached path also checks that a member did not grow after planning."""
    path = tmp_path / "0.wav"
    path.write_bytes(b"x" * 5000)
    package = Package([Member.of_file("0.wav", path)])
    path.write_bytes(b"x" * 6000)

    def drain_cached() -> None:
        reader = package.open()
        try:
            while reader.read_nowait(1 << 20):
                pass
        finally:
            reader.close()

    with pytest.raises(PackageChanged, match=r"0\.wav"):
        drain_cached()


@pytest.mark.parametrize("change", ["shrink", "grow"])
def test_a_file_changed_after_planning_is_refused(tmp_path: Path, change: str) -> None:
    """A member file whose size changed since the package was planned raises PackageChanged
    instead of sending a body that contradicts its headers."""
    path = tmp_path / "0.wav"
    path.write_bytes(b"x" * 5000)
    package = Package([Member.of_file("0.wav", path)])
    path.write_bytes(b"x" * (4000 if change == "shrink" else 6000))
    with pytest.raises(PackageChanged, match=r"0\.wav"):
        streamed(package)
