"""Benchmark 4: one 2-hour recording (48 kHz, 24-bit, stereo: 2.07 GB) through the advance
profile, against sox converting the same file.

- ours: ``voice-onboard run --detach`` with ``edition = "advance"`` against the emulator
  (in a process of its own), cold cache: hash the source, measure it, normalize it to 48 kHz
  mono PCM16 (two block-wise passes: the file is far past the in-memory limit), join (one
  recording: a hard link), zip, create the job, upload the 690 MB package, commit. Peak memory
  is the whole process tree's (CLI, fork server, audio worker).
- anchor: ``sox -D IN -b 16 -c 1 -r 48000 OUT norm -4.5`` (its ``norm`` keeps the whole
  signal in a temporary file and reads it twice, like our two passes).

Throughput is audio seconds per wall second (x real time).
"""

from __future__ import annotations

import os
import shutil
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
    require_ok,
    run_measured,
)

NAME: Final = "long_recording"
TITLE: Final = "Long recording: 119 min, 48 kHz 24-bit stereo, advance profile, run --detach"
MIN_SPEED: Final = 200.0
MAX_RSS_MB: Final = 300.0


def run() -> Result:
    """Ours (the whole run) and sox (the conversion), one after the other."""
    inbox = corpus.long_inbox(VAR)
    recording = next(inbox.glob("*/*.wav"))
    seconds = corpus.audio_seconds([recording])
    corpus.warm([recording])
    work = VAR / "runs" / NAME
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    with emulator(work / "emulator") as emu:
        job = huawei_job(work / "ours", inbox=inbox, endpoint=emu.base_url, edition="advance")
        log = work / "ours.log"
        ours = run_measured([CLI, "run", "--detach", str(job)], env=cli_env(), log=log)
        require_ok("voice-onboard run (advance)", ours, log)
    shutil.rmtree(work / "ours" / "var" / "cache", ignore_errors=True)
    shutil.rmtree(work / "ours" / "var" / "packages", ignore_errors=True)

    sox: Measured | None = None
    if shutil.which("sox") is not None:
        env = dict(os.environ, TMPDIR=str(work))  # sox's norm spills the signal to a temp file
        out = work / "sox.wav"
        cmd = ["sox", "-D", "-V1", str(recording), "-b", "16", "-c", "1", "-r", "48000"]
        sox = run_measured([*cmd, str(out), "norm", "-4.5"], env=env, log=work / "sox.log")
        require_ok("sox", sox, work / "sox.log")
        out.unlink(missing_ok=True)

    speed = seconds / ours.wall_s
    sox_speed = seconds / sox.wall_s if sox is not None else None
    passed = speed >= MIN_SPEED and ours.peak_tree_rss_mb < MAX_RSS_MB
    print(
        f"bench: {NAME}: ours {speed:.0f}x real time, peak {ours.peak_tree_rss_mb:.0f} MB; "
        + (f"sox {sox_speed:.0f}x" if sox_speed else "sox not installed"),
        flush=True,
    )
    details: dict[str, object] = {
        "audio_seconds": round(seconds, 1),
        "source_bytes": recording.stat().st_size,
        "ours_wall_s": round(ours.wall_s, 2),
        "ours_cpu_s": round(ours.cpu_s, 2),
        "ours_peak_rss_mb": round(ours.peak_tree_rss_mb, 1),
        "ours_peak_pss_mb": round(ours.peak_tree_pss_mb, 1),
        "ours_max_single_process_rss_mb": round(ours.max_single_rss_mb, 1),
    }
    if sox is not None:
        details |= {
            "sox_wall_s": round(sox.wall_s, 2),
            "sox_cpu_s": round(sox.cpu_s, 2),
            "sox_peak_rss_mb": round(sox.peak_tree_rss_mb, 1),
        }
    return Result(
        name=NAME,
        title=TITLE,
        metric="x real time (audio seconds per wall second)",
        ours=round(speed, 1),
        anchor=round(sox_speed, 1) if sox_speed else None,
        anchor_name="sox -D ... norm -4.5 (conversion only)",
        ratio=round(speed / sox_speed, 3) if sox_speed else None,
        target=f">= {MIN_SPEED:.0f}x real time and peak RSS < {MAX_RSS_MB:.0f} MB",
        passed=passed,
        details=details,
    )
