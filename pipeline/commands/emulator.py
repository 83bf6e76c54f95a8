"""``voice-onboard emulator``: serve the built-in emulator of both services on loopback.

The parser's help text lives here, not in :mod:`pipeline.emulator`, so that building the parser
(``voice-onboard --help`` and every other command) imports no emulator module and no
``aiohttp.web``; the emulator is imported only when this command runs. The credentials below are
the emulator's fixed test values (``pipeline.emulator.context.DEFAULT_*``); a test keeps the two
in step.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
from pathlib import Path
from typing import Any, Final

import anyio

from pipeline.errors import ConfigError

EXIT_OK: Final = 0

#: ``pipeline.emulator.alternatives.ALTERNATIVES``, repeated here so that the help text does
#: not import the emulator; a test keeps the two in step.
ALTERNATIVE_HELP: Final = {
    "huawei-batch-name-dropped": "show/list answer batch_name empty",
    "huawei-batch-name-rewritten": "show/list answer another batch_name",
    "huawei-one-segment-url": "SEGMENT create hands out one upload slot",
    "huawei-unknown-job-400": "an unknown job_id is 400, not 404",
    "huawei-manual-review-reject": "manual review rejects, with admin message",
    "huawei-zero-quota": "no training resource left",
    "huawei-narrow-durations": "a narrow tenant audio-duration range",
    "azure-foreign-host-links": "nextLink/Operation-Location on another host",
    "azure-project-put-refused": "PUT of an existing project is refused",
    "azure-consent-delete-allowed": "a consent in use can be deleted",
}

EMULATOR_HELP: Final = (
    """\
Serve emulated Huawei MetaStudio voice training and Azure AI Speech personal voice on one
loopback port, with their object stores, accelerated time and fault injection.

routes:
  /v1/{project_id}/voice-training-manage/...   Huawei (every project_id is its own tenant)
  /customvoice/...                             Azure
  /obs/{bucket}/{key}                          Huawei pre-signed upload URLs (OBS-like)
  GET /_emulator/state                          read-only JSON of the emulator's state

credentials: the emulator accepts what the clients read from the environment when set,
otherwise these fixed test values:
  HUAWEICLOUD_SDK_AK      EMULATORAK0000000000
  HUAWEICLOUD_SDK_SK      emulator-secret-key-0000000000000000000000
  METASTUDIO_AUTH_TOKEN   emulator-iam-token   (sent as X-Auth-Token)
  AZURE_SPEECH_KEY        emulator-speech-key-00000000000000

time: --time-scale X runs emulated time X times faster than real time (Huawei training takes
1 day basic, 2 days middle, 3 days third-party, 4 days advance; 100000 ends them in seconds).
faults: --fault-rate R answers that share of API calls with 500/503/429 (and, for creates,
sometimes performs the create and drops the answer); --upload-fault-rate R resets that share
of uploads mid-body; --url-ttl S makes upload URLs expire after S real seconds.
blob: it prints a container SAS URL (container "voices", rights racwl, valid 7 days) for
upload_mode = "blob-sas": export it as AZURE_BLOB_CONTAINER_SAS_URL (--sas-file writes it).
outcomes: --outcome 'GLOB=STATE' forces the final state of voices whose name matches GLOB
(Huawei: SUCCEED, FAILED, AUDIT_FAILED, SPLIT_FAILED, USER_REVIEW_REJECT); first match wins.
outages: --outage 'after=30s,for=120s,kind=refuse|reset|503' (repeatable; [emulator]
outages = [...]) makes every call of both services, uploads included, fail from 30 s to 150 s
after the emulator started: refuse closes the port (connection refused), reset drops each
connection mid-request, 503 answers each service's own 503 error body. after/for are real
(wall-clock) seconds whatever --time-scale is, counted from this process's start; units ms,
s, m, h, d (plain numbers are seconds).
state: --state FILE keeps every job, consent, voice, uploaded object, Operation-Id and
counter in FILE (SQLite; objects in FILE.objects/ unless --storage), written before each
answer is sent: an emulator stopped (even SIGKILLed) and restarted with the same --state and
--port carries on, emulated time continuing where it stopped (it stands still while down).
clock: --clock-skew S sets the emulator's clock S seconds ahead of real time (negative:
behind), in its Date header and its signature check.

alternatives: --play NAME (repeatable; [emulator] plays = [...]) plays a behaviour the vendors'
docs leave open instead of the default one:
"""
    + "\n".join(f"  {name:30} {what}" for name, what in ALTERNATIVE_HELP.items())
    + "\n"
)


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """The ``emulator`` subcommand and its options (``common``: the global flags)."""
    e = sub.add_parser(
        "emulator",
        parents=[common],
        help="run the built-in emulator of both services on loopback",
        description=EMULATOR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("--host", default="127.0.0.1")
    e.add_argument("--port", type=int, default=8600, help="0 = a free port (default 8600)")
    e.add_argument("--time-scale", type=float, default=1.0, help="emulated seconds per real second")
    e.add_argument("--fault-rate", type=float, default=0.0, help="share of control calls failing")
    e.add_argument("--upload-fault-rate", type=float, default=0.0, help="share of uploads reset")
    e.add_argument("--url-ttl", type=float, default=3600.0, help="real seconds an upload URL lives")
    e.add_argument("--latency", type=float, default=0.0, help="seconds added to control calls")
    e.add_argument(
        "--outcome",
        action="append",
        default=[],
        metavar="GLOB=STATE",
        help="force a final state for voice names matching GLOB (repeatable)",
    )
    e.add_argument(
        "--play",
        action="append",
        default=[],
        metavar="NAME",
        help="play an undocumented alternative (repeatable; names above)",
    )
    e.add_argument(
        "--clock-skew", type=float, default=0.0, metavar="S", help="seconds the clock runs ahead"
    )
    e.add_argument(
        "--outage",
        action="append",
        default=[],
        metavar="after=D,for=D,kind=K",
        help="an outage window of real time, kind refuse|reset|503 (repeatable)",
    )
    e.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="keep the emulator's state in FILE (SQLite) across restarts",
    )
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--storage", type=Path, help="keep uploaded objects here (default: temp dir)")
    e.add_argument(
        "--sas-file",
        type=Path,
        metavar="PATH",
        help="also write the blob container SAS URL here (mode 0600), for "
        "AZURE_BLOB_CONTAINER_SAS_URL=$(cat PATH)",
    )


def run_emulator(args: argparse.Namespace) -> int:
    """Validate the options, then serve until interrupted (exit 0)."""
    from pipeline.emulator.alternatives import checked
    from pipeline.emulator.context import Credentials as EmuCredentials
    from pipeline.emulator.context import EmulatorOptions
    from pipeline.emulator.outages import parse_outages
    from pipeline.emulator.server import parse_outcome, serve_forever

    for name in ("fault_rate", "upload_fault_rate"):
        if not 0 <= getattr(args, name) <= 1:  # NaN fails this too
            raise ConfigError(f"--{name.replace('_', '-')} must be between 0 and 1")
    for name in ("time_scale", "url_ttl"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive number (got {value})")
    if not (math.isfinite(args.latency) and args.latency >= 0):
        raise ConfigError(f"--latency must be a number of seconds >= 0 (got {args.latency})")
    if not math.isfinite(args.clock_skew):
        raise ConfigError(f"--clock-skew must be a number of seconds (got {args.clock_skew})")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535 (got {args.port})")
    options = EmulatorOptions(
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        fault_rate=args.fault_rate,
        upload_fault_rate=args.upload_fault_rate,
        url_ttl=args.url_ttl,
        latency=args.latency,
        outcomes=tuple(parse_outcome(o) for o in args.outcome),
        seed=args.seed,
        storage=args.storage,
        plays=checked(args.play, "--play"),
        clock_skew_s=args.clock_skew,
        outages=parse_outages(args.outage, "--outage"),
        state=args.state,
        credentials=EmuCredentials.from_env(os.environ),
    )
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(serve_forever, options, args.sas_file)
    return EXIT_OK
