"""What the report's sections share: the manifest's voices as the page reads them, status words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pipeline.oneline import one_line
from pipeline.records import VoiceState
from pipeline.report.svg import esc

#: Which statuses ask for a human first: the order of the page.
_PRIORITY: Final = {
    "needs_attention": 0,
    "failed": 1,
    "rejected": 2,
    "deferred": 3,
    "pending": 4,
    "ready": 5,
    "succeeded": 6,
}
_STATUS_TEXT: Final = {
    "needs_attention": "needs attention",
    "failed": "failed",
    "rejected": "rejected",
    "pending": "pending",
    "deferred": "deferred",
    "ready": "ready",
    "succeeded": "succeeded",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Voice:
    """One manifest voice entry, read once for the page."""

    key: str
    name: str | None
    status: str
    remote: Mapping[str, str]
    files: Sequence[Mapping[str, Any]]
    findings: Sequence[Mapping[str, Any]]
    last_error: str | None
    history: tuple[str, ...]

    @property
    def audio_s(self) -> float:
        return sum(float(f.get("duration_s") or 0.0) for f in self.files)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.get("severity") == severity)


def _voices(doc: Mapping[str, Any], states: Sequence[VoiceState]) -> list[_Voice]:
    history = {s.key: s.history for s in states}
    out = [
        _Voice(
            key=str(v["voice"]),
            name=v.get("voice_name"),
            status=str(v["status"]),
            remote={str(k): str(x) for k, x in (v.get("remote") or {}).items()},
            files=list(v.get("files") or ()),
            findings=list(v.get("findings") or ()),
            # Provider messages may span lines; every line of the page is one line per voice.
            last_error=_line(v.get("last_error")) or None,
            history=history.get(str(v["voice"]), ()),
        )
        for v in doc.get("voices", ())
    ]
    return sorted(out, key=lambda v: (_PRIORITY.get(v.status, 9), v.key))


def _line(text: object) -> str:
    """A manifest string as one line of the page (``""`` for None)."""
    return one_line(str(text)) if text is not None else ""


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _pill(status: str) -> str:
    return (
        f'<span class="pill st-{esc(status)}" data-status="{esc(status)}">'
        f"{esc(_STATUS_TEXT.get(status, status))}</span>"
    )
