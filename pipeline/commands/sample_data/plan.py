"""The sample profiles, and everything decided about one voice before a byte is written."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

from pipeline.commands.sample_data.formats import _Format, _pick_format
from pipeline.commands.sample_data.synth import _Style
from pipeline.commands.sample_data.text import _ENCODINGS_CN, _ENCODINGS_EN, _FORMS


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
