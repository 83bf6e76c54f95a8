"""Upload packages: STORED zips described up front and streamed straight from the cache.

Huawei basic/middle: ``0.wav…N-1.wav`` + ``0.txt…N-1.txt`` (UTF-8, no BOM) at the zip root.
Huawei advance/third-party: one long WAV. Members are STORED (WAV does not compress), with a
fixed timestamp and permissions, so the same inputs always give byte-identical zips — the same
bytes :mod:`zipfile` writes for them (``tests/unit/test_packaging.py`` checks that).

No zip file is written: a :class:`Package` knows its exact size before the first byte (the
pre-signed PUT needs a Content-Length) and reads its bytes member by member, from the cache
files, into the upload. That saves writing a copy of every voice's audio and reading it back
(for 200 basic voices, 3 GB each way).

Written by hand rather than with :mod:`zipfile` or zipstream-ng: zipfile needs a seekable
file to put each member's CRC and sizes in its local header (to a stream it writes data
descriptors), and zipstream-ng always writes data descriptors. A STORED member with a data
descriptor is legal but refused by common readers (Java's ``ZipInputStream``: "only DEFLATED
entries can have EXT descriptor"), and the provider's reader is unknown. Here the CRCs are known
before streaming (normalization records each cache file's CRC-32), so every header is complete.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from pipeline.checksums import file_crc32
from pipeline.errors import PipelineError
from pipeline.providers.http.pagecache import read_at
from pipeline.records import PreparedVoice

#: The long recording's name inside an advance/third-party zip (the docs allow any name).
LONG_RECORDING_NAME: Final = "recording.wav"
#: Above this, sizes and offsets go into ZIP64 extra fields: zipfile's own limit (2 GiB - 1),
#: so readers that take the 32-bit fields as signed are safe too.
ZIP64_LIMIT: Final = (1 << 31) - 1
#: Bytes handed out per read of a member file.
READ_BLOCK: Final = 1 << 20

# APPNOTE.TXT 4.3.7 / 4.3.12 / 4.3.14-16 / 4.3.16; the same layouts zipfile packs.
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_LOCATOR = struct.Struct("<4sLQL")
#: 1980-01-01 00:00:00 in DOS date and time: a fixed timestamp keeps the bytes reproducible.
_DOS_DATE: Final = (1980 - 1980) << 9 | 1 << 5 | 1
_DOS_TIME: Final = 0
#: "made by" UNIX (3), spec 2.0 / 4.5 (ZIP64), the same values zipfile writes.
_UNIX: Final = 3
#: rw-r--r-- in the UNIX mode bits, as the zips used to carry.
_EXTERNAL_ATTR: Final = 0o644 << 16
_UTF8_FLAG: Final = 0x800


class PackageChanged(PipelineError):
    """A file of an upload package changed between planning the package and streaming it."""


@dataclass(frozen=True, slots=True)
class Member:
    """One STORED member: its name, size and CRC-32, and where its bytes come from."""

    name: str
    size: int
    crc32: int
    content: Path | bytes

    @classmethod
    def of_bytes(cls, name: str, data: bytes) -> Member:
        return cls(name, len(data), zlib.crc32(data), data)

    @classmethod
    def of_file(cls, name: str, path: Path, crc32: int | None = None) -> Member:
        """A member read from ``path``; its CRC is computed (one read) when not given."""
        size = path.stat().st_size
        return cls(name, size, file_crc32(path) if crc32 is None else crc32, path)


@dataclass(frozen=True, slots=True)
class _Entry:
    member: Member
    name: bytes
    flags: int
    offset: int
    local_header: bytes


class Package:
    """A STORED zip of ``members``: :attr:`size` up front, the bytes from :meth:`open`."""

    def __init__(self, members: Sequence[Member], *, zip64_limit: int = ZIP64_LIMIT) -> None:
        self._limit = zip64_limit
        entries: list[_Entry] = []
        offset = 0
        for m in members:
            name, flags = _encode_name(m.name)
            header = self._local_header(m, name, flags)
            entries.append(_Entry(m, name, flags, offset, header))
            offset += len(header) + m.size
        self._entries = tuple(entries)
        self._trailer = self._central_directory(offset)
        self.size = offset + len(self._trailer)
        self._segments = self._segment()

    def open(self) -> PackageReader:
        """A reader of the zip's bytes (blocking file reads: call it from a worker thread)."""
        return PackageReader(self._segments, self.size)

    def write_to(self, out: BinaryIO) -> None:
        """Write the whole zip to ``out`` (tests, and anyone who wants the file)."""
        reader = self.open()
        try:
            while block := reader.read(READ_BLOCK):
                out.write(block)
        finally:
            reader.close()

    def _segment(self) -> tuple[bytes | Member, ...]:
        """The zip as a sequence of literal bytes and member files, adjacent bytes merged
        (a text member sits between two headers: one segment for all three)."""
        out: list[bytes | Member] = []
        literal = b""
        for entry in self._entries:
            literal += entry.local_header
            if isinstance(entry.member.content, bytes):
                literal += entry.member.content
            else:
                out.append(literal)
                out.append(entry.member)
                literal = b""
        out.append(literal + self._trailer)
        return tuple(out)

    def _local_header(self, m: Member, name: bytes, flags: int) -> bytes:
        extra = b""
        size = m.size
        version = 20
        if size > self._limit:
            extra = struct.pack("<HHQQ", 1, 16, size, size)
            size, version = 0xFFFFFFFF, 45
        fields = (b"PK\x03\x04", version, 0, flags, 0, _DOS_TIME, _DOS_DATE)
        header = _LOCAL.pack(*fields, m.crc32, size, size, len(name), len(extra))
        return header + name + extra

    def _central_directory(self, start: int) -> bytes:
        limit = self._limit
        records: list[bytes] = []
        for e in self._entries:
            m = e.member
            values: list[int] = []
            size, offset = m.size, e.offset
            if size > limit:
                values += [size, size]
                size = 0xFFFFFFFF
            if offset > limit:
                values.append(offset)
                offset = 0xFFFFFFFF
            extra = (
                struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values) if values else b""
            )
            version = 45 if values else 20
            fields = (b"PK\x01\x02", version, _UNIX, version, 0, e.flags, 0, _DOS_TIME, _DOS_DATE)
            sizes = (m.crc32, size, size, len(e.name), len(extra))
            header = _CENTRAL.pack(*fields, *sizes, 0, 0, 0, _EXTERNAL_ATTR, offset)
            records.append(header + e.name + extra)
        directory = b"".join(records)
        count, size, offset = len(records), len(directory), start
        tail = b""
        if count > 0xFFFF or size > limit or offset > limit:
            end64 = _END64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
            locator = _END64_LOCATOR.pack(b"PK\x06\x07", 0, start + size, 1)
            tail = end64 + locator
            count, size, offset = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(offset, 0xFFFFFFFF)
        end = _END.pack(b"PK\x05\x06", 0, 0, count, count, size, offset, 0)
        return directory + tail + end


class PackageReader:
    """A forward-only reader of a package's bytes: ``size``, ``read(n)``, ``read_nowait(n)``,
    ``close()`` (the upload body protocol of :mod:`pipeline.providers.http.bodies`).

    Each read fills its block across segment boundaries (headers, texts, file data read
    straight into the block), so a caller that hands each block to another thread makes one
    hop per block, not one per member or header. ``read_nowait`` fills it only from the page
    cache (:mod:`pipeline.providers.http.pagecache`), so it may run on the event loop.
    """

    def __init__(self, segments: Sequence[bytes | Member], size: int) -> None:
        self.size = size
        self._segments = segments
        self._index = 0  # the segment being read
        self._offset = 0  # bytes of it read so far
        self._fd: int | None = None  # the member file being read

    def read(self, n: int) -> bytes | bytearray:
        """The next ``n`` bytes (fewer only at the end); b"" when the package is exhausted.

        Blocking. Raises PackageChanged when a member file's size differs from the planned one.
        """
        block = self._fill(n, wait=True)
        assert block is not None  # a waiting read always gets its bytes
        return block

    def read_nowait(self, n: int) -> bytes | bytearray | None:
        """The next bytes as far as the page cache holds them (up to ``n``; b"" at the end), or
        None when the first of them would wait on the disk (then ``read`` in a thread)."""
        return self._fill(n, wait=False)

    def _fill(self, n: int, *, wait: bool) -> bytes | bytearray | None:
        block = bytearray(n)
        view = memoryview(block)
        filled = 0
        while filled < n and self._index < len(self._segments):
            segment = self._segments[self._index]
            if isinstance(segment, bytes):
                got = min(n - filled, len(segment) - self._offset)
                view[filled : filled + got] = segment[self._offset : self._offset + got]
                length = len(segment)
            else:
                read = self._read_member(segment, view[filled:], wait=wait)
                if read is None:  # not cached: the rest of the block waits for a thread
                    break
                got, length = read, segment.size
            filled += got
            self._offset += got
            if self._offset == length:
                if not self._finish_member(wait=wait):
                    break
                self._index += 1
                self._offset = 0
        if filled == 0 and not wait and self._index < len(self._segments):
            return None
        # A full block goes out as it is: a bytearray, which aiohttp and files take as bytes.
        return block if filled == n else bytes(view[:filled])

    def _read_member(self, member: Member, into: memoryview, *, wait: bool) -> int | None:
        assert isinstance(member.content, Path)
        want = min(len(into), member.size - self._offset)
        if want == 0:  # an empty member, or one read to its end: only the end to check
            return 0
        if self._fd is None:
            # Opened on the loop too: the file was stat'ed when the package was planned, so
            # its directory entry is cached and the open does not wait on the disk.
            self._fd = os.open(member.content, os.O_RDONLY | os.O_CLOEXEC)
        got = read_at(self._fd, into[:want], self._offset, wait=wait)
        if got == 0:  # the file ended early: it shrank
            raise _changed(member)
        return got

    def _finish_member(self, *, wait: bool) -> bool:
        """Close the member file once its planned bytes are read; False when checking that it
        did not grow would wait on the disk (the next read checks again)."""
        if self._fd is None:
            return True
        segment = self._segments[self._index]
        assert isinstance(segment, Member)
        beyond = read_at(self._fd, memoryview(bytearray(1)), segment.size, wait=wait)
        if beyond is None:
            return False
        self.close()
        if beyond:
            raise _changed(segment)
        return True

    def close(self) -> None:
        """Stop reading (closes the member file being read, if any)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _changed(member: Member) -> PackageChanged:
    # The header (already sent) states the size: a file that changed cannot be sent.
    return PackageChanged(
        f"{member.content!s}: not {member.size} bytes any more; it changed after the package "
        "was planned"
    )


def _encode_name(name: str) -> tuple[bytes, int]:
    """The member name's bytes and flags: ASCII as is, anything else UTF-8 with bit 11 set."""
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), _UTF8_FLAG


def package_for(voice: PreparedVoice, *, join: bool) -> Package:
    """The voice's package: clips and transcripts, or the one long recording.

    Blocking (a file's CRC is computed when the cache did not record it): call it from a
    worker thread.
    """
    if join:
        if voice.joined is None:
            raise ValueError(f"voice {voice.key}: no joined recording for a long-recording package")
        return Package([Member.of_file(LONG_RECORDING_NAME, voice.joined)])
    members: list[Member] = []
    for i, clip in enumerate(voice.clips):
        members.append(Member.of_file(f"{i}.wav", clip.normalized, clip.normalized_crc32))
        members.append(Member.of_bytes(f"{i}.txt", (clip.text or "").encode("utf-8")))
    return Package(members)
