"""argv → config → run → exit code. The only place that exits.

User mistakes (a bad job file, a missing inbox, missing credentials) are one line on stderr and
exit 2, never a traceback. Exit codes are DESIGN §2's: 0 all good, 1 some voices not good,
2 usage/configuration, 3 cut short, 75 the batch is locked by another run.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, NoReturn

import anyio

from pipeline.commands import emulator
from pipeline.commands._lazy import log
from pipeline.commands.version import VersionAction
from pipeline.errors import ConfigError, LedgerError, LockHeld, PipelineError, RunInterrupted
from pipeline.oneline import one_line
from pipeline.records import VoiceStatus

EXIT_OK: Final = 0
EXIT_SOME_BAD: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 3
EXIT_LOCKED: Final = 75  # EX_TEMPFAIL
EXIT_INTERNAL: Final = 70  # EX_SOFTWARE: a bug in voice-onboard, not in the input

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
        "--version", action=VersionAction, nargs=0, help="show program's version number and exit"
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
        usage="voice-onboard status JOB [--json] [--status S]... [--voices KEY...] [--events]",
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``voice-onboard`` and ``python -m pipeline``."""
    args = build_parser().parse_args(argv)
    # On a terminal the progress bars and the summary say what info lines would; under cron
    # (stderr not a terminal) every info event goes out as a JSON line.
    quiet = sys.stderr.isatty() and not args.log_json and not args.verbose
    log.configure(
        json=True if args.log_json else None, level=logging.WARNING if quiet else logging.INFO
    )
    try:
        code = _dispatch(args)
    except BaseException as exc:  # noqa: BLE001 - every outcome becomes one line and a code
        code = _exit_for(_leaf(exc))
    _close_stdout()
    return code


def _leaf(exc: BaseException) -> BaseException:
    """The error a task group's exception group carries: the first one of ours if any (a
    ConfigError raised inside the run's task group is still a ConfigError to the operator)."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop(0)
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        else:
            leaves.append(e)
    ours = [e for e in leaves if isinstance(e, PipelineError | KeyboardInterrupt)]
    return (ours or leaves)[0]


#: Our errors as (type, what the line starts with, exit code); the first match wins.
_OUR_ERRORS: Final[tuple[tuple[type[PipelineError], str, int], ...]] = (
    (ConfigError, "", EXIT_USAGE),
    (LockHeld, "", EXIT_LOCKED),
    (RunInterrupted, "run cut short: ", EXIT_INTERRUPTED),
    (LedgerError, "ledger error: ", EXIT_INTERRUPTED),
    (PipelineError, "", EXIT_INTERRUPTED),
)


def _exit_for(exc: BaseException) -> int:
    """One line on stderr for ``exc`` and the exit code DESIGN §2 gives it."""
    for kind, prefix, code in _OUR_ERRORS:  # most specific first
        if isinstance(exc, kind):
            _say(f"voice-onboard: {prefix}{exc}")
            return code
    if isinstance(exc, KeyboardInterrupt):
        _say("voice-onboard: interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        return EXIT_OK  # a reader that stopped early (`| head`) is not an error of the run
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" ({exc.filename})" if exc.filename else ""
        _say(f"voice-onboard: run cut short: {exc.strerror}{where}; free space and run again")
        return EXIT_INTERRUPTED
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    # A bug of ours: one line here, the traceback in the log.
    log.get_logger("pipeline.cli").error("run.crashed", exc_info=exc)
    _say(f"voice-onboard: internal error: {type(exc).__name__}: {exc}")
    return EXIT_INTERNAL


def _say(line: str) -> None:
    with contextlib.suppress(OSError):
        print(one_line(log.redact_text(line, log.known_secrets())), file=sys.stderr)


def _out(line: str) -> None:
    """One line on stdout; a closed stdout (``| head -1``) silences the rest, never the run."""
    try:
        print(line, file=sys.stdout)
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    # Python would report the broken pipe again when it flushes stdout at exit.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _close_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except (OSError, ValueError):
        pass


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "sample-data":
        return _sample_data(args)
    if args.command == "emulator":
        return emulator.run_emulator(args)
    from pipeline.config import AwaitMode, Credentials, load_job
    from pipeline.runner import RunReport

    config = load_job(args.job, os.environ)
    if args.command == "check":
        from pipeline.runner import Progress, run_check

        async def check() -> RunReport:
            counters = Progress()
            if not sys.stderr.isatty():
                return await run_check(config, progress=counters, voices=args.voices)
            from pipeline.commands.progress import live

            async with live(counters, network=False):
                return await run_check(config, progress=counters, voices=args.voices)

        report = anyio.run(check)
        _print_summary(report)
        return report.exit_code
    if args.command == "status":
        from pipeline.commands.status import show_status

        async def status() -> int:
            return await show_status(
                config, args.json, statuses=args.status, voices=args.voices, events=args.events
            )

        return anyio.run(status)
    if args.command == "retry":
        from pipeline.commands.requeue import requeue_voices

        async def retry() -> int:
            outcomes = await requeue_voices(config, args.voices, force=args.force)
            for outcome in outcomes:
                _out(one_line(outcome.line()))
            return EXIT_OK if all(o.requeued for o in outcomes) else EXIT_SOME_BAD

        return anyio.run(retry)
    if args.command in ("enqueue", "worker", "manifest"):
        from pipeline.commands import scaleout

        if args.command == "enqueue":
            return scaleout.enqueue(config)
        if args.command == "worker":
            return scaleout.worker(
                config,
                concurrency=args.concurrency,
                until_done=args.until_done,
                heartbeat_s=args.heartbeat,
            )
        manifest_report = scaleout.manifest(config)
        _print_summary(manifest_report)
        return manifest_report.exit_code
    from pipeline.providers.factory import open_provider
    from pipeline.runner import Progress, ProviderOpener, run_batch

    opener: ProviderOpener = open_provider
    if config.provider.is_emulator:
        from pipeline.commands.emulated import client_credentials, emulated, emulator_options

        assert config.emulator is not None
        options = emulator_options(config.emulator, os.environ)
        credentials = client_credentials(Credentials.from_env(os.environ), config, options)
        opener = emulated(open_provider, options)
    else:
        credentials = Credentials.from_env(os.environ).for_provider(config)
    log.REDACTOR.add(credentials.secrets())

    detach = args.detach or None
    if config.provider.is_emulator and (detach or config.await_.mode is AwaitMode.DETACH):
        raise ConfigError(
            f'{config.path}: --detach with endpoint = "emulator" would lose the emulated jobs '
            "when this run ends; start `voice-onboard emulator` and point endpoint at it"
        )

    async def go() -> RunReport:
        counters = Progress()
        if not sys.stderr.isatty():
            return await run_batch(
                config,
                credentials,
                open_provider=opener,
                detach=detach,
                progress=counters,
                rebind=args.rebind,
                voices=args.voices,
            )
        from pipeline.commands.progress import live

        async with live(counters, network=True):
            return await run_batch(
                config,
                credentials,
                open_provider=opener,
                detach=detach,
                progress=counters,
                rebind=args.rebind,
                voices=args.voices,
            )

    report = anyio.run(go)
    _print_summary(report)
    return report.exit_code


def _print_summary(report: object) -> None:
    from pipeline.runner import RunReport

    assert isinstance(report, RunReport)
    for r in report.results:
        worst = [f for f in r.findings if f.severity == "error"] or [
            f for f in r.findings if f.severity == "warning"
        ]
        note = f"  {worst[0].code}: {worst[0].message}" if worst else ""
        if len(worst) > 1:
            note += f" (+{len(worst) - 1} more)"
        elif not worst and r.status is VoiceStatus.DEFERRED and r.last_error:
            note = f"  not sent: {r.last_error}"
        _out(one_line(f"{r.status:<16} {r.voice}{note}"))
    summary = report.summary
    counts = ", ".join(f"{v} {k}" for k, v in summary.items() if k != "voices" and v)
    _out(f"{summary['voices']} voices: {counts or 'none'}")
    if report.interrupted:
        _out(one_line(f"cut short: {report.interrupted}"))
    _out(f"manifest: {report.manifest}")
    html = report.manifest.with_suffix(".html")
    if html.exists():
        _out(f"report: {html}")


def _sample_data(args: argparse.Namespace) -> int:
    from pipeline.commands.sample_data import write_inbox

    if args.voices < 0:
        raise ConfigError("--voices must be >= 0")
    voices = write_inbox(
        args.dir,
        voices=args.voices,
        profile=args.profile,
        with_defects=args.with_defects,
        seed=args.seed,
        force=args.force,
    )
    defects = sum(1 for v in voices if v.defect)
    _out(f"wrote {len(voices)} voices ({defects} with defects) to {args.dir}")
    return EXIT_OK
