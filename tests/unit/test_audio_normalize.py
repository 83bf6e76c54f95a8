"""normalize(): format, levels, edges and duration of the output; its cache; join()."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.audio import PROFILES, analyze, join
from pipeline.audio import normalize as normalize_audio
from pipeline.audio._sndfile import AtomicWavWriter
from pipeline.audio.normalize import SIDECAR_VERSION, NormalizedAudio
from pipeline.audio.profiles import AudioProfile
from pipeline.checksums import file_crc32
from pipeline.errors import InputError
from pipeline.records import Severity
from tests.unit.audio_signals import speechlike, write


def normalize(
    src: Path, profile: AudioProfile, cache_dir: Path, *, file: str, **options: object
) -> NormalizedAudio:
    """normalize() with its energy edges: the signals here are speech-like, not speech, and
    the VAD rightly finds none in them (its path is tested on espeak-ng speech in
    test_audio_speech.py)."""
    return normalize_audio(
        src,
        profile,
        cache_dir,
        file=file,
        speech_detection=False,
        **options,  # type: ignore[arg-type]
    )


BASIC = PROFILES["huawei-basic"]
AZURE = PROFILES["azure-personal"]
EDGE_TOLERANCE_S = 0.010


def codes(result: NormalizedAudio) -> dict[str, Severity]:
    """The findings of a normalization as {code: severity}."""
    return {f.code: f.severity for f in result.findings}


def check_output(result: NormalizedAudio, profile: AudioProfile) -> None:
    """The output file honours the profile: format, peak range, edges and duration."""
    with sf.SoundFile(str(result.path)) as f:
        assert (f.samplerate, f.channels, f.subtype, f.format) == (
            profile.sample_rate,
            profile.channels,
            profile.subtype,
            "WAV",
        )
    out = analyze(result.path)
    # Measured on the way out == measured when read back; the loudness, derived from the
    # source, within 0.1 LU of the measured one.
    derived = result.info_out.loudness_lufs
    assert dataclasses.replace(result.info_out, loudness_lufs=out.loudness_lufs) == out
    if math.isinf(out.loudness_lufs):
        assert derived == out.loudness_lufs
    else:
        assert derived == pytest.approx(out.loudness_lufs, abs=0.1)
    assert profile.peak_floor_dbfs <= out.peak_dbfs <= profile.peak_ceiling_dbfs
    lo = profile.edge_silence_min_s - EDGE_TOLERANCE_S
    hi = profile.edge_silence_max_s + EDGE_TOLERANCE_S
    assert lo <= out.lead_silence_s <= hi
    assert lo <= out.trail_silence_s <= hi
    assert out.duration_s == pytest.approx(result.expected_duration_s, abs=0.010)


RATES = [16000, 22050, 44100, 48000, 96000]
FORMATS = [("PCM_16", 1), ("PCM_24", 2), ("PCM_32", 1), ("FLOAT", 2), ("PCM_16", 2)]


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(("subtype", "channels"), FORMATS)
def test_every_input_format_normalizes(
    tmp_path: Path, rate: int, subtype: str, channels: int
) -> None:
    """16/24/32-bit PCM and float, 16–96 kHz, mono and stereo all give a conforming output."""
    x = speechlike(rate, 2.0, lead=0.6, trail=0.03, peak=0.2, channels=channels, seed=rate)
    src = write(tmp_path / "in.wav", x, rate, subtype)
    result = normalize(src, BASIC, tmp_path / "cache", file="v/in.wav")
    check_output(result, BASIC)
    found = codes(result)
    assert ("audio.resampled" in found) == (rate != 48000)
    assert ("audio.downmixed" in found) == (channels == 2)
    assert ("audio.requantized" in found) == (subtype != "PCM_16")
    assert found["audio.silence_trimmed"] is Severity.FIXED
    assert found["audio.gain_adjusted"] is Severity.FIXED
    assert all(f.severity is Severity.FIXED and f.file == "v/in.wav" for f in result.findings)
    assert not result.cached


def test_azure_profile_writes_24_khz(tmp_path: Path) -> None:
    """azure-personal output is 24 kHz PCM16 mono."""
    src = write(tmp_path / "in.wav", speechlike(44100, 3.0, channels=2), 44100)
    check_output(normalize(src, AZURE, tmp_path / "cache", file="v/in.wav"), AZURE)


def test_duration_arithmetic_is_recorded(tmp_path: Path) -> None:
    """Output duration = input - trimmed + padded, and the finding message states each part."""
    rate = 44100
    x = speechlike(rate, 5.0, lead=1.25, trail=0.02, noise_dbfs=-75)
    result = normalize(write(tmp_path / "in.wav", x, rate), BASIC, tmp_path / "c", file="v/a.wav")
    assert result.lead_trimmed_s == pytest.approx(1.25 - 0.15, abs=0.011)
    assert result.trail_padded_s == pytest.approx(0.15 - 0.02, abs=0.011)
    assert result.lead_padded_s == result.trail_trimmed_s == 0.0
    expected = 5.0 - result.lead_trimmed_s + result.trail_padded_s
    assert result.info_out.duration_s == pytest.approx(expected, abs=0.010)
    (message,) = [f.message for f in result.findings if f.code == "audio.silence_trimmed"]
    trimmed = float(re.findall(r"trimmed (\d+\.\d+) s", message)[0])
    padded = float(re.findall(r"padded (\d+\.\d+) s", message)[0])
    assert result.info_out.duration_s == pytest.approx(5.0 - trimmed + padded, abs=0.010)


def test_in_range_input_is_left_alone(tmp_path: Path) -> None:
    """Edges already in 100–200 ms, peak in range, 48 kHz PCM16 mono: no edits, no findings."""
    rate = 48000
    x = speechlike(rate, 6.0, lead=0.15, trail=0.12, peak=10 ** (-4 / 20))
    src = write(tmp_path / "in.wav", x, rate)
    result = normalize(src, BASIC, tmp_path / "c", file="v/a.wav")
    assert result.findings == ()
    assert result.gain_db == 0.0
    source, _ = sf.read(str(src), dtype="int16")
    written, _ = sf.read(str(result.path), dtype="int16")
    assert np.array_equal(written, source)  # bit for bit


def test_dc_offset_is_removed(tmp_path: Path) -> None:
    """A DC offset is subtracted and reported as fixed."""
    x = speechlike(16000, 6.0, peak=0.4) + 0.05
    result = normalize(write(tmp_path / "in.wav", x, 16000), BASIC, tmp_path / "c", file="v/a.wav")
    assert codes(result)["audio.dc_offset"] is Severity.FIXED
    assert result.info_in.dc_offset == pytest.approx(0.05, abs=1e-3)
    assert abs(result.info_out.dc_offset) < 1e-4
    check_output(result, BASIC)


def test_gain_cap_leaves_a_warning(tmp_path: Path) -> None:
    """A recording 30 dB too quiet gets +20 dB (the cap) and a warning, not a noise boost."""
    x = speechlike(48000, 6.0, peak=10 ** (-35 / 20), noise_dbfs=-90)
    result = normalize(
        write(tmp_path / "in.wav", x, 48000, "FLOAT"), BASIC, tmp_path / "c", file="a"
    )
    assert result.gain_db == pytest.approx(BASIC.max_gain_db)
    assert result.info_out.peak_dbfs == pytest.approx(-15.0, abs=0.1)
    assert codes(result)["audio.gain_capped"] is Severity.WARNING


def test_silent_input_is_copied_without_edits(tmp_path: Path) -> None:
    """Digital silence is resampled but neither trimmed nor amplified."""
    src = write(tmp_path / "in.wav", np.zeros((44100 * 2, 1)), 44100)
    result = normalize(src, BASIC, tmp_path / "c", file="v/a.wav")
    assert result.info_out.peak_dbfs == -math.inf
    assert result.info_out.duration_s == pytest.approx(2.0)
    assert set(codes(result)) == {"audio.resampled"}


def test_low_sample_rate_is_refused(tmp_path: Path) -> None:
    """8 kHz input raises audio.low_sample_rate and writes nothing (never upsampled)."""
    src = write(tmp_path / "in.wav", speechlike(8000, 6.0), 8000)
    with pytest.raises(InputError) as info:
        normalize(src, BASIC, tmp_path / "c", file="v/a.wav")
    assert (info.value.code, info.value.file) == ("audio.low_sample_rate", "v/a.wav")
    assert not list((tmp_path / "c").rglob("*.wav"))


@pytest.mark.parametrize("content", [b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"not audio\n" * 50])
def test_unreadable_input_raises(tmp_path: Path, content: bytes) -> None:
    """Zero-byte, truncated-header and non-WAV files raise audio.unreadable naming the file."""
    src = tmp_path / "in.wav"
    src.write_bytes(content)
    with pytest.raises(InputError) as info:
        normalize(src, BASIC, tmp_path / "c", file="v/in.wav")
    assert (info.value.code, info.value.file) == ("audio.unreadable", "v/in.wav")


def test_file_size_limit(tmp_path: Path) -> None:
    """A source over the profile's max_file_bytes is refused before it is hashed."""
    src = write(tmp_path / "in.wav", speechlike(16000, 2.0), 16000)
    small = dataclasses.replace(BASIC, max_file_bytes=1000)
    with pytest.raises(InputError) as info:
        normalize(src, small, tmp_path / "c", file="v/in.wav")
    assert info.value.code == "audio.file_too_large"


def test_an_entry_in_the_older_fan_out_layout_is_still_found(tmp_path: Path) -> None:
    """An entry written before the cache went flat (``<key[:2]>/<key>.wav``) is still a hit:
    an upgrade does not normalize the whole cache again."""
    src = write(tmp_path / "in.wav", speechlike(44100, 3.0), 44100)
    cache = tmp_path / "cache"
    first = normalize(src, BASIC, cache, file="v/in.wav")
    older = cache / first.path.name[:2]
    older.mkdir()
    for part in (first.path, first.path.with_suffix(".json")):
        part.rename(older / part.name)
    again = normalize(src, BASIC, cache, file="v/in.wav")
    assert again.cached
    assert again.path == older / first.path.name
    assert again.crc32 == first.crc32


def test_cache_hit_does_no_audio_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-run returns cached=True, the same result, an untouched file and decodes nothing."""
    src = write(tmp_path / "in.wav", speechlike(44100, 3.0, channels=2), 44100)
    cache = tmp_path / "cache"
    first = normalize(src, BASIC, cache, file="alice/0001.wav")
    assert first.path.parent == cache / "audio"
    assert first.path.name.startswith(f"{first.source_sha256}-{BASIC.fingerprint}")
    mtime = first.path.stat().st_mtime_ns

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("libsndfile was called on a cache hit")

    monkeypatch.setattr(sf, "SoundFile", no_decoding)
    again = normalize(src, BASIC, cache, file="bob/0001.wav")
    assert again.cached
    assert dataclasses.replace(again, cached=False, findings=()) == dataclasses.replace(
        first, findings=()
    )
    # Identical bytes in another voice share the entry; each caller's findings name its file.
    assert [f.file for f in again.findings] == ["bob/0001.wav"] * len(first.findings)
    assert [f.message for f in again.findings] == [f.message for f in first.findings]
    assert first.path.stat().st_mtime_ns == mtime
    assert not list(cache.rglob("*.tmp"))


def test_changed_source_or_profile_misses_the_cache(tmp_path: Path) -> None:
    """A changed recording or profile is a new entry; a damaged sidecar is rebuilt."""
    src = write(tmp_path / "in.wav", speechlike(16000, 3.0), 16000)
    cache = tmp_path / "cache"
    first = normalize(src, BASIC, cache, file="a")
    other_profile = normalize(src, dataclasses.replace(BASIC, snr_warn_db=30.0), cache, file="a")
    assert not other_profile.cached
    assert other_profile.path != first.path
    write(src, speechlike(16000, 3.0, seed=9), 16000)
    changed = normalize(src, BASIC, cache, file="a")
    assert not changed.cached
    assert changed.source_sha256 != first.source_sha256
    sidecar = changed.path.with_suffix(".json")
    sidecar.write_text("{not json", encoding="utf-8")
    rebuilt = normalize(src, BASIC, cache, file="a")
    assert not rebuilt.cached
    assert rebuilt.info_out == changed.info_out
    assert rebuilt.crc32 == changed.crc32 == file_crc32(rebuilt.path)
    document = json.loads(sidecar.read_text(encoding="utf-8"))
    assert document["version"] == SIDECAR_VERSION
    assert normalize(src, BASIC, cache, file="a").cached
    document["version"] = SIDECAR_VERSION - 1  # an older layout is a miss, not an error
    sidecar.write_text(json.dumps(document), encoding="utf-8")
    assert not normalize(src, BASIC, cache, file="a").cached


def test_join_inserts_pauses(tmp_path: Path) -> None:
    """join() output lasts the clips' sum plus a pause between each, at the profile's format."""
    advance = PROFILES["huawei-advance"]
    cache = tmp_path / "cache"
    clips = []
    for i, seconds in enumerate((3.0, 2.5, 4.0)):
        src = write(tmp_path / f"{i}.wav", speechlike(44100, seconds, seed=i), 44100)
        clips.append(normalize(src, advance, cache, file=f"v/{i}.wav"))
    out = tmp_path / "joined" / "voice.wav"
    info = join([c.path for c in clips], advance, out)
    expected = sum(c.info_out.duration_s for c in clips) + 2 * advance.join_pause_s
    assert info.duration_s == pytest.approx(expected, abs=1e-6)
    assert analyze(out) == info
    assert (info.sample_rate, info.channels, info.subtype) == (48000, 1, "PCM_16")
    assert info.lead_silence_s == pytest.approx(clips[0].info_out.lead_silence_s, abs=0.011)
    # The clips' samples are copied bit for bit.
    first, _ = sf.read(str(clips[0].path), dtype="int16")
    joined, _ = sf.read(str(out), dtype="int16", frames=first.shape[0])
    assert np.array_equal(first, joined)
    assert sorted(p.name for p in out.parent.iterdir()) == ["voice.wav"]


def test_join_refuses_unnormalized_clips(tmp_path: Path) -> None:
    """A clip at another rate is a ValueError, and no partial output is left behind."""
    src = write(tmp_path / "raw.wav", speechlike(44100, 2.0), 44100)
    out = tmp_path / "out" / "voice.wav"
    with pytest.raises(ValueError, match="44100 Hz"):
        join([src], PROFILES["huawei-advance"], out)
    assert list(out.parent.iterdir()) == []
    with pytest.raises(ValueError, match="at least one clip"):
        join([], PROFILES["huawei-advance"], out)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
@pytest.mark.parametrize("frames", [0, 1, 4801, 48000])
@pytest.mark.parametrize("announced", ["none", "right", "wrong"])
def test_wav_writer_writes_libsndfiles_bytes(
    tmp_path: Path, subtype: str, frames: int, announced: str
) -> None:
    """The hand-written WAV writer gives libsndfile's bytes for the same int16 and int32
    samples, odd-length data padded included, whether the caller announced the frame count,
    announced it right (the CRC is then taken on the way out) or wrong (the header is
    patched, no CRC); nothing is left beside the target."""
    rng = np.random.default_rng(frames)
    wide = rng.integers(-(2**31), 2**31, frames, dtype=np.int64).astype(np.int32)
    narrow = rng.integers(-(2**15), 2**15, frames, dtype=np.int32).astype(np.int16)
    parts: list[np.ndarray] = [wide[: frames // 3], narrow, np.zeros(0, np.int16), wide]
    expected = tmp_path / "libsndfile.wav"
    with sf.SoundFile(
        str(expected), "w", samplerate=44100, channels=1, subtype=subtype, format="WAV"
    ) as f:
        for part in parts:
            if part.shape[0]:
                f.write(part)
    ours = tmp_path / "out" / "ours.wav"
    total = sum(p.shape[0] for p in parts)
    told = {"none": None, "right": total, "wrong": total + 3}[announced]
    with AtomicWavWriter(ours, rate=44100, subtype=subtype, frames=told) as writer:
        for part in parts:
            writer.write(part)
    assert ours.read_bytes() == expected.read_bytes()
    assert [p.name for p in ours.parent.iterdir()] == ["ours.wav"]
    assert writer.crc32 == (file_crc32(ours) if announced == "right" else None)


def test_wav_writer_leaves_nothing_on_failure(tmp_path: Path) -> None:
    """An error while writing leaves neither the target nor its temporary file."""
    target = tmp_path / "x.wav"

    def fail_midway() -> None:
        with AtomicWavWriter(target, rate=16000, subtype="PCM_16") as writer:
            writer.write(np.ones(100, np.int16))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_midway()
    assert list(tmp_path.iterdir()) == []
