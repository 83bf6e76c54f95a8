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
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

__all__ = [
    "IN_MEMORY_BYTES",
    "RACY_MARGIN_NS",
    "Identity",
    "Source",
    "clock_ns",
    "index_dir",
    "known_sha256",
    "read_source",
    "remember",
]

#: A file changed less than this before its hashing started is re-hashed on the next look-up.
RACY_MARGIN_NS: Final = 1_000_000_000
_VERSION: Final = 1


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


def _entry_path(cache_dir: Path, src: Path) -> tuple[Path, str]:
    where = os.path.abspath(src)
    key = hashlib.sha256(os.fsencode(where)).hexdigest()
    return index_dir(cache_dir) / key[:2] / f"{key}.json", where


def known_sha256(
    cache_dir: Path, src: Path, st: os.stat_result, *, margin_ns: int = RACY_MARGIN_NS
) -> str | None:
    """The recorded SHA-256 of ``src`` when its stat ``st`` proves it unchanged, else None."""
    entry, where = _entry_path(cache_dir, src)
    try:
        doc = json.loads(entry.read_bytes())
        if doc["version"] != _VERSION or doc["path"] != where:
            return None
        if any(doc[name] != value for name, value in Identity.of(st)._asdict().items()):
            return None
        if not max(st.st_mtime_ns, st.st_ctime_ns) < int(doc["hashed_at_ns"]) - margin_ns:
            return None  # changed too close to its hashing to tell a later change apart
        sha = doc["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return sha if isinstance(sha, str) and len(sha) == 64 else None


def remember(
    cache_dir: Path,
    src: Path,
    before: os.stat_result,
    after: os.stat_result,
    sha: str,
    *,
    hashed_at_ns: int,
) -> None:
    """Record ``sha`` as ``src``'s hash, unless the file changed while it was read (``before``
    and ``after`` are its stat around the read). Best effort: a cache that cannot be written
    only costs a hash next time."""
    if Identity.of(before) != Identity.of(after):
        return
    entry, where = _entry_path(cache_dir, src)
    doc: dict[str, object] = {"version": _VERSION, "path": where, "sha256": sha}
    doc |= Identity.of(before)._asdict()
    doc["hashed_at_ns"] = hashed_at_ns
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, entry)
    except OSError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


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

    def remember(self, cache_dir: Path, src: Path) -> None:
        """Record this hash against the stat identity the file had while it was read."""
        remember(
            cache_dir, src, self.before, self.after, self.sha256, hashed_at_ns=self.hashed_at_ns
        )


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
