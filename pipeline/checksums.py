"""File checksums, read block-wise so memory does not grow with the file (hour-long WAVs)."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Final

#: Bytes per read for the CRC (hashlib.file_digest picks its own buffer for SHA-256).
_BLOCK: Final = 1 << 20


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex (OSError when it cannot be read)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def file_crc32(path: Path) -> int:
    """The CRC-32 (zip's) of a file's bytes (OSError when it cannot be read)."""
    crc = 0
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            crc = zlib.crc32(block, crc)
    return crc
