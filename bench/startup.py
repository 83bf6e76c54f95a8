"""Start-up: ``voice-onboard --help`` as a whole process, against what it loaded before the
layered spine (the CLI plus the emulator and ``aiohttp.web``, which every command imported for
the emulator's help text), in the same run; and the ``-X importtime`` check that no emulator
module and no ``aiohttp.web`` is imported."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Final

from bench.common import Result

NAME: Final = "startup"
TITLE: Final = "voice-onboard --help (whole process)"
ROUNDS: Final = 9
#: Today's --help, with the imports the pre-spine CLI made on top (measured in the same run).
_BEFORE: Final = (
    "import pipeline.emulator.server, aiohttp.web, sys; "
    "from pipeline.commands.cli import main; sys.exit(main(['--help']))"
)


def _wall(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _imported(argv: list[str]) -> list[str]:
    """Modules ``-X importtime`` reports for the command."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line]


def run() -> Result:
    """Median wall time of both, interleaved round by round (the machine is shared)."""
    ours_argv = [sys.executable, "-m", "pipeline", "--help"]
    before_argv = [sys.executable, "-c", _BEFORE]
    _wall(ours_argv)  # warm the page cache and .pyc files for both
    _wall(before_argv)
    ours: list[float] = []
    before: list[float] = []
    for _ in range(ROUNDS):
        ours.append(_wall(ours_argv))
        before.append(_wall(before_argv))
    modules = _imported(["-m", "pipeline", "--help"])
    unwanted = [m for m in modules if m.startswith("pipeline.emulator") or m == "aiohttp.web"]
    o, b = statistics.median(ours), statistics.median(before)
    ratio = b / o
    return Result(
        name=NAME,
        title=TITLE,
        metric="seconds (median of 9)",
        ours=o,
        anchor=b,
        anchor_name="pre-spine imports",
        ratio=ratio,
        target=">= 2x faster; no pipeline.emulator / aiohttp.web imported",
        passed=ratio >= 2.0 and not unwanted,
        details={"modules_imported": len(modules), "unwanted_imports": unwanted},
    )
