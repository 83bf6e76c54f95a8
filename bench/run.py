"""``python -m bench.run`` (``make bench``): every benchmark, a table, ``var/bench/results.json``.

Corpora are generated into ``var/bench/`` on the first run and reused. A benchmark whose
anchor tool is missing is skipped with a message; one that fails to run is recorded as an
error and the others still run. The exit code is 0 when every benchmark that ran met its
target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from bench import (
    command,
    content,
    end_to_end,
    long_recording,
    normalization,
    polling,
    startup,
    upload,
)
from bench.common import VAR, Result, failed, machine_info

RESULTS: Final = VAR / "results.json"
ORDER: Final = (
    "startup",
    "command",
    "normalization",
    "upload",
    "end_to_end",
    "long_recording",
    "polling",
    "content",
)


def _runners(rounds: int) -> dict[str, Callable[[], Result | list[Result]]]:
    return {
        # The whole command: cold and warm check against sox, --help, and the per-format
        # table (one row each).
        "command": lambda: command.run(max(1, rounds)),
        "normalization": lambda: normalization.run(rounds),
        # A round of uploads is about a second each way, so one burst of other work on the
        # shared machine swings a whole round: more of them for a steadier median.
        "upload": lambda: upload.run(2 * rounds + 1),
        # Three rounds, not two: the median of two is their mean, and one round slowed by
        # other work on the machine moved the ratio by 0.1.
        "end_to_end": lambda: end_to_end.run(max(1, rounds)),
        "long_recording": long_recording.run,
        "polling": polling.run,
        "startup": startup.run,
        "content": content.run,
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def table(results: list[dict[str, object]]) -> str:
    """The results (``Result.as_json()`` dicts) as a Markdown table for the README."""
    lines = [
        "| benchmark | metric | ours | anchor | ratio | target | result |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        passed = r.get("passed")
        verdict = "pass" if passed is True else "FAIL" if passed is False else "skipped"
        if r.get("note"):
            verdict += f" ({r['note']})"
        anchor = _fmt(_num(r.get("anchor")))
        if r.get("anchor_name"):
            anchor += f" ({r['anchor_name']})"
        lines.append(
            f"| {r.get('name')} | {r.get('metric')} | {_fmt(_num(r.get('ours')))} | {anchor} "
            f"| {_fmt(_num(r.get('ratio')))} | {r.get('target')} | {verdict} |"
        )
    return "\n".join(lines)


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def main() -> int:
    """Run the selected benchmarks; write results.json; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default=",".join(ORDER), help=f"comma-separated subset of {', '.join(ORDER)}"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the interleaved ones")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(ORDER))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    VAR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    document: dict[str, object] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
    }
    runners = _runners(args.rounds)
    results: list[Result] = []
    for name in ORDER:
        if name not in chosen:
            continue
        print(f"bench: {name} ...", flush=True)
        t0 = time.perf_counter()
        rows: list[Result]
        try:
            outcome = runners[name]()
            rows = outcome if isinstance(outcome, list) else [outcome]
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not stop the rest
            traceback.print_exc()
            rows = [failed(name, exc)]
        rows[0].details["bench_seconds"] = round(time.perf_counter() - t0, 1)
        results.extend(rows)
    machine = document["machine"]
    assert isinstance(machine, dict)
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    document["total_seconds"] = round(time.perf_counter() - started, 1)
    document["benchmarks"] = [r.as_json() for r in results]
    _merge(RESULTS, document, chosen)
    benchmarks = document["benchmarks"]
    assert isinstance(benchmarks, list)
    document["all_passed"] = all(b.get("passed") is not False for b in benchmarks)
    document["table_markdown"] = table(benchmarks)
    tmp = RESULTS.with_name(RESULTS.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, RESULTS)
    print()
    print(
        f"machine: {machine['nproc']} x {machine['cpu_model']}, {machine['memory_gb']} GB, "
        f"Python {machine['python']}; load average {machine['load_average_at_start']} at "
        f"start, {machine['load_average_at_end']} at end"
    )
    print(document["table_markdown"])
    print(f"\n{RESULTS} written in {document['total_seconds']} s")
    return 0 if document["all_passed"] else 1


def _merge(path: Path, document: dict[str, object], chosen: list[str]) -> None:
    """With ``--only``, keep the other benchmarks' latest results from ``path``."""
    if set(chosen) == set(ORDER) or not path.exists():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        kept = [b for b in previous.get("benchmarks", []) if b.get("name") not in chosen]
    except (OSError, ValueError, AttributeError):
        kept = []
    current = document["benchmarks"]
    assert isinstance(current, list)
    merged = kept + current
    merged.sort(key=lambda b: ORDER.index(b["name"]) if b.get("name") in ORDER else len(ORDER))
    document["benchmarks"] = merged


if __name__ == "__main__":
    raise SystemExit(main())
