"""The sample-inbox generator: layout, audio, transcripts, defects and determinism."""

from __future__ import annotations

import hashlib
import io
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.audio.speech import detect_speech
from pipeline.commands.sample_data import (
    DEFECTS,
    PROFILES,
    TRICKY,
    SampleVoice,
    _encode,
    _plan,
    _wav_bytes,
    _write_transcripts,
    write_inbox,
)
from pipeline.errors import ConfigError
from pipeline.records import VoiceMeta
from pipeline.transcripts import read_transcripts
from tests.espeak import require_espeak


def wav_stems(folder: Path) -> list[str]:
    return sorted(
        p.stem for p in folder.iterdir() if p.suffix.lower() == ".wav" and p.stem != "consent"
    )


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def snr_estimate(x: np.ndarray, rate: int) -> float:
    """Loud frames against quiet frames (20 ms), in dB: roughly what the pre-flight measures."""
    size = int(0.02 * rate)
    frames = x[: x.size // size * size].reshape(-1, size)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    return float(np.percentile(energy, 95) - np.percentile(energy, 10))


@pytest.fixture(scope="module")
def basic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleVoice]]:
    """One huawei-basic inbox with defects, shared: generating audio is the slow part."""
    root = tmp_path_factory.mktemp("basic")
    return root, write_inbox(root, voices=2, profile="huawei-basic", with_defects=True, seed=7)


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleVoice]]:
    """One azure-personal inbox with defects, shared."""
    root = tmp_path_factory.mktemp("azure")
    return root, write_inbox(root, voices=2, profile="azure-personal", with_defects=True, seed=7)


def by_key(voices: list[SampleVoice]) -> dict[str, SampleVoice]:
    return {v.key: v for v in voices}


# --- the returned description --------------------------------------------------------------------


def test_voice_list(basic: tuple[Path, list[SampleVoice]]) -> None:
    """Healthy, defect and tricky voices are listed with what the pre-flight must say."""
    root, voices = basic
    keys = [v.key for v in voices]
    assert keys[:2] == ["voice-001", "voice-002"]
    assert {f"defect-{name}" for name in DEFECTS["huawei-basic"]} <= set(keys)
    assert {f"tricky-{name}" for name in TRICKY["huawei-basic"]} <= set(keys)
    assert sorted(p.name for p in root.iterdir()) == sorted(keys)
    for voice in voices:
        if voice.defect is None:
            assert (voice.expected_codes, voice.expected_status) == ((), "ready")
        else:
            assert voice.key == f"defect-{voice.defect}"
            codes, status = DEFECTS["huawei-basic"][voice.defect]
            assert (voice.expected_codes, voice.expected_status) == (codes, status)
    assert by_key(voices)["defect-orphan-transcript"].expected_status == "ready"


def test_defect_table_shape() -> None:
    """Every profile has the audio defects; the rest apply where the provider has the rule."""
    audio = {"zero-byte", "truncated-header", "not-wav", "8khz", "clipping", "silent"}
    for profile, table in DEFECTS.items():
        assert audio <= set(table)
        for codes, status in table.values():
            assert codes
            assert status in ("ready", "rejected")
        assert ("missing-authorization" in table) == PROFILES[profile].huawei
    assert {"too-long", "clip-count", "missing-transcript", "orphan-transcript"} <= set(
        DEFECTS["huawei-middle"]
    )
    assert {"missing-consent", "missing-talent"} <= set(DEFECTS["azure-personal"])


# --- healthy voices ------------------------------------------------------------------------------


def test_healthy_huawei_layout(basic: tuple[Path, list[SampleVoice]]) -> None:
    """20 clips, transcripts for each, a valid voice.toml and a PDF letter."""
    root, voices = basic
    names: set[str] = set()
    for voice in voices:
        if voice.defect is not None:
            continue
        folder = root / voice.key
        assert len(wav_stems(folder)) == 20
        meta = tomllib.loads((folder / "voice.toml").read_text(encoding="utf-8"))
        VoiceMeta(**meta)  # no unknown keys
        assert voice.key in meta["voice_name"]
        names.add(meta["voice_name"])
        assert meta["sex"] in ("FEMALE", "MALE")
        assert meta["language"] in ("CN", "EN")
        assert meta["tag"]
        assert meta["description"]
        pdf = (folder / "authorization.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-1.4")
        assert pdf.endswith(b"%%EOF\n")
        # The xref table's offsets point at the objects they name.
        start = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
        offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", pdf[start:])]
        for number, offset in enumerate(offsets, start=1):
            assert pdf[offset:].startswith(b"%d 0 obj" % number)
        result = read_transcripts(folder, wav_stems=wav_stems(folder), rel=voice.key)
        assert result.findings == ()
        assert sorted(result.by_stem) == wav_stems(folder)
    assert len(names) == sum(v.defect is None for v in voices)


def test_healthy_audio(basic: tuple[Path, list[SampleVoice]]) -> None:
    """Healthy clips: 6–10 s, peak −3..−12 dBFS, quiet edges, SNR well above 35 dB."""
    root, _ = basic
    formats = set()
    for path in sorted((root / "voice-001").glob("*.wav")) + sorted(
        (root / "voice-002").glob("*.wav")
    ):
        data, rate = sf.read(path, always_2d=True)
        info = sf.info(path)
        formats.add((rate, info.subtype, info.channels))
        mono = data.mean(axis=1)
        assert 6.0 <= mono.size / rate <= 10.0
        peak = 20 * np.log10(np.max(np.abs(data)))
        assert -12.0 <= peak <= -3.0
        edge = int(0.1 * rate)
        speech_rms = np.sqrt(np.mean(mono**2))
        for part in (mono[:edge], mono[-edge:]):
            assert 20 * np.log10(np.sqrt(np.mean(part**2)) / speech_rms) < -30
        assert snr_estimate(mono, rate) > 38
    assert len({rate for rate, _, _ in formats}) >= 2


def test_formats_forms_and_encodings_vary() -> None:
    """Across voices every transcript form and encoding, and several formats, show up."""
    plans = [_plan(0, f"voice-{i:03d}", defect=None, tricky=None) for i in range(1, 61)]
    assert {p.form for p in plans} == {"txt", "tsv", "csv"}
    assert {p.encoding for p in plans} == {"utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "gbk"}
    assert all(p.language == "CN" for p in plans if p.encoding == "gbk")
    assert {p.base.rate for p in plans} == {16000, 22050, 44100, 48000}
    assert {p.base.subtype for p in plans} == {"PCM_16", "PCM_24", "FLOAT"}
    assert {p.base.channels for p in plans} == {1, 2}


@pytest.mark.parametrize("form", ["txt", "tsv", "csv"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "gbk"])
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_transcript_round_trip(tmp_path: Path, form: str, encoding: str, eol: str) -> None:
    """Every form and encoding the writer uses reads back to exactly the text written."""
    entries = [
        ("0001", "今天的天气比昨天暖和了许多，大家都很满意。"),
        ("0002.wav", "The morning train opens at nine on weekdays."),
        ("0003", "我们的老师还需要几分钟！"),
    ]
    _write_transcripts(
        tmp_path, entries, form=form, encoding=encoding, language="CN", eol=eol, third_column=True
    )
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002", "0003"], rel="v")
    assert result.findings == ()
    assert [(s, t.text) for s, t in sorted(result.by_stem.items())] == [
        (s.removesuffix(".wav"), text) for s, text in entries
    ]


def test_utf16_writer_is_explicit() -> None:
    """UTF-16 files carry the BOM of the byte order named, whatever the machine."""
    assert _encode("a", "utf-16-le") == b"\xff\xfea\x00"
    assert _encode("a", "utf-16-be") == b"\xfe\xff\x00a"


def test_tricky_voices(basic: tuple[Path, list[SampleVoice]]) -> None:
    """GBK and UTF-8-BOM list files and upper-case .WAV names are really there."""
    root, _ = basic
    gbk = root / "tricky-gbk"
    listed = [p for p in gbk.iterdir() if p.name in ("transcripts.tsv", "metadata.csv")]
    assert len(listed) == 1
    raw = listed[0].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    raw.decode("gbk")
    assert (root / "tricky-utf8-bom" / "metadata.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert all(
        p.suffix == ".WAV"
        for p in (root / "tricky-uppercase-ext").glob("0*.*")
        if p.suffix.lower() == ".wav"
    )


# --- defects -------------------------------------------------------------------------------------


def test_unreadable_audio_defects(basic: tuple[Path, list[SampleVoice]]) -> None:
    """Zero bytes, a truncated header and an HTML page named .wav do not open."""
    root, _ = basic
    assert (root / "defect-zero-byte" / "0003.wav").stat().st_size == 0
    assert (root / "defect-truncated-header" / "0003.wav").read_bytes().startswith(b"RIFF")
    assert (root / "defect-not-wav" / "0003.wav").read_bytes().startswith(b"<!DOCTYPE html>")
    for key in ("defect-zero-byte", "defect-truncated-header", "defect-not-wav"):
        with pytest.raises(sf.LibsndfileError):
            sf.info(root / key / "0003.wav")
        assert len(wav_stems(root / key)) == 20


def test_signal_defects(basic: tuple[Path, list[SampleVoice]]) -> None:
    """8 kHz, heavy clipping, digital silence and a 16 s clip are what they say."""
    root, _ = basic
    assert sf.info(root / "defect-8khz" / "0003.wav").samplerate == 8000
    clipped, _ = sf.read(root / "defect-clipping" / "0003.wav")
    assert np.mean(np.abs(clipped) >= 32767 / 32768) > 0.02
    silent, _ = sf.read(root / "defect-silent" / "0003.wav")
    assert silent.size > 0
    assert not silent.any()
    assert sf.info(root / "defect-too-long" / "0003.wav").duration > 16.0
    # Each defect voice carries only its own defect: the other clips are healthy.
    for key in ("defect-8khz", "defect-clipping", "defect-silent", "defect-too-long"):
        for path in sorted((root / key).glob("*.wav")):
            if path.name != "0003.wav":
                assert sf.info(path).samplerate >= 16000
                assert sf.info(path).duration <= 10.0


def test_voice_defects(basic: tuple[Path, list[SampleVoice]]) -> None:
    """Clip count, missing/orphan transcripts and a missing letter give their findings."""
    root, _ = basic
    assert len(wav_stems(root / "defect-clip-count")) == 19
    assert not (root / "defect-missing-authorization" / "authorization.pdf").exists()
    for key, code in (
        ("defect-missing-transcript", "transcript.missing"),
        ("defect-orphan-transcript", "transcript.orphan"),
    ):
        folder = root / key
        result = read_transcripts(folder, wav_stems=wav_stems(folder), rel=key)
        assert [f.code for f in result.findings] == [code]


def test_azure_inbox(azure: tuple[Path, list[SampleVoice]]) -> None:
    """Azure voices: 2–4 prompts of 15–40 s in all, consent.wav, talent fields; their defects."""
    root, voices = azure
    assert {f"defect-{name}" for name in DEFECTS["azure-personal"]} <= {v.key for v in voices}
    for key in ("voice-001", "voice-002"):
        folder = root / key
        stems = wav_stems(folder)
        assert 2 <= len(stems) <= 4
        total = sum(sf.info(folder / f"{s}.wav").duration for s in stems)
        assert 15.0 <= total <= 40.0
        assert 5.0 <= sf.info(folder / "consent.wav").duration <= 8.0
        meta = tomllib.loads((folder / "voice.toml").read_text(encoding="utf-8"))
        VoiceMeta(**meta)
        assert {"voice_name", "talent_name", "company_name", "locale"} <= set(meta)
        assert not list(folder.glob("*.txt"))
        assert not (folder / "authorization.pdf").exists()
    assert not (root / "defect-missing-consent" / "consent.wav").exists()
    meta = tomllib.loads(
        (root / "defect-missing-talent" / "voice.toml").read_text(encoding="utf-8")
    )
    assert "talent_name" not in meta
    assert meta["locale"]
    long = root / "defect-total-too-long"
    assert sum(sf.info(long / f"{s}.wav").duration for s in wav_stems(long)) > 95.0


def test_middle_and_advance_shapes(tmp_path: Path) -> None:
    """huawei-middle: 100 clips of 5.5–7 s; huawei-advance: a handful of 20–30 s clips."""
    write_inbox(tmp_path / "m", voices=1, profile="huawei-middle", seed=1)
    write_inbox(tmp_path / "a", voices=1, profile="huawei-advance", seed=1)
    middle = tmp_path / "m" / "voice-001"
    durations = [sf.info(middle / f"{s}.wav").duration for s in wav_stems(middle)]
    assert len(durations) == 100
    assert min(durations) >= 5.5
    assert max(durations) <= 7.2
    advance = tmp_path / "a" / "voice-001"
    durations = [sf.info(advance / f"{s}.wav").duration for s in wav_stems(advance)]
    assert len(durations) == 6
    assert min(durations) >= 19.5
    assert max(durations) <= 30.0


# --- determinism and arguments -------------------------------------------------------------------


def test_same_seed_same_bytes(tmp_path: Path, azure: tuple[Path, list[SampleVoice]]) -> None:
    """Two runs with the same arguments write byte-identical trees; another seed does not."""
    again = tmp_path / "again"
    write_inbox(again, voices=2, profile="azure-personal", with_defects=True, seed=7)
    assert tree_digest(again) == tree_digest(azure[0])
    first, second = tmp_path / "b1", tmp_path / "b2"
    write_inbox(first, voices=2, profile="huawei-basic", seed=3)
    write_inbox(second, voices=2, profile="huawei-basic", seed=3)
    assert tree_digest(first) == tree_digest(second)
    other = tmp_path / "other"
    write_inbox(other, voices=1, profile="azure-personal", seed=8)
    assert tree_digest(other)["voice-001/voice.toml"] != tree_digest(again)["voice-001/voice.toml"]


def test_float_wav_has_no_timestamp() -> None:
    """libsndfile's PEAK chunk timestamp is zeroed so float WAVs are reproducible."""
    data = _wav_bytes(np.full((100, 1), 0.25), 16000, "FLOAT")
    at = data.index(b"PEAK")
    assert data[at + 12 : at + 16] == bytes(4)
    assert sf.read(io.BytesIO(data))[0].max() == pytest.approx(0.25)


def test_defect_voices_do_not_shift_healthy_ones(tmp_path: Path) -> None:
    """Adding defect voices leaves the healthy voices' bytes unchanged."""
    write_inbox(tmp_path / "plain", voices=1, profile="azure-personal", seed=5)
    write_inbox(tmp_path / "with", voices=1, profile="azure-personal", seed=5, with_defects=True)
    plain = tree_digest(tmp_path / "plain")
    assert {k: v for k, v in tree_digest(tmp_path / "with").items() if k in plain} == plain


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"voices": 1, "profile": "huawei-premium"}, "unknown profile"),
        ({"voices": -1, "profile": "huawei-basic"}, "--voices"),
        ({"voices": 1, "profile": "huawei-basic", "seed": -1}, "seed"),
        ({"voices": 1, "profile": "huawei-basic", "snr_db": 0.0}, "SNR"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    """Bad arguments are configuration errors, raised before anything is written."""
    with pytest.raises(ConfigError, match=message):
        write_inbox(tmp_path / "x", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_refuses_existing_voice_folder(tmp_path: Path) -> None:
    """A folder that is not empty is refused, and even with force an existing voice folder is
    never overwritten or mixed into."""
    (tmp_path / "voice-001").mkdir()
    (tmp_path / "voice-001" / "mine.wav").write_bytes(b"precious")
    with pytest.raises(ConfigError, match="not empty; choose an empty folder or pass --force"):
        write_inbox(tmp_path, voices=2, profile="huawei-basic")
    with pytest.raises(ConfigError, match="already exists"):
        write_inbox(tmp_path, voices=2, profile="huawei-basic", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["voice-001"]


def test_non_empty_folder_needs_force(tmp_path: Path) -> None:
    """Anything in the target (even one hidden file) is refused with one line naming the
    folder and the fix; with force the voices are written beside what was there."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / ".keep").write_bytes(b"")
    with pytest.raises(ConfigError) as refused:
        write_inbox(inbox, voices=1, profile="huawei-basic")
    assert str(refused.value) == f"{inbox}: not empty; choose an empty folder or pass --force"
    assert [p.name for p in inbox.iterdir()] == [".keep"]
    write_inbox(inbox, voices=1, profile="huawei-basic", force=True)
    assert sorted(p.name for p in inbox.iterdir()) == [".keep", "voice-001"]
    fresh = tmp_path / "new" / "inbox"
    write_inbox(fresh, voices=1, profile="huawei-basic")  # a missing folder is created
    assert (fresh / "voice-001" / "voice.toml").is_file()


# --- real speech (espeak-ng) -------------------------------------------------------------------


def test_sample_clips_speak(tmp_path: Path) -> None:
    """With espeak-ng the clips of English and Chinese voices are mostly speech to the VAD,
    and their consents too; the transcripts are the same as without it (what the clips say)."""
    require_espeak()
    write_inbox(tmp_path / "s", voices=3, profile="azure-personal", seed=4, real_speech=True)
    write_inbox(tmp_path / "h", voices=2, profile="huawei-basic", seed=4, real_speech=True)
    write_inbox(tmp_path / "x", voices=2, profile="huawei-basic", seed=4, real_speech=False)
    languages = set()
    for folder in [*sorted((tmp_path / "s").iterdir()), *sorted((tmp_path / "h").iterdir())]:
        languages.add(tomllib.loads((folder / "voice.toml").read_text("utf-8")).get("language"))
        for clip in sorted(folder.glob("*.wav"))[:6]:
            x, rate = sf.read(clip, dtype="float32")
            speech = detect_speech(x.mean(axis=1) if x.ndim > 1 else x, rate)
            assert speech.speech_ratio > 0.6, clip
    assert {"CN", "EN"} <= languages
    for key in ("voice-001", "voice-002"):
        texts = []
        for tree in ("h", "x"):
            folder = tmp_path / tree / key
            got = read_transcripts(folder, wav_stems=wav_stems(folder), rel=key)
            texts.append({stem: t.text for stem, t in got.by_stem.items()})
        assert texts[0] == texts[1]
