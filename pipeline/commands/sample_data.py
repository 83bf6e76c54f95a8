"""Sample inboxes: synthetic, speech-like voices for the demo, the tests and the benchmarks.

``voice-onboard sample-data DIR --voices N --profile P [--with-defects] [--seed S]`` calls
:func:`write_inbox`. Every voice folder follows DESIGN §3.1. The audio is made with numpy alone:
syllables of a harmonic source (an f0 contour with intonation drift and slight vibrato) shaped by
vowel formants and an amplitude envelope, unvoiced noise bursts, pauses between words and phrases,
a room-noise-only lead-in and tail, and pink-ish room noise at a chosen SNR. Formats, transcript
forms and encodings vary from clip to clip and voice to voice, deterministically from the seed:
two runs with the same arguments write byte-identical trees.

With ``with_defects`` every defect of :data:`DEFECTS` gets one voice of its own (``defect-<name>``)
that carries exactly that defect, and a few healthy-but-tricky voices (``tricky-<name>``: GBK or
UTF-8-BOM transcripts, upper-case ``.WAV``) must pass without findings.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import soundfile as sf

from pipeline.errors import ConfigError
from pipeline.records import VoiceStatus

__all__ = ["DEFECTS", "PROFILES", "TRICKY", "SampleVoice", "write_inbox"]

Signal = npt.NDArray[np.float64]

_READY: Final = str(VoiceStatus.READY)
_REJECTED: Final = str(VoiceStatus.REJECTED)


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleVoice:
    """One voice folder written by :func:`write_inbox` and what the pre-flight must say of it."""

    key: str  #: folder name
    defect: str | None  #: None for healthy (and tricky) voices, else a name from DEFECTS
    #: error/warning codes the pre-flight must report for this voice (at least these; () means
    #: none at all). ``fixed`` findings (resampled, downmixed, trimmed …) are never listed.
    expected_codes: tuple[str, ...]
    expected_status: str  #: "ready" or "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Profile:
    clips: int  #: recordings per voice (Azure: the most; 2..clips are drawn)
    speech_s: tuple[float, float]  #: speech span per clip, before lead-in and tail are added
    huawei: bool
    transcripts: bool  #: whether the provider needs transcripts (and defects about them apply)


# Speech spans keep every clip inside the provider's bounds after the pipeline trims edge silence
# to 100–200 ms: Huawei's 5 s minimum holds with 0.3 s to spare.
PROFILES: Final[Mapping[str, _Profile]] = {
    "huawei-basic": _Profile(clips=20, speech_s=(5.6, 9.3), huawei=True, transcripts=True),
    "huawei-middle": _Profile(clips=100, speech_s=(5.3, 6.3), huawei=True, transcripts=True),
    "huawei-advance": _Profile(clips=6, speech_s=(19.5, 29.0), huawei=True, transcripts=False),
    "azure-personal": _Profile(clips=4, speech_s=(5.5, 10.0), huawei=False, transcripts=False),
}

_AUDIO_DEFECTS: Final = {
    "zero-byte": (("audio.unreadable",), _REJECTED),
    "truncated-header": (("audio.unreadable",), _REJECTED),
    "not-wav": (("audio.unreadable",), _REJECTED),
    "8khz": (("audio.low_sample_rate",), _REJECTED),
    "clipping": (("audio.clipping",), _REJECTED),
    "silent": (("audio.silent",), _REJECTED),
}
_SENTENCE_DEFECTS: Final = {
    "too-long": (("audio.too_long",), _REJECTED),
    "clip-count": (("voice.clip_count",), _REJECTED),
    "missing-transcript": (("transcript.missing",), _REJECTED),
    "orphan-transcript": (("transcript.orphan",), _READY),  # a warning: still sent
    "missing-authorization": (("voice.missing_authorization",), _REJECTED),
}

#: Per profile: defect name → (codes the pre-flight must report, expected voice status).
DEFECTS: Final[Mapping[str, Mapping[str, tuple[tuple[str, ...], str]]]] = {
    "huawei-basic": {**_AUDIO_DEFECTS, **_SENTENCE_DEFECTS},
    "huawei-middle": {**_AUDIO_DEFECTS, **_SENTENCE_DEFECTS},
    "huawei-advance": {
        **_AUDIO_DEFECTS,
        "missing-authorization": (("voice.missing_authorization",), _REJECTED),
    },
    "azure-personal": {
        **_AUDIO_DEFECTS,
        "total-too-long": (("voice.total_duration",), _REJECTED),  # prompts > 90 s in total
        "missing-consent": (("voice.missing_consent",), _REJECTED),
        "missing-talent": (("voice.missing_talent",), _REJECTED),
    },
}

#: Per profile: healthy-but-tricky voices (``tricky-<name>``) that must pass without findings.
TRICKY: Final[Mapping[str, tuple[str, ...]]] = {
    "huawei-basic": ("gbk", "utf8-bom", "uppercase-ext"),
    "huawei-middle": ("gbk", "utf8-bom", "uppercase-ext"),
    "huawei-advance": ("uppercase-ext",),
    "azure-personal": ("uppercase-ext",),
}

# --- formats -----------------------------------------------------------------------------------

# A voice's usual format is a common one; a clip that differs from it may be anything libsndfile
# writes, 96 kHz and 32-bit included. Weighted so a default tree stays moderate in size.
_BASE_RATES: Final = ((16000, 3), (22050, 1), (44100, 3), (48000, 4))
_BASE_SUBTYPES: Final = (("PCM_16", 7), ("PCM_24", 2), ("FLOAT", 1))
_RATES: Final = ((16000, 2), (22050, 1), (44100, 2), (48000, 2), (96000, 2))
_SUBTYPES: Final = (("PCM_16", 1), ("PCM_24", 1), ("PCM_32", 1), ("FLOAT", 1))
_STEREO_P: Final = 0.12
_OTHER_FORMAT_P: Final = 0.2  #: a clip that differs from its voice's usual format

_FORMS: Final = ("txt", "tsv", "csv")
_ENCODINGS_EN: Final = ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be")
_ENCODINGS_CN: Final = (*_ENCODINGS_EN, "gbk", "gbk")  # GBK is what Chinese Windows writes


@dataclass(frozen=True, slots=True)
class _Format:
    rate: int
    subtype: str
    channels: int


def _weighted(rng: np.random.Generator, items: tuple[tuple[int, int], ...]) -> int:
    weights = np.array([w for _, w in items], dtype=np.float64)
    return items[int(rng.choice(len(items), p=weights / weights.sum()))][0]


def _pick_format(rng: np.random.Generator, *, base: bool) -> _Format:
    rate = _weighted(rng, _BASE_RATES if base else _RATES)
    names = _BASE_SUBTYPES if base else _SUBTYPES
    subtype = names[_weighted(rng, tuple((i, w) for i, (_, w) in enumerate(names)))][0]
    return _Format(rate, subtype, 2 if rng.random() < _STEREO_P else 1)


# --- speech synthesis ----------------------------------------------------------------------------

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
    ) -> Signal:
        """One recording: lead-in, speech, tail, room noise; shape (frames, channels)."""
        rate = fmt.rate
        lead = round(rng.uniform(0.15, 0.40) * rate)
        tail = round(rng.uniform(0.15, 0.40) * rate)
        speech, activity = self.speech(rng, style, rate, speech_s)
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


def _wav_bytes(data: Signal, rate: int, subtype: str) -> bytes:
    """WAV bytes via libsndfile, made deterministic."""
    buf = io.BytesIO()
    sf.write(buf, data, rate, subtype=subtype, format="WAV")
    raw = bytearray(buf.getvalue())
    # libsndfile stamps float WAVs' PEAK chunk with the wall-clock time; zero it so two runs with
    # the same seed write identical bytes.
    data_at = raw.find(b"data", 12)
    peak_at = raw.find(b"PEAK", 12, data_at if data_at > 0 else None)
    if peak_at > 0:
        raw[peak_at + 12 : peak_at + 16] = bytes(4)
    return bytes(raw)


# --- text ----------------------------------------------------------------------------------------

_EN_SUBJECTS: Final = (
    "The morning train", "Our new teacher", "The little bakery", "My younger sister",
    "The city library", "Every customer", "The weather report", "This old bridge",
    "The delivery driver", "Our football team", "The museum guide", "A friendly neighbour",
)  # fmt: skip
_EN_PREDICATES: Final = (
    "opens at nine on weekdays", "was painted bright blue last spring",
    "always remembers my name", "needs a few more minutes", "answered every question calmly",
    "sells fresh bread before sunrise", "will be closed for repairs", "called to say thank you",
    "moved to a larger building", "kept the children laughing", "arrived a little early today",
    "recommends the window seat",
)  # fmt: skip
_EN_ENDINGS: Final = (
    ".", " this week.", " according to the notice.", ", as far as I know.", " again.",
    " before the holidays.",
)  # fmt: skip
_CN_SUBJECTS: Final = (
    "今天的天气", "我们的老师", "楼下的面包店", "我的妹妹", "城市图书馆", "每位顾客",
    "这趟早班车", "那座老桥", "新来的同事", "博物馆的讲解员", "我们的球队", "隔壁的邻居",
)  # fmt: skip
_CN_PREDICATES: Final = (
    "比昨天暖和了许多", "每天早上九点开门", "总是记得我的名字", "还需要几分钟",
    "耐心地回答了每一个问题", "天亮前就开始卖新鲜面包", "下个月要关门维修", "打电话来表示感谢",
    "搬到了更大的地方", "让孩子们笑个不停", "今天来得比平时早", "推荐大家坐在窗边",
)  # fmt: skip
_CN_ENDINGS: Final = (
    "。",
    "，大家都很满意。",
    "，请提前做好准备。",
    "，我们都知道。",
    "！",
    "，真不错。",
)


def _sentences(rng: np.random.Generator, language: str, count: int) -> list[str]:
    """``count`` different sentences (up to 864 per language)."""
    subjects, predicates, endings = (
        (_CN_SUBJECTS, _CN_PREDICATES, _CN_ENDINGS)
        if language == "CN"
        else (_EN_SUBJECTS, _EN_PREDICATES, _EN_ENDINGS)
    )
    total = len(subjects) * len(predicates) * len(endings)
    out: list[str] = []
    for flat in rng.choice(total, size=min(count, total), replace=False):
        s, rest = divmod(int(flat), len(predicates) * len(endings))
        p, e = divmod(rest, len(endings))
        out.append(f"{subjects[s]}{'' if language == 'CN' else ' '}{predicates[p]}{endings[e]}")
    return out


def _normalized(text: str, language: str) -> str:
    """A stand-in for LJSpeech's third column, deliberately unlike the second."""
    if language == "CN":
        return "".join(ch for ch in text if ch not in "。，！")
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch == " ")


def _encode(text: str, encoding: str) -> bytes:
    # Explicit BOMs: Python's "utf-16" writes the machine's byte order, which is not portable.
    if encoding == "utf-16-le":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if encoding == "utf-16-be":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding)


def _write_transcripts(
    folder: Path,
    entries: list[tuple[str, str]],
    *,
    form: str,
    encoding: str,
    language: str,
    eol: str,
    third_column: bool,
) -> None:
    if form == "txt":
        for stem, text in entries:
            (folder / f"{stem}.txt").write_bytes(_encode(text + eol, encoding))
        return
    if form == "tsv":
        lines = [f"{stem}\t{text}" for stem, text in entries]
        name = "transcripts.tsv"
    else:
        lines = [
            f"{stem}|{text}|{_normalized(text, language)}" if third_column else f"{stem}|{text}"
            for stem, text in entries
        ]
        name = "metadata.csv"
    (folder / name).write_bytes(_encode(eol.join(lines) + eol, encoding))


# --- other files ---------------------------------------------------------------------------------


def _pdf_bytes(title: str) -> bytes:
    """A one-page PDF with a line of text; offsets in the xref table are computed, not guessed."""
    safe = title.encode("ascii", "replace").replace(b"\\", b"\\\\")
    safe = safe.replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = b"BT /F1 14 Tf 72 720 Td (" + safe + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _toml(values: Mapping[str, str]) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    return "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in values.items())


_TAGS: Final = ("EDUCATION", "ECOMMERCE", "NEWS", "CUSTOMER", "LIVE", "MARKETING", "STORYTELLING")
_ADJECTIVES: Final = ("Warm", "Bright", "Calm", "Clear", "Gentle", "Lively", "Steady", "Soft")
_ROLES: Final = ("narrator", "host", "teacher", "guide", "assistant", "presenter")
_TALENTS_EN: Final = ("Alex Morgan", "Jamie Chen", "Sam Rivera", "Taylor Brooks", "Jordan Lee")
_TALENTS_CN: Final = ("王小明", "李华", "张静", "陈晨", "刘洋")

# --- voices --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Plan:
    """Everything decided about one voice before a byte is written."""

    key: str
    defect: str | None
    tricky: str | None
    language: str
    style: _Style
    sex: str
    base: _Format
    form: str
    encoding: str
    eol: str
    third_column: bool


def _rng_for(seed: int, key: str) -> np.random.Generator:
    # Per-voice streams: adding the defect voices never changes the healthy ones.
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _plan(seed: int, key: str, *, defect: str | None, tricky: str | None) -> _Plan:
    rng = _rng_for(seed, key + "/plan")
    language = "CN" if rng.random() < 0.5 else "EN"
    female = rng.random() < 0.5
    style = _Style(
        f0=rng.uniform(175, 235) if female else rng.uniform(95, 140),
        formant_scale=rng.uniform(1.1, 1.2) if female else rng.uniform(0.95, 1.05),
        rate=rng.uniform(0.9, 1.15),
    )
    form = _FORMS[int(rng.integers(len(_FORMS)))]
    encodings = _ENCODINGS_CN if language == "CN" else _ENCODINGS_EN
    encoding = encodings[int(rng.integers(len(encodings)))]
    eol = "\r\n" if rng.random() < 0.3 else "\n"
    third_column = bool(rng.random() < 0.5)
    if tricky == "gbk":
        language, encoding = "CN", "gbk"
        form = "tsv" if form == "txt" else form
    elif tricky == "utf8-bom":
        # The classic: a BOM glued to the first stem of a list file.
        encoding, form = "utf-8-sig", "csv"
    return _Plan(
        key=key,
        defect=defect,
        tricky=tricky,
        language=language,
        style=style,
        sex="FEMALE" if female else "MALE",
        base=_pick_format(rng, base=True),
        form=form,
        encoding=encoding,
        eol=eol,
        third_column=third_column,
    )


def _write_voice(
    root: Path, plan: _Plan, profile_name: str, synth: _Synth, *, seed: int, snr_db: float
) -> None:
    profile = PROFILES[profile_name]
    folder = root / plan.key
    folder.mkdir(parents=True)
    rng = _rng_for(seed, plan.key + "/audio")
    defect = plan.defect

    # Recording plan: how many clips and how long each speech span is.
    lo, hi = profile.speech_s
    if profile.huawei:
        count = profile.clips - (1 if defect == "clip-count" else 0)
        spans = [float(s) for s in rng.uniform(lo, hi, size=count)]
    else:
        count = int(rng.integers(2, profile.clips + 1))
        if defect == "total-too-long":
            count, spans = 4, [24.0] * 4  # 96 s of speech: over Azure's 90 s even after trimming
        else:
            # 15–40 s in total (16–36 s of speech), at least 5.5 s per clip.
            total = rng.uniform(max(16.0, lo * count), min(36.0, hi * count))
            weights = rng.uniform(0.85, 1.15, size=count)
            spans = [float(s) for s in total * weights / weights.sum()]
    bad = min(2, count - 1)  # the clip that carries an audio defect
    if defect == "too-long":
        spans[bad] = 16.0  # Huawei: never longer than 15 s

    ext = ".WAV" if plan.tricky == "uppercase-ext" else ".wav"
    stems = [f"{i + 1:04d}" for i in range(count)]
    for i, (stem, span) in enumerate(zip(stems, spans, strict=True)):
        fmt = plan.base if rng.random() >= _OTHER_FORMAT_P else _pick_format(rng, base=False)
        peak = rng.uniform(-8.0, -3.5)
        path = folder / f"{stem}{ext}"
        if i == bad and defect in _AUDIO_DEFECTS:
            _write_bad_clip(path, defect, rng, plan, synth, span, snr_db=snr_db)
            continue
        audio = synth.clip(rng, plan.style, fmt, span, snr_db=snr_db, peak_dbfs=peak)
        path.write_bytes(_wav_bytes(audio, fmt.rate, fmt.subtype))

    # Huawei voices come with the script they read (advance does not upload it, but keeps it);
    # Azure prompts need none.
    if profile.huawei:
        sentences = _sentences(rng, plan.language, count + 1)
        entries = list(zip(stems, sentences[:count], strict=True))
        if defect == "missing-transcript":
            del entries[bad]
        if defect == "orphan-transcript":
            entries.append((f"{count + 1:04d}", sentences[count]))
        # Stems sometimes carry the .wav suffix in list files, as exported by many tools.
        if plan.form != "txt" and rng.random() < 0.3:
            entries = [(f"{stem}.wav", text) for stem, text in entries]
        _write_transcripts(
            folder,
            entries,
            form=plan.form,
            encoding=plan.encoding,
            language=plan.language,
            eol=plan.eol,
            third_column=plan.third_column,
        )

    adjective = _ADJECTIVES[int(rng.integers(len(_ADJECTIVES)))]
    role = _ROLES[int(rng.integers(len(_ROLES)))]
    # Unique per voice because it ends with the folder key (Huawei looks jobs up by voice_name).
    voice_name = f"{adjective} {plan.sex.lower()} {role} {plan.key}"
    meta: dict[str, str] = {"voice_name": voice_name}
    if profile.huawei:
        meta |= {
            "sex": plan.sex,
            "language": plan.language,
            "tag": _TAGS[int(rng.integers(len(_TAGS)))],
            "description": (
                f"示例声音 {plan.key}（合成音频）"
                if plan.language == "CN"
                else f"Sample voice {plan.key} (synthetic audio)"
            ),
        }
        if defect != "missing-authorization":
            (folder / "authorization.pdf").write_bytes(
                _pdf_bytes(f"Authorization letter (sample) for {plan.key}: {voice_name}")
            )
    else:
        talents = _TALENTS_CN if plan.language == "CN" else _TALENTS_EN
        if defect != "missing-talent":
            meta |= {
                "talent_name": talents[int(rng.integers(len(talents)))],
                "company_name": "Contoso 示例公司" if plan.language == "CN" else "Contoso Samples",
            }
        meta["locale"] = "zh-CN" if plan.language == "CN" else "en-US"
        if defect != "missing-consent":
            consent = synth.clip(
                rng, plan.style, plan.base, rng.uniform(5.0, 7.2), snr_db=snr_db, peak_dbfs=-6.0
            )
            (folder / "consent.wav").write_bytes(
                _wav_bytes(consent, plan.base.rate, plan.base.subtype)
            )
    (folder / "voice.toml").write_text(_toml(meta), encoding="utf-8")


def _write_bad_clip(
    path: Path,
    defect: str,
    rng: np.random.Generator,
    plan: _Plan,
    synth: _Synth,
    span: float,
    *,
    snr_db: float,
) -> None:
    mono16 = _Format(48000, "PCM_16", 1)
    if defect == "zero-byte":
        path.write_bytes(b"")
    elif defect == "truncated-header":
        # A copy that stopped after 30 bytes: RIFF/WAVE and half of the fmt chunk.
        audio = synth.clip(rng, plan.style, mono16, 1.0, snr_db=snr_db, peak_dbfs=-6.0)
        path.write_bytes(_wav_bytes(audio, mono16.rate, mono16.subtype)[:30])
    elif defect == "not-wav":
        # What a failed download saves under the name it was asked for.
        path.write_bytes(
            b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>\n"
            b"<body><h1>Forbidden</h1><p>Request has expired</p></body></html>\n"
        )
    elif defect == "8khz":
        low = _Format(8000, "PCM_16", 1)
        audio = synth.clip(rng, plan.style, low, span, snr_db=snr_db, peak_dbfs=-6.0)
        path.write_bytes(_wav_bytes(audio, low.rate, low.subtype))
    elif defect == "clipping":
        audio = synth.clip(
            rng, plan.style, mono16, span, snr_db=snr_db, peak_dbfs=-6.0, overdrive_db=18.0
        )
        path.write_bytes(_wav_bytes(audio, mono16.rate, mono16.subtype))
    elif defect == "silent":
        frames = round((span + 0.5) * mono16.rate)
        path.write_bytes(_wav_bytes(np.zeros((frames, 1)), mono16.rate, mono16.subtype))
    else:  # pragma: no cover - every audio defect is handled above
        raise AssertionError(defect)


def write_inbox(
    root: Path,
    *,
    voices: int,
    profile: str,
    with_defects: bool = False,
    seed: int = 0,
    snr_db: float = 45.0,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> list[SampleVoice]:
    """Write ``voices`` healthy voice folders (plus defect and tricky ones) under ``root``;
    ``root`` must be missing or empty unless ``force`` (an inbox is not a scratch folder)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r} (one of {', '.join(PROFILES)})")
    if voices < 0:
        raise ConfigError(f"--voices must be 0 or more (got {voices})")
    if seed < 0:
        raise ConfigError(f"--seed must be 0 or more (got {seed})")
    if not snr_db > 0:
        raise ConfigError(f"the SNR must be positive (got {snr_db} dB)")
    plans = [_plan(seed, f"voice-{i:03d}", defect=None, tricky=None) for i in range(1, voices + 1)]
    if with_defects:
        plans += [
            _plan(seed, f"defect-{name}", defect=name, tricky=None) for name in DEFECTS[profile]
        ]
        plans += [
            _plan(seed, f"tricky-{name}", defect=None, tricky=name) for name in TRICKY[profile]
        ]
    # Refuse before writing anything: never mix a new sample tree into an inbox of real voices.
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: not a folder; choose an empty folder")
    if not force and root.is_dir() and any(root.iterdir()):
        raise ConfigError(f"{root}: not empty; choose an empty folder or pass --force")
    for plan in plans:
        if (root / plan.key).exists():
            raise ConfigError(f"{root / plan.key} already exists; choose an empty folder")
    root.mkdir(parents=True, exist_ok=True)
    synth = _Synth(seed)
    result: list[SampleVoice] = []
    for plan in plans:
        _write_voice(root, plan, profile, synth, seed=seed, snr_db=snr_db)
        if progress is not None:
            progress(plan.key)
        codes, status = DEFECTS[profile][plan.defect] if plan.defect else ((), _READY)
        result.append(
            SampleVoice(
                key=plan.key, defect=plan.defect, expected_codes=codes, expected_status=status
            )
        )
    return result
