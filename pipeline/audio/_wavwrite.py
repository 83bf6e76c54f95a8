"""The cache's WAV writer: a mono PCM WAV written beside its target and renamed over it.

Written by hand rather than through libsndfile; see :class:`AtomicWavWriter` for why. Moved
out of :mod:`._sndfile` (which re-exports it), whose job is reading.
"""

from __future__ import annotations

import errno
import os
import struct
import uuid
import zlib
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import numpy as np
import numpy.typing as npt

I16 = npt.NDArray[np.int16]
I32 = npt.NDArray[np.int32]

__all__ = ["BITS", "AtomicWavWriter"]

#: The canonical header of a mono PCM WAV: RIFF size, "fmt " (PCM, channels, rate, byte rate,
#: block align, bits), data size. 44 bytes, as libsndfile and the stdlib's wave write it.
_WAV_HEADER: Final = struct.Struct("<4sL4s4sLHHLLHH4sL")
#: Bits a sample of each output subtype.
BITS: Final = {"PCM_16": 16, "PCM_24": 24}
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

    ``frames``: how many frames the caller will write, when it knows. The header then goes
    out with its final sizes, and the file's CRC-32 (zip's, which packaging needs) is taken
    from the bytes as they are written (:attr:`crc32`) rather than by reading the file back;
    if another number of frames arrives, the header is patched as without it and ``crc32``
    stays None.
    """

    def __init__(self, target: Path, *, rate: int, subtype: str, frames: int | None = None) -> None:
        self.target = target
        self.bits = BITS[subtype]
        self._rate = rate
        self._expected = None if frames is None else frames * (self.bits // 8)
        self._data = 0  # bytes of samples written
        #: the CRC-32 of the whole file once complete, when ``frames`` held
        self.crc32: int | None = None
        self._crc: int | None = None if frames is None else 0
        target.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        self._file = self._tmp.open("wb")
        self._put(self._header(self._expected or 0))

    def write(self, samples: I32 | I16) -> None:
        """Append int32 samples (full scale ±2**31; the top ``bits`` bits are kept, as
        libsndfile truncates) or int16 samples (full scale ±2**15; lossless)."""
        if not samples.shape[0]:
            return
        data = self._encode(samples)
        if 36 + self._data + data.nbytes + 1 > _MAX_RIFF:
            raise OSError(errno.EFBIG, f"{self.target.name}: a WAV holds at most 4 GiB")
        self._put(data.data)
        self._data += data.nbytes

    def _put(self, data: bytes | memoryview) -> None:
        if self._crc is not None:
            self._crc = zlib.crc32(data, self._crc)
        self._file.write(data)

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

    def _header(self, data: int) -> bytes:
        """The 44-byte header for ``data`` bytes of samples."""
        width = self.bits // 8
        riff = 36 + data + (data & 1)
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
            data,
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
                    self._put(b"\0")
                if self._data != self._expected:  # the sizes in the header are not these
                    self._crc = None
                    self._file.seek(0)
                    self._file.write(self._header(self._data))
                self._file.flush()  # a full disk fails here, before the rename
                complete = True
        finally:
            try:
                self._file.close()
            finally:
                if complete:
                    os.replace(self._tmp, self.target)
                    self.crc32 = self._crc
                else:
                    self._tmp.unlink(missing_ok=True)
