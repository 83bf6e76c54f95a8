"""``voice-onboard status``: what the ledger knows, per voice (no network, never writes).

One row per voice: stage, status, the provider's own state, how long since the voice last
changed, failed provider calls, and the last error. A rich table on a terminal; plain
fixed-width text otherwise (cron mail, ``less``, ``grep``); ``--json`` for programs. Filters:
``--status`` and ``--voices`` (keys or globs); ``--events`` adds each voice's stage changes.
The ledger is the batch's: SQLite in ``state_dir`` or PostgreSQL (``pipeline.ledger.open_ledger``).
"""

from __future__ import annotations

import fnmatch
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from pipeline.config import JobConfig
from pipeline.ledger import open_ledger
from pipeline.oneline import one_line
from pipeline.records import PhaseEvent, Severity, VoiceState, VoiceStatus
from pipeline.stages.results import outcome, outcome_of

#: Rich styles per status (the plain renderer ignores them).
_STYLE: Final = {
    "succeeded": "green",
    "failed": "bold red",
    "needs_attention": "bold yellow",
    "rejected": "magenta",
    "pending": "cyan",
    "deferred": "bold yellow",
    "ready": "blue",
}
_ERROR_WIDTH: Final = 72  #: plain text: the last error is cut here so a row stays one line


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRow:
    """One voice as ``status`` shows it."""

    state: VoiceState
    age_s: float
    events: tuple[PhaseEvent, ...] = ()

    @property
    def status(self) -> VoiceStatus:
        """The manifest's status for this state (``pending`` only once submitted)."""
        return outcome(self.state)

    @property
    def reason(self) -> str | None:
        """Why the voice is where it is: the provider's first error finding (specific: code,
        file, message), else the ledger's last error (e.g. a call that keeps failing)."""
        first = next((f for f in self.state.findings if f.severity is Severity.ERROR), None)
        if first is not None:
            where = f" {first.file}" if first.file and first.file != self.state.key else ""
            return one_line(f"{first.code}{where}: {first.message}")
        return one_line(self.state.last_error) if self.state.last_error else None

    @property
    def remote_state(self) -> str:
        """The provider's own state as one short word (``-`` before it has one)."""
        return one_line(self.state.remote.get("state") or "") or "-"

    def as_json(self) -> dict[str, Any]:
        s = self.state
        out: dict[str, Any] = {
            "voice": s.key,
            "voice_name": s.voice_name,
            "stage": str(s.stage),
            "status": str(self.status),
            "remote_state": s.remote.get("state"),
            "remote": dict(s.remote),
            "age_s": round(self.age_s, 1),
            "updated_at": _iso(s.updated_at),
            "attempts": s.attempts,
            "last_error": s.last_error,
            "reason": self.reason,
            "history": list(s.history),
            "findings": [f.as_json() for f in s.findings],
        }
        if self.events:
            out["events"] = [
                {
                    "stage": str(e.stage),
                    "status": str(outcome_of(e.stage, e.status)),
                    "at": _iso(e.at),
                    "detail": e.detail,
                }
                for e in self.events
            ]
        return out


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def age(seconds: float) -> str:
    """A short age: ``45s``, ``12m``, ``5h``, ``3d``."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def _matches(key: str, patterns: Sequence[str]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(key, p) for p in patterns)


async def load_rows(
    config: JobConfig,
    *,
    statuses: Sequence[str] = (),
    voices: Sequence[str] = (),
    with_events: bool = False,
    now: float | None = None,
) -> list[StatusRow]:
    """The ledger's voices (filtered), oldest change first within each status."""
    if not config.ledger_url and not config.ledger_path.exists():
        return []  # nothing ran yet: do not create an empty ledger just to look at it
    async with open_ledger(config, read_only=True) as ledger:
        states = [
            s
            for s in await ledger.all()
            if _matches(s.key, voices) and (not statuses or str(outcome(s)) in statuses)
        ]
        events: dict[str, list[PhaseEvent]] = {}
        if with_events and states:
            for ev in await ledger.events():
                events.setdefault(ev.key, []).append(ev)
    now = time.time() if now is None else now
    return [
        StatusRow(state=s, age_s=now - s.updated_at, events=tuple(events.get(s.key, ())))
        for s in sorted(states, key=lambda s: s.key)
    ]


def summary_line(rows: Sequence[StatusRow]) -> str:
    counts = Counter(str(r.status) for r in rows)
    parts = ", ".join(f"{counts[str(s)]} {s}" for s in VoiceStatus if counts[str(s)])
    return f"{len(rows)} voices: {parts or 'none'}"


def render_plain(batch: str, rows: Sequence[StatusRow], out: TextIO) -> None:
    """Fixed-width text: one line per voice (events indented below it)."""
    if not rows:
        print(f"batch {batch}: the ledger knows no voices (that match)", file=out)
        return
    width = max(24, *(len(r.state.key) for r in rows))
    print(
        f"{'voice':<{width}} {'stage':<10} {'status':<15} {'remote':<18} {'age':>4} "
        f"{'tries':>5}  last error",
        file=out,
    )
    for r in rows:
        s = r.state
        err = r.reason or ""
        if len(err) > _ERROR_WIDTH:
            err = err[: _ERROR_WIDTH - 1] + "…"
        line = (
            f"{s.key:<{width}} {s.stage!s:<10} {r.status!s:<15} "
            f"{r.remote_state:<18} {age(r.age_s):>4} {s.attempts:>5}  {err}"
        )
        print(line.rstrip(), file=out)
        for e in r.events:
            detail = f"  ({one_line(e.detail)})" if e.detail else ""
            status = outcome_of(e.stage, e.status)
            print(f"    {_iso(e.at)}  {e.stage!s:<10} {status!s}{detail}", file=out)
    print(summary_line(rows), file=out)


def render_rich(batch: str, rows: Sequence[StatusRow], out: TextIO) -> None:
    """A rich table for a terminal (colours, wrapped errors)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out)
    if not rows:
        console.print(
            Text.assemble("batch ", (batch, "bold"), ": the ledger knows no voices (that match)")
        )
        return
    table = Table(
        title=Text(f"batch {batch}"), caption=Text(summary_line(rows)), header_style="bold"
    )
    table.add_column("voice", no_wrap=True)
    table.add_column("stage")
    table.add_column("status")
    table.add_column("remote")
    table.add_column("age", justify="right")
    table.add_column("tries", justify="right")
    table.add_column("last error", overflow="fold", ratio=1)
    for r in rows:
        s = r.state
        status = str(r.status)
        # Voice keys and remote states are data, not rich markup ("a[/]b" must not be parsed).
        table.add_row(
            Text(s.key),
            str(s.stage),
            Text(status, style=_STYLE.get(status, "")),
            Text(r.remote_state),
            age(r.age_s),
            str(s.attempts),
            Text(r.reason or "", style="red" if r.reason else ""),
        )
        for e in r.events:
            detail = f" ({one_line(e.detail)})" if e.detail else ""
            table.add_row(
                "",
                Text(str(e.stage), style="dim"),
                Text(str(outcome_of(e.stage, e.status)), style="dim"),
                "",
                "",
                "",
                Text(f"{_iso(e.at)}{detail}", style="dim"),
            )
    console.print(table)


async def show_status(
    config: JobConfig,
    as_json: bool,
    *,
    statuses: Sequence[str] = (),
    voices: Sequence[str] = (),
    events: bool = False,
    out: TextIO | None = None,
) -> int:
    """Print what the ledger knows about the batch's voices; exit 0 (it only reads)."""
    out = out or sys.stdout
    rows = await load_rows(config, statuses=statuses, voices=voices, with_events=events)
    if as_json:
        counts = Counter(str(r.status) for r in rows)
        doc = {
            "batch": config.batch,
            "summary": {"voices": len(rows)} | {str(s): counts[str(s)] for s in VoiceStatus},
            "voices": [r.as_json() for r in rows],
        }
        json.dump(doc, out, indent=2, ensure_ascii=False)
        print(file=out)
    elif out.isatty():
        render_rich(config.batch, rows, out)
    else:
        render_plain(config.batch, rows, out)
    return 0
