"""Fuzz the WAV reader: hostile headers (chunk sizes, format tags, channel counts, rates, bit
depths, lying RIFF/data sizes, extra and missing chunks, RF64), mutated valid files and random
bytes. analyze() must return measurements or raise InputError with a registered code, and
normalize() must do the same; nothing may crash or hang."""

from __future__ import annotations

import io
import math
import struct
import tempfile
import wave
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.audio import analyze, assess, normalize, resolve_profile
from pipeline.audio._sndfile import MAX_CHANNELS, MAX_RATE, MIN_RATE
from pipeline.codes import CODES
from pipeline.errors import InputError
from pipeline.records import AudioInfo
from tests.fuzz.fuzzkit import STATS, fuzz_settings, within_watchdog

U16 = 0xFFFF
U32 = 0xFFFFFFFF
PCM_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
ODD_TAGS = [1, 3, 0xFFFE, 0, 2, 6, 7, 0x11, 0x31, 0x55, 0x161, U16]
ODD_CHANNELS = [0, 1, 2, 6, 64, 65, 255, U16]
ODD_RATES = [0, 1, 999, 1000, 8000, 16000, 44100, 48000, 768000, 768001, 2**31 - 1, U32]
ODD_BITS = [0, 1, 7, 8, 12, 16, 20, 24, 32, 48, 64, U16]
ODD_SIZES = [0, 1, 2, 3, 0x7FFFFFFF, 0x80000000, U32 - 1, U32]


def chunk(cid: bytes, payload: bytes, size: int | None = None) -> bytes:
    """One RIFF chunk; ``size`` may lie about the payload (padding follows the truth)."""
    declared = len(payload) if size is None else size
    pad = b"\0" if len(payload) % 2 else b""
    return cid + struct.pack("<I", declared & U32) + payload + pad


@st.composite
def fmt_chunk(draw: st.DrawFn) -> bytes:
    """A fmt chunk with any mix of sane and absurd fields, PCM or WAVE_FORMAT_EXTENSIBLE."""
    tag = draw(st.sampled_from(ODD_TAGS) | st.integers(0, U16))
    channels = draw(st.sampled_from(ODD_CHANNELS) | st.integers(0, U16))
    rate = draw(st.sampled_from(ODD_RATES) | st.integers(0, U32))
    bits = draw(st.sampled_from(ODD_BITS) | st.integers(0, U16))
    right_align = (channels * ((bits + 7) // 8)) & U16
    align = draw(st.sampled_from([right_align, right_align, 0, 1, U16]))
    byte_rate = draw(st.sampled_from([(rate * align) & U32, 0, U32]))
    payload = struct.pack("<HHIIHH", tag, channels, rate, byte_rate, align, bits)
    if tag == 0xFFFE or draw(st.booleans()):
        valid_bits = draw(st.sampled_from([bits & U16, 0, 1, 24, U16]))
        mask = draw(st.sampled_from([0, 3, 4, 0x3F, U32]))
        sub = draw(st.sampled_from([1, 3, 0, 6, U16]))
        guid = struct.pack("<H", sub) + draw(
            st.sampled_from([PCM_GUID_TAIL, bytes(14), b"\xff" * 14])
        )
        cb_size = draw(st.sampled_from([22, 0, 10, U16]))
        payload += struct.pack("<HHI", cb_size, valid_bits, mask) + guid
    payload = payload[: draw(st.sampled_from([len(payload), len(payload), 14, 16, 18, 2]))]
    size = draw(st.sampled_from([None, None, None, *ODD_SIZES]))
    return chunk(b"fmt ", payload, size)


@st.composite
def samples(draw: st.DrawFn) -> bytes:
    """Sample bytes: random, silent, full-scale square waves, or a plausible tone."""
    kind = draw(st.sampled_from(["random", "silence", "square", "tone"]))
    n = draw(st.integers(0, 8000))
    if kind == "random":
        return draw(st.binary(max_size=n))
    if kind == "silence":
        return bytes(n)
    if kind == "square":
        return (b"\xff\x7f\xff\x7f\x00\x80\x00\x80" * (n // 8 + 1))[:n]
    return b"".join(struct.pack("<h", int(12000 * math.sin(i / 7.0))) for i in range(n // 2))


@st.composite
def riff_files(draw: st.DrawFn) -> bytes:
    """A RIFF/RF64 file assembled from hostile chunks in any order, sizes that may lie,
    possibly truncated."""
    data = draw(samples())
    body = [
        draw(fmt_chunk()),
        chunk(b"data", data, draw(st.sampled_from([None, None, *ODD_SIZES, len(data) + 7]))),
    ]
    extras = draw(
        st.lists(
            st.tuples(
                st.sampled_from([b"LIST", b"fact", b"JUNK", b"bext", b"cue ", b"fmt ", b"ds64"])
                | st.binary(min_size=4, max_size=4),
                st.binary(max_size=64),
                st.sampled_from([None, None, 0, 1, U32, 0x7FFFFFFF]),
            ),
            max_size=3,
        )
    )
    for cid, payload, size in extras:
        body.insert(draw(st.integers(0, len(body))), chunk(cid, payload, size))
    if draw(st.booleans()):
        body = draw(st.permutations(body))
    if draw(st.integers(0, 9)) == 0:
        body.pop(draw(st.integers(0, len(body) - 1)))  # no fmt, or no data
    content = b"".join(body)
    magic = draw(st.sampled_from([b"RIFF", b"RIFF", b"RIFF", b"RF64", b"RIFX", b"FORM"]))
    form = draw(st.sampled_from([b"WAVE", b"WAVE", b"WAVE", b"AIFF", b"wave"]))
    riff_size = draw(st.sampled_from([len(content) + 4, len(content) + 4, *ODD_SIZES]))
    out = magic + struct.pack("<I", riff_size & U32) + form + content
    if draw(st.integers(0, 3)) == 0:
        out = out[: draw(st.integers(0, len(out)))]
    return out


def valid_wav(channels: int, rate: int, width: int, frames: int) -> bytes:
    """A well-formed PCM file from the stdlib writer, as the seed of mutations."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(bytes((i * 37) & 0xFF for i in range(frames * channels * width)))
    return buf.getvalue()


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """A valid WAV with a few bytes overwritten, inserted or deleted (header bytes favoured)."""
    data = bytearray(
        valid_wav(
            draw(st.sampled_from([1, 2, 3])),
            draw(st.sampled_from([8000, 16000, 44100, 48000])),
            draw(st.sampled_from([1, 2, 3, 4])),
            draw(st.integers(0, 3000)),
        )
    )
    for _ in range(draw(st.integers(1, 6))):
        limit = len(data) - 1 if draw(st.booleans()) or len(data) < 45 else 44
        at = draw(st.integers(0, max(0, limit)))
        op = draw(st.sampled_from(["set", "insert", "delete"]))
        value = draw(st.integers(0, 255))
        if op == "set" and data:
            data[at] = value
        elif op == "insert":
            data[at:at] = bytes([value]) * draw(st.integers(1, 8))
        elif data:
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


WAV_INPUTS = st.one_of(
    riff_files(),
    mutated_files(),
    st.binary(max_size=512),
    st.binary(max_size=256).map(lambda b: b"RIFF" + b[:4] + b"WAVE" + b[4:]),
)


def check_info(info: AudioInfo) -> None:
    """Measurements of an accepted file are sane, finite where they must be."""
    assert 1 <= info.channels <= MAX_CHANNELS
    assert MIN_RATE <= info.sample_rate <= MAX_RATE
    assert info.frames >= 0
    assert math.isfinite(info.duration_s)
    assert info.duration_s >= 0
    assert math.isfinite(info.snr_db)
    assert math.isfinite(info.dc_offset)
    assert 0.0 <= info.clip_fraction <= 1.0
    assert not math.isnan(info.peak_dbfs)
    assert not math.isnan(info.loudness_lufs)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by the module's examples (hypothesis forbids function-scoped ones)."""
    return tmp_path_factory.mktemp("fuzz-wav")


PROFILE = resolve_profile("huawei-basic", {}, source="fuzz")


@fuzz_settings()
@given(data=WAV_INPUTS)
def test_fuzz_analyze(scratch: Path, data: bytes) -> None:
    """analyze() on hostile bytes: measurements or InputError(audio.*), within the watchdog;
    assess() on whatever it measured never raises either."""
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".wav") as f:
        f.write(data)
        f.flush()
        try:
            info = within_watchdog(lambda: analyze(Path(f.name)))
        except InputError as exc:
            assert exc.code in CODES, exc.code
            assert exc.code.startswith("audio."), exc.code
            STATS.record("wav.analyze", exc.code)
            return
    check_info(info)
    assess(info, PROFILE, file="k/0.wav")
    STATS.record("wav.analyze", "accepted")


@fuzz_settings(share=0.5)
@given(data=WAV_INPUTS, profile=st.sampled_from(["huawei-basic", "azure-personal"]))
def test_fuzz_normalize(scratch: Path, data: bytes, profile: str) -> None:
    """normalize() on hostile bytes: a normalized file or InputError(audio.*), within the
    watchdog; what it writes is itself a readable WAV of the profile's rate."""
    resolved = resolve_profile(profile, {}, source="fuzz")
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".wav") as f:
        f.write(data)
        f.flush()
        try:
            result = within_watchdog(
                lambda: normalize(Path(f.name), resolved, scratch / "cache", file="k/0.wav")
            )
        except InputError as exc:
            assert exc.code in CODES, exc.code
            STATS.record("wav.normalize", exc.code)
            return
    check_info(result.info_in)
    assert result.info_out.sample_rate == resolved.sample_rate
    assert result.info_out.channels == 1
    check_info(analyze(result.path))
    STATS.record("wav.normalize", "accepted")
