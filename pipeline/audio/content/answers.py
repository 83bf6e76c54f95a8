"""What hearing a recording answered (:class:`Heard`, :class:`Unheard`), and the answer
the content cache already holds (:func:`cached`): NumPy-free, so the run's own process looks
clips up without importing the recognizer or the audio stack (:mod:`.jobs` hears them in the
workers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.audio.content import store
from pipeline.audio.content.base import Fit, RecognizerSpec

__all__ = ["Heard", "Unheard", "cached"]


@dataclass(frozen=True, slots=True)
class Heard:
    """What one recording was heard to fit."""

    fits: tuple[Fit, ...]  #: one per text asked for, in order
    heard: str | None  #: the free decode, when asked for
    computed: int  #: recognitions actually run (0: every answer came from the cache)


@dataclass(frozen=True, slots=True)
class Unheard:
    """The recording could not be heard (unreadable, or the model did not load)."""

    message: str


def cached(
    spec: RecognizerSpec, audio_sha: str, texts: tuple[str, ...], want_heard: bool, cache_dir: Path
) -> Heard | None:
    """The answer of :func:`hear_job` if the cache holds all of it (no worker needed)."""
    fits = [store.load_fit(cache_dir, store.key(spec, audio_sha, t)) for t in texts]
    if any(f is None for f in fits):
        return None
    heard = None
    if want_heard:
        heard = store.load_heard(cache_dir, store.key(spec, audio_sha, None))
        if heard is None:
            return None
    return Heard(tuple(f for f in fits if f is not None), heard, 0)
