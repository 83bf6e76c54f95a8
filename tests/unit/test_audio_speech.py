"""Voice-activity detection (pipeline.audio.speech) on real espeak-ng speech and on noise."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from pipeline.audio import PROFILES, AudioProfile, NormalizedAudio, normalize
from pipeline.audio.speech import (
    MIN_SPEECH_S,
    VAD_RATE,
    SpeechMap,
    SpeechSpan,
    detect_speech,
    spans_from_probabilities,
)
from pipeline.records import Severity
from tests.espeak import F32, SENTENCES, VOICES, speak, speech
from tests.unit.audio_signals import write

#: the module, not the function the package exports under the same name
analyze_module = importlib.import_module("pipeline.audio.analyze")
RATES = (16000, 22050, 24000, 44100, 48000)


@pytest.mark.parametrize("voice", VOICES)
def test_speech_is_found_between_silent_edges(voice: str) -> None:
    """Each espeak voice's sentence is one stretch of speech starting and ending near the
    edges of the synthesized audio."""
    spoken, _ = speak(SENTENCES[0], voice=voice, rate=48000)
    x = speech(SENTENCES[0], voice=voice, rate=48000, lead=1.0, trail=0.7)
    m = detect_speech(x, 48000)
    assert m.has_speech
    assert m.duration == pytest.approx(x.shape[0] / 48000)
    # espeak itself leaves a little silence at both ends of what it writes.
    assert 0.9 <= m.leading_silence <= 1.25
    assert 0.65 <= m.trailing_silence <= 1.1
    assert m.speech_seconds == pytest.approx(spoken.shape[0] / 48000, rel=0.25)
    assert m.speech_ratio > 0.5


@pytest.mark.parametrize("rate", RATES)
def test_any_input_rate_gives_the_same_edges(rate: int) -> None:
    """Resampling to the model's rate inside keeps the edges in seconds at every input rate."""
    x = speech(SENTENCES[1], voice="en-gb", rate=rate, lead=0.6, trail=0.4)
    m = detect_speech(x, rate)
    reference = detect_speech(
        speech(SENTENCES[1], voice="en-gb", rate=VAD_RATE, lead=0.6), VAD_RATE
    )
    assert m.leading_silence == pytest.approx(reference.leading_silence, abs=0.07)
    assert m.speech_seconds == pytest.approx(reference.speech_seconds, rel=0.1)


def _noises(rate: int, seconds: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    n = round(rate * seconds)
    t = np.arange(n) / rate
    white = rng.standard_normal(n) * 0.1
    pink = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(np.arange(n // 2 + 1) + 1), n)
    pink *= 0.3 / np.abs(pink).max()
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    chord = np.sum([0.2 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)], axis=0)
    # Notes of a melody, each a decaying harmonic tone: music-like, with onsets.
    melody = np.zeros(n)
    note = round(rate * 0.4)
    for k, start in enumerate(range(0, n - note, note)):
        f0 = 220 * 2 ** ((k * 5 % 12) / 12)
        tt = np.arange(note) / rate
        melody[start : start + note] = sum(
            np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 6)
        ) * np.exp(-tt * 4)
    melody *= 0.5 / np.abs(melody).max()
    # Non-stationary noise (loud over a quiet floor, so not audio.silent): bursts of hiss,
    # hand claps, pink noise modulated at the syllable rate.
    bursts = np.zeros(n)
    pos = rate // 2
    while pos < n - rate:
        length = round(rate * rng.uniform(0.2, 0.6))
        bursts[pos : pos + length] = rng.standard_normal(length) * 0.2 * np.hanning(length)
        pos += length + round(rate * rng.uniform(0.2, 0.8))
    claps = np.zeros(n)
    clap = round(rate * 0.08)
    for start in range(rate // 2, n - clap, rate // 2):
        claps[start : start + clap] = (
            rng.standard_normal(clap) * 0.5 * np.exp(-np.arange(clap) / (rate * 0.01))
        )
    modulated = pink * 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    return {
        "white": white,
        "pink": pink,
        "tone": tone,
        "chord": chord,
        "melody": melody,
        "bursts": bursts,
        "claps": claps,
        "modulated": modulated,
    }


NOISES = ("white", "pink", "tone", "chord", "melody", "bursts", "claps", "modulated")


@pytest.mark.parametrize("kind", NOISES)
def test_noise_and_music_are_not_speech(kind: str) -> None:
    """White and pink noise, a tone, a chord, a melody, hiss bursts, claps and modulated
    noise have no speech spans."""
    x = _noises(48000, 6.0)[kind].astype(np.float32)
    m = detect_speech(x, 48000)
    assert m.spans == ()
    assert m.speech_ratio == 0.0
    assert m.leading_silence == m.trailing_silence == m.duration


def test_silence_and_empty_input() -> None:
    """Digital silence and an empty array give empty maps (no division by zero)."""
    assert detect_speech(np.zeros(48000, np.float32), 48000) == SpeechMap((), 1.0)
    empty = detect_speech(np.zeros(0, np.float32), 48000)
    assert empty.spans == ()
    assert empty.speech_ratio == 0.0
    assert empty.longest_pause == 0.0


def test_pause_between_sentences_is_measured() -> None:
    """Two sentences 1.5 s apart are two spans with a pause of about 1.5 s between them."""
    rate = 24000
    a = speech(SENTENCES[2], voice="en-us+f3", rate=rate, lead=0.3, trail=0.0)
    b = speech(SENTENCES[3], voice="en-us+f3", rate=rate, lead=1.5, trail=0.3)
    m = detect_speech(np.concatenate([a, b]), rate)
    assert m.longest_pause == pytest.approx(1.5, abs=0.25)


def test_short_bursts_are_not_speech() -> None:
    """Hysteresis and the minimum duration drop a lone high window and short spans."""
    probs = np.zeros(100, np.float32)
    probs[10] = 0.9  # one 32 ms window: a click
    probs[30:36] = 0.9  # 192 ms: a breath, shorter than MIN_SPEECH_S
    probs[60:80] = 0.9  # 640 ms of speech ...
    probs[70:72] = 0.4  # ... whose dip between OFFSET and ONSET does not split it
    m = spans_from_probabilities(probs, 100 * 0.032)
    assert MIN_SPEECH_S > 6 * 0.032
    assert len(m.spans) == 1
    assert m.spans[0].start == pytest.approx(60 * 0.032 - 0.03)
    assert m.spans[0].end == pytest.approx(80 * 0.032 + 0.03)


def test_map_properties() -> None:
    """The derived figures of a map follow from its spans."""
    m = SpeechMap((SpeechSpan(0.5, 2.0), SpeechSpan(3.0, 4.0), SpeechSpan(4.2, 5.0)), 6.0)
    assert m.speech_seconds == pytest.approx(3.3)
    assert m.speech_ratio == pytest.approx(0.55)
    assert m.leading_silence == 0.5
    assert m.trailing_silence == pytest.approx(1.0)
    assert m.longest_pause == pytest.approx(1.0)


def test_stereo_is_refused() -> None:
    """Only mono samples are accepted (the caller downmixes)."""
    with pytest.raises(ValueError, match="mono"):
        detect_speech(np.zeros((100, 2), np.float32), 48000)


# --- in the normalize pass: edges on the speech, and the findings ----------------------------

BASIC = PROFILES["huawei-basic"]
AZURE = PROFILES["azure-personal"]
RATE = 48000


def _two_sentences(voice: str, *, gap: float = 0.0, lead: float = 0.6, trail: float = 0.6) -> F32:
    a = speech(SENTENCES[0], voice=voice, rate=RATE, lead=lead, trail=gap / 2)
    b = speech(SENTENCES[1], voice=voice, rate=RATE, lead=gap / 2, trail=trail)
    return np.concatenate([a, b])


def _normalized(tmp_path: Path, x: np.ndarray, profile: AudioProfile = BASIC, **kw: object):
    src = write(tmp_path / "in.wav", x.astype(np.float64), RATE)
    return normalize(src, profile, tmp_path / "cache", file="v/in.wav", **kw)  # type: ignore[arg-type]


def _codes(result: NormalizedAudio) -> dict[str, Severity]:
    return {f.code: f.severity for f in result.findings}


def _breath(seconds: float, level_dbfs: float, seed: int = 3) -> F32:
    """A breath: band-limited noise with a smooth envelope."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < 300) | (freqs > 3000)] = 0
    noise = np.fft.irfft(spectrum, n) * np.hanning(n)
    out: F32 = (noise * 10 ** (level_dbfs / 20) / np.abs(noise).max()).astype(np.float32)
    return out


@pytest.mark.parametrize("voice", VOICES)
def test_healthy_speech_has_no_speech_findings(tmp_path: Path, voice: str) -> None:
    """Two sentences of each espeak voice in room noise: no VAD finding, edges at 100-200 ms
    of the speech in the normalized clip, and the speech map saved on its timeline."""
    x = _two_sentences(voice, lead=1.2, trail=0.9)
    x += np.random.default_rng(1).standard_normal((x.shape[0],)).astype(np.float32) * 1e-3
    result = _normalized(tmp_path, x)
    found = _codes(result)
    assert not {"audio.no_speech", "audio.little_speech", "audio.long_pause"} & found.keys()
    assert found["audio.silence_trimmed"] is Severity.FIXED
    assert 0.1 <= result.info_in.lead_silence_s - result.lead_trimmed_s <= 0.2
    assert result.speech is not None
    assert result.speech.duration == pytest.approx(result.info_out.duration_s)
    assert 0.08 <= result.speech.leading_silence <= 0.2
    assert result.speech.speech_ratio > 0.85


def test_a_breath_before_the_speech_is_trimmed_as_silence(tmp_path: Path) -> None:
    """A breath 0.5 s before the first word is silence to the VAD (trimmed), but speech to
    the energy threshold (kept) — the reason edges are measured on the speech."""
    x = _two_sentences("en-us", lead=1.5)
    x[round(0.5 * RATE) : round(0.8 * RATE)] += _breath(0.3, -30.0)
    with_vad = _normalized(tmp_path, x)
    without = _normalized(tmp_path, x, speech_detection=False)
    assert with_vad.info_in.lead_silence_s > 1.3
    assert without.info_in.lead_silence_s < 0.6
    assert with_vad.lead_trimmed_s > without.lead_trimmed_s + 0.7


def test_soft_onset_is_not_cut(tmp_path: Path) -> None:
    """A sentence starting with a fricative keeps its whole first word: the edge is moved out
    to where the energy starts, so the lead silence stays 100-200 ms of real silence."""
    x = speech("Some sheep stood silently in the field, see, near the shed.", rate=RATE, lead=1.0)
    x = np.concatenate([x, speech(SENTENCES[4], rate=RATE, lead=0.2, trail=0.6)])
    with_vad = _normalized(tmp_path, x)
    without = _normalized(tmp_path, x, speech_detection=False)
    # Never later than the energy's edge by more than a frame or two.
    assert with_vad.info_in.lead_silence_s <= without.info_in.lead_silence_s + 0.02


@pytest.mark.parametrize("kind", ["melody", "chord", "bursts", "claps"])
def test_music_without_speech_is_an_error(tmp_path: Path, kind: str) -> None:
    """A clip of music or noise without speech (a melody, a chord, hiss bursts, claps, with
    room noise) gets audio.no_speech (error)."""
    x = _noises(RATE, 7.0)[kind].astype(np.float32)
    x[: RATE // 2] = 0.0
    x += np.random.default_rng(2).standard_normal((x.shape[0],)).astype(np.float32) * 1e-3
    result = _normalized(tmp_path, x)
    assert _codes(result)["audio.no_speech"] is Severity.ERROR
    assert result.speech is not None
    assert result.speech.spans == ()


def test_silence_is_not_also_no_speech(tmp_path: Path) -> None:
    """Digital silence is audio.silent's (assess), not audio.no_speech's."""
    result = _normalized(tmp_path, np.zeros(6 * RATE, np.float32))
    assert "audio.no_speech" not in _codes(result)


def test_long_pause_warns_for_huawei_sentences_only(tmp_path: Path) -> None:
    """A 2 s pause inside a clip is audio.long_pause (warning) for Huawei sentences; Azure
    prompts do not care."""
    x = _two_sentences("en-gb+m3", gap=2.0)
    basic = _normalized(tmp_path, x)
    assert _codes(basic)["audio.long_pause"] is Severity.WARNING
    message = next(f.message for f in basic.findings if f.code == "audio.long_pause")
    assert message.startswith("2.")
    assert "audio.long_pause" not in _codes(_normalized(tmp_path, x, AZURE))


def test_little_speech_in_a_clip_warns(tmp_path: Path) -> None:
    """Two short phrases around 6 s of music are audio.little_speech (warning); the music is
    inside the speech's edges, so it is kept (music at an edge would be trimmed)."""
    music = _noises(RATE, 6.0)["melody"].astype(np.float32) * 0.3
    words = speech("Yes, that is right.", voice="en-us+f3", rate=RATE, lead=0.0, trail=0.0)
    x = np.concatenate([np.zeros(RATE // 2, np.float32), words, music, words])
    found = _codes(_normalized(tmp_path, x))
    assert found.get("audio.little_speech") is Severity.WARNING
    assert "audio.no_speech" not in found


def test_cache_keeps_the_speech_map_and_the_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-run is served from the cache with the same speech map, decoding nothing; with
    speech detection off it is another entry (its edges differ) without a map."""
    x = _two_sentences("en-us")
    first = _normalized(tmp_path, x)
    assert not first.cached

    def no_detection(*args: object, **kwargs: object) -> None:
        raise AssertionError("the VAD ran on a cache hit")

    monkeypatch.setattr(analyze_module, "SpeechDetector", no_detection)
    again = _normalized(tmp_path, x)
    assert again.cached
    assert again.speech == first.speech
    off = _normalized(tmp_path, x, speech_detection=False)
    assert not off.cached
    assert off.speech is None
    assert off.path != first.path
