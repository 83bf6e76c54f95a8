"""Untrusted names and small files: safe zip members, blob names, Azure ids; printable names.

Voice keys are folder names and file names come from the inbox: any Unicode, spaces, newlines,
``..``, slashes of either kind, 255 bytes long. Whatever reaches a zip, an object store or a
provider id passes through one of these functions first:

- :func:`zip_member` — one member name, no directories (no traversal, no absolute path);
- :func:`blob_name` — ``part/part/…`` for Azure Blob (or any object store);
- :func:`azure_id` — an id valid against Azure Custom Voice's
  ``^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}[a-zA-Z0-9]$``.

All three are pure functions of their input (no salt, no clock), so a re-run derives the same
names. None of them can make two different inputs collide:

- a zip member or blob segment that is already safe (ASCII letters, digits, ``.``, ``_``,
  ``-``, starting and ending with a letter or digit) is kept as it is; any other is rewritten
  to a readable ASCII fold of it plus ``~`` and a hash of the exact original. ``~`` never
  appears in a kept name, so a rewritten name cannot equal a kept one, and two rewritten names
  differ by their hashes;
- an Azure id always ends with a hash of all its parts (length-prefixed, so ``("a-b", "c")``
  and ``("a", "b-c")`` differ); the readable prefix is only for people.

The hash is 13 base32 characters of SHA-256 (65 bits): a collision among even a billion names
is far less likely than a disk error.

Two helpers for the inbox readers (discover, transcripts): :func:`name_problem` says why a file
name cannot be shown or stored as it is (bytes that are not UTF-8, control characters, bidi
overrides), :func:`printable` gives such a name a one-line, collision-free stand-in,
:func:`outside_problem` says why a path must not be read because a symlink (of the path itself
or of any folder on the way) could lead outside the inbox, and :func:`read_small_file` reads a
small file without following a symlink, without blocking on a FIFO and without reading more
than a limit.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import re
import stat
import unicodedata
from pathlib import Path
from typing import Final

__all__ = [
    "AZURE_ID",
    "HASH_LEN",
    "FileRefused",
    "azure_id",
    "blob_name",
    "name_problem",
    "outside_problem",
    "printable",
    "read_small_file",
    "short_hash",
    "zip_member",
]

#: What Azure Custom Voice accepts for project, consent and personal-voice ids.
AZURE_ID: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}[a-zA-Z0-9]$")
HASH_LEN: Final = 13
#: Longest zip member / blob segment we produce (file systems allow 255 bytes per name; the
#: margin leaves room for a tool that adds its own suffix when it extracts).
SEGMENT_MAX: Final = 200
#: Azure Blob names are at most 1024 characters.
BLOB_NAME_MAX: Final = 1024

_SAFE_SEGMENT: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_UNSAFE_RUN: Final = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION: Final = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_MARK: Final = "~"


def short_hash(*parts: str) -> str:
    """13 lowercase base32 characters of SHA-256 over the length-prefixed parts."""
    h = hashlib.sha256()
    for part in parts:
        # surrogatepass: names read from a file system may hold lone surrogates (undecodable
        # bytes); they must hash, not crash, and must hash differently from each other.
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return base64.b32encode(h.digest()).decode("ascii").lower()[:HASH_LEN]


def _fold(text: str) -> str:
    """A readable ASCII approximation: accents dropped, anything else unsafe becomes ``_``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _UNSAFE_RUN.sub("_", ascii_text)


def _segment(name: str, *, max_len: int = SEGMENT_MAX) -> str:
    """One path segment: ``name`` itself when safe, else a readable fold + ``~`` + hash."""
    if len(name) <= max_len and _SAFE_SEGMENT.fullmatch(name):
        return name
    folded = _fold(name)
    # Keep a short alphanumeric extension, so "张伟 01.wav" still ends in ".wav".
    ext_match = _EXTENSION.search(folded)
    ext = ext_match.group(0) if ext_match else ""
    stem = folded[: len(folded) - len(ext)] if ext else folded
    room = max_len - len(ext) - len(_MARK) - HASH_LEN
    stem = stem.strip("._-")[:room].strip("._-")
    return f"{stem}{_MARK}{short_hash(name)}{ext}"


def zip_member(name: str) -> str:
    """A zip member name for ``name``: one component, ASCII, no traversal; injective."""
    return _segment(name)


def blob_name(*parts: str) -> str:
    """``part/part/…`` with every part made a safe segment; injective over the parts.

    Raises ValueError without parts, or when the result would exceed Azure's 1024 characters
    (five parts never do).
    """
    if not parts:
        raise ValueError("blob_name needs at least one part")
    name = "/".join(_segment(p) for p in parts)
    if len(name) > BLOB_NAME_MAX:
        raise ValueError(f"blob name of {len(parts)} parts exceeds {BLOB_NAME_MAX} characters")
    return name


def azure_id(*parts: str, max_len: int = 64) -> str:
    """An Azure Custom Voice id from ``parts``: a readable prefix and a hash of all parts.

    Always matches :data:`AZURE_ID` and is at most ``max_len`` (``HASH_LEN`` + 2 … 64)
    characters. Different part tuples give different ids.
    """
    if not HASH_LEN + 2 <= max_len <= 64:
        raise ValueError(f"max_len must be between {HASH_LEN + 2} and 64, got {max_len}")
    if not parts:
        raise ValueError("azure_id needs at least one part")
    digest = short_hash(*parts)
    readable = "-".join(p for p in (_fold(part).strip("._-") for part in parts) if p)
    room = max_len - HASH_LEN - 1
    # The id must start with a letter or digit; the separator before the hash may follow
    # anything, and the hash itself ends the id with a letter or digit.
    readable = readable.lstrip("._-")[:room].rstrip("._-")
    return f"{readable}-{digest}" if readable else digest


# --------------------------------------------------------------------------- inbox names

# C0/C1 controls (newline, tab, ESC …) and the bidi controls that make a name display as
# something else ("Trojan Source"); a name holding any of them is refused, not shown.
_UNSHOWABLE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def name_problem(name: str) -> str | None:
    """Why a file name cannot be used as it is, or None when it can.

    On Linux a name is bytes: bytes that are not UTF-8 arrive as lone surrogates, which no
    UTF-8 output (manifest, SQLite, terminal) can hold. Control characters would split a log or
    summary line, or drive the terminal (ESC sequences).
    """
    if _SURROGATE.search(name):
        return "the name holds bytes that are not UTF-8"
    if _UNSHOWABLE.search(name):
        return "the name holds control characters (newline, tab, escape or bidi override)"
    return None


def printable(name: str) -> str:
    """A one-line ASCII-safe stand-in for an unusable name: escapes plus ``~`` and a hash.

    The hash keeps two refused names (or a refused and a real one) from sharing a key.
    """
    raw = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    shown = _UNSHOWABLE.sub(lambda m: ascii(m.group(0))[1:-1], raw)[:100]
    return f"{shown}~{short_hash(name)}"


# --------------------------------------------------------------------------- confinement


def outside_problem(path: Path, root: Path) -> str | None:
    """Why reading ``path`` could read something outside ``root`` (the inbox), or None.

    ``path`` is a path under ``root`` as discover listed it (``root/alice/0001.wav``). It is
    refused when it is a symlink itself, or when its real path is not
    ``realpath(root)/alice/0001.wav``, i.e. some folder on the way is a symlink (or has been
    swapped for one since discovery). Every symlink is refused, even one that stays inside the
    inbox: discover refuses them all the same way (``voice.unsafe_path``), a link to another
    voice's file would send one speaker's recording twice, and a link that points inside now
    can be re-pointed outside between this check and the read. ``root`` itself may be a
    symlink: the job file names it, the inbox does not.

    Checks with ``lstat`` and ``os.path.realpath``, never opens anything. A path that cannot be
    examined (gone, permission denied) is None here: the reader reports it as unreadable.
    The last component is also opened with ``O_NOFOLLOW`` by :func:`read_small_file`; a folder
    swapped between this check and the open is the remaining race, open to someone who can
    write into the inbox while the run reads it.
    """
    try:
        rel = path.relative_to(root)
    except ValueError:
        return "not inside the inbox; not read"
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    if stat.S_ISLNK(mode):
        return "a symlink (it may lead outside the inbox); not followed"
    parts = rel.parts
    if "." in parts or ".." in parts:  # lexically odd: let realpath resolve it
        real = os.path.realpath(path)
        if real != os.path.join(os.path.realpath(root), rel):
            return (
                "reached through a symlinked folder (it may lead outside the inbox); not followed"
            )
        return None
    # realpath(path) == realpath(root)/rel exactly when no folder between root and path is a
    # symlink: lstat those (one or two) instead of resolving every component of both paths,
    # which cost ~1 ms a file (a dozen lstat calls) for every recording of a batch.
    folder = root
    for part in parts[:-1]:
        folder = folder / part
        try:
            if stat.S_ISLNK(os.lstat(folder).st_mode):
                return (
                    "reached through a symlinked folder (it may lead outside the inbox); "
                    "not followed"
                )
        except OSError:
            return None
    return None


# --------------------------------------------------------------------------- small files


class FileRefused(ValueError):
    """A small file that is not read: a symlink, not a regular file, or over the limit."""


def read_small_file(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of a small regular file, read safely.

    Opened with O_NOFOLLOW (a symlink swapped in after discovery is not followed) and
    O_NONBLOCK (a FIFO cannot block the run), then checked on the open descriptor, so there is
    no window between the check and the read. Raises FileRefused, or OSError when it cannot be
    opened or read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileRefused("a symlink; never followed") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused("not a regular file (a folder, FIFO, socket or device)")
        if st.st_size > max_bytes:
            raise FileRefused(f"{st.st_size} bytes, larger than the {max_bytes}-byte limit")
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise FileRefused(f"larger than the {max_bytes}-byte limit (it grew)")
        return b"".join(chunks)
    finally:
        os.close(fd)
