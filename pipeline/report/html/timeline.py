"""The report's timelines: each voice's stages in the run, from the ledger's events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pipeline.records import PhaseEvent
from pipeline.report import svg
from pipeline.report.facts import RunFacts
from pipeline.report.html.common import _STATUS_TEXT, _when
from pipeline.report.svg import Lane, Segment, esc

#: Timelines drawn at most (problems first); the manifest has every voice.
MAX_LANES: Final = 150

#: The ledger's stage names, with what the voice is doing while in them.
_STAGE_LEGEND: Final = {
    "prepared": "prepared",
    "creating": "creating",
    "created": "created · uploading",
    "uploaded": "uploaded",
    "submitting": "submitting",
    "submitted": "submitted · provider at work",
}


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
