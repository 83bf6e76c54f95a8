"""The report's audio section: the batch's clip measurements charted over the profile's limits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Final

from pipeline.audio.profiles import AudioProfile
from pipeline.report import svg
from pipeline.report.facts import ClipFigures
from pipeline.report.svg import Limit, Metric, Point, Zone, esc

#: Voices past this count are charted as one histogram per metric instead of one row each.
MAX_STRIP_ROWS: Final = 40


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
