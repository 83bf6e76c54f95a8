"""Benchmark 1: normalization throughput against ``sox`` with the same parallelism.

Both convert the same 400 clips (44.1 kHz stereo 24-bit, 5.8-10 s) to 48 kHz mono PCM16 with
peak normalization, two at a time, from the page cache:

- ours: the pipeline's normalization as the prepare stage runs it
  (``prepare.normalize_clips`` per voice folder: the cache look-ups in a thread, then
  ``normalize()`` on the shared pool of audio worker processes, ``cpu_workers`` = 2 here,
  under a CapacityLimiter), every voice at once (``python -m bench.normalization --drive process``; interpreter and
  worker start-up included, cold cache). Ours does more per clip than sox: it hashes the
  source for the cache, measures the clip twice (BS.1770 loudness, SNR, clipping, DC, edge
  silence, on the input and on the output) and trims or pads the edge silence.
- anchor: ``xargs -P 2 -L 1 sox -D -V1 IN -b 16 -c 1 -r 48000 OUT norm -4.5`` (``-D``: no
  dither, as ours; sox's ``rate`` defaults to its high quality, like our soxr HQ).

Rounds alternate the order (ours, sox, sox, ours, …); the medians are compared. For the
record, once each: the whole ``voice-onboard check`` over the clips (laid out as an inbox:
discovery, transcripts, manifest and report on top), and the same executor with threads
instead of processes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Final

import anyio

from bench import corpus
from bench.common import (
    CLI,
    PYTHON,
    VAR,
    Measured,
    Result,
    cli_env,
    huawei_job,
    median,
    require_ok,
    run_measured,
    skipped,
)

NAME: Final = "normalization"
TITLE: Final = "Normalization: 400 clips 44.1k/24-bit/stereo -> 48k/16-bit/mono, peak-normalized"


def _sox_lines(clips: list[Path], out: Path) -> str:
    return "".join(
        f"{clip} -b 16 -c 1 -r 48000 {out / (clip.parent.name + '-' + clip.name)} norm -4.5\n"
        for clip in clips
    )


def run(rounds: int = 3) -> Result:
    """Measure ours and sox, interleaved; the ratio is ours / sox in audio seconds per second."""
    if shutil.which("sox") is None:
        return skipped(NAME, TITLE, "sox is not installed (make bench installs it via apt-get)")
    if shutil.which("xargs") is None:
        return skipped(NAME, TITLE, "xargs is not installed")
    inbox = corpus.norm_corpus(VAR)
    clips = corpus.clips_of(inbox)
    seconds = corpus.audio_seconds(clips)
    corpus.warm(clips)
    work = VAR / "runs" / NAME
    ours_s: list[float] = []
    sox_s: list[float] = []
    ours_cpu: list[float] = []
    sox_cpu: list[float] = []

    def ours() -> None:
        measured = _driven("process", inbox, work)
        ours_s.append(measured.wall_s)
        ours_cpu.append(measured.cpu_s)

    def sox() -> None:
        out = work / "sox"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        lines = work / "sox-args.txt"
        lines.write_text(_sox_lines(clips, out), encoding="utf-8")
        cmd = ["xargs", "-P", "2", "-L", "1", "-a", str(lines), "sox", "-D", "-V1"]
        measured = run_measured(cmd, log=work / "sox.log")
        require_ok("xargs sox", measured, work / "sox.log")
        if len(list(out.iterdir())) != len(clips):
            raise RuntimeError("sox did not write every clip")
        sox_s.append(measured.wall_s)
        sox_cpu.append(measured.cpu_s)

    work.mkdir(parents=True, exist_ok=True)
    for r in range(rounds):
        for step in (ours, sox) if r % 2 == 0 else (sox, ours):
            step()
        print(
            f"bench: {NAME}: round {r + 1}: ours {ours_s[-1]:.2f} s, sox {sox_s[-1]:.2f} s",
            flush=True,
        )
    threads = _driven("thread", inbox, work).wall_s
    job = huawei_job(work / "check", inbox=inbox, endpoint="emulator")
    log = work / "check.log"
    check = run_measured([CLI, "check", str(job)], env=cli_env(), log=log)
    require_ok("voice-onboard check", check, log)
    shutil.rmtree(work / "check" / "var" / "cache", ignore_errors=True)
    ours_tp = seconds / median(ours_s)
    sox_tp = seconds / median(sox_s)
    ratio = ours_tp / sox_tp
    shutil.rmtree(work / "sox", ignore_errors=True)
    return Result(
        name=NAME,
        title=TITLE,
        metric="audio seconds per wall second (median of rounds)",
        ours=round(ours_tp, 1),
        anchor=round(sox_tp, 1),
        anchor_name="sox, xargs -P 2",
        ratio=round(ratio, 3),
        target="ours / sox >= 1.0",
        passed=ratio >= 1.0,
        details={
            "clips": len(clips),
            "audio_seconds": round(seconds, 1),
            "rounds": rounds,
            "ours_wall_s": [round(x, 3) for x in ours_s],
            "sox_wall_s": [round(x, 3) for x in sox_s],
            "ours_cpu_s": [round(x, 3) for x in ours_cpu],
            "sox_cpu_s": [round(x, 3) for x in sox_cpu],
            "also_measured_once_audio_s_per_s": {
                "voice-onboard check (the whole pre-flight)": round(seconds / check.wall_s, 1),
                "pipeline executor with threads instead of processes": round(seconds / threads, 1),
            },
        },
    )


def _driven(executor: str, inbox: Path, work: Path) -> Measured:
    """The clips through the pipeline's audio executor in ``executor`` mode, measured."""
    cache = work / f"driven-{executor}"
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [PYTHON, "-m", "bench.normalization", "--drive", executor, str(inbox), str(cache)]
    log = work / f"driven-{executor}.log"
    measured = run_measured(cmd, log=log)
    require_ok(f"bench.normalization --drive {executor}", measured, log)
    shutil.rmtree(cache, ignore_errors=True)
    return measured


async def _drive(executor: str, inbox: Path, cache: Path) -> None:
    from pipeline.audio import PROFILES
    from pipeline.config import Limits
    from pipeline.errors import InputError
    from pipeline.stages.prepare import PrepareContext, normalize_clips

    limits = Limits()
    ctx = PrepareContext(
        profile=PROFILES["huawei-basic"],
        cache_dir=cache,
        limits=limits,
        cpu=anyio.CapacityLimiter(limits.cpu_workers),
        executor="thread" if executor == "thread" else "process",
    )

    refused: list[str] = []

    async def one(clips: list[Path]) -> None:
        named = [(clip, f"{clip.parent.name}/{clip.name}") for clip in clips]
        for result in await normalize_clips(ctx, named):
            if isinstance(result, InputError):
                refused.append(f"{result.file}: {result.message}")

    voices: dict[Path, list[Path]] = {}
    for clip in corpus.clips_of(inbox):
        voices.setdefault(clip.parent, []).append(clip)
    async with anyio.create_task_group() as tg:
        for clips in voices.values():
            tg.start_soon(one, clips)
    if refused:
        raise SystemExit("refused: " + "; ".join(refused))


def main() -> None:
    """``--drive EXECUTOR INBOX CACHE``: normalize an inbox's clips through the executor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drive", choices=("thread", "process"), required=True)
    parser.add_argument("inbox", type=Path)
    parser.add_argument("cache", type=Path)
    args = parser.parse_args()
    anyio.run(_drive, args.drive, args.inbox, args.cache)


if __name__ == "__main__":
    main()
