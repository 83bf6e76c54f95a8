"""Voice-activity detection (pipeline.audio.speech) on real espeak-ng speech and on noise."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.audio.speech import (
    MIN_SPEECH_S,
    VAD_RATE,
    SpeechMap,
    SpeechSpan,
    detect_speech,
    spans_from_probabilities,
)
from tests.espeak import SENTENCES, VOICES, speak, speech

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
    return {"white": white, "pink": pink, "tone": tone, "chord": chord, "melody": melody}


@pytest.mark.parametrize("kind", ["white", "pink", "tone", "chord", "melody"])
def test_noise_and_music_are_not_speech(kind: str) -> None:
    """White and pink noise, a tone, a chord and a melody have no speech spans."""
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
