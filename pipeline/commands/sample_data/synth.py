"""Speech-like audio from numpy alone: syllables of a harmonic source in room noise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from pipeline.commands.sample_data.formats import Signal, _Format

_TABLE: Final = 1024  #: wavetable length: one pitch period of one syllable's vowel
# (F1, F2, F3) of five vowels for an adult male; female voices scale them up.
_VOWELS: Final = np.array(
    [[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]],
    dtype=np.float64,
)
_BANDWIDTHS: Final = np.array([90.0, 110.0, 170.0])
_FORMANT_GAINS: Final = np.array([1.0, 0.6, 0.25])
_NOISE_BUFFER_S: Final = 16.0


@dataclass(frozen=True, slots=True)
class _Style:
    """What makes one speaker sound like themself."""

    f0: float  #: mean pitch, Hz
    formant_scale: float
    rate: float  #: speaking-rate factor (1 = average)


class _Synth:
    """Speech-like audio; room noise is shaped once per sample rate and sliced per clip."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._noise: dict[tuple[str, int], Signal] = {}
        self._tables: dict[tuple[_Style, int, int], Signal] = {}

    def noise(self, kind: str, rate: int) -> Signal:
        """A periodic unit-RMS noise buffer: "pink" room tone or "white" for fricatives."""
        key = (kind, rate)
        buf = self._noise.get(key)
        if buf is None:
            n = 1 << int(np.ceil(np.log2(_NOISE_BUFFER_S * rate)))
            rng = np.random.default_rng([self.seed, rate, 1 if kind == "pink" else 2])
            if kind == "pink":
                # 1/f power (1/sqrt(f) amplitude) from 20 Hz, built in the frequency domain: one
                # FFT per rate instead of a filter per clip. The inverse FFT is periodic, so
                # clips longer than the buffer can wrap around without a seam.
                freqs = np.fft.rfftfreq(n, 1.0 / rate)
                shape = 1.0 / np.sqrt(np.maximum(freqs, 20.0))
                spec = (
                    rng.standard_normal(freqs.size) + 1j * rng.standard_normal(freqs.size)
                ) * shape
                spec[0] = 0.0
                buf = np.fft.irfft(spec, n)
            else:
                buf = rng.standard_normal(n)
            buf /= np.sqrt(np.mean(buf**2))
            self._noise[key] = buf
        return buf

    def noise_slice(self, rng: np.random.Generator, kind: str, rate: int, n: int) -> Signal:
        """``n`` samples of a noise buffer from a random offset, wrapping around its end."""
        buf = self.noise(kind, rate)
        start = int(rng.integers(buf.size))
        idx = (start + np.arange(n)) % buf.size if start + n > buf.size else slice(start, start + n)
        return buf[idx]

    def table(self, style: _Style, vowel: int, rate: int) -> tuple[Signal, int]:
        """One pitch period of a vowel (unit RMS), and how many harmonics it holds."""
        # Harmonics stay below 7 kHz and well below Nyquist even at the contour's highest f0.
        harmonics = max(1, int(min(0.45 * rate, 7000.0) / (style.f0 * 1.25)))
        key = (style, vowel, harmonics)
        table = self._tables.get(key)
        if table is None:
            k = np.arange(1, harmonics + 1, dtype=np.float64)
            formants = _VOWELS[vowel] * style.formant_scale
            res = _FORMANT_GAINS / (1.0 + ((k[:, None] * style.f0 - formants) / _BANDWIDTHS) ** 2)
            amps = (0.15 + res.sum(axis=1)) / k**0.8  # glottal tilt under the formants
            spec = np.zeros(_TABLE // 2 + 1, dtype=np.complex128)
            spec[1 : harmonics + 1] = -1j * amps
            table = np.fft.irfft(spec, _TABLE)
            table /= np.sqrt(np.mean(table**2))
            self._tables[key] = table
        return table, harmonics

    def speech(
        self, rng: np.random.Generator, style: _Style, rate: int, seconds: float
    ) -> tuple[Signal, Signal]:
        """A speech span of ``seconds`` (peak 1) and its activity envelope (1 = speaking)."""
        n = max(1, round(seconds * rate))
        # Timeline: syllables (150–300 ms, some with a fricative onset) grouped in words of 1–3
        # syllables, phrases of 3–7 words; pauses between words and phrases.
        sylls: list[tuple[float, float, float]] = []  # (start, fricative part, voiced part) s
        t = 0.0
        while t < seconds:
            for _ in range(int(rng.integers(3, 8))):
                for _ in range(int(rng.integers(1, 4))):
                    dur = rng.uniform(0.15, 0.30) / style.rate
                    fric = rng.uniform(0.04, 0.10) if rng.random() < 0.35 else 0.0
                    sylls.append((t, fric, dur - fric))
                    t += dur + rng.uniform(0.0, 0.02)
                t += rng.uniform(0.06, 0.16) / style.rate
            t += rng.uniform(0.25, 0.50)
        end = sylls[-1][0] + sylls[-1][1] + sylls[-1][2]
        scale = seconds / end  # stretch so speech fills exactly [0, seconds)

        # Pitch at a 1 kHz control rate: slow intonation drift (three low sinusoids) declining
        # over the span, and slight vibrato. Per sample only the phase is interpolated, which
        # keeps transcendental functions off the audio-rate path.
        block = max(1, rate // 1000)
        blocks = -(-n // block)
        tb = np.arange(blocks, dtype=np.float64) * (block / rate)
        contour = 1.0 + 0.008 * np.sin(2 * np.pi * 5.5 * tb) - 0.06 * tb / seconds
        for freq, depth in ((0.25, 0.07), (0.55, 0.04), (1.3, 0.025)):
            contour += depth * np.sin(2 * np.pi * (freq * tb + rng.random()))
        step = style.f0 * contour * (_TABLE / rate)  # wavetable positions per sample
        start_pos = np.concatenate(([rng.uniform(0, _TABLE)], np.cumsum(step * block)[:-1]))
        pos = (start_pos[:, None] + step[:, None] * np.arange(block)).ravel()[:n]
        index = pos.astype(np.int64) & (_TABLE - 1)

        # One wavetable per syllable (its vowel's harmonic spectrum) and a row of zeros for the
        # rest; every voiced sample is one lookup, whatever the number of harmonics.
        tables = np.zeros((len(sylls) + 1, _TABLE))
        row = np.full(n, len(sylls), dtype=np.int64)
        env = np.zeros(n)
        activity = np.zeros(n)
        unvoiced = np.zeros(n)
        for i, (t0, fric, voiced) in enumerate(sylls):
            tables[i] = self.table(style, int(rng.integers(len(_VOWELS))), rate)[0]
            gain = rng.uniform(0.55, 1.0)  # stress
            a = round((t0 + fric) * scale * rate)
            b = min(n, round((t0 + fric + voiced) * scale * rate))
            if b > a:
                row[a:b] = i
                env[a:b] = _envelope(b - a, gain)
                activity[a:b] = env[a:b]
            if fric > 0.0:
                fa = round(t0 * scale * rate)
                fb = min(a + round(0.01 * rate), n)  # overlaps the vowel onset by 10 ms
                if fb > fa:
                    hiss = self.noise_slice(rng, "white", rate, fb - fa + 1)
                    shaped = np.diff(hiss) * _envelope(fb - fa, gain * rng.uniform(0.12, 0.3))
                    unvoiced[fa:fb] += shaped  # first difference: a hiss, not a rumble
                    np.maximum(activity[fa:fb], np.abs(shaped), out=activity[fa:fb])
        row *= _TABLE
        row += index
        signal = tables.ravel()[row]
        signal *= env
        signal += unvoiced
        peak = float(np.max(np.abs(signal)))
        return (signal / peak if peak > 0 else signal), activity

    def clip(
        self,
        rng: np.random.Generator,
        style: _Style,
        fmt: _Format,
        speech_s: float,
        *,
        snr_db: float,
        peak_dbfs: float,
        overdrive_db: float = 0.0,
        spoken: tuple[Signal, Signal] | None = None,
    ) -> Signal:
        """One recording: lead-in, speech, tail, room noise; shape (frames, channels).
        ``spoken``: real speech at ``fmt.rate`` and its activity (:mod:`.spoken`) instead
        of the synthetic syllables."""
        rate = fmt.rate
        lead = round(rng.uniform(0.15, 0.40) * rate)
        tail = round(rng.uniform(0.15, 0.40) * rate)
        speech, activity = spoken if spoken is not None else self.speech(rng, style, rate, speech_s)
        n = lead + speech.size + tail
        dry = np.zeros(n)
        dry[lead : lead + speech.size] = speech
        active = activity > 0.3
        speech_rms = float(np.sqrt(np.mean(speech[active] ** 2))) if active.any() else 1.0
        noise_gain = speech_rms / 10 ** (snr_db / 20)
        channels = [dry + noise_gain * self.noise_slice(rng, "pink", rate, n)]
        if fmt.channels == 2:
            # A second microphone: a little quieter, its own room noise.
            channels.append(0.9 * dry + noise_gain * self.noise_slice(rng, "pink", rate, n))
        out = np.stack(channels, axis=1)
        out *= 10 ** (peak_dbfs / 20) / float(np.max(np.abs(out)))
        if overdrive_db:
            # Heavy clipping: the recording level was far too high for the converter.
            out = np.clip(out * 10 ** (overdrive_db / 20), -1.0, 1.0)
        return out


def _envelope(n: int, gain: float) -> Signal:
    """A syllable's loudness over ``n`` samples: fast attack, slower decay, peak ``gain``."""
    return _ENVELOPE[(np.arange(n) * _ENVELOPE.size) // n] * gain


# A skewed raised cosine, sampled once and looked up for every syllable length.
_ENV_POS: Final = (np.arange(2048) + 0.5) / 2048
_ENVELOPE: Final = (
    np.sin(0.5 * np.pi * np.minimum(_ENV_POS / 0.2, (1 - _ENV_POS) / 0.45).clip(0, 1)) ** 2
)
