"""The run's HTML report: one self-contained file beside the manifest.

Sections: a verdict and the batch at a glance; what needs a human (per voice: status, findings,
what to do); every voice in one table; charts of the batch's audio (duration, loudness, SNR and
peak per clip, over the profile's limits); a timeline of each voice's stages in this run; the
findings by code. No script, no font, no image from the network: inline CSS and inline SVG only,
so the file opens the same from a mail, an artifact store or an offline laptop.
"""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pipeline.audio.profiles import AudioProfile
from pipeline.codes import CODES
from pipeline.oneline import one_line
from pipeline.records import PhaseEvent, VoiceState
from pipeline.report import svg
from pipeline.report.facts import ClipFigures, RunFacts
from pipeline.report.svg import Lane, Limit, Metric, Point, Segment, Zone, esc

#: Voices past this count are charted as one histogram per metric instead of one row each.
MAX_STRIP_ROWS: Final = 40
#: Timelines drawn at most (problems first); the manifest has every voice.
MAX_LANES: Final = 150
#: Voice cards in "Needs a human" at most; the table below lists every voice.
MAX_CARDS: Final = 60

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
_RUN_STATUSES: Final = (
    "succeeded",
    "failed",
    "needs_attention",
    "rejected",
    "deferred",
    "pending",
)
_CHECK_STATUSES: Final = ("ready", "rejected")
_SEVERITY_ORDER: Final = {"error": 0, "warning": 1, "fixed": 2}
#: The ledger's stage names, with what the voice is doing while in them.
_STAGE_LEGEND: Final = {
    "prepared": "prepared",
    "creating": "creating",
    "created": "created · uploading",
    "uploaded": "uploaded",
    "submitting": "submitting",
    "submitted": "submitted · provider at work",
}


def suggested(*words: str) -> str:
    """A command line to paste into a shell: every word quoted as the shell needs it (a voice
    folder may be called ``$(id)``, ``a b`` or ``-rf``)."""
    return " ".join(shlex.quote(w) for w in words)


def _hint(status: str, voice: str, job: str) -> str:
    """What an operator does next for a voice in ``status`` (HTML)."""
    # --voices=KEY: a key that starts with a dash stays a value, not an option.
    line = suggested("voice-onboard", "retry", job, f"--voices={voice}")
    cmd = f'<pre class="cmd">{esc(line)}</pre>'
    return {
        "needs_attention": "<b>Next:</b> the provider's review found a problem. Fix the files "
        f"named above, then re-queue the voice and run again:{cmd}",
        "failed": "<b>Next:</b> if the files were at fault, fix them and re-queue the voice; "
        f"to train again with the same files add <code>--force</code>:{cmd}",
        "rejected": "<b>Next:</b> nothing was sent. Fix the files named above; the next run "
        "sends the voice on its own.",
        "pending": "<b>Next:</b> still with the provider; the next run picks up the result.",
        "deferred": "<b>Next:</b> not sent: the provider could not be reached this run (or the "
        "run was cut short before this voice). Nothing is lost: the next run sends it, resuming "
        "where it stopped.",
    }.get(status, "")


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


def _short_id(job: str) -> str:
    return job if len(job) <= 14 else job[:13] + "…"


def _pill(status: str) -> str:
    return (
        f'<span class="pill st-{esc(status)}" data-status="{esc(status)}">'
        f"{esc(_STATUS_TEXT.get(status, status))}</span>"
    )


# --- audio metrics ---------------------------------------------------------------------------


def metrics_for(profile: AudioProfile) -> tuple[Metric, ...]:
    """The four audio charts with the profile's limits."""
    d_zones: list[Zone] = []
    d_limits: list[Limit] = []
    lo, hi = profile.min_clip_s, profile.max_clip_s
    if lo is not None:
        d_zones.append(Zone(lo=None, hi=lo, kind="bad", label=f"too short (< {lo:g} s)"))
        d_limits.append(Limit(value=lo, label=f"min {lo:g} s"))
    if hi is not None:
        d_zones.append(Zone(lo=hi, hi=None, kind="bad", label=f"too long (> {hi:g} s)"))
        d_limits.append(Limit(value=hi, label=f"max {hi:g} s"))
    if lo is not None or hi is not None:
        d_zones.append(Zone(lo=lo, hi=hi, kind="ok", label="within the profile's bounds"))
    d_note = (
        f"Uploaded length (after edge-silence trimming); {profile.name} allows "
        f"{lo or 0:g}–{hi:g} s per clip."
        if hi is not None
        else f"Uploaded length (after edge-silence trimming); {profile.name} sets no per-clip "
        "bound."
    )
    snr_e, snr_w = profile.snr_error_db, profile.snr_warn_db
    peak_lo, peak_hi = profile.peak_floor_dbfs, profile.peak_ceiling_dbfs
    return (
        Metric(
            key="duration",
            title="Duration",
            unit="s",
            note=d_note,
            zones=tuple(d_zones),
            limits=tuple(d_limits),
            domain=(0.0, (hi or 10.0) * 1.1),
        ),
        Metric(
            key="loudness",
            title="Loudness",
            unit="LUFS",
            note=f"ITU-R BS.1770 integrated loudness as recorded; below {profile.quiet_lufs:g} "
            "LUFS is flagged audio.quiet.",
            zones=(
                Zone(lo=None, hi=profile.quiet_lufs, kind="warn", label="quiet"),
                Zone(lo=profile.quiet_lufs, hi=None, kind="ok", label="usual speech level"),
            ),
            limits=(Limit(value=profile.quiet_lufs, label=f"{profile.quiet_lufs:g}", kind="warn"),),
            domain=(profile.quiet_lufs - 8, -12.0),
        ),
        Metric(
            key="snr",
            title="Signal-to-noise ratio",
            unit="dB",
            note=f"Estimate as recorded: warning under {snr_w:g} dB, error under {snr_e:g} dB.",
            zones=(
                Zone(lo=None, hi=snr_e, kind="bad", label=f"error (< {snr_e:g} dB)"),
                Zone(lo=snr_e, hi=snr_w, kind="warn", label=f"warning (< {snr_w:g} dB)"),
                Zone(lo=snr_w, hi=None, kind="ok", label="clean"),
            ),
            limits=(
                Limit(value=snr_e, label=f"{snr_e:g}"),
                Limit(value=snr_w, label=f"{snr_w:g}", kind="warn"),
            ),
            domain=(0.0, max(60.0, snr_w + 15)),
        ),
        Metric(
            key="peak",
            title="Peak",
            unit="dBFS",
            note=f"Sample peak as recorded; normalization brings every clip into the "
            f"{peak_lo:g}…{peak_hi:g} dBFS band (green).",
            zones=(Zone(lo=peak_lo, hi=peak_hi, kind="ok", label="normalization target"),),
            limits=(Limit(value=0.0, label="0 dBFS", kind="bad"),),
            domain=(-24.0, 0.0),
            color_points=False,
        ),
    )


def _value(clip: ClipFigures, key: str) -> float | None:
    return {
        "duration": clip.duration_s,
        "loudness": clip.loudness_lufs,
        "snr": clip.snr_db,
        "peak": clip.peak_dbfs,
    }[key]


def _audio_section(
    profile: AudioProfile, clips: Sequence[ClipFigures], order: list[str], command: str
) -> str:
    if not clips:
        why = (
            "This manifest was built from the ledger alone; per-clip measurements stay with the "
            "hosts that prepared the voices."
            if command == "manifest"
            else "No clip could be read in this run, so there is nothing to chart."
        )
        return f'<section id="audio"><h2>Audio</h2><p class="muted">{why}</p></section>'

    voices_with_clips = {c.voice for c in clips}
    rows = [k for k in order if k in voices_with_clips]
    cards: list[str] = []
    for metric in metrics_for(profile):
        points = [
            Point(row=c.voice, value=v, label=c.source)
            for c in clips
            if (v := _value(c, metric.key)) is not None
        ]
        if len(rows) <= MAX_STRIP_ROWS:
            chart = svg.strip_chart(metric, points, rows)
        else:
            chart = svg.histogram(metric, points)
        verdicts = Counter(metric.verdict(p.value) for p in points)
        missing = len(clips) - len(points)
        facts = [f"{len(points)} clips"]
        if metric.color_points:
            if verdicts["bad"]:
                facts.append(f'<b class="t-bad">{verdicts["bad"]} out of bounds</b>')
            if verdicts["warn"]:
                facts.append(f'<b class="t-warn">{verdicts["warn"]} with a warning</b>')
            if not verdicts["bad"] and not verdicts["warn"]:
                facts.append('<span class="t-ok">all within limits</span>')
        if missing:
            facts.append(f"{missing} not measurable (silent or too short)")
        cards.append(
            f'<figure class="card chart-card" data-metric="{esc(metric.key)}">'
            f"<figcaption><h3>{esc(metric.title)} <small>{esc(metric.unit)}</small></h3>"
            f'<p class="muted">{esc(metric.note)}</p></figcaption>{chart}'
            f'<p class="chart-facts">{" · ".join(facts)}</p></figure>'
        )
    legend = (
        '<p class="legend"><span class="dot" style="background:#2c974b"></span>within limits '
        '<span class="dot" style="background:#bf8700"></span>warning '
        '<span class="dot" style="background:#cf222e"></span>out of bounds '
        '<span class="dot" style="background:#0969da"></span>no limit applies '
        '<span class="swatch" style="background:#dafbe1"></span>allowed range</p>'
    )
    mode = (
        "one row per voice, one dot per clip"
        if len(rows) <= MAX_STRIP_ROWS
        else f"{len(rows)} voices: distribution over all clips"
    )
    return (
        f'<section id="audio"><h2>Audio <small>{len(clips)} clips · {esc(mode)} · profile '
        f"{esc(profile.name)}</small></h2>{legend}"
        f'<div class="grid2">{"".join(cards)}</div></section>'
    )


# --- timelines --------------------------------------------------------------------------------


def lanes(
    events: Sequence[PhaseEvent], order: Sequence[str], start: float, end: float
) -> list[Lane]:
    """One lane per voice with events: its stages inside [start, end], and the stage it was
    already in when the window opened (faded)."""
    by_voice: dict[str, list[PhaseEvent]] = defaultdict(list)
    for ev in events:
        by_voice[ev.key].append(ev)
    out: list[Lane] = []
    for key in order:
        evs = sorted(by_voice.get(key, ()), key=lambda e: e.at)
        if not evs:
            continue
        before = [e for e in evs if e.at < start]
        inside = [e for e in evs if start <= e.at <= end]
        segments: list[Segment] = []
        end_status: str | None = None
        end_at: float | None = None
        if not before and inside and inside[0].at > start:
            # Before its first record of this run the voice was in the pre-flight (validate,
            # normalize, pair), which the ledger does not see: a thin line, not a stage bar.
            segments.append(Segment(stage="preflight", start=start, end=inside[0].at))
        if before:
            carried = before[-1]
            until = inside[0].at if inside else end
            segments.append(
                Segment(
                    stage=str(carried.stage),
                    start=start,
                    end=until,
                    carried=True,
                    detail=carried.detail,
                )
            )
        for i, ev in enumerate(inside):
            if str(ev.stage) == "done":
                end_status, end_at = str(ev.status), ev.at
                break
            nxt = inside[i + 1].at if i + 1 < len(inside) else end
            segments.append(Segment(stage=str(ev.stage), start=ev.at, end=nxt, detail=ev.detail))
        out.append(Lane(voice=key, segments=tuple(segments), end_status=end_status, end_at=end_at))
    return out


def _timeline_section(doc: Mapping[str, Any], facts: RunFacts, order: list[str]) -> str:
    in_run = doc.get("command") == "run"
    scope = "over the batch's life" if doc.get("command") == "manifest" else "in this run"
    head = f'<section id="timelines"><h2>Timelines <small>stages of each voice {scope}</small></h2>'

    if not facts.events:
        why = (
            "<code>check</code> never talks to the provider, so no voice changes stage."
            if doc.get("command") == "check"
            else "The ledger recorded no stage changes."
        )
        return f'{head}<p class="muted">{why}</p></section>'
    last = max(e.at for e in facts.events)
    if in_run:
        start = _when(doc["started_at"]).timestamp()
        # The manifest's stamps are whole seconds; the last events may fall in the final second.
        end = max(_when(doc["finished_at"]).timestamp() + 1.0, last)
    else:
        # A manifest built from the ledger alone (scale-out) spans the workers' whole history.
        start, end = min(e.at for e in facts.events), last + 1.0
    all_lanes = lanes(facts.events, order, start, end)
    shown = all_lanes[:MAX_LANES]
    more = len(all_lanes) - len(shown)
    legend = '<span class="line-swatch"></span>pre-flight ' + "".join(
        f'<span class="swatch" style="background:{svg.STAGE_FILL[stage]}"></span>{esc(text)} '
        for stage, text in _STAGE_LEGEND.items()
    )
    legend += "".join(
        f'<span class="dot" style="background:{svg.STATUS_FILL[s]}"></span>{esc(_STATUS_TEXT[s])} '
        for s in ("succeeded", "failed", "needs_attention")
    )
    note = (
        f'<p class="muted">{more} more voices are not drawn; the manifest lists every voice.</p>'
        if more > 0
        else ""
    )
    unledgered = sum(1 for v in doc.get("voices", ()) if v.get("status") == "rejected")
    if unledgered:
        note += (
            f'<p class="muted">{unledgered} rejected voices never reach the provider and have '
            "no timeline. Faded bars: the stage a voice was already in when this run began.</p>"
        )
    else:
        note += (
            '<p class="muted">Faded bars: the stage a voice was already in when this run began.</p>'
        )
    origin = "since the run started" if in_run else "since the batch's first record"
    chart = svg.timeline_chart(shown, start, end, origin=origin) if shown else ""
    return f'{head}<p class="legend">{legend}</p><div class="card">{chart}</div>{note}</section>'


# --- voices and findings ---------------------------------------------------------------------


def _finding_li(f: Mapping[str, Any], more: Sequence[Mapping[str, Any]] = ()) -> str:
    sev = str(f.get("severity"))
    code = str(f.get("code"))
    where = f'<span class="file">{esc(_line(f["file"]))}</span> ' if f.get("file") else ""
    extra = ""
    if more:
        files = ", ".join(str(m.get("file") or "") for m in more)
        extra = f' <span class="more" title="{esc(files)}">+{len(more)} more like it</span>'
    return (
        f'<li class="finding sev-{esc(sev)}" data-code="{esc(code)}">'
        f'<span class="sev">{esc(sev)}</span> <code title="{esc(CODES.get(code, ""))}">'
        f"{esc(code)}</code> {where}<span class='msg'>{esc(_line(f.get('message')))}</span>"
        f"{extra}</li>"
    )


def _grouped_findings(findings: Sequence[Mapping[str, Any]], limit: int = 8) -> str:
    """Errors, then warnings; a code repeated over many files is one line with a count."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for f in findings:
        if f.get("severity") in ("error", "warning"):
            groups[(str(f.get("severity")), str(f.get("code")))].append(f)
    ordered = sorted(groups.items(), key=lambda kv: _SEVERITY_ORDER.get(kv[0][0], 9))
    items: list[str] = []
    for _, group in ordered:
        if len(group) <= 2:
            items.extend(_finding_li(f) for f in group)
        else:
            items.append(_finding_li(group[0], group[1:]))
    if len(items) > limit:
        items = [
            *items[:limit],
            f'<li class="muted">… {len(items) - limit} more in the manifest</li>',
        ]
    return f'<ul class="findings">{"".join(items)}</ul>' if items else ""


def _attention_section(voices: list[_Voice], job: str) -> str:
    needy = [
        v
        for v in voices
        if v.status in ("needs_attention", "failed", "rejected", "deferred", "pending")
    ]
    # Voices that ended well but carry warnings: worth a look, after the ones that need action.
    look = [v for v in voices if v not in needy and (v.count("error") or v.count("warning"))]
    if not needy and not look:
        return (
            '<section id="attention"><h2>Needs a human</h2><p class="ok-note">Nothing: every '
            "voice ended well and no finding asks for a look.</p></section>"
        )
    cards: list[str] = []
    for v in (*needy, *look)[:MAX_CARDS]:
        fixed = Counter(str(f.get("code")) for f in v.findings if f.get("severity") == "fixed")
        fixed_line = (
            '<p class="fixed muted">Normalized: '
            + ", ".join(f"{esc(c)} ×{n}" for c, n in sorted(fixed.items()))
            + "</p>"
            if fixed
            else ""
        )
        # The provider's last error, unless an error finding below says it better. A deferred
        # voice's is why it was not sent (a refused connection, a timeout …): not the provider's
        # word on the voice.
        label = "Last error" if v.status == "deferred" else "Provider"
        err = (
            f'<p class="last-error"><b>{label}:</b> {esc(v.last_error)}</p>'
            if v.last_error
            and v.status in ("failed", "needs_attention", "deferred", "pending")
            and not v.count("error")
            else ""
        )
        hint = _hint(v.status, v.key, job)
        name = f' <span class="muted">{esc(v.name)}</span>' if v.name else ""
        kind = "act" if v in needy else "look"
        cards.append(
            f'<article class="card voice-card {kind}" data-voice="{esc(v.key)}" '
            f'data-status="{esc(v.status)}"><header>{_pill(v.status)} '
            f"<b>{esc(v.key)}</b>{name}</header>"
            + err
            + _grouped_findings(v.findings)
            + fixed_line
            + (f'<div class="hint">{hint}</div>' if hint else "")
            + "</article>"
        )
    counts = f"{len(needy)} to act on" + (f" · {len(look)} worth a look" if look else "")
    rest = len(needy) + len(look) - len(cards)
    more = (
        f'<p class="muted">… and {rest} more voices; the table below lists every one.</p>'
        if rest > 0
        else ""
    )
    return (
        f'<section id="attention"><h2>Needs a human <small>{counts}</small></h2>'
        f'<div class="cards">{"".join(cards)}</div>{more}</section>'
    )


def _voices_table(voices: list[_Voice]) -> str:
    rows: list[str] = []
    for v in voices:
        job = v.remote.get("job_id") or v.remote.get("personal_voice_id") or ""
        remote_state = v.remote.get("state", "")
        provider = (f'<span class="rstate">{esc(remote_state)}</span>' if remote_state else "") + (
            f'<br><code class="job" title="{esc(job)}">{esc(_short_id(job))}</code>' if job else ""
        )
        if v.history:
            provider += f'<br><span class="muted">replaces {len(v.history)} earlier job(s)</span>'
        counts = [
            f'<span class="c-{sev}">{n} {sev}{"s" if n != 1 and sev != "fixed" else ""}</span>'
            for sev in ("error", "warning", "fixed")
            if (n := v.count(sev))
        ]
        first = next(
            (f for f in v.findings if f.get("severity") == "error"),
            next((f for f in v.findings if f.get("severity") == "warning"), None),
        )
        note = f"{first.get('code')}: {_line(first.get('message'))}" if first is not None else None
        if note is None and v.status in ("failed", "needs_attention", "deferred", "pending"):
            note = v.last_error
        rows.append(
            f'<tr data-voice="{esc(v.key)}" data-status="{esc(v.status)}">'
            f'<td><b>{esc(v.key)}</b><br><span class="muted">{esc(v.name or "")}</span></td>'
            f"<td>{_pill(v.status)}</td><td>{provider or '—'}</td>"
            f'<td class="num">{len(v.files)}<br><span class="muted">'
            f"{v.audio_s:.0f} s</span></td>"
            f"<td class='counts'>{' · '.join(counts) or '—'}</td>"
            f'<td class="note">{esc(note or "")}</td></tr>'
        )
    return (
        '<section id="voices"><h2>All voices</h2><table class="voices"><thead><tr>'
        "<th>Voice</th><th>Status</th><th>Provider</th><th>Clips</th><th>Findings</th>"
        f"<th>Worst finding / provider error</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></section>"
    )


def _codes_section(voices: list[_Voice]) -> str:
    by_code: dict[tuple[str, str], set[str]] = defaultdict(set)
    counts: Counter[tuple[str, str]] = Counter()
    for v in voices:
        for f in v.findings:
            k = (str(f.get("severity")), str(f.get("code")))
            counts[k] += 1
            by_code[k].add(v.key)
    if not counts:
        return ""
    rows = "".join(
        f'<tr class="sev-{esc(sev)}"><td><span class="sev">{esc(sev)}</span></td>'
        f"<td><code>{esc(code)}</code></td><td class='num'>{n}</td>"
        f"<td class='num'>{len(by_code[(sev, code)])}</td>"
        f'<td class="muted">{esc(CODES.get(code, ""))}</td></tr>'
        for (sev, code), n in sorted(
            counts.items(), key=lambda kv: (_SEVERITY_ORDER.get(kv[0][0], 9), -kv[1], kv[0][1])
        )
    )
    return (
        '<section id="codes"><h2>Findings by code</h2><table class="codes"><thead><tr>'
        "<th>Severity</th><th>Code</th><th>Findings</th><th>Voices</th><th>Meaning</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></section>"
    )


# --- the page ---------------------------------------------------------------------------------


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


_CSS: Final = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--ok:#1a7f37;--warn:#9a6700;
--bad:#cf222e;--card:#fff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:26px;margin:0}h1 small,h2 small,h3 small{font-weight:400;color:var(--muted);
font-size:60%;margin-left:6px}
h2{font-size:18px;margin:30px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0 0 2px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,"DejaVu Sans Mono",monospace;
background:#eff2f5;padding:1px 5px;border-radius:4px}
.muted{color:var(--muted)}
.top{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:20px 22px}
.verdict{font-size:17px;font-weight:600;margin:10px 0 14px;padding:8px 12px;border-radius:6px;
border-left:5px solid}
.v-ok{background:#dafbe1;border-color:var(--ok);color:#116329}
.v-warn{background:#fff8c5;border-color:#d4a72c;color:#7d4e00}
.v-bad{background:#ffebe9;border-color:var(--bad);color:#a40e26}
.tiles{display:flex;gap:10px;flex-wrap:wrap;margin-bottom:10px}
.tile{flex:1 1 110px;background:var(--bg);border:1px solid var(--line);border-radius:8px;
padding:8px 12px;border-top:4px solid #8c959f}
.tile b{display:block;font-size:26px;line-height:1.1}.tile span{color:var(--muted)}
.tile.zero{opacity:.45}
.tile.st-succeeded{border-top-color:#1a7f37}.tile.st-failed{border-top-color:#cf222e}
.tile.st-needs_attention{border-top-color:#bf8700}.tile.st-rejected{border-top-color:#8250df}
.tile.st-pending{border-top-color:#0969da}.tile.st-deferred{border-top-color:#bc4c00}
.tile.st-ready{border-top-color:#0a7ea4}
.tile.total{border-top-color:#24292f}
.status-bar{display:block;border-radius:4px;overflow:hidden;margin:4px 0 12px}
.facts{display:grid;grid-template-columns:repeat(4,auto 1fr);gap:4px 10px;margin:0;
font-size:13px}
.facts dt{color:var(--muted)}.facts dd{margin:0}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;
color:#fff;white-space:nowrap;background:#8c959f}
.pill.st-succeeded{background:#1a7f37}.pill.st-failed{background:#cf222e}
.pill.st-needs_attention{background:#bf8700}.pill.st-rejected{background:#8250df}
.pill.st-pending{background:#0969da}.pill.st-deferred{background:#bc4c00}
.pill.st-ready{background:#0a7ea4}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
.voice-card header{font-size:15px;margin-bottom:6px}
.voice-card[data-status=needs_attention]{border-left:5px solid #bf8700}
.voice-card[data-status=failed]{border-left:5px solid #cf222e}
.voice-card[data-status=rejected]{border-left:5px solid #8250df}
.voice-card[data-status=pending]{border-left:5px solid #0969da}
.voice-card[data-status=deferred]{border-left:5px solid #bc4c00}
.hint{margin:8px 0 0;color:#31373d;font-size:13px}
pre.cmd{margin:4px 0 0;padding:6px 10px;background:#f6f8fa;border:1px solid #eaeef2;
border-radius:6px;font:12px ui-monospace,SFMono-Regular,Menlo,"DejaVu Sans Mono",monospace;
white-space:pre-wrap;overflow-wrap:anywhere}
.voice-card.look{border-left:5px solid #d4a72c}
.more{color:var(--muted);font-size:12px;white-space:nowrap}
.last-error{margin:4px 0 8px;padding:6px 10px;background:#ffebe9;border-radius:6px;
overflow-wrap:anywhere}
.findings{list-style:none;margin:0;padding:0}
.finding{padding:3px 0;border-top:1px dashed #eaeef2;overflow-wrap:anywhere}
.sev{display:inline-block;min-width:58px;font-size:11px;font-weight:700;text-transform:uppercase;
letter-spacing:.03em}
.sev-error .sev{color:var(--bad)}.sev-warning .sev{color:var(--warn)}.sev-fixed .sev{color:#0969da}
.file{color:var(--muted);font-size:12.5px}
.fixed{font-size:12.5px;margin:6px 0 0}
.ok-note{padding:10px 14px;background:#dafbe1;border-radius:8px;color:#116329}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);
border-radius:10px;overflow:hidden}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-size:12px;text-transform:uppercase;letter-spacing:.04em;
color:var(--muted)}
td.num,td.counts{white-space:nowrap}td.num{text-align:right}
td.note{max-width:420px;overflow-wrap:anywhere;color:#31373d}
.c-error{color:var(--bad);font-weight:600}.c-warning{color:var(--warn);font-weight:600}
.c-fixed{color:var(--muted)}
.rstate{font-weight:600;font-size:12.5px}.job{font-size:11px;white-space:nowrap}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.chart-card{margin:0}.chart-card figcaption p{margin:0 0 6px;font-size:12.5px}
.chart-facts{margin:4px 0 0;font-size:12.5px;color:var(--muted)}
.t-bad{color:var(--bad)}.t-warn{color:var(--warn)}.t-ok{color:var(--ok)}
.legend{font-size:12.5px;color:var(--muted);margin:0 0 10px}
.dot,.swatch{display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px 0 10px;
vertical-align:-1px}
.swatch{border-radius:2px;width:14px}
.line-swatch{display:inline-block;width:16px;border-top:2px dotted #8c959f;margin:0 4px 0 10px;
vertical-align:3px}
svg.chart{display:block}
footer{margin-top:28px;color:var(--muted);font-size:12px}
@media (max-width:900px){.grid2{grid-template-columns:1fr}.cards{grid-template-columns:1fr}
.facts{grid-template-columns:auto 1fr}}
@media print{body{background:#fff}.card,.top,table{break-inside:avoid}}
"""


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
