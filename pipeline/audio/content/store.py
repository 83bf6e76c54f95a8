"""The content cache: a fit is kept per (audio, text, recognizer), like normalized audio.

Entries are small JSON files under ``<cache>/content/``, written atomically; a re-run over
unchanged input answers every check from here and starts no recognizer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from pipeline.audio.content.base import Fit, RecognizerSpec


def key(spec: RecognizerSpec, audio_sha: str, text: str | None) -> str:
    """The cache key of a fit of ``text`` (None: what a free decode heard) to the audio."""
    payload = json.dumps([spec.version, audio_sha, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _path(cache_dir: Path, k: str) -> Path:
    return cache_dir / "content" / k[:2] / f"{k}.json"


def load_fit(cache_dir: Path, k: str) -> Fit | None:
    """The cached fit under ``k``, or None."""
    data = _read(cache_dir, k)
    if not isinstance(data, dict):
        return None
    try:
        words = tuple((str(w), int(n), float(d)) for w, n, d in data.pop("words", ()))
        return Fit(**data, words=words)
    except (TypeError, ValueError):
        return None  # an entry of an older layout: computed again


def load_heard(cache_dir: Path, k: str) -> str | None:
    """The cached free decode under ``k``, or None."""
    data = _read(cache_dir, k)
    return data if isinstance(data, str) else None


def store(cache_dir: Path, k: str, value: Fit | str) -> None:
    """Keep ``value`` under ``k`` (best effort: a full disk only costs a later re-check)."""
    path = _path(cache_dir, k)
    body = json.dumps(value if isinstance(value, str) else asdict(value), ensure_ascii=False)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, path)


def _read(cache_dir: Path, k: str) -> object:
    try:
        return json.loads(_path(cache_dir, k).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
