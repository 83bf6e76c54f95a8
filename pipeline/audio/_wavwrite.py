"""The cache's WAV writer: a mono PCM WAV written beside its target and renamed over it.

Written by hand rather than through libsndfile; see :class:`AtomicWavWriter` for why. Moved
out of :mod:`._sndfile` (which re-exports it), whose job is reading.
"""

from __future__ import annotations

import errno
import os
import struct
import uuid
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import numpy as np
import numpy.typing as npt

I16 = npt.NDArray[np.int16]
I32 = npt.NDArray[np.int32]

__all__ = ["AtomicWavWriter"]

#: The canonical header of a mono PCM WAV: RIFF size, "fmt " (PCM, channels, rate, byte rate,
#: block align, bits), data size. 44 bytes, as libsndfile and the stdlib's wave write it.
_WAV_HEADER: Final = struct.Struct("<4sL4s4sLHHLLHH4sL")
#: RIFF sizes are 32-bit: a larger file would need RF64, which no provider asks for.
_MAX_RIFF: Final = 0xFFFFFFFF


class AtomicWavWriter:
    """A mono PCM WAV written to a temporary file beside ``target`` and renamed over it on
    success.

    Concurrent writers of the same target each use their own temporary file; the last rename
    wins, and as our output is deterministic every winner is the same file. No fsync: this is
    a cache that is rebuilt from the source on any doubt (the sidecar records the size).

    Written by hand (the 44-byte header, the samples, a pad byte after odd-length data as RIFF
    requires, the sizes patched at the end) rather than through libsndfile, whose close()
    fsyncs every file it wrote (``sf_write_sync``): ~2 ms of a worker's wall time per clip
    measured here, a tenth of normalizing it, for a cache that needs no fsync. The stdlib's
    ``wave`` leaves odd-length data unpadded. The bytes are libsndfile's for the same samples
    (``tests/unit/test_audio_normalize.py`` compares them).
    """

    def __init__(self, target: Path, *, rate: int, subtype: str) -> None:
        self.target = target
        self.bits = {"PCM_16": 16, "PCM_24": 24}[subtype]
        self._rate = rate
        self._data = 0  # bytes of samples written
        target.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        self._file = self._tmp.open("wb")
        self._file.write(self._header())

    def write(self, samples: I32 | I16) -> None:
        """Append int32 samples (full scale ±2**31; the top ``bits`` bits are kept, as
        libsndfile truncates) or int16 samples (full scale ±2**15; lossless)."""
        if not samples.shape[0]:
            return
        data = self._encode(samples)
        if 36 + self._data + data.nbytes + 1 > _MAX_RIFF:
            raise OSError(errno.EFBIG, f"{self.target.name}: a WAV holds at most 4 GiB")
        self._file.write(data.data)
        self._data += data.nbytes

    def _encode(self, samples: I32 | I16) -> npt.NDArray[np.int16] | npt.NDArray[np.uint8]:
        if self.bits == 16:
            if samples.dtype == np.int16:
                return np.ascontiguousarray(samples, dtype="<i2")
            return np.ascontiguousarray(samples >> 16, dtype="<i2")
        wide = np.asarray(samples, dtype="<i4")
        if samples.dtype == np.int16:
            wide = wide << 16
        # The top three bytes of each little-endian int32: the sample's 24 most significant bits.
        return np.ascontiguousarray(wide.view(np.uint8).reshape(-1, 4)[:, 1:])

    def _header(self) -> bytes:
        width = self.bits // 8
        riff = 36 + self._data + (self._data & 1)
        return _WAV_HEADER.pack(
            b"RIFF",
            riff,
            b"WAVE",
            b"fmt ",
            16,
            1,
            1,
            self._rate,
            self._rate * width,
            width,
            self.bits,
            b"data",
            self._data,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        complete = False
        try:
            if exc_type is None:
                if self._data & 1:
                    self._file.write(b"\0")
                self._file.seek(0)
                self._file.write(self._header())
                self._file.flush()  # a full disk fails here, before the rename
                complete = True
        finally:
            try:
                self._file.close()
            finally:
                if complete:
                    os.replace(self._tmp, self.target)
                else:
                    self._tmp.unlink(missing_ok=True)
