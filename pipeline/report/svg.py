"""Hand-written inline SVG charts for the HTML report.

Why not a charting library: the report must be one self-contained file that opens anywhere —
from a mail attachment, an artifact store, a laptop without network — and a JS charting
library would either come from the network or add hundreds of kilobytes inlined into every
report. The charts needed here (dot strips with limit bands, histograms, a Gantt of stages) are
a few rectangles, circles and lines, so plain SVG strings are smaller, need no script, render
the same in every browser and in headless Chromium, and stay testable as text.

Every text that reaches the SVG passes through :func:`esc` (voice keys and provider messages
are not ours to trust).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

#: Colours shared with the page's CSS (kept here so charts and page agree).
OK: Final = "#1a7f37"
WARN: Final = "#bf8700"
#: A voice not sent this run (provider unreachable, cut short): its own colour, never WARN's.
DEFERRED: Final = "#bc4c00"
BAD: Final = "#cf222e"
NEUTRAL: Final = "#57606a"
GRID: Final = "#d8dee4"
ZONE_FILL: Final = {"ok": "#dafbe1", "warn": "#fff1c2", "bad": "#ffe0e0"}
POINT: Final = {"ok": "#2c974b", "warn": "#bf8700", "bad": "#cf222e", "none": "#0969da"}
FONT: Final = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif"


def esc(text: object) -> str:
    """``text`` safe inside SVG/HTML text and attribute values."""
    return escape(str(text), quote=True)


def fmt(value: float) -> str:
    """A short number for axis ticks: ``5``, ``2.5``, ``-40``, ``0.25``."""
    if value == 0:
        return "0"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.3g}"


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """About ``count`` round tick values (1, 2, 5 × 10^k steps) covering [lo, hi]."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks: list[float] = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


@dataclass(frozen=True, slots=True, kw_only=True)
class Zone:
    """A value range of a metric with a verdict, drawn as a shaded band."""

    lo: float | None  #: None = open towards -inf
    hi: float | None  #: None = open towards +inf
    kind: str  #: "ok" | "warn" | "bad"
    label: str

    def holds(self, value: float) -> bool:
        return (self.lo is None or value >= self.lo) and (self.hi is None or value < self.hi)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """A threshold drawn as a dashed line with a label."""

    value: float
    label: str
    kind: str = "bad"


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """One chart: what is measured, its unit, and the profile's limits for it."""

    key: str  #: css/test hook: "duration", "loudness", "snr", "peak"
    title: str
    unit: str
    note: str  #: one line under the title (where the figure comes from, what the limits are)
    zones: tuple[Zone, ...] = ()
    limits: tuple[Limit, ...] = ()
    domain: tuple[float, float] = (0.0, 1.0)  #: shown at least; widened to fit the data
    color_points: bool = True  #: False: every point neutral (limits are shown for context only)

    def verdict(self, value: float) -> str:
        if not self.color_points:
            return "none"
        for zone in self.zones:
            if zone.holds(value):
                return zone.kind
        return "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One clip's value in a chart."""

    row: str  #: the voice key
    value: float
    label: str  #: tooltip: the clip


class _Scale:
    def __init__(self, lo: float, hi: float, x0: float, x1: float) -> None:
        self.lo, self.hi, self.x0, self.x1 = lo, hi, x0, x1

    def __call__(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.x0 + (v - self.lo) / (self.hi - self.lo) * (self.x1 - self.x0)


def _domain(metric: Metric, values: Sequence[float]) -> tuple[float, float]:
    lo, hi = metric.domain
    if values:
        lo, hi = min(lo, min(values)), max(hi, max(values))
    pad = (hi - lo) * 0.04 or 1.0
    ticks = nice_ticks(lo - pad, hi + pad)
    return min(ticks[0], lo - pad), max(ticks[-1], hi + pad)


def _zones_and_limits(
    metric: Metric, x: _Scale, top: float, bottom: float, *, labels: bool
) -> list[str]:
    out: list[str] = []
    for zone in metric.zones:
        a = x(zone.lo if zone.lo is not None else x.lo)
        b = x(zone.hi if zone.hi is not None else x.hi)
        if b - a < 0.5:
            continue
        out.append(
            f'<rect class="zone zone-{zone.kind}" x="{a:.1f}" y="{top:.1f}" '
            f'width="{b - a:.1f}" height="{bottom - top:.1f}" fill="{ZONE_FILL[zone.kind]}">'
            f"<title>{esc(zone.label)}</title></rect>"
        )
    for limit in metric.limits:
        if not x.lo <= limit.value <= x.hi:
            continue
        lx = x(limit.value)
        color = {"bad": BAD, "warn": WARN, "ok": OK}.get(limit.kind, NEUTRAL)
        out.append(
            f'<line class="limit" x1="{lx:.1f}" y1="{top - 4:.1f}" x2="{lx:.1f}" '
            f'y2="{bottom:.1f}" stroke="{color}" stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
        if labels:
            out.append(
                f'<text x="{lx:.1f}" y="{top - 7:.1f}" text-anchor="middle" font-size="10.5" '
                f'fill="{color}" font-weight="600">{esc(limit.label)}</text>'
            )
    return out


def _axis(x: _Scale, y: float, unit: str, top: float) -> list[str]:
    out = [f'<line x1="{x.x0:.1f}" y1="{y:.1f}" x2="{x.x1:.1f}" y2="{y:.1f}" stroke="{NEUTRAL}"/>']
    for t in nice_ticks(x.lo, x.hi):
        tx = x(t)
        out.append(
            f'<line x1="{tx:.1f}" y1="{top:.1f}" x2="{tx:.1f}" y2="{y:.1f}" stroke="{GRID}" '
            'stroke-width="0.6"/>'
        )
        out.append(
            f'<text x="{tx:.1f}" y="{y + 14:.1f}" text-anchor="middle" font-size="10.5" '
            f'fill="{NEUTRAL}">{esc(fmt(t))}</text>'
        )
    out.append(
        f'<text x="{x.x1:.1f}" y="{y + 28:.1f}" text-anchor="end" font-size="10.5" '
        f'fill="{NEUTRAL}">{esc(unit)}</text>'
    )
    return out


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def strip_chart(
    metric: Metric, points: Sequence[Point], rows: Sequence[str], *, width: int = 560
) -> str:
    """A dot strip per voice (one row each): every clip a dot, coloured by the zone it is in,
    over the profile's limit bands."""
    label_w, right, top = 132.0, 14.0, 30.0
    row_h = 17.0
    height = top + row_h * max(1, len(rows)) + 36
    bottom = top + row_h * max(1, len(rows))
    lo, hi = _domain(metric, [p.value for p in points])
    x = _Scale(lo, hi, label_w, width - right)
    parts = _zones_and_limits(metric, x, top, bottom, labels=True)
    parts += _axis(x, bottom, metric.unit, top)
    index = {r: i for i, r in enumerate(rows)}
    for i, row in enumerate(rows):
        cy = top + row_h * (i + 0.5)
        if i % 2:
            parts.insert(
                0,
                f'<rect x="0" y="{cy - row_h / 2:.1f}" width="{width}" height="{row_h}" '
                'fill="#f6f8fa"/>',
            )
        parts.append(
            f'<text x="{label_w - 8:.1f}" y="{cy + 3.5:.1f}" text-anchor="end" font-size="11" '
            f'fill="#24292f"><title>{esc(row)}</title>{esc(_short(row, 20))}</text>'
        )
    for p in points:
        at = index.get(p.row)
        if at is None:
            continue
        verdict = metric.verdict(p.value)
        cy = top + row_h * (at + 0.5)
        parts.append(
            f'<circle class="pt pt-{verdict}" cx="{x(p.value):.1f}" cy="{cy:.1f}" r="3.6" '
            f'fill="{POINT[verdict]}" fill-opacity="0.8" stroke="#fff" stroke-width="0.6">'
            f"<title>{esc(p.label)}: {esc(fmt(round(p.value, 2)))} {esc(metric.unit)}</title>"
            "</circle>"
        )
    return _svg(metric.key, width, height, parts, f"{metric.title} per clip")


def histogram(metric: Metric, points: Sequence[Point], *, width: int = 560, bins: int = 36) -> str:
    """The distribution of all clips (for batches too large for one row per voice)."""
    left, right, top, height = 44.0, 14.0, 30.0, 210.0
    bottom = height - 36
    values = [p.value for p in points]
    lo, hi = _domain(metric, values)
    x = _Scale(lo, hi, left, width - right)
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins)))] += 1
    peak = max(counts, default=0) or 1
    parts = _zones_and_limits(metric, x, top, bottom, labels=True)
    parts += _axis(x, bottom, metric.unit, top)
    bw = (x.x1 - x.x0) / bins
    for i, n in enumerate(counts):
        if not n:
            continue
        center = lo + (i + 0.5) * (hi - lo) / bins
        verdict = metric.verdict(center)
        h = (bottom - top) * n / peak
        parts.append(
            f'<rect class="bar pt-{verdict}" x="{x.x0 + i * bw + 0.5:.1f}" y="{bottom - h:.1f}" '
            f'width="{max(0.5, bw - 1):.1f}" height="{h:.1f}" fill="{POINT[verdict]}" '
            f'fill-opacity="0.8"><title>{n} clips around {esc(fmt(round(center, 1)))} '
            f"{esc(metric.unit)}</title></rect>"
        )
    parts.append(
        f'<text x="{left - 6:.1f}" y="{top + 4:.1f}" text-anchor="end" font-size="10.5" '
        f'fill="{NEUTRAL}">{peak}</text>'
    )
    return _svg(metric.key, width, int(height), parts, f"{metric.title}: distribution of clips")


def _svg(key: str, width: int, height: float, parts: Sequence[str], label: str) -> str:
    return (
        f'<svg class="chart chart-{esc(key)}" data-chart="{esc(key)}" role="img" '
        f'aria-label="{esc(label)}" viewBox="0 0 {width} {height:.0f}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" style="{FONT}" '
        'xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>"
    )


# --- timelines -----------------------------------------------------------------------------

#: Fill per ledger stage: blues for our own steps, amber while the provider works.
STAGE_FILL: Final = {
    "prepared": "#c8d1da",
    "creating": "#9ecbff",
    "created": "#79b8ff",
    "uploaded": "#388bfd",
    "submitting": "#1f6feb",
    "submitted": "#e3b341",
    "done": "#8c959f",
}
STATUS_FILL: Final = {
    "succeeded": OK,
    "failed": BAD,
    "needs_attention": WARN,
    "rejected": "#8250df",
    "pending": "#0969da",
    "deferred": DEFERRED,
    "ready": "#0a7ea4",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One stretch of a voice's timeline in one stage."""

    stage: str
    start: float  #: Unix time
    end: float
    carried: bool = False  #: the state the voice was already in when the window opened
    detail: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Lane:
    """One voice's row in the timeline chart."""

    voice: str
    segments: tuple[Segment, ...]
    end_status: str | None  #: the terminal status reached inside the window, else None
    end_at: float | None


def _duration_label(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _time_ticks(span: float) -> tuple[list[float], str, float]:
    """Tick offsets (seconds) over ``span`` with a unit that reads well."""
    for unit, div in (("s", 1.0), ("min", 60.0), ("h", 3600.0), ("d", 86400.0)):
        if span / div <= 90 or unit == "d":
            return [t * div for t in nice_ticks(0.0, span / div, 8)], unit, div
    raise AssertionError("unreachable")


def timeline_chart(
    lanes: Sequence[Lane],
    start: float,
    end: float,
    *,
    width: int = 1120,
    origin: str = "since the run started",
) -> str:
    """A Gantt chart: one lane per voice, one bar per stage, the terminal status as a marker."""
    label_w, right, top, row_h = 160.0, 18.0, 12.0, 20.0
    bottom = top + row_h * max(1, len(lanes))
    height = bottom + 34
    span = max(end - start, 1e-3)
    x = _Scale(0.0, span, label_w, width - right)
    ticks, unit, div = _time_ticks(span)
    parts: list[str] = []
    for i, _lane in enumerate(lanes):
        if i % 2:
            y = top + row_h * i
            parts.append(
                f'<rect x="0" y="{y:.1f}" width="{width}" height="{row_h}" fill="#f6f8fa"/>'
            )
    for t in ticks:
        tx = x(t)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top:.1f}" x2="{tx:.1f}" y2="{bottom:.1f}" '
            f'stroke="{GRID}" stroke-width="0.6"/>'
            f'<text x="{tx:.1f}" y="{bottom + 14:.1f}" text-anchor="middle" font-size="10.5" '
            f'fill="{NEUTRAL}">{esc(fmt(t / div))}</text>'
        )
    parts.append(
        f'<line x1="{x.x0:.1f}" y1="{bottom:.1f}" x2="{x.x1:.1f}" y2="{bottom:.1f}" '
        f'stroke="{NEUTRAL}"/><text x="{x.x1:.1f}" y="{bottom + 28:.1f}" text-anchor="end" '
        f'font-size="10.5" fill="{NEUTRAL}">{esc(unit)} {esc(origin)}</text>'
    )
    for i, lane in enumerate(lanes):
        y = top + row_h * i
        parts.append(
            f'<text x="{label_w - 8:.1f}" y="{y + row_h / 2 + 3.5:.1f}" text-anchor="end" '
            f'font-size="11" fill="#24292f"><title>{esc(lane.voice)}</title>'
            f"{esc(_short(lane.voice, 24))}</text>"
        )
        for seg in lane.segments:
            a, b = x(seg.start - start), x(seg.end - start)
            if seg.stage == "preflight":
                mid = y + row_h / 2
                parts.append(
                    f'<line class="seg-preflight" x1="{a:.1f}" y1="{mid:.1f}" x2="{b:.1f}" '
                    f'y2="{mid:.1f}" stroke="#8c959f" stroke-width="1.5" stroke-dasharray="1.5 2.5">'
                    f"<title>{esc(lane.voice)} — pre-flight: validate, normalize, pair "
                    f"({_duration_label(seg.end - seg.start)})</title></line>"
                )
                continue
            w = max(b - a, 1.5)
            tip = f"{seg.stage}: {_duration_label(seg.end - seg.start)}"
            if seg.carried:
                tip = f"{seg.stage} since before this run"
            if seg.detail:
                tip += f" ({seg.detail})"
            opacity = "0.35" if seg.carried else "1"
            parts.append(
                f'<rect class="seg seg-{esc(seg.stage)}" x="{a:.1f}" y="{y + 4:.1f}" '
                f'width="{w:.1f}" height="{row_h - 8:.1f}" rx="2" '
                f'fill="{STAGE_FILL.get(seg.stage, NEUTRAL)}" fill-opacity="{opacity}">'
                f"<title>{esc(lane.voice)} — {esc(tip)}</title></rect>"
            )
        if lane.end_status is not None and lane.end_at is not None:
            cx, cy = x(lane.end_at - start), y + row_h / 2
            fill = STATUS_FILL.get(lane.end_status, NEUTRAL)
            parts.append(
                f'<circle class="end end-{esc(lane.end_status)}" cx="{cx:.1f}" cy="{cy:.1f}" '
                f'r="5.5" fill="{fill}" stroke="#fff" stroke-width="1.5">'
                f"<title>{esc(lane.voice)}: {esc(lane.end_status)}</title></circle>"
            )
    return (
        f'<svg class="chart chart-timeline" data-chart="timeline" role="img" '
        f'aria-label="Stage timeline per voice" viewBox="0 0 {width} {height:.0f}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" style="{FONT}" '
        'xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>"
    )


def status_bar(counts: Sequence[tuple[str, int]], *, width: int = 1120) -> str:
    """One horizontal bar split by voice status (the batch at a glance)."""
    total = sum(n for _, n in counts) or 1
    parts: list[str] = []
    x0 = 0.0
    for status, n in counts:
        if not n:
            continue
        w = width * n / total
        parts.append(
            f'<rect class="sb sb-{esc(status)}" x="{x0:.2f}" y="0" width="{w:.2f}" height="14" '
            f'fill="{STATUS_FILL.get(status, NEUTRAL)}"><title>{n} {esc(status)}</title></rect>'
        )
        x0 += w
    return (
        f'<svg class="status-bar" viewBox="0 0 {width} 14" width="100%" height="14" '
        'preserveAspectRatio="none" role="img" aria-label="voices by status" '
        'xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>"
    )
