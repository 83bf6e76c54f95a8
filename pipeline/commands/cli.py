"""argv → config → run → exit code. The only place that exits.

User mistakes (a bad job file, a missing inbox, missing credentials) are one line on stderr and
exit 2, never a traceback. Exit codes are DESIGN §2's: 0 all good, 1 some voices not good,
2 usage/configuration, 3 cut short, 75 the batch is locked by another run.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeVar

import anyio

from pipeline.commands import doctor, emulator
from pipeline.commands._early import start_fork_server
from pipeline.commands._lazy import log
from pipeline.commands.parser import build_parser
from pipeline.errors import ConfigError, LedgerError, LockHeld, PipelineError, RunInterrupted
from pipeline.oneline import one_line
from pipeline.records import VoiceStatus

EXIT_OK: Final = 0
EXIT_SOME_BAD: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 3
EXIT_LOCKED: Final = 75  # EX_TEMPFAIL
EXIT_INTERNAL: Final = 70  # EX_SOFTWARE: a bug in voice-onboard, not in the input


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``voice-onboard`` and ``python -m pipeline``."""
    args = build_parser().parse_args(argv)
    # First, before the imports of the run: see _early for what this overlaps.
    start_fork_server(args.command, getattr(args, "job", None))
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
    if argv is None:
        # The process ends next (console script, python -m pipeline): everything is written
        # and closed. Frozen, the objects of the run are skipped by the interpreter's last
        # garbage collections at exit, which took 40-70 ms of a 0.3 s re-run (10 ms after).
        # Not for callers that pass argv (tests): their process lives on.
        gc.freeze()
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


T = TypeVar("T")


def _run(main: Callable[[], Awaitable[T]]) -> T:
    """``anyio.run(main)``, with the result handed back beside the event loop's task rather
    than as its result. asyncio's runner formats its main task's repr (result included)
    twice as it restores the Ctrl-C handler (``signal.getsignal`` looks the handler up in an
    enum and the failed lookup's message holds that repr): for a run's report, the repr of
    every voice and file in it (~1 ms each time for 200 clips, and growing with the batch)."""
    out: list[T] = []

    async def task() -> None:
        out.append(await main())

    anyio.run(task)
    return out[0]


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "sample-data":
        return _sample_data(args)
    if args.command == "emulator":
        return emulator.run_emulator(args)
    if args.command == "doctor":
        return doctor.run_doctor(args, _out)
    if args.command == "init":
        from pipeline.commands.init import write_skeleton

        for path in write_skeleton(args.dir, args.profile):
            _out(f"wrote {path}")
        return EXIT_OK
    if args.command == "schema":
        from pipeline.config import schema

        if args.markdown:
            _out(schema.reference_markdown().rstrip("\n"))
        elif args.which == "job":
            _out(schema.dumps(schema.job_schema(tuple(emulator.ALTERNATIVE_HELP))).rstrip("\n"))
        else:
            _out(schema.dumps(schema.voice_schema()).rstrip("\n"))
        return EXIT_OK
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

        report = _run(check)
        _print_summary(report)
        return report.exit_code
    if args.command == "status":
        from pipeline.commands.status import show_status

        async def status() -> int:
            if args.verify:
                from pipeline.commands.verify import verify_finished
                from pipeline.providers.factory import open_provider as opener

                credentials = Credentials.from_env(os.environ).for_provider(config)
                log.REDACTOR.add(credentials.secrets())
                await verify_finished(config, credentials, opener)
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

    report = _run(go)
    _print_summary(report)
    if config.provider.is_emulator and report.exit_code == EXIT_INTERRUPTED:
        _out(
            'note: endpoint = "emulator": the in-process emulator\'s jobs end with this run; '
            "the next run sends the unfinished voices again (run `voice-onboard emulator` and "
            "point endpoint at it to resume them instead)"
        )
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
        real_speech=True,  # what `[content] check = true` can hear, where espeak-ng is
    )
    defects = sum(1 for v in voices if v.defect)
    _out(f"wrote {len(voices)} voices ({defects} with defects) to {args.dir}")
    return EXIT_OK
