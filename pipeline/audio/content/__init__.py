"""Content pre-flight: does the speech say its transcript, and the consent its statement?

The seam is :class:`~pipeline.audio.content.base.Recognizer`; :func:`recognizer_for` picks
one by the voice's language; :mod:`.jobs` runs in the audio worker processes through the
content cache (:mod:`.store`); :mod:`.judge` turns fits into verdicts.
"""

from __future__ import annotations

from pipeline.audio.content.base import CONTENT_VERSION, Fit, Recognizer, RecognizerSpec
from pipeline.audio.content.jobs import Heard, Unheard, cached, hear_job
from pipeline.audio.content.select import recognizer_for, voice_language
from pipeline.audio.content.sphinx import ModelError, check_model

__all__ = [
    "CONTENT_VERSION",
    "Fit",
    "Heard",
    "ModelError",
    "Recognizer",
    "RecognizerSpec",
    "Unheard",
    "cached",
    "check_model",
    "hear_job",
    "recognizer_for",
    "voice_language",
]
