"""The ``voice-onboard`` console script (and ``python -m pipeline``): start-up, then the CLI.

Kept apart from :mod:`.cli` so that the first thing the process does, before it imports the
parser, the runner and everything they need, is to start the audio workers' fork server for
a cold run (:mod:`._early`): its own imports (NumPy, libsndfile, soxr) then run on the other
core from the start.
"""

from __future__ import annotations

import sys

from pipeline.commands._early import start_from_argv


def main() -> int:
    """Entry point of ``voice-onboard``: :func:`pipeline.commands.cli.main` on ``sys.argv``."""
    start_from_argv(sys.argv[1:])
    from pipeline.commands.cli import main as cli_main

    return cli_main()
