"""``voice-onboard doctor JOB``: a read-only first contact with the job's endpoint, rendered.

The checks live in :mod:`pipeline.providers.doctor`; this module picks the endpoint (the
in-process emulator for ``endpoint = "emulator"``, as ``run`` does), prints the rows (an
aligned table on a terminal, one plain line per check otherwise, JSON with ``--json``) and
turns their verdict into the exit code: 0 all good (warnings allowed), 2 a configuration
problem, 3 the endpoint did not answer. Building the parser imports nothing heavy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from pipeline.config import Credentials, JobConfig
    from pipeline.providers.doctor import Check

EXIT_OK: Final = 0
EXIT_CONFIG: Final = 2
EXIT_UNREACHABLE: Final = 3

DESCRIPTION: Final = """\
Read-only first contact with the job file's endpoint: nothing is created, uploaded or
committed. Checks: the endpoint answers (DNS, TLS, HTTP); the server's clock (Date) against
this machine's (AK/SK signatures are refused past 15 min: warn past 1 min, fail past 10 min);
the credentials (one signed list call); Huawei: the quota of the job's edition and the
tenant's duration limits; Azure: api-version and project kind, and in blob-SAS mode the SAS
URL (sp must hold c, w, r, l; se after now + the await deadline); the rate-limit headers seen;
and which undocumented behaviours this account shows (alt: ..., "unknown" where only a write
could tell). With endpoint = "emulator" it runs against the in-process emulator, as run does.

exit codes: 0 every check ok (warnings allowed), 2 a configuration problem (key, quota, SAS
URL, clock, project), 3 the endpoint did not answer.
"""


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """The ``doctor`` subcommand."""
    d = sub.add_parser(
        "doctor",
        parents=[common],
        help="read-only first contact with the endpoint: reachability, clock, credentials, quotas",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("job", type=Path, help="job file (jobs/*.toml)")
    d.add_argument("--json", action="store_true", help="JSON instead of a table")


def run_doctor(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """Load the job, run the checks, print them through ``out``; the exit code."""
    import anyio

    from pipeline import log
    from pipeline.config import Credentials, load_job

    config = load_job(args.job, os.environ)
    credentials = Credentials.from_env(os.environ)

    async def go() -> tuple[Check, ...]:
        return await _diagnose(config, credentials)

    checks = anyio.run(go)
    code = exit_code(checks)
    secrets = log.known_secrets()
    lines = render_json(checks, code) if args.json else render(checks, code, sys.stdout.isatty())
    for line in lines:
        out(log.redact_text(line, secrets))
    return code


async def _diagnose(config: JobConfig, credentials: Credentials) -> tuple[Check, ...]:
    from pipeline import log
    from pipeline.providers.doctor import diagnose

    if not config.provider.is_emulator:
        log.REDACTOR.add(credentials.secrets())
        return await diagnose(config, credentials, config.provider.endpoint)
    from pipeline.commands.emulated import client_credentials, emulator_options
    from pipeline.emulator.server import Emulator

    assert config.emulator is not None
    options = emulator_options(config.emulator, os.environ)
    credentials = client_credentials(credentials, config, options)
    log.REDACTOR.add(credentials.secrets())
    async with Emulator(options) as emu:
        return await diagnose(config, credentials, emu.base_url)


def exit_code(checks: Sequence[Check]) -> int:
    from pipeline.providers.doctor import Verdict, verdict

    return {
        Verdict.OK: EXIT_OK,
        Verdict.CONFIG: EXIT_CONFIG,
        Verdict.UNREACHABLE: EXIT_UNREACHABLE,
    }[verdict(checks)]


def render_json(checks: Sequence[Check], code: int) -> list[str]:
    """``{"checks": [{"name", "status", "detail", "fix"}], "exit": N}``, indented."""
    doc = {"checks": [c.to_json() for c in checks], "exit": code}
    return json.dumps(doc, ensure_ascii=False, indent=2).splitlines()


def render(checks: Sequence[Check], code: int, terminal: bool) -> list[str]:
    """One line per check, its fix on the same line, and a summary line last: on a terminal
    a header and aligned columns; otherwise ``status<TAB>name<TAB>detail — fix: …`` lines."""
    from pipeline.oneline import one_line

    width = max([len(c.name) for c in checks] + [5])
    lines = [f"{'STATUS':<6} {'CHECK':<{width}}  DETAIL — FIX"] if terminal else []
    for c in checks:
        fix = f" — fix: {one_line(c.fix)}" if c.fix else ""
        if terminal:
            lines.append(f"{c.status!s:<6} {c.name:<{width}}  {one_line(c.detail)}{fix}")
        else:
            lines.append(f"{c.status}\t{c.name}\t{one_line(c.detail)}{fix}")
    counts = {s: sum(1 for c in checks if str(c.status) == s) for s in ("ok", "warn", "fail")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    meaning = {
        EXIT_OK: "ready",
        EXIT_CONFIG: "fix the configuration",
        EXIT_UNREACHABLE: "unreachable",
    }
    lines.append(f"doctor: {summary}: {meaning[code]} (exit {code})")
    return lines
