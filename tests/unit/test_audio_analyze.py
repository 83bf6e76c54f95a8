"""analyze(): block-wise measurements and hostile input; assess(): the per-clip checks."""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.audio.analyze import CLIP_RUN, SNR_CAP_DB, Meter, _ClipRuns, analyze
from pipeline.audio.clip_checks import assess
from pipeline.audio.profiles import PROFILES
from pipeline.errors import InputError
from pipeline.records import AudioInfo, Severity
from tests.unit.audio_signals import speechlike, write

BASIC = PROFILES["huawei-basic"]


def codes(info: AudioInfo) -> dict[str, Severity]:
    """assess() against huawei-basic as {code: severity}."""
    return {f.code: f.severity for f in assess(info, BASIC, file="v/0.wav")}


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize(
    ("subtype", "channels"), [("PCM_16", 1), ("PCM_24", 2), ("PCM_32", 1), ("FLOAT", 2)]
)
def test_measures_every_format(tmp_path: Path, rate: int, subtype: str, channels: int) -> None:
    """Header fields, duration, peak, edges and loudness come out right for each format."""
    x = speechlike(rate, 2.0, lead=0.4, trail=0.3, peak=0.5, channels=channels, seed=rate)
    info = analyze(write(tmp_path / "a.wav", x, rate, subtype))
    assert (info.sample_rate, info.channels, info.subtype) == (rate, channels, subtype)
    assert info.frames == x.shape[0]
    assert info.duration_s == pytest.approx(2.0)
    assert info.peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=0.01)
    assert info.lead_silence_s == pytest.approx(0.4, abs=0.011)
    assert info.trail_silence_s == pytest.approx(0.3, abs=0.011)
    assert -30 < info.loudness_lufs < -10
    assert info.clipped_samples == 0
    assert info.snr_db > 60
    assert codes(info).keys() == {"audio.too_short"}  # 2 s < 5 s; nothing else to report


@pytest.mark.parametrize("rate", [11025, 22050])
def test_edges_stay_on_time_across_blocks(tmp_path: Path, rate: int) -> None:
    """At rates that are not a multiple of 100 Hz, frames stay aligned over many blocks."""
    x = speechlike(rate, 40.0, lead=0.25, trail=0.35, seed=rate)
    info = analyze(write(tmp_path / "a.wav", x, rate))
    assert info.lead_silence_s == pytest.approx(0.25, abs=0.011)
    assert info.trail_silence_s == pytest.approx(0.35, abs=0.011)


def test_block_wise_measurement_equals_one_shot() -> None:
    """Feeding odd-sized blocks gives the same AudioInfo as one big block."""
    rate = 22050
    x = speechlike(rate, 3.0, noise_dbfs=-60, channels=2).astype(np.float32)
    x[5000:5010, 0] = 1.0  # a clipped run to count across block edges
    whole = Meter(rate, 2, subtype="FLOAT")
    whole.feed(x)
    pieces = Meter(rate, 2, subtype="FLOAT")
    for start in range(0, x.shape[0], 4999):  # not a multiple of any frame length
        pieces.feed(x[start : start + 4999])
    a, b = whole.finish().info, pieces.finish().info
    for field in dataclasses.fields(AudioInfo):
        va, vb = getattr(a, field.name), getattr(b, field.name)
        if isinstance(va, float):
            assert va == pytest.approx(vb, rel=1e-6, abs=1e-9), field.name
        else:
            assert va == vb, field.name
    assert a.clipped_samples == 10


@settings(max_examples=150, deadline=None)
@given(
    mask=st.lists(st.booleans(), min_size=1, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
)
def test_clip_runs_count_across_any_block_split(mask: list[bool], cuts: list[int]) -> None:
    """Samples in runs of >= 3 full-scale samples are counted however the blocks fall."""
    expected, run = 0, 0
    for value in [*mask, False]:
        if value:
            run += 1
        else:
            expected += run if run >= CLIP_RUN else 0
            run = 0
    arr = np.array(mask)[:, None]
    counter = _ClipRuns(1)
    bounds = sorted({0, len(mask), *(c for c in cuts if c < len(mask))})
    for lo, hi in itertools.pairwise(bounds):
        counter.feed(arr[lo:hi])
    assert counter.finish() == expected


def test_dc_offset_and_snr_estimates(tmp_path: Path) -> None:
    """The DC offset is the mean; the SNR follows the noise level; no noise hits the cap."""
    rate = 16000
    clean = speechlike(rate, 3.0, peak=0.5)
    assert analyze(write(tmp_path / "clean.wav", clean, rate, "FLOAT")).snr_db >= SNR_CAP_DB - 5
    snrs = []
    for noise in (-75.0, -55.0, -35.0):
        info = analyze(write(tmp_path / "n.wav", speechlike(rate, 3.0, noise_dbfs=noise), rate))
        snrs.append(info.snr_db)
    assert snrs[0] > snrs[1] + 15 > snrs[2] + 30  # 20 dB more noise, about 20 dB less SNR
    shifted = analyze(write(tmp_path / "dc.wav", clean + 0.02, rate, "FLOAT"))
    assert shifted.dc_offset == pytest.approx(0.02, abs=1e-3)
    # Edges are measured about the mean: a DC offset does not make the silence "loud".
    assert shifted.lead_silence_s == pytest.approx(0.5, abs=0.011)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("zero-byte", b""),
        ("truncated-header", b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00"),
        ("text", b"transcript text, not audio\n" * 10),
        ("garbage", bytes(range(256)) * 8),
    ],
)
def test_unreadable_inputs_raise_input_error(tmp_path: Path, name: str, content: bytes) -> None:
    """Empty, truncated and non-WAV files named .wav give InputError(audio.unreadable)."""
    path = tmp_path / f"{name}.wav"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        analyze(path)
    assert info.value.code == "audio.unreadable"
    assert info.value.file is None
    assert str(tmp_path) not in info.value.message  # libsndfile's text repeats the path


def test_other_formats_named_wav_are_unreadable(tmp_path: Path) -> None:
    """A FLAC renamed to .wav is refused: the inbox contract is WAV."""
    path = tmp_path / "a.wav"
    sf.write(str(path), speechlike(16000, 2.0), 16000, format="FLAC")
    with pytest.raises(InputError, match="not a WAV") as info:
        analyze(path)
    assert info.value.code == "audio.unreadable"


def test_fifo_and_directory_do_not_hang(tmp_path: Path) -> None:
    """A FIFO or a directory named .wav is refused before libsndfile could block on it."""
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    folder = tmp_path / "dir.wav"
    folder.mkdir()
    for path in (fifo, folder):
        with pytest.raises(InputError) as info:
            analyze(path)
        assert info.value.code == "audio.unreadable"


def test_truncated_data_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    """A WAV cut short in its data chunk is measured on the frames that are there."""
    path = write(tmp_path / "a.wav", speechlike(16000, 2.0), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 2 * 16000])  # header + 1 s of 16-bit mono
    info = analyze(path)
    assert info.frames == 16000


def test_non_finite_float_samples_are_unreadable(tmp_path: Path) -> None:
    """A float WAV holding NaN is refused rather than measured as NaN."""
    x = speechlike(16000, 2.0)
    x[100, 0] = np.nan
    with pytest.raises(InputError, match="NaN") as info:
        analyze(write(tmp_path / "a.wav", x, 16000, "FLOAT"))
    assert info.value.code == "audio.unreadable"


def test_file_size_limit(tmp_path: Path) -> None:
    """A file over max_bytes gives audio.file_too_large without being decoded."""
    path = write(tmp_path / "a.wav", speechlike(16000, 2.0), 16000)
    with pytest.raises(InputError) as info:
        analyze(path, max_bytes=1000)
    assert info.value.code == "audio.file_too_large"


def test_clean_clip_within_bounds_has_no_findings(tmp_path: Path) -> None:
    """A clean 8 s clip at 44.1 kHz passes huawei-basic without findings."""
    x = speechlike(44100, 8.0, noise_dbfs=-80, channels=2)
    assert codes(analyze(write(tmp_path / "a.wav", x, 44100))) == {}


def test_low_sample_rate_is_an_error(tmp_path: Path) -> None:
    """8 kHz recordings are rejected (never upsampled)."""
    info = analyze(write(tmp_path / "a.wav", speechlike(8000, 6.0), 8000))
    findings = assess(info, BASIC, file="v/0.wav")
    low = [f for f in findings if f.code == "audio.low_sample_rate"]
    assert [(f.severity, f.message, f.file) for f in low] == [
        (Severity.ERROR, "8000 Hz < 16000 Hz", "v/0.wav")
    ]


def test_duration_bounds(tmp_path: Path) -> None:
    """A 16 s clip is too long and a 4 s clip too short for huawei-basic, with the numbers."""
    long = analyze(write(tmp_path / "long.wav", speechlike(16000, 16.2), 16000))
    findings = assess(long, BASIC, file="v/0.wav")
    assert [(f.code, f.severity, f.message) for f in findings] == [
        ("audio.too_long", Severity.ERROR, "16.20 s > 15.00 s")
    ]
    short = analyze(write(tmp_path / "short.wav", speechlike(16000, 4.0), 16000))
    assert codes(short) == {"audio.too_short": Severity.ERROR}
    # Profiles without per-clip bounds do not judge clip length.
    assert assess(long, PROFILES["azure-personal"], file="v/0.wav") == []


def test_clipping_error_and_warning(tmp_path: Path) -> None:
    """Heavy clipping is an error; a few clipped samples are a warning."""
    rate = 16000
    hot = np.clip(speechlike(rate, 6.0, peak=1.0) * 4.0, -1.0, 1.0)
    heavy = analyze(write(tmp_path / "heavy.wav", hot, rate))
    assert heavy.clip_fraction > BASIC.clipping_error_fraction
    assert codes(heavy) == {"audio.clipping": Severity.ERROR}
    light = speechlike(rate, 6.0, peak=0.5)
    light[rate : rate + 4, 0] = 1.0  # one flat top of 4 samples
    info = analyze(write(tmp_path / "light.wav", light, rate))
    assert info.clipped_samples == 4
    assert codes(info) == {"audio.clipping": Severity.WARNING}
    # Two full-scale samples in a row are a legitimate peak, not clipping.
    light[rate + 2 : rate + 4, 0] = 0.0
    assert analyze(write(tmp_path / "peak.wav", light, rate)).clipped_samples == 0


def test_silence_is_an_error(tmp_path: Path) -> None:
    """Digital silence and pure noise (nothing above the floor) both give audio.silent."""
    rate = 16000
    zeros = analyze(write(tmp_path / "zeros.wav", np.zeros((6 * rate, 1)), rate))
    assert zeros.peak_dbfs == -math.inf
    assert zeros.loudness_lufs == -math.inf
    assert zeros.lead_silence_s == zeros.duration_s
    findings = assess(zeros, BASIC, file="v/0.wav")
    assert [(f.code, f.message) for f in findings] == [("audio.silent", "digital silence")]
    noise = np.random.default_rng(1).standard_normal((6 * rate, 1)) * 0.1
    info = analyze(write(tmp_path / "noise.wav", noise, rate))
    assert codes(info) == {"audio.silent": Severity.ERROR}


def test_low_snr_warning_and_error(tmp_path: Path) -> None:
    """Noise gives a warning under 35 dB and an error under 20 dB, with the estimate."""
    rate = 16000
    warn = analyze(write(tmp_path / "w.wav", speechlike(rate, 6.0, noise_dbfs=-40), rate))
    error = analyze(write(tmp_path / "e.wav", speechlike(rate, 6.0, noise_dbfs=-26), rate))
    assert 20 <= warn.snr_db < 35
    assert error.snr_db < 20
    assert codes(warn) == {"audio.low_snr": Severity.WARNING}
    assert codes(error) == {"audio.low_snr": Severity.ERROR}
    (finding,) = assess(warn, BASIC, file="v/0.wav")
    assert finding.message == f"estimated SNR {warn.snr_db:.0f} dB (< 35 dB)"


def test_quiet_recording_is_a_warning(tmp_path: Path) -> None:
    """Loudness far below speech level (here about -50 LUFS) gives audio.quiet."""
    info = analyze(write(tmp_path / "a.wav", speechlike(16000, 6.0, peak=0.01), 16000, "FLOAT"))
    assert info.loudness_lufs < BASIC.quiet_lufs
    assert codes(info) == {"audio.quiet": Severity.WARNING}
