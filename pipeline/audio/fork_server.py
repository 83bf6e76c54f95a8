"""The fork server the audio workers are forked from: what it preloads and how it starts.

Standard library only, so that a cold ``check`` can start it right after parsing its
arguments (``pipeline.commands._early``), before this process imports anything else: its
imports then run on the other core while this process imports the rest.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Final

__all__ = ["PRELOAD", "start_fork_server"]

#: What the fork server imports before it forks a worker: the jobs (:mod:`.jobs`) and the
#: audio stack with :mod:`.normalize`; ``__main__`` so that the workers inherit the main
#: module instead of each importing it again (for ``python -m pipeline`` multiprocessing
#: skips it).
PRELOAD: Final = ("__main__", "pipeline.audio.jobs", "pipeline.audio.normalize")
#: Set in the fork server's environment when the user did not set it: OpenBLAS then starts
#: no threads of its own at import (the workers use one: see ``_blas``), ~0.06 s of CPU less
#: on the two cores while a cold run starts.
_BLAS_THREADS: Final = ("OPENBLAS_NUM_THREADS", "1")


def start_fork_server() -> bool:
    """Start the fork server that forks the workers, with :data:`PRELOAD`, if it is not
    running; False where there is none (the pool then spawns its workers)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(PRELOAD))
    name, value = _BLAS_THREADS
    added = name not in os.environ
    if added:
        os.environ[name] = value  # the fork server copies the environment as it starts
    try:
        forkserver.ensure_running()
    finally:
        if added:
            os.environ.pop(name, None)
    return True
