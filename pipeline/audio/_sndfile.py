"""The typed edge around soundfile (libsndfile): every Any-typed call stays in this module.

Reading is block-wise so memory stays flat for hour-long recordings, and every failure of
libsndfile (or of the file system under it) becomes ``InputError("audio.unreadable")``.
Writing goes to a temporary file that replaces the target only when complete.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import numpy as np
import numpy.typing as npt
import soundfile as sf

from pipeline.errors import InputError

F32 = npt.NDArray[np.float32]
I16 = npt.NDArray[np.int16]
I32 = npt.NDArray[np.int32]

#: Containers accepted as "WAV": libsndfile also reads FLAC, AIFF, Ogg … by content, but the
#: inbox contract is WAV, so a FLAC renamed to .wav is refused rather than silently accepted.
WAV_FORMATS: Final = frozenset({"WAV", "WAVEX", "RF64", "W64"})
#: Samples (frames × channels) per read: about 1 MiB of float32, whatever the channel count.
BLOCK_SAMPLES: Final = 1 << 18
#: A header claiming more channels or an absurd rate is hostile or broken, not a recording.
MAX_CHANNELS: Final = 64
MIN_RATE: Final = 1000
MAX_RATE: Final = 768_000

# What libsndfile, cffi and the file system raise for bad input: LibsndfileError is a
# RuntimeError; soundfile raises TypeError/ValueError for formats it cannot map.
_READ_ERRORS: Final = (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError, EOFError)


def unreadable(file: str | None, message: str) -> InputError:
    """The one error analyze()/normalize() raise for input libsndfile cannot use."""
    return InputError(code="audio.unreadable", file=file, message=message)


def check_regular_file(path: Path, *, file: str | None, max_bytes: int | None) -> int:
    """Return the file's size; refuse FIFOs, devices and oversized files before opening them.

    A FIFO or /dev/zero named like a WAV would make libsndfile block or read forever.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise unreadable(file, f"cannot stat: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise unreadable(file, "not a regular file")
    if st.st_size == 0:
        raise unreadable(file, "empty file (0 bytes)")
    if max_bytes is not None and st.st_size > max_bytes:
        raise InputError(
            code="audio.file_too_large",
            file=file,
            message=f"{st.st_size} bytes > {max_bytes} bytes limit",
        )
    return st.st_size


class Reader:
    """A WAV file open for block-wise reading, with its header as typed attributes."""

    def __init__(self, path: Path, *, file: str | None, max_bytes: int | None = None) -> None:
        check_regular_file(path, file=file, max_bytes=max_bytes)
        self._file = file
        try:
            self._sf = sf.SoundFile(str(path), mode="r")
        except _READ_ERRORS as exc:
            raise unreadable(file, f"libsndfile cannot read it: {_short(exc)}") from None
        try:
            self.format = str(self._sf.format)
            self.rate = int(self._sf.samplerate)
            self.channels = int(self._sf.channels)
            self.subtype = str(self._sf.subtype)
            #: Frames the header announces (what libsndfile will read at most); the data may
            #: end earlier when the file is truncated.
            self.frames = int(self._sf.frames)
            self._float = self.subtype in {"FLOAT", "DOUBLE"}
            if self.format not in WAV_FORMATS:
                raise unreadable(file, f"not a WAV file (libsndfile sees {self.format})")
            if not 1 <= self.channels <= MAX_CHANNELS:
                raise unreadable(file, f"{self.channels} channels: not a usable recording")
            if not MIN_RATE <= self.rate <= MAX_RATE:
                raise unreadable(file, f"sample rate {self.rate} Hz: not a usable recording")
        except BaseException:
            self.close()
            raise

    @property
    def block_frames(self) -> int:
        """Frames per block so that one block holds about BLOCK_SAMPLES samples."""
        return max(1, BLOCK_SAMPLES // self.channels)

    def blocks(self, frames: int | None = None) -> Iterator[F32]:
        """Float32 blocks of shape (frames, channels), full scale ±1.0, until the data ends.

        ``frames`` per block (default :attr:`block_frames`); a consumer that re-chunks asks
        for a multiple of its own chunk, which saves it a copy per block. Counts on what is
        actually read, not the header: a truncated data chunk just ends early.
        """
        step = frames or self.block_frames
        while True:
            try:
                data = self._sf.read(step, dtype="float32", always_2d=True)
            except _READ_ERRORS as exc:
                raise unreadable(self._file, f"read failed: {_short(exc)}") from None
            block: F32 = np.ascontiguousarray(data, dtype=np.float32)
            if block.shape[0] == 0:
                return
            # Float WAVs can hold NaN/inf, which would poison every measurement and the gain.
            if self._float and not np.isfinite(block).all():
                raise unreadable(self._file, "NaN or infinite samples in float data")
            yield block

    def blocks_int32(self) -> Iterator[I32]:
        """Int32 blocks (frames, channels), full scale ±2**31; lossless for integer PCM."""
        while True:
            try:
                data = self._sf.read(self.block_frames, dtype="int32", always_2d=True)
            except _READ_ERRORS as exc:
                raise unreadable(self._file, f"read failed: {_short(exc)}") from None
            block: I32 = np.ascontiguousarray(data, dtype=np.int32)
            if block.shape[0] == 0:
                return
            yield block

    def blocks_int16(self) -> Iterator[I16]:
        """Int16 blocks (frames, channels), full scale ±2**15; lossless for PCM_16 only.

        Half the memory traffic of int32, for copying PCM_16 files sample for sample.
        """
        while True:
            try:
                data = self._sf.read(self.block_frames, dtype="int16", always_2d=True)
            except _READ_ERRORS as exc:
                raise unreadable(self._file, f"read failed: {_short(exc)}") from None
            block: I16 = np.ascontiguousarray(data, dtype=np.int16)
            if block.shape[0] == 0:
                return
            yield block

    def close(self) -> None:
        """Close the file (idempotent)."""
        sf_file = getattr(self, "_sf", None)
        if sf_file is not None:
            sf_file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AtomicWavWriter:
    """A mono WAV written to a temporary file beside ``target`` and renamed over it on success.

    Concurrent writers of the same target each use their own temporary file; the last rename
    wins, and as our output is deterministic every winner is the same file. No fsync: this is
    a cache that is rebuilt from the source on any doubt (the sidecar records the size).
    """

    def __init__(self, target: Path, *, rate: int, subtype: str) -> None:
        self.target = target
        self.bits = {"PCM_16": 16, "PCM_24": 24}[subtype]
        target.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        self._sf = sf.SoundFile(
            str(self._tmp), mode="w", samplerate=rate, channels=1, subtype=subtype, format="WAV"
        )

    def write(self, samples: I32 | I16) -> None:
        """Append int32 samples (full scale ±2**31; libsndfile keeps the top ``bits`` bits)
        or int16 samples (full scale ±2**15; lossless into PCM_16)."""
        if samples.shape[0]:
            self._sf.write(samples)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sf.close()
        if exc_type is None:
            os.replace(self._tmp, self.target)
        else:
            self._tmp.unlink(missing_ok=True)


def _short(exc: BaseException) -> str:
    """A one-line reason from a libsndfile error, without the path it likes to repeat."""
    # LibsndfileError.error_string is libsndfile's own text ("Format not recognised.").
    reason = getattr(exc, "error_string", None)
    text = " ".join(str(reason if isinstance(reason, str) and reason else exc).split())
    return text[:200] or type(exc).__name__
