"""Which recognizer hears a voice: by its language (Huawei ``language``, Azure ``locale``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipeline.audio.content.base import RecognizerSpec
from pipeline.records import VoiceMeta

#: Huawei's voice.toml language codes as BCP-47 tags.
_HUAWEI_LANGUAGES = {"CN": "zh-CN", "EN": "en-US"}


def voice_language(meta: VoiceMeta | None) -> str | None:
    """The BCP-47 tag of the voice's speech, or None when voice.toml does not say."""
    if meta is None:
        return None
    if meta.locale:
        return meta.locale
    if meta.language:
        return _HUAWEI_LANGUAGES.get(meta.language.upper(), meta.language)
    return None


def recognizer_for(language: str | None, models: Mapping[str, Path]) -> RecognizerSpec | None:
    """The recognizer for ``language``: a configured model folder (exact tag, then its
    language part, case-insensitively), else the wheel's en-US model for any English tag;
    None where nothing can hear it."""
    if not language:
        return None
    wanted = language.lower()
    primary = wanted.split("-")[0]
    by_tag = {tag.lower(): (tag, folder) for tag, folder in models.items()}
    for candidate in (wanted, primary):
        if candidate in by_tag:
            tag, folder = by_tag[candidate]
            return RecognizerSpec(language=tag, folder=folder)
    for tag, (original, folder) in by_tag.items():
        if tag.split("-")[0] == primary:
            return RecognizerSpec(language=original, folder=folder)
    if primary == "en":
        # The wheel's model is American English; calibrated on en-us and en-gb speech.
        return RecognizerSpec(language="en-US")
    return None
