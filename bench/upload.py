"""Benchmark 2: upload throughput to pre-signed URLs against ``curl --parallel``.

32 incompressible files of 16 MiB (the size of a basic voice's package) go to pre-signed PUT
URLs of the emulator's OBS-like object store, which runs in a process of its own; both
contenders send ``Content-Type: application/zip`` (the URLs are signed for it) with an exact
Content-Length, 8 transfers at a time (our default ``[limits] uploads``):

- ours: ``HttpClient.put_file`` (one aiohttp session, file streamed from disk) under a
  CapacityLimiter, as the Huawei provider uploads packages; timed from the first request to
  the last response, in a process of its own (``python -m bench.upload --put …``).
- anchor: ``curl --parallel --parallel-max 8 -T FILE URL …`` (one process, its wall time),
  with ``Expect:`` emptied so curl does not wait for ``100 Continue`` (its fastest form).

Rounds alternate the order; the medians are compared.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Final

import anyio

from bench import corpus
from bench.common import PYTHON, VAR, Result, emulator, median, require_ok, run_measured, skipped
from bench.emulator_proc import CONTENT_TYPE

NAME: Final = "upload"
TITLE: Final = "Uploads: 32 x 16 MiB to pre-signed object-store URLs, 8 at a time"
PARALLEL: Final = 8


def run(rounds: int = 3) -> Result:
    """Measure ours and curl, interleaved; the ratio is ours / curl in MB/s."""
    if shutil.which("curl") is None:
        return skipped(NAME, TITLE, "curl is not installed")
    files = corpus.upload_files(VAR)
    total = sum(f.stat().st_size for f in files)
    corpus.warm(files)
    work = VAR / "runs" / NAME
    work.mkdir(parents=True, exist_ok=True)
    ours_s: list[float] = []
    curl_s: list[float] = []
    ours_cpu: list[float] = []
    curl_cpu: list[float] = []
    with emulator(work / "emulator", urls=len(files)) as emu:
        plan = work / "plan.json"
        plan.write_text(
            json.dumps({"urls": list(emu.urls), "files": [str(f) for f in files]}),
            encoding="utf-8",
        )

        def ours() -> None:
            log = work / "ours.log"
            cmd = [PYTHON, "-m", "bench.upload", "--put", str(plan)]
            measured = run_measured(cmd, log=log)
            require_ok("bench.upload --put", measured, log)
            ours_s.append(float(log.read_text(encoding="utf-8").strip().splitlines()[-1]))
            ours_cpu.append(measured.cpu_s)

        def curl() -> None:
            elapsed, cpu = _curl(work, emu.urls, files)
            curl_s.append(elapsed)
            curl_cpu.append(cpu)

        for r in range(rounds):
            for step in (ours, curl) if r % 2 == 0 else (curl, ours):
                step()
            print(
                f"bench: {NAME}: round {r + 1}: ours {ours_s[-1]:.2f} s, curl {curl_s[-1]:.2f} s",
                flush=True,
            )
    ours_mb = total / median(ours_s) / 1e6
    curl_mb = total / median(curl_s) / 1e6
    ratio = ours_mb / curl_mb
    return Result(
        name=NAME,
        title=TITLE,
        metric="MB/s (median of rounds)",
        ours=round(ours_mb, 1),
        anchor=round(curl_mb, 1),
        anchor_name=f"curl --parallel --parallel-max {PARALLEL}",
        ratio=round(ratio, 3),
        target="ours / curl >= 0.9",
        passed=ratio >= 0.9,
        details={
            "files": len(files),
            "bytes": total,
            "rounds": rounds,
            "ours_s": [round(x, 3) for x in ours_s],
            "curl_s": [round(x, 3) for x in curl_s],
            # Client CPU: on a 2-core machine it is taken from the server (the emulator).
            "ours_cpu_s_with_interpreter_start": [round(x, 2) for x in ours_cpu],
            "curl_cpu_s": [round(x, 2) for x in curl_cpu],
        },
    )


def _curl(work: Path, urls: tuple[str, ...], files: list[Path]) -> tuple[float, float]:
    """curl's wall and CPU seconds for the uploads."""
    config = work / "curl.cfg"
    lines = []
    for url, path in zip(urls, files, strict=True):
        lines += [f'upload-file = "{path}"', f'url = "{url}"', 'output = "/dev/null"']
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cmd = ["curl", "--parallel", "--parallel-max", str(PARALLEL), "--no-progress-meter", "--fail"]
    cmd += ["-H", f"Content-Type: {CONTENT_TYPE}", "-H", "Expect:", "-w", "%{http_code}\\n"]
    cmd += ["-K", str(config)]
    log = work / "curl.log"
    measured = run_measured(cmd, log=log)
    require_ok("curl", measured, log)
    codes = [w for w in log.read_text(encoding="utf-8").split() if w.isdigit() and len(w) == 3]
    if codes != ["200"] * len(files):
        raise RuntimeError(f"curl uploads failed: {sorted(set(codes))}")
    return measured.wall_s, measured.cpu_s


async def _put_all(urls: list[str], files: list[Path]) -> float:
    from pipeline.providers.http import HttpClient, HttpSettings

    limiter = anyio.CapacityLimiter(PARALLEL)
    async with HttpClient(HttpSettings(connections=PARALLEL)) as http:

        async def one(url: str, path: Path) -> None:
            async with limiter:
                await http.put_file(url, path, content_type=CONTENT_TYPE)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for url, path in zip(urls, files, strict=True):
                tg.start_soon(one, url, path)
        return time.perf_counter() - started


def main() -> None:
    """``--put PLAN``: upload the plan's files to its URLs; print the seconds it took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--put", type=Path, required=True)
    args = parser.parse_args()
    plan = json.loads(args.put.read_text(encoding="utf-8"))
    print(anyio.run(_put_all, plan["urls"], [Path(f) for f in plan["files"]]))


if __name__ == "__main__":
    main()
