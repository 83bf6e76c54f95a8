"""The defects and tricky voices each profile's sample inbox carries, and the broken clips."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

import numpy as np

from pipeline.commands.sample_data.formats import Signal, _Format, _wav_bytes
from pipeline.commands.sample_data.plan import _Plan
from pipeline.commands.sample_data.synth import _Synth
from pipeline.records import VoiceStatus

_READY: Final = str(VoiceStatus.READY)
_REJECTED: Final = str(VoiceStatus.REJECTED)

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


def _write_bad_clip(
    path: Path,
    defect: str,
    rng: np.random.Generator,
    plan: _Plan,
    synth: _Synth,
    span: float,
    *,
    snr_db: float,
    say: Callable[[int], tuple[Signal, Signal] | None] = lambda rate: None,
) -> None:
    """Write the clip that carries ``defect``; ``say(rate)``: its real speech, if any."""
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
        audio = synth.clip(
            rng, plan.style, low, span, snr_db=snr_db, peak_dbfs=-6.0, spoken=say(low.rate)
        )
        path.write_bytes(_wav_bytes(audio, low.rate, low.subtype))
    elif defect == "clipping":
        audio = synth.clip(
            rng,
            plan.style,
            mono16,
            span,
            snr_db=snr_db,
            peak_dbfs=-6.0,
            overdrive_db=18.0,
            spoken=say(mono16.rate),
        )
        path.write_bytes(_wav_bytes(audio, mono16.rate, mono16.subtype))
    elif defect == "silent":
        frames = round((span + 0.5) * mono16.rate)
        path.write_bytes(_wav_bytes(np.zeros((frames, 1)), mono16.rate, mono16.subtype))
    else:  # pragma: no cover - every audio defect is handled above
        raise AssertionError(defect)
