"""Fuzz the WAV reader: hostile headers (chunk sizes, format tags, channel counts, rates, bit
depths, lying RIFF/data sizes, extra and missing chunks, RF64), mutated valid files and random
bytes. analyze() must return measurements or raise InputError with a registered code, and
normalize() must do the same; nothing may crash or hang."""

from __future__ import annotations

import io
import math
import struct
import tempfile
import warnings
import wave
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from pipeline.audio import analyze, assess, normalize, resolve_profile
from pipeline.audio._sndfile import MAX_CHANNELS, MAX_RATE, MIN_RATE
from pipeline.codes import CODES
from pipeline.errors import InputError
from pipeline.records import AudioInfo
from tests.fuzz.fuzzkit import STATS, fuzz_settings, within_watchdog

T = TypeVar("T")

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


SANE: dict[str, list[int]] = {
    "tag": [1, 1, 3, 0xFFFE],
    "channels": [1, 1, 2, 3],
    "rate": [16000, 22050, 44100, 48000],
    "bits": [16, 16, 24, 32, 8],
}
ODD: dict[str, list[int]] = {
    "tag": ODD_TAGS,
    "channels": ODD_CHANNELS,
    "rate": ODD_RATES,
    "bits": ODD_BITS,
}
WIDTH = {"tag": U16, "channels": U16, "rate": U32, "bits": U16}


@st.composite
def fmt_chunk(draw: st.DrawFn) -> bytes:
    """A fmt chunk, PCM or WAVE_FORMAT_EXTENSIBLE: sane, sane but for one absurd field, or
    absurd throughout (a mostly sane header gets libsndfile past its checks, into the data)."""
    mode = draw(st.sampled_from(["sane", "one_odd", "one_odd", "wild"]))
    odd_field = draw(st.sampled_from(sorted(SANE)))
    fields: dict[str, int] = {}
    for name, sane in SANE.items():
        if mode == "wild" or (mode == "one_odd" and name == odd_field):
            fields[name] = draw(st.sampled_from(ODD[name]) | st.integers(0, WIDTH[name]))
        else:
            fields[name] = draw(st.sampled_from(sane))
    tag, channels, rate, bits = (fields[k] for k in ("tag", "channels", "rate", "bits"))
    if mode == "sane" and tag == 3:
        bits = 32  # IEEE float comes in 32 (or 64) bits
    right_align = (channels * ((bits + 7) // 8)) & U16
    align = draw(st.sampled_from([right_align, right_align, right_align, 0, 1, U16]))
    byte_rate = draw(st.sampled_from([(rate * align) & U32, (rate * align) & U32, 0, U32]))
    payload = struct.pack("<HHIIHH", tag, channels, rate, byte_rate, align, bits)
    if tag == 0xFFFE or draw(st.integers(0, 4)) == 0:
        valid_bits = draw(st.sampled_from([bits & U16, bits & U16, 0, 1, 24, U16]))
        mask = draw(st.sampled_from([0, 3, 4, 0x3F, U32]))
        sub = draw(st.sampled_from([1, 1, 3, 0, 6, U16]))
        guid = struct.pack("<H", sub) + draw(
            st.sampled_from([PCM_GUID_TAIL, PCM_GUID_TAIL, bytes(14), b"\xff" * 14])
        )
        cb_size = draw(st.sampled_from([22, 22, 0, 10, U16]))
        payload += struct.pack("<HHI", cb_size, valid_bits, mask) + guid
    cut = draw(st.sampled_from([len(payload)] * 12 + [14, 16, 18, 2]))
    size = draw(st.sampled_from([None] * 40 + ODD_SIZES))
    return chunk(b"fmt ", payload[:cut], size)


@st.composite
def samples(draw: st.DrawFn) -> bytes:
    """Sample bytes: random, silent, full-scale square waves, or a plausible tone."""
    kind = draw(st.sampled_from(["random", "silence", "square", "tone"]))
    n = draw(st.randoms(use_true_random=False)).choice([0, 1, 2, 3, 64, 1000, 3200, 8000])
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
    data_size = draw(st.sampled_from([None] * 40 + [*ODD_SIZES, len(data) + 7]))
    body = [draw(fmt_chunk()), chunk(b"data", data, data_size)]
    extras = draw(
        st.lists(
            st.tuples(
                st.sampled_from([b"LIST", b"fact", b"JUNK", b"bext", b"cue ", b"fmt ", b"ds64"])
                | st.binary(min_size=4, max_size=4),
                st.binary(max_size=64),
                st.sampled_from([None] * 8 + [0, 1, U32, 0x7FFFFFFF]),
            ),
            max_size=2,
        )
    )
    for cid, payload, size in extras:
        body.insert(draw(st.integers(0, len(body))), chunk(cid, payload, size))
    if draw(st.integers(0, 3)) == 0:
        body = draw(st.permutations(body))
    if draw(st.integers(0, 9)) == 0:
        body.pop(draw(st.integers(0, len(body) - 1)))  # no fmt, or no data
    content = b"".join(body)
    magic = draw(st.sampled_from([b"RIFF"] * 8 + [b"RF64", b"RIFX", b"FORM"]))
    form = draw(st.sampled_from([b"WAVE"] * 8 + [b"AIFF", b"wave"]))
    riff_size = draw(st.sampled_from([len(content) + 4] * 16 + ODD_SIZES))
    out = magic + struct.pack("<I", riff_size & U32) + form + content
    if draw(st.integers(0, 5)) == 0:
        out = out[: draw(st.randoms(use_true_random=False)).randrange(len(out) + 1)]
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
    """A valid WAV with a few bytes overwritten, inserted or deleted (header bytes favoured).

    Sizes and positions come from a seeded Random: hypothesis's own integers favour 0 and the
    bounds, which would make nearly every seed file empty and every mutation hit byte 0.
    """
    rnd = draw(st.randoms(use_true_random=False))
    data = bytearray(
        valid_wav(
            rnd.choice([1, 1, 2, 3]),
            rnd.choice([8000, 16000, 44100, 48000]),
            rnd.choice([1, 2, 2, 3, 4]),
            rnd.randrange(1, 3000),
        )
    )
    for _ in range(rnd.randint(1, 3)):
        in_header = rnd.random() < 0.25
        at = rnd.randrange(44 if in_header else len(data))
        op = rnd.choice(["set", "set", "insert", "delete"])
        if op == "set":
            data[at] = rnd.randrange(256)
        elif op == "insert":
            data[at:at] = bytes([rnd.randrange(256)]) * rnd.randint(1, 8)
        else:
            del data[at : at + rnd.randint(1, 8)]
        if not data:
            break
    return bytes(data)


SUBTYPES = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"]


@st.composite
def decodable_files(draw: st.DrawFn) -> bytes:
    """Files libsndfile decodes, with hostile content instead of hostile headers: odd rates
    (1 kHz … 768 kHz), up to 64 channels, every sample format, and signals that stress the
    measurements (silence, DC, full-scale squares, NaN, values far beyond full scale)."""
    rnd = draw(st.randoms(use_true_random=False))
    rate = draw(
        st.sampled_from([8000, 16000, 44100, 48000, 96000, 768000]) | st.integers(1000, 12000)
    )
    channels = draw(st.sampled_from([1, 1, 2, 3, 8, 64]))
    subtype = draw(st.sampled_from(SUBTYPES))
    container = draw(st.sampled_from(["WAV", "WAV", "WAVEX", "RF64", "W64"]))
    # At most ~0.6 s and 40 000 samples: long enough to cross the 100 ms and 400 ms blocks.
    frames = min(rnd.choice([0, 1, 2, 799, 1601, rate // 2]), 40_000 // channels)
    kind = draw(st.sampled_from(["noise", "silence", "dc", "square", "huge", "nan", "edges"]))
    signal = np.asarray(
        [[rnd.gauss(0.0, 0.2) for _ in range(channels)] for _ in range(min(frames, 64))],
        dtype=np.float64,
    )
    signal = np.resize(signal, (frames, channels)) if frames else np.zeros((0, channels))
    # Hypothesis's Random.gauss returns extreme values on purpose; libsndfile's own u-law and
    # A-law encoders crash (SIGSEGV) on those when *writing*, so the base signal is clipped
    # to full scale and only the float formats get values beyond it.
    signal = np.clip(np.nan_to_num(signal), -1.0, 1.0)
    if kind == "silence":
        signal[:] = 0.0
    elif kind == "dc":
        signal[:] = 0.5
    elif kind == "square":
        signal[::2] = 1.0
        signal[1::2] = -1.0
    elif kind == "huge" and subtype in ("FLOAT", "DOUBLE"):
        signal *= draw(st.sampled_from([1e4, 1e20, 3e38]))
    elif kind == "nan" and subtype in ("FLOAT", "DOUBLE") and frames:
        signal[rnd.randrange(frames)] = draw(st.sampled_from([math.nan, math.inf]))
    elif kind == "edges" and frames > 4:
        signal[: frames // 4] = 0.0
        signal[-frames // 4 :] = 0.0
    if subtype == "FLOAT":
        signal = np.clip(signal, -3e38, 3e38)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test's own float32 cast of "huge" values
        sf.write(buf, signal, rate, subtype=subtype, format=container)
    return buf.getvalue()


WAV_INPUTS = st.one_of(
    riff_files(),
    mutated_files(),
    decodable_files(),
    st.binary(max_size=512),
    st.binary(max_size=256).map(lambda b: b"RIFF" + b[:4] + b"WAVE" + b[4:]),
)


def attempt(call: Callable[[], T]) -> T | InputError:
    """``call()`` under the watchdog; an InputError is returned (it is the expected outcome
    for most inputs), anything else propagates and fails the example."""
    try:
        return within_watchdog(call)
    except InputError as exc:
        return exc


def check_rejection(exc: InputError) -> None:
    """A refusal carries a registered audio.* code."""
    assert exc.code in CODES, exc.code
    assert exc.code.startswith("audio."), exc.code


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
        info = attempt(lambda: analyze(Path(f.name)))
    if isinstance(info, InputError):
        check_rejection(info)
        STATS.record("wav.analyze", info.code)
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
        result = attempt(
            lambda: normalize(Path(f.name), resolved, scratch / "cache", file="k/0.wav")
        )
    if isinstance(result, InputError):
        check_rejection(result)
        STATS.record("wav.normalize", result.code)
        return
    check_info(result.info_in)
    assert result.info_out.sample_rate == resolved.sample_rate
    assert result.info_out.channels == 1
    check_info(analyze(result.path))
    STATS.record("wav.normalize", "accepted")
