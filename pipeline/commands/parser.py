"""The ``voice-onboard`` argument parser: every subcommand, its flags and its help.

Building it imports no command's implementation (nor the emulator, nor ``aiohttp.web``), so
``--help`` and every command start fast; :mod:`.cli` dispatches what it parses.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any, Final, NoReturn

from pipeline.commands import doctor, emulator
from pipeline.commands.version import VersionAction
from pipeline.records import VoiceStatus

EXIT_USAGE: Final = 2  #: usage errors (argparse's own code too); cli.EXIT_USAGE is the same

_PROFILES: Final = ("huawei-basic", "huawei-middle", "huawei-advance", "azure-personal")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit 2 (its default is also 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="voice-onboard",
        description="Onboard batches of speakers into cloud voice-training services "
        "(Huawei MetaStudio, Azure personal voice).",
        epilog="Exit codes: 0 all good, 1 some voices rejected/failed/need attention, "
        "2 usage or configuration error, 3 cut short, 75 batch locked by another run.",
    )
    p.add_argument(
        "--version", action=VersionAction, nargs=0, help="the version and provider API versions"
    )
    _global_flags(p, False)
    # Every subcommand takes the global flags too (`run job.toml -v`); SUPPRESS keeps a flag
    # given before the command from being reset by the subcommand's default.
    common = argparse.ArgumentParser(add_help=False)
    _global_flags(common, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add = functools.partial(_subcommand, sub, common)

    c = _add("check", help="pre-flight only: validate, normalize, pair; no network")
    c.add_argument("job", type=Path, help="job file (jobs/*.toml)")
    c.add_argument(
        "--voices", nargs="+", default=[], metavar="KEY", help="only these voices (globs ok)"
    )

    r = _add("run", help="the whole pipeline: create, upload, submit, await, manifest")
    r.add_argument("job", type=Path, help="job file (jobs/*.toml)")
    r.add_argument(
        "--voices",
        nargs="+",
        default=[],
        metavar="KEY",
        help="only these voices (globs ok), e.g. one voice on a first real run",
    )
    r.add_argument("--detach", action="store_true", help="submit and exit; the next run polls")
    r.add_argument(
        "--rebind",
        action="store_true",
        help="the ledger belongs to another endpoint/account: forget its remote jobs (kept in "
        "each voice's history) and send every voice to this job file's endpoint",
    )

    s = _add(
        "status",
        help="what the ledger knows, per voice",
        usage="voice-onboard status JOB [--json] [--status S]... [--voices KEY...] [--events] "
        "[--verify]",
    )
    s.add_argument("job", type=Path, help="job file (jobs/*.toml)")
    s.add_argument("--json", action="store_true", help="JSON instead of a table")
    s.add_argument(
        "--status",
        action="append",
        default=[],
        choices=[str(v) for v in VoiceStatus],
        help="only voices with this status (repeatable)",
    )
    s.add_argument("--voices", nargs="+", default=[], metavar="KEY", help="only these (globs ok)")
    s.add_argument("--events", action="store_true", help="each voice's stage changes too")
    s.add_argument(
        "--verify",
        action="store_true",
        help="first ask the provider (read-only) whether succeeded voices still exist there, "
        "and record the deleted ones as needs_attention (Azure; holds the batch lock)",
    )

    t = _add(
        "retry",
        help="re-queue failed / needs_attention voices after their files were fixed",
        usage="voice-onboard retry JOB --voices KEY [KEY ...] [--force]",
        description="Put failed or needs_attention voices back in the queue; the next `run` "
        "creates a new remote job (the old one is kept in the ledger's history). Voices whose "
        "files did not change are refused unless --force. Exit 0 when every named voice was "
        "re-queued, 1 when some were refused, 75 when a run holds the batch.",
    )
    t.add_argument("job", type=Path, help="job file (jobs/*.toml)")
    t.add_argument(
        "--voices", nargs="+", required=True, metavar="KEY", help="voice keys (globs ok)"
    )
    t.add_argument("--force", action="store_true", help="retry even if the files did not change")

    # Scale-out (pipeline.scaleout): a PostgreSQL ledger shared by workers on many hosts.
    q = _add(
        "enqueue",
        help="scale-out: queue one job per voice still to send (running it again adds nothing)",
        description="Discover the inbox and defer one procrastinate job per voice that has "
        "none waiting or running and was not sent yet. Needs [batch] ledger = "
        '"postgresql://…" or VOICE_ONBOARD_DATABASE_URL. Safe from cron.',
    )
    q.add_argument("job", type=Path, help="job file (jobs/*.toml)")
    w = _add(
        "worker",
        help="scale-out: take voices from the batch's queue and drive them, on any host",
        description="Run a worker for the job's batch: prepare + create/upload/submit one "
        "voice per job, poll the batch in bulk periodically, retry jobs of dead workers. All "
        "workers share one rate limit per provider API. Stops on SIGTERM (exit 0).",
    )
    w.add_argument("job", type=Path, help="job file (jobs/*.toml)")
    w.add_argument("--concurrency", type=int, default=8, help="voices at once (default 8)")
    w.add_argument(
        "--until-done",
        action="store_true",
        help="exit once no voice of the batch is queued, running or awaiting the provider "
        "(0; 1 when some voices stopped before submission)",
    )
    w.add_argument(
        "--heartbeat",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="worker heartbeat; a worker silent for 3 heartbeats is dead (default 10)",
    )
    m = _add("manifest", help="write the batch's manifest from its ledger (no inbox, no network)")
    m.add_argument("job", type=Path, help="job file (jobs/*.toml)")

    emulator.add_parser(sub, common)
    doctor.add_parser(sub, common)

    sc = _add(
        "schema",
        help="print the JSON Schema of a job file or voice.toml (for TOML editors)",
    )
    sc.add_argument("which", choices=("job", "voice"), help="which file's schema")
    sc.add_argument("--markdown", action="store_true", help="the README's key reference instead")

    i = _add(
        "init",
        help="write a job file and an inbox skeleton for a profile into DIR (never overwrites)",
    )
    i.add_argument("dir", type=Path, help="the folder to write (created if missing)")
    i.add_argument("--profile", choices=_PROFILES, default="huawei-basic")

    d = _add("sample-data", help="write an inbox of synthetic speech-like voices")
    d.add_argument("dir", type=Path, help="the inbox folder to write")
    d.add_argument("--voices", type=int, default=5, help="healthy voices (default 5)")
    d.add_argument("--profile", choices=_PROFILES, default="huawei-basic")
    d.add_argument("--with-defects", action="store_true", help="add one voice per known defect")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    return p


def _global_flags(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--log-json", action="store_true", default=default, help="JSON log lines even on a terminal"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="info log lines on a terminal too (default there: warnings)",
    )


def _subcommand(
    sub: argparse._SubParsersAction[Any],
    common: argparse.ArgumentParser,
    name: str,
    **kwargs: Any,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, parents=[common], **kwargs)
    return parser
