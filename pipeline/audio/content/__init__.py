"""Content pre-flight: does the speech say its transcript, and the consent its statement?

The seam is :class:`~pipeline.audio.content.base.Recognizer`; :func:`recognizer_for` picks
one by the voice's language; :mod:`.jobs` runs in the audio worker processes through the
content cache (:mod:`.store`), whose answers :mod:`.answers` reads; :mod:`.judge` turns fits
into verdicts. Each name below is imported from its submodule on first use, so a run that
only reads the cache loads neither NumPy nor pocketsphinx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pipeline.exports import lazy_exports

if TYPE_CHECKING:
    from pipeline.audio.content.answers import Heard, Unheard, cached
    from pipeline.audio.content.base import CONTENT_VERSION, Fit, Recognizer, RecognizerSpec
    from pipeline.audio.content.jobs import hear_job
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

#: Each name's submodule (see pipeline.exports).
_HOME: Final = {
    "CONTENT_VERSION": "base",
    "Fit": "base",
    "Heard": "answers",
    "ModelError": "sphinx",
    "Recognizer": "base",
    "RecognizerSpec": "base",
    "Unheard": "answers",
    "cached": "answers",
    "check_model": "sphinx",
    "hear_job": "jobs",
    "recognizer_for": "select",
    "voice_language": "select",
}
__getattr__ = lazy_exports(__name__, _HOME)
