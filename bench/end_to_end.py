"""Benchmark 3: end to end, 200 basic voices (4,000 clips) against the emulator.

Three kinds of runs of ``voice-onboard`` over the same inbox (the sample-data generator's mixed
formats: 16-96 kHz, 16-32-bit and float, some stereo), each with fresh state and, where the
network is involved, a fresh emulator in a process of its own:

1. normalization alone: ``check`` (validate, normalize, pair; no network), cold cache;
2. upload alone: ``run --detach`` with every clip already in the cache (hard links to run 1's
   cache): only cache look-ups, packaging and the network stages (create, upload, commit);
3. end to end: ``run --detach`` with a cold cache.

The figure is run 3's wall time over the slower of runs 1 and 2 (each the median of the
rounds, which alternate the order: 1 2 3, 3 2 1): 1.0 would be perfect overlap of the
CPU-bound and the network-bound stages, 2.0 none at all. The network stages
are bound by the provider's quotas (create/commit at 10/s, queries at 20/s: at least 40 s for
200 voices), which the client honours exactly as it would against the real service. Peak
memory is that of the whole process tree (the CLI, its fork server and audio workers).

On a machine with few cores the end-to-end run is CPU-bound: its wall time cannot drop below
all the CPU work on the machine (ours plus the emulator's) divided by the cores. The details
report that floor (``cpu_bound``) and how close the run came to it (overlap efficiency 1.0 =
the stages overlapped perfectly).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Final

from bench import corpus
from bench.common import (
    CLI,
    VAR,
    Measured,
    Result,
    cli_env,
    emulator,
    huawei_job,
    median,
    require_ok,
    run_measured,
)

NAME: Final = "end_to_end"
TITLE: Final = "End to end: 200 basic voices (4,000 clips), emulator, run --detach"
MAX_RATIO: Final = 1.3
MAX_RSS_MB: Final = 400.0


def _summary(state: Path) -> dict[str, int]:
    latest = state / "var" / "manifests" / "bench-latest.json"
    document = json.loads(latest.read_text(encoding="utf-8"))
    summary: dict[str, int] = document["summary"]
    return summary


def _measure(label: str, cmd: list[str], work: Path) -> Measured:
    log = work / f"{label}.log"
    measured = run_measured(cmd, env=cli_env(), log=log)
    require_ok(f"voice-onboard ({label})", measured, log)
    print(
        f"bench: {NAME}: {label}: {measured.wall_s:.1f} s wall, {measured.cpu_s:.1f} s CPU, "
        f"peak {measured.peak_tree_rss_mb:.0f} MB RSS / {measured.peak_tree_pss_mb:.0f} MB PSS",
        flush=True,
    )
    return measured


def run(rounds: int = 3) -> Result:
    """The three runs, ``rounds`` times in alternating order; the ratio is the median
    end-to-end wall time over the slower of the median single stages."""
    inbox = corpus.e2e_inbox(VAR)
    clips = corpus.clips_of(inbox)
    seconds = corpus.audio_seconds(clips)
    corpus.warm([p for p in inbox.rglob("*") if p.is_file()])
    work = VAR / "runs" / NAME
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    runs: dict[str, list[Measured]] = {"normalize": [], "upload": [], "e2e": []}
    emulator_cpu: dict[str, list[float]] = {"upload": [], "e2e": []}
    warm_cache: list[Path] = []  # the cache of the latest cold run, complete

    def normalize() -> None:
        job = huawei_job(work / "normalize", inbox=inbox, endpoint="emulator")
        runs["normalize"].append(_measure("normalization alone", [CLI, "check", str(job)], work))
        warm_cache.append(work / "normalize" / "var" / "cache")

    def upload() -> None:
        with emulator(work / "emulator") as emu:
            job = huawei_job(work / "upload", inbox=inbox, endpoint=emu.base_url)
            shutil.copytree(
                warm_cache[-1], work / "upload" / "var" / "cache", copy_function=os.link
            )
            runs["upload"].append(
                _measure("upload alone", [CLI, "run", "--detach", str(job)], work)
            )
            emulator_cpu["upload"].append(emu.cpu_s())

    def end_to_end() -> None:
        with emulator(work / "emulator") as emu:
            job = huawei_job(work / "e2e", inbox=inbox, endpoint=emu.base_url)
            runs["e2e"].append(_measure("end to end", [CLI, "run", "--detach", str(job)], work))
            emulator_cpu["e2e"].append(emu.cpu_s())
        summary = _summary(work / "e2e")
        if summary.get("pending") != corpus.E2E_VOICES:
            raise RuntimeError(f"end to end: not every voice was submitted: {summary}")
        warm_cache.append(work / "e2e" / "var" / "cache")

    for r in range(rounds):
        for step in (
            (normalize, upload, end_to_end) if r % 2 == 0 else (end_to_end, upload, normalize)
        ):
            step()

    norm_s = median([m.wall_s for m in runs["normalize"]])
    net_s = median([m.wall_s for m in runs["upload"]])
    e2e_s = median([m.wall_s for m in runs["e2e"]])
    slower = max(norm_s, net_s)
    ratio = e2e_s / slower
    peak = max(m.peak_tree_rss_mb for m in runs["e2e"])
    # What the cores allow: the end-to-end run cannot finish before all the CPU work on this
    # machine (ours and the emulator's, which stands in for the remote service but runs on
    # the same cores) is spread over every core.
    cores = os.cpu_count() or 1
    cpu_floor_s = median(
        [(m.cpu_s + emu) / cores for m, emu in zip(runs["e2e"], emulator_cpu["e2e"], strict=True)]
    )
    passed = ratio <= MAX_RATIO and peak < MAX_RSS_MB
    summary = _summary(work / "e2e")
    for stage in ("normalize", "upload", "e2e"):
        shutil.rmtree(work / stage / "var" / "cache", ignore_errors=True)
        shutil.rmtree(work / stage / "var" / "packages", ignore_errors=True)
    return Result(
        name=NAME,
        title=TITLE,
        metric="wall seconds (median of rounds)",
        ours=round(e2e_s, 1),
        anchor=round(slower, 1),
        anchor_name="the slower single stage (normalization alone or upload alone)",
        ratio=round(ratio, 3),
        target=f"end to end / slower stage <= {MAX_RATIO}; peak RSS < {MAX_RSS_MB:.0f} MB",
        passed=passed,
        details={
            "voices": corpus.E2E_VOICES,
            "clips": len(clips),
            "audio_seconds": round(seconds, 1),
            "rounds": rounds,
            "end_to_end": [_figures(m) for m in runs["e2e"]],
            "normalization_alone": [_figures(m) for m in runs["normalize"]],
            "upload_alone": [_figures(m) for m in runs["upload"]],
            "end_to_end_peak_rss_mb": round(peak, 1),
            "end_to_end_audio_s_per_s": round(seconds / e2e_s, 1),
            "emulator_cpu_s": {k: [round(x, 2) for x in v] for k, v in emulator_cpu.items()},
            "cpu_bound": {
                "cores": cores,
                "end_to_end_floor_s": round(cpu_floor_s, 1),
                "ratio_floor": round(cpu_floor_s / slower, 3),
                "overlap_efficiency": round(cpu_floor_s / e2e_s, 3),
            },
            "manifest_summary": summary,
        },
    )


def _figures(m: Measured) -> dict[str, float]:
    return {
        "wall_s": round(m.wall_s, 2),
        "cpu_s": round(m.cpu_s, 2),
        "peak_rss_mb": round(m.peak_tree_rss_mb, 1),
        "peak_pss_mb": round(m.peak_tree_pss_mb, 1),
        "max_single_process_rss_mb": round(m.max_single_rss_mb, 1),
    }
