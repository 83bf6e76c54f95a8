"""Stat identity of sources: an unchanged recording is known without reading it, as git's
index knows an unchanged file.

Beside a source's SHA-256 the cache records the stat identity it had when it was hashed:
device, inode, size, ``mtime_ns`` and ``ctime_ns``, and when the hashing started
(``hashed_at_ns``, from the kernel's coarse real-time clock, the clock file times come from).
A later look-up trusts the recorded hash only when

- the path is the same (entries are keyed by the absolute path), and every one of the five
  fields is equal: a write changes ``mtime`` and ``ctime``; ``os.utime`` can set ``mtime``
  back but sets ``ctime`` to now, and no user tool can set ``ctime`` back; a file replaced
  by a rename has another inode (and a new ``ctime``); a copy on another file system has
  another device;
- and the file was last changed strictly before the hashing started, less a margin
  (:data:`RACY_MARGIN_NS`): a change made in the same clock tick as the one recorded would
  leave every field equal ("racy git"); such an entry is never trusted, and the next full
  hash records a new, trusted one. The margin also covers a file server's clock running a
  little behind ours.

Anything else (no entry, a field differs, a damaged entry) is a doubt, and the source is
hashed in full, in the same read as its decode (:mod:`.normalize`).

The entries of one folder of sources (a voice) share one file,
``identity/<SHA-256 of the folder's absolute path>.json``, by file name. The worker that
hashes a source returns what it learned (:class:`Hashed`) and the run records a voice's
records in one write (:func:`remember`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from pipeline.outputs import write_atomic

__all__ = [
    "IN_MEMORY_BYTES",
    "RACY_MARGIN_NS",
    "Hashed",
    "Identities",
    "Identity",
    "Source",
    "clock_ns",
    "hashed",
    "index_dir",
    "known_sha256",
    "read_source",
    "remember",
]

#: A file changed less than this before its hashing started is re-hashed on the next look-up.
RACY_MARGIN_NS: Final = 1_000_000_000
#: 2: one file per folder of sources (1 had one per source, in fan-out folders).
_VERSION: Final = 2


class Identity(NamedTuple):
    """The stat fields that change whenever a file's content can have changed."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def clock_ns() -> int:
    """Now, on the clock the kernel stamps file times with (coarse real time on Linux)."""
    coarse = getattr(time, "CLOCK_REALTIME_COARSE", None)
    return time.clock_gettime_ns(coarse) if coarse is not None else time.time_ns()


def index_dir(cache_dir: Path) -> Path:
    """Where the cache keeps the stat identities of the sources it has hashed."""
    return cache_dir / "identity"


def _index_file(cache_dir: Path, folder: str) -> Path:
    # One file per folder of sources (a voice), not one per source: a cold run of 200 clips
    # created 200 files and 200 fan-out folders for these, ~15 % of its CPU in the kernel
    # on a file system where much was just deleted (ext4 skips recently freed inodes).
    key = hashlib.sha256(os.fsencode(folder)).hexdigest()
    return index_dir(cache_dir) / f"{key}.json"


@dataclass(frozen=True, slots=True)
class Hashed:
    """What hashing a source taught: its SHA-256 and the stat identity it had throughout,
    to be recorded (:func:`remember`) for the next look-up."""

    path: str  #: absolute
    identity: Identity
    sha256: str
    hashed_at_ns: int


class Identities:
    """The recorded identities, read one folder's file at a time as look-ups need them (a
    voice's clips share one read)."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._folders: dict[str, dict[str, object]] = {}

    def known_sha256(
        self, src: Path, st: os.stat_result, *, margin_ns: int = RACY_MARGIN_NS
    ) -> str | None:
        """The recorded SHA-256 of ``src`` when its stat ``st`` proves it unchanged, else
        None."""
        folder, name = os.path.split(os.path.abspath(src))
        if folder not in self._folders:
            self._folders[folder] = _read_folder(self._cache_dir, folder)
        doc = self._folders[folder].get(name)
        try:
            if not isinstance(doc, dict):
                return None
            if any(doc[field] != value for field, value in Identity.of(st)._asdict().items()):
                return None
            if not max(st.st_mtime_ns, st.st_ctime_ns) < int(doc["hashed_at_ns"]) - margin_ns:
                return None  # changed too close to its hashing to tell a later change apart
            sha = doc["sha256"]
        except (ValueError, KeyError, TypeError):
            return None
        return sha if isinstance(sha, str) and len(sha) == 64 else None


def _read_folder(cache_dir: Path, folder: str) -> dict[str, object]:
    """A folder's recorded entries by file name; empty when there are none or the file is
    damaged (a doubt: those sources are hashed again)."""
    try:
        doc = json.loads(_index_file(cache_dir, folder).read_bytes())
        if doc["version"] != _VERSION or doc["folder"] != folder:
            return {}
        files = doc["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return files if isinstance(files, dict) else {}


def known_sha256(
    cache_dir: Path, src: Path, st: os.stat_result, *, margin_ns: int = RACY_MARGIN_NS
) -> str | None:
    """The recorded SHA-256 of ``src`` when its stat ``st`` proves it unchanged, else None."""
    return Identities(cache_dir).known_sha256(src, st, margin_ns=margin_ns)


def hashed(
    src: Path, before: os.stat_result, after: os.stat_result, sha: str, *, hashed_at_ns: int
) -> Hashed | None:
    """The record of ``src``'s hash, or None when the file changed while it was read
    (``before`` and ``after`` are its stat around the read)."""
    if Identity.of(before) != Identity.of(after):
        return None
    return Hashed(os.path.abspath(src), Identity.of(before), sha, hashed_at_ns)


def remember(cache_dir: Path, records: Iterable[Hashed]) -> None:
    """Record the hashes: one file written per folder of sources, merged with what it held.

    Best effort: a cache that cannot be written only costs a hash next time. Two processes
    writing one folder's file at once may lose each other's new entries (the same cost),
    never make a wrong one trusted: every entry is checked against the file's stat.
    """
    by_folder: dict[str, list[Hashed]] = {}
    for record in records:
        by_folder.setdefault(os.path.dirname(record.path), []).append(record)
    for folder, found in by_folder.items():
        files = dict(_read_folder(cache_dir, folder))
        for record in found:
            entry: dict[str, object] = {"sha256": record.sha256}
            entry |= record.identity._asdict()
            entry["hashed_at_ns"] = record.hashed_at_ns
            files[os.path.basename(record.path)] = entry
        doc = {"version": _VERSION, "folder": folder, "files": files}
        data = json.dumps(doc, separators=(",", ":")).encode()
        with contextlib.suppress(OSError):
            write_atomic(_index_file(cache_dir, folder), data, durable=False)


#: Sources up to this size are read into memory once: hashed, then decoded from the same
#: bytes (every clip of a sentence profile). Larger ones are hashed as they are streamed.
IN_MEMORY_BYTES: Final = 96 << 20


@dataclass(frozen=True, slots=True)
class Source:
    """A source read once: its bytes (None when too large to hold), SHA-256 and stat."""

    data: bytes | None
    sha256: str
    before: os.stat_result
    after: os.stat_result
    hashed_at_ns: int

    def hashed(self, src: Path) -> Hashed | None:
        """The record of this hash (None when the file changed while it was read)."""
        return hashed(src, self.before, self.after, self.sha256, hashed_at_ns=self.hashed_at_ns)


def read_source(src: Path) -> Source:
    """Read ``src`` once and hash it (raises OSError). The bytes are kept for the decoder
    when the file is at most :data:`IN_MEMORY_BYTES`; a larger one is hashed block by block
    and decoded from the file (the page cache) afterwards."""
    hashed_at = clock_ns()
    with src.open("rb", buffering=0) as handle:
        before = os.fstat(handle.fileno())
        if before.st_size <= IN_MEMORY_BYTES:
            data: bytes | None = handle.read()
            assert data is not None
            # hashlib releases the GIL for large buffers; one call over the whole file.
            sha = hashlib.sha256(data).hexdigest()
        else:
            data = None
            digest = hashlib.sha256()
            buffer = bytearray(1 << 20)
            view = memoryview(buffer)
            while n := handle.readinto(buffer):
                digest.update(view[:n])
            sha = digest.hexdigest()
        after = os.fstat(handle.fileno())
    return Source(data, sha, before, after, hashed_at)
