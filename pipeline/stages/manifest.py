"""manifest: the run's result as one JSON file (DESIGN §3.4), written atomically.

``<state_dir>/manifests/<batch>-<UTC timestamp>.json`` plus ``<batch>-latest.json`` (``check``:
``<batch>-check-latest.json``) beside it,
each through a temp file, fsync and rename, so a reader never sees half a manifest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.outputs import latest_name, write_atomic
from pipeline.records import Finding, PreparedVoice, VoiceStatus

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceResult:
    """One voice's entry in the manifest."""

    voice: str
    voice_name: str | None
    status: VoiceStatus
    remote: Mapping[str, str] = field(default_factory=dict)
    files: tuple[Mapping[str, Any], ...] = ()
    findings: tuple[Finding, ...] = ()
    last_error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "voice": self.voice,
            "voice_name": self.voice_name,
            "status": str(self.status),
            "remote": dict(self.remote),
            "files": [dict(f) for f in self.files],
            "findings": [f.as_json() for f in self.findings],
        }
        if self.last_error:
            out["last_error"] = self.last_error
        return out


def files_of(voice: PreparedVoice) -> tuple[dict[str, Any], ...]:
    """The manifest's ``files`` list for a prepared voice."""
    return tuple(
        {
            "source": c.source,
            "sha256": c.sha256,
            "index": c.index,
            "duration_s": round(c.duration_s, 3),
            "sample_rate_in": c.sample_rate_in,
            "sample_rate_out": c.sample_rate_out,
            "transcript": c.transcript,
        }
        for c in voice.clips
    )


def utc_stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summarize(results: Sequence[VoiceResult]) -> dict[str, int]:
    summary = {"voices": len(results)} | {str(s): 0 for s in _ORDER}
    for r in results:
        summary[str(r.status)] += 1
    return summary


_ORDER = (
    VoiceStatus.SUCCEEDED,
    VoiceStatus.FAILED,
    VoiceStatus.REJECTED,
    VoiceStatus.NEEDS_ATTENTION,
    VoiceStatus.PENDING,
    VoiceStatus.DEFERRED,
    VoiceStatus.READY,
)


def build(
    *,
    batch: str,
    command: str,
    provider: Mapping[str, str],
    started_at: datetime,
    finished_at: datetime,
    results: Sequence[VoiceResult],
    interrupted: str | None = None,
    findings: Sequence[Finding] = (),
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "batch": batch,
        "command": command,
        "provider": dict(provider),
        "started_at": utc_stamp(started_at),
        "finished_at": utc_stamp(finished_at),
        "summary": summarize(results),
        "voices": [r.as_json() for r in sorted(results, key=lambda r: r.voice)],
        # Batch-level findings that belong to no voice (discover: hidden folders skipped).
        "findings": [f.as_json() for f in findings],
        # Always present: null, or the one line that says why the run exited 3.
        "interrupted": interrupted or None,
    }
    return doc


def write(doc: Mapping[str, Any], manifest_dir: Path, batch: str, started_at: datetime) -> Path:
    """Write the manifest and its "latest" copy (see latest_name); returns the timestamped
    path."""
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    stamp = started_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = manifest_dir / f"{batch}-{stamp}.json"
    n = 1
    while path.exists():  # two runs in the same second must not overwrite each other
        n += 1
        path = manifest_dir / f"{batch}-{stamp}-{n}.json"
    write_atomic(path, data)
    write_atomic(manifest_dir / f"{latest_name(batch, doc.get('command'))}.json", data)
    return path
