"""The content work a worker process does: hear one recording against texts.

Module-level functions on plain values, so they pickle by reference into the audio worker
processes (:mod:`pipeline.audio.workers`); each worker builds a recognizer once per model and
keeps it (loading the en-US model costs ~0.3 s, a fit ~0.03 s a second of speech).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.audio.content import store
from pipeline.audio.content.answers import Heard, Unheard
from pipeline.audio.content.base import RATE, Fit, RecognizerSpec
from pipeline.audio.content.sphinx import ModelError, SphinxRecognizer

if TYPE_CHECKING:
    from pipeline.audio.content.base import Samples

_RECOGNIZERS: dict[RecognizerSpec, SphinxRecognizer] = {}


def recognizer(spec: RecognizerSpec) -> SphinxRecognizer:
    """This process's recognizer for ``spec`` (built on first use)."""
    found = _RECOGNIZERS.get(spec)
    if found is None:
        found = _RECOGNIZERS[spec] = SphinxRecognizer(spec)
    return found


def read_samples(wav: Path) -> Samples:
    """``wav`` as 16 kHz mono float32 (what every recognizer hears)."""
    import soundfile
    import soxr

    data, rate = soundfile.read(str(wav), dtype="float32", always_2d=True)
    mono = np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)
    if rate != RATE:
        mono = np.asarray(soxr.resample(mono, rate, RATE), dtype=np.float32)
    return mono


def hear_job(
    spec: RecognizerSpec,
    wav: Path,
    audio_sha: str,
    texts: tuple[str, ...],
    want_heard: bool,
    cache_dir: Path,
) -> Heard | Unheard:
    """Fit each of ``texts`` to ``wav`` (and, if asked, decode it freely), through the
    content cache; every fresh answer is stored."""
    keys = [store.key(spec, audio_sha, t) for t in texts]
    fits: list[Fit | None] = [store.load_fit(cache_dir, k) for k in keys]
    heard_key = store.key(spec, audio_sha, None)
    heard = store.load_heard(cache_dir, heard_key) if want_heard else None
    if all(f is not None for f in fits) and (heard is not None or not want_heard):
        return Heard(tuple(f for f in fits if f is not None), heard, 0)
    try:
        rec = recognizer(spec)
        samples = read_samples(wav)
    except ModelError as exc:
        return Unheard(str(exc))
    except (OSError, RuntimeError) as exc:
        return Unheard(f"cannot read the recording to hear it: {exc}")
    computed = 0
    for i, (text, k) in enumerate(zip(texts, keys, strict=True)):
        if fits[i] is None:
            fit = rec.fit(samples, text)
            store.store(cache_dir, k, fit)
            fits[i] = fit
            computed += 1
    if want_heard and heard is None:
        heard = rec.heard(samples)
        store.store(cache_dir, heard_key, heard)
        computed += 1
    return Heard(tuple(f for f in fits if f is not None), heard, computed)
