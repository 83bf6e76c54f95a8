"""The typed edge around soundfile (libsndfile): every Any-typed call stays in this module.

Reading is block-wise so memory stays flat for hour-long recordings, and every failure of
libsndfile (or of the file system under it) becomes ``InputError("audio.unreadable")``.
Writing is :mod:`._wavwrite`'s (:class:`AtomicWavWriter`, re-exported here): a temporary file
that replaces the target only when complete.

libsndfile parses every header; the samples of a plain little-endian WAV with 16-, 24- or
32-bit PCM or float data are then decoded here with NumPy, which is bit for bit what
libsndfile's float conversion gives (the same integer scaling: 2**-15, 2**-31) and about 7x
faster for 24-bit (0.7 vs 5 ms for ten seconds of stereo, a fifth of normalizing a clip).
Only a file whose chunk layout we read exactly as libsndfile does (same channels, sample
width and frame count) takes that path; anything else is read through libsndfile. A source
whose bytes the caller already read (to hash them) is decoded from those bytes in place.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import numpy as np
import numpy.typing as npt
import soundfile as sf

from pipeline.audio._wavwrite import AtomicWavWriter
from pipeline.audio.files import check_regular_file, regular_stat, unreadable

__all__ = [
    "BLOCK_SAMPLES",
    "MAX_CHANNELS",
    "MAX_FLOAT_MAGNITUDE",
    "MAX_RATE",
    "MIN_RATE",
    "WAV_FORMATS",
    "AtomicWavWriter",
    "Reader",
    "check_regular_file",
    "regular_stat",
    "unreadable",
]

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
#: Below ~3.4 kHz the BS.1770 K-weighting shelf (1.68 kHz) lies above Nyquist and the loudness
#: filter is unstable (overflow); 4 kHz still lets 8 kHz telephony audio be measured and
#: reported as audio.low_sample_rate.
MIN_RATE: Final = 4000
#: |sample| of float data beyond this (+80 dBFS) is garbage, not a recording; squaring values
#: near float32's limit would overflow every measurement.
MAX_FLOAT_MAGNITUDE: Final = 1e4
MAX_RATE: Final = 768_000

#: Subtypes decoded directly (see the module docstring): bytes per sample.
_DIRECT_WIDTH: Final = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4}
#: Chunks examined before the data chunk at most (a hostile file may hold endless ones).
_MAX_CHUNKS: Final = 64

# What libsndfile, cffi and the file system raise for bad input: LibsndfileError is a
# RuntimeError; soundfile raises TypeError/ValueError for formats it cannot map.
_READ_ERRORS: Final = (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError, EOFError)


class Reader:
    """A WAV file open for block-wise reading, with its header as typed attributes.

    ``data``: the file's bytes, already read (and hashed) by the caller: decoded from memory,
    so the file is read once (``path`` then only names it)."""

    def __init__(
        self,
        path: Path,
        *,
        file: str | None,
        max_bytes: int | None = None,
        data: bytes | None = None,
    ) -> None:
        if data is None:
            check_regular_file(path, file=file, max_bytes=max_bytes)
        self._file = file
        try:
            source: str | io.BytesIO = str(path) if data is None else io.BytesIO(data)
            self._sf = sf.SoundFile(source, mode="r")
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
            self._direct = _DirectPcm.open(path, self, data)
        except BaseException:
            self.close()
            raise

    @property
    def block_frames(self) -> int:
        """Frames per block so that one block holds about BLOCK_SAMPLES samples."""
        return max(1, BLOCK_SAMPLES // self.channels)

    def blocks(
        self, frames: int | None = None, *, into: Callable[[int], F32 | None] | None = None
    ) -> Iterator[F32]:
        """Float32 blocks of shape (frames, channels), full scale ±1.0, until the data ends.

        ``frames`` per block (default :attr:`block_frames`); a consumer that re-chunks asks
        for a multiple of its own chunk, which saves it a copy per block. Counts on what is
        actually read, not the header: a truncated data chunk just ends early. ``into``: for
        a mono file, where the consumer wants the next block (a float32 array of at least
        ``frames``, asked for before each block): decoded there when it can be, which spares
        the consumer a copy; a block is still only valid until the next one is asked for.
        """
        step = frames or self.block_frames
        while True:
            if self._direct is not None:
                out = into(step) if into is not None and self.channels == 1 else None
                block = self._direct.read(step, out)
            else:
                try:
                    data = self._sf.read(step, dtype="float32", always_2d=True)
                except _READ_ERRORS as exc:
                    raise unreadable(self._file, f"read failed: {_short(exc)}") from None
                block = np.ascontiguousarray(data, dtype=np.float32)
            if block.shape[0] == 0:
                return
            # Float WAVs can hold NaN/inf or absurd values, which would poison (or overflow)
            # every measurement and the gain. max and min are NaN when any sample is, and
            # unlike abs().max() they allocate no copy of the block.
            if self._float and not (
                float(block.max()) <= MAX_FLOAT_MAGNITUDE
                and -float(block.min()) <= MAX_FLOAT_MAGNITUDE
            ):
                why = "NaN or infinite" if not np.isfinite(block).all() else "absurdly large"
                raise unreadable(self._file, f"{why} samples in float data")
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
        direct = getattr(self, "_direct", None)
        if direct is not None:
            direct.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _DirectPcm:
    """The sample data of a plain little-endian WAV, decoded with NumPy (module docstring)."""

    def __init__(
        self,
        handle: io.BufferedIOBase,
        remaining: int,
        channels: int,
        subtype: str,
        memory: bytes | None = None,
        offset: int = 0,
    ) -> None:
        self._handle = handle
        self._remaining = remaining  # bytes of whole frames left to read
        self._channels = channels
        self._width = _DIRECT_WIDTH[subtype]
        self._subtype = subtype
        self._buffer = np.zeros(0, np.uint8)
        #: the file's bytes, when the caller read them: decoded in place (no copy through
        #: the handle), from ``offset`` on
        self._memory = memory
        self._offset = offset

    @classmethod
    def open(cls, path: Path, reader: Reader, data: bytes | None = None) -> _DirectPcm | None:
        """The direct decoder for ``reader``'s file (or its bytes), or None when libsndfile
        must read it."""
        width = _DIRECT_WIDTH.get(reader.subtype)
        if width is None or reader.format not in {"WAV", "WAVEX"}:
            return None
        try:
            handle: io.BufferedIOBase = path.open("rb") if data is None else io.BytesIO(data)
        except OSError:
            return None
        try:
            found = _data_chunk(handle, reader.channels, width)
            frame_bytes = reader.channels * width
            if found is None or found[1] // frame_bytes != reader.frames:
                handle.close()
                return None
            handle.seek(found[0])
            return cls(
                handle,
                reader.frames * frame_bytes,
                reader.channels,
                reader.subtype,
                memory=data,
                offset=found[0],
            )
        except (OSError, ValueError):
            handle.close()
            return None

    def read(self, frames: int, out: F32 | None = None) -> F32:
        """Up to ``frames`` frames as float32 (frames, channels); none when the data ends.
        ``out``: a flat float32 array of at least ``frames * channels`` to decode into."""
        frame_bytes = self._channels * self._width
        want = min(frames * frame_bytes, self._remaining)
        memory, base = self._memory, self._offset
        # The 24-bit decoder reads four bytes at every third: one byte past the block.
        if memory is not None and base + want + 1 <= len(memory):
            # open() checked that the bytes hold every frame: no read, no copy.
            got = want
            self._offset += want
            self._remaining -= want
            data: bytes | npt.NDArray[np.uint8] = memory
        else:
            got = self._fill(want)
            data, base = self._buffer, 0
        samples = got // self._width
        dest = None if out is None else out[:samples]
        decoded: F32
        if self._subtype == "PCM_24":
            # Each sample's three bytes plus the next one, as a little-endian int32; shifting
            # left by 8 drops the extra byte and leaves the 24-bit value scaled to 32 bits.
            packed = np.ndarray((samples,), dtype="<i4", buffer=data, offset=base, strides=(3,))
            decoded = np.multiply(
                np.left_shift(packed, 8), np.float32(2.0**-31), dtype=np.float32, out=dest
            )
        elif self._subtype == "PCM_16":
            ints16 = np.frombuffer(data, dtype="<i2", count=samples, offset=base)
            decoded = np.multiply(ints16, np.float32(2.0**-15), dtype=np.float32, out=dest)
        elif self._subtype == "PCM_32":
            ints32 = np.frombuffer(data, dtype="<i4", count=samples, offset=base)
            decoded = np.multiply(ints32, np.float32(2.0**-31), dtype=np.float32, out=dest)
        else:
            floats = np.frombuffer(data, dtype="<f4", count=samples, offset=base)
            if dest is None:
                decoded = floats.astype(np.float32)
            else:
                dest[:] = floats
                decoded = dest
        return decoded.reshape(-1, self._channels)

    def _fill(self, want: int) -> int:
        """Read up to ``want`` bytes of whole frames into the buffer; how many were read."""
        frame_bytes = self._channels * self._width
        if self._buffer.shape[0] < want + 1:  # one spare byte for the 24-bit decoder
            self._buffer = np.zeros(want + 1, np.uint8)
        if self._memory is not None:  # the last block of data that ends the file
            self._handle.seek(self._offset)
        view = self._buffer.data[:want]
        got = 0
        while got < want:
            n = self._handle.readinto(view[got:])
            if not n:
                break
            got += n
        got -= got % frame_bytes
        self._remaining = 0 if got < want else self._remaining - got
        self._offset += got
        return got

    def close(self) -> None:
        self._handle.close()


def _data_chunk(handle: io.BufferedIOBase, channels: int, width: int) -> tuple[int, int] | None:
    """(offset, bytes present) of a RIFF/WAVE file's data chunk when its ``fmt `` chunk says
    ``channels`` interleaved samples of ``width`` bytes; None for anything else."""
    head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    size = handle.seek(0, io.SEEK_END)
    position, fmt_ok = 12, False
    for _ in range(_MAX_CHUNKS):
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8:
            return None
        length = int.from_bytes(header[4:], "little")
        if header[:4] == b"fmt ":
            body = handle.read(16)
            if len(body) < 16:
                return None
            fmt_ok = (
                int.from_bytes(body[2:4], "little") == channels
                and int.from_bytes(body[12:14], "little") == channels * width
                and int.from_bytes(body[14:16], "little") == 8 * width
            )
            if not fmt_ok:
                return None
        elif header[:4] == b"data":
            start = position + 8
            return (start, min(length, max(0, size - start))) if fmt_ok else None
        position += 8 + length + (length & 1)
    return None


def _short(exc: BaseException) -> str:
    """A one-line reason from a libsndfile error, without the path it likes to repeat."""
    # LibsndfileError.error_string is libsndfile's own text ("Format not recognised.").
    reason = getattr(exc, "error_string", None)
    text = " ".join(str(reason if isinstance(reason, str) and reason else exc).split())
    return text[:200] or type(exc).__name__
