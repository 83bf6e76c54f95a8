"""The run's HTML report: one self-contained file beside the manifest.

Sections: a verdict and the batch at a glance; what needs a human (per voice: status, findings,
what to do); every voice in one table; charts of the batch's audio (duration, loudness, SNR and
peak per clip, over the profile's limits); a timeline of each voice's stages in this run; the
findings by code. No script, no font, no image from the network: inline CSS and inline SVG only,
so the file opens the same from a mail, an artifact store or an offline laptop.

This module assembles the page (header, verdict, footer); the sections are its siblings: ``voices``
(needs a human, all voices, findings by code), ``audio`` and ``timeline``, with ``common`` (the
voices as the page reads them, status words) and ``style`` (the CSS).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pipeline.audio.profiles import AudioProfile
from pipeline.report import svg
from pipeline.report.facts import RunFacts
from pipeline.report.html.audio import MAX_STRIP_ROWS, _audio_section, metrics_for
from pipeline.report.html.common import _STATUS_TEXT, _line, _voices, _when
from pipeline.report.html.heard import _heard_section
from pipeline.report.html.style import _CSS
from pipeline.report.html.timeline import MAX_LANES, _timeline_section, lanes
from pipeline.report.html.voices import (
    MAX_CARDS,
    _attention_section,
    _codes_section,
    _voices_table,
    suggested,
)
from pipeline.report.svg import esc

__all__ = [
    "MAX_CARDS",
    "MAX_LANES",
    "MAX_STRIP_ROWS",
    "lanes",
    "metrics_for",
    "render_html",
    "suggested",
]

_RUN_STATUSES: Final = (
    "succeeded",
    "failed",
    "needs_attention",
    "rejected",
    "deferred",
    "pending",
)
_CHECK_STATUSES: Final = ("ready", "rejected")


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _verdict(doc: Mapping[str, Any]) -> tuple[str, str]:
    s: Mapping[str, int] = doc["summary"]
    n = s.get("voices", 0)
    # Never a success while a voice is deferred or the run was cut short: such a run exits 3.
    if doc.get("interrupted"):
        return "bad", f"Run cut short: {_line(doc['interrupted'])}"
    deferred = s.get("deferred", 0)
    unsent = f"{deferred} of {n} voices not sent this run; the next run sends them"
    bad = [(k, s.get(k, 0)) for k in ("needs_attention", "failed", "rejected") if s.get(k, 0)]
    if bad:
        parts = ", ".join(f"{c} {_STATUS_TEXT[k]}" for k, c in bad)
        worst = s.get("failed") or s.get("needs_attention") or deferred
        return ("bad" if worst else "warn"), (
            f"{sum(c for _, c in bad)} of {n} voices need a human: {parts}"
            + (f"; {unsent}" if deferred else "")
        )
    if deferred:
        return "bad", unsent
    if n == 0:
        return "warn", "The inbox holds no voices"
    if s.get("pending"):
        return "warn", f"{s['pending']} of {n} voices still with the provider"
    word = "are ready to send" if doc.get("command") == "check" else "succeeded"
    return "ok", f"All {n} voices {word}"


def _header(doc: Mapping[str, Any], facts: RunFacts, profile: AudioProfile) -> str:
    kind, verdict = _verdict(doc)
    started, finished = _when(doc["started_at"]), _when(doc["finished_at"])
    p: Mapping[str, str] = doc.get("provider", {})
    provider = " · ".join(
        esc(p[k]) for k in ("kind", "edition", "upload_mode", "api_version") if p.get(k)
    )
    s: Mapping[str, int] = doc["summary"]
    statuses = _CHECK_STATUSES if doc.get("command") == "check" else _RUN_STATUSES
    tiles = "".join(
        f'<div class="tile st-{esc(k)}{" zero" if not s.get(k) else ""}" data-count="{s.get(k, 0)}"'
        f' data-status="{esc(k)}"><b>{s.get(k, 0)}</b><span>{esc(_STATUS_TEXT[k])}</span></div>'
        for k in statuses
    )
    clips = sum(len(v.get("files") or ()) for v in doc.get("voices", ()))
    audio_s = sum(
        float(f.get("duration_s") or 0) for v in doc.get("voices", ()) for f in v.get("files") or ()
    )
    run_facts = [
        f"<dt>Batch</dt><dd>{esc(doc['batch'])}</dd>",
        f"<dt>Command</dt><dd>{esc(doc.get('command', ''))}</dd>",
        f"<dt>Provider</dt><dd>{provider}</dd>",
        f"<dt>Profile</dt><dd>{esc(profile.name)}</dd>",
        f"<dt>Started</dt><dd>{esc(doc['started_at'])}</dd>",
        f"<dt>Took</dt><dd>{_duration((finished - started).total_seconds())}</dd>",
        f"<dt>Audio</dt><dd>{clips} clips · {audio_s / 60:.1f} min</dd>",
    ]
    if facts.bytes_uploaded is not None:
        run_facts.append(f"<dt>Uploaded</dt><dd>{_bytes(facts.bytes_uploaded)}</dd>")
    counts = [(k, s.get(k, 0)) for k in (*_RUN_STATUSES, "ready")]
    return (
        f'<header class="top"><div class="title"><h1>{esc(doc["batch"])} '
        f"<small>voice-onboard {esc(doc.get('command', ''))} report</small></h1>"
        f'<p class="verdict v-{kind}" data-verdict="{kind}">{esc(verdict)}</p></div>'
        f'<div class="tiles"><div class="tile total"><b>{s.get("voices", 0)}</b>'
        f"<span>voices</span></div>{tiles}</div>"
        f"{svg.status_bar(counts)}"
        f'<dl class="facts">{"".join(run_facts)}</dl></header>'
    )


def render_html(
    doc: Mapping[str, Any],
    facts: RunFacts,
    profile: AudioProfile,
    *,
    manifest_name: str | None = None,
    job: str = "JOB",
) -> str:
    """The report page for the manifest ``doc`` of one run (a complete HTML document)."""
    voices = _voices(doc, facts.states)
    order = [v.key for v in voices]
    link = (
        f'manifest <a href="{esc(manifest_name)}">{esc(manifest_name)}</a> · '
        if manifest_name
        else ""
    )
    title = f"{doc['batch']} — voice-onboard {doc.get('command', '')} {doc['started_at']}"
    body = (
        _header(doc, facts, profile)
        + _attention_section(voices, job)
        + _heard_section(voices)
        + _voices_table(voices)
        + _audio_section(profile, facts.clips, order, str(doc.get("command", "")))
        + _timeline_section(doc, facts, order)
        + _codes_section(voices)
        + f"<footer>{link}schema_version {esc(doc.get('schema_version', ''))} · finished "
        f"{esc(doc['finished_at'])}</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        # No network: a strict CSP makes the browser refuse any external load, so a future
        # edit that adds one shows up at once (and a provider message cannot inject one).
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>"
        f'<body data-batch="{esc(doc["batch"])}" data-command="{esc(doc.get("command", ""))}">'
        f"<main>{body}</main></body></html>\n"
    )
