"""The audio workers' fork server, started as soon as a cold ``check`` or ``run`` is parsed.

Before it can fork the first worker, the fork server imports the audio stack (NumPy,
libsndfile, soxr: ~0.15 s of CPU). Started by the run itself
(``pipeline.stages.stream.workers_started_early``), it began only after this process had
imported the runner, the report and the ledger and discovered the inbox: 0.28 s into a cold
``check`` of 200 clips, measured here, with the workers busy from 0.46 s. Started from here,
right after the arguments are parsed (~0.06 s), its imports run on the other core while
this process imports the rest, and the workers are ready when the first clip is.

Only the fork server starts here, never a worker: the run's own early start makes the pool
(forking is then a matter of milliseconds), under the same condition as here: the cache holds
no stat identity yet, so every recording will be normalized. A re-run over unchanged input
(the identity index exists) starts nothing. Best effort and silent: a job file this cannot
read is left to ``load_job`` to report, with the exit code it deserves.

This reads the job file's ``[batch] state_dir`` itself rather than through
:func:`pipeline.config.load_job`, whose imports (the audio profiles pull in NumPy) are the
very cost being overlapped; ``tests/unit/test_commands_early.py`` checks that both name the
same folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Final

#: Commands whose first run normalizes every recording.
_COMMANDS: Final = frozenset({"check", "run"})


def identity_index(job: Path) -> Path | None:
    """The cache's identity index of ``job``'s batch (``<state_dir>/cache/identity``), or
    None when the job file cannot be read for it."""
    import tomllib  # here, not at the top: --help and --version import this module

    try:
        data = tomllib.loads(job.read_text(encoding="utf-8"))
        state = data["batch"]["state_dir"]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return None
    if not isinstance(state, str):
        return None
    try:
        return (job.parent / state).resolve() / "cache" / "identity"
    except (OSError, RuntimeError, ValueError):
        return None


#: Options of ``check`` and ``run`` that take values (``--voices a b``): what follows them is
#: not the job file. Every other option is a flag.
_VALUED: Final = frozenset({"--voices"})


def command_and_job(argv: Sequence[str]) -> tuple[str | None, Path | None]:
    """The subcommand and its job file as argparse will read them from ``argv``, for the
    commands that can start the fork server; (None, None) when in doubt.

    A cheap look at the words, before the parser and the imports it needs: only the
    global flags (``--log-json``, ``-v``) may come before the command, and the job file is
    the first word after it that is neither a flag nor a value of ``--voices``. Where this
    reads ``argv`` otherwise than argparse does, the fork server is started for a run that
    fails to parse (it exits with this process) or not early (the run starts it itself).
    """
    words = iter(argv)
    command = next((w for w in words if not w.startswith("-")), None)
    if command not in _COMMANDS:
        return None, None
    taking = False
    for word in words:
        if word == "--":
            break
        if word.startswith("-"):
            taking = word.split("=", 1)[0] in _VALUED and "=" not in word
            continue
        if not taking:
            return command, Path(word)
    return None, None


def start_from_argv(argv: Sequence[str]) -> bool:
    """:func:`start_fork_server` for the command line ``argv`` (:func:`command_and_job`):
    the first thing ``voice-onboard`` does, before it imports its parser."""
    return start_fork_server(*command_and_job(argv))


def start_fork_server(command: str | None, job: Path | None) -> bool:
    """Start the fork server when ``command`` on ``job`` is a cold run; True when started."""
    if command not in _COMMANDS or job is None:
        return False
    index = identity_index(job)
    if index is None or index.is_dir():
        return False
    from pipeline.audio.fork_server import start_fork_server as start

    with contextlib.suppress(Exception):  # best effort: the pool starts it on first use
        return start()
    return False
