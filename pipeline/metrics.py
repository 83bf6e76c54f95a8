"""Prometheus metrics of the last run, as a node_exporter textfile-collector file.

node_exporter's textfile collector reads ``*.prom`` files from one folder on every scrape, so a
cron job can publish figures without running a server. The collector may read the file at any
moment: it is written to a hidden temp file in the same folder (not ``*.prom``, so never read
half-written), fsynced, made world-readable (node_exporter usually runs as another user) and
renamed over the old one.

Metrics (every one labelled ``batch``):

``voice_onboard_voices{status}``                     voices per status at the end of the last run,
                                                     one sample for every status (0 included):
                                                     ``deferred`` = not sent (provider unreachable,
                                                     cut short); ``pending`` = with the provider
``voice_onboard_last_run_bytes_uploaded``            bytes the last run stored remotely (left out
                                                     after ``manifest``: workers uploaded)
``voice_onboard_retries_total{kind}``                retries recorded in the ledger over the batch's
                                                     life: ``provider_call`` = provider calls that
                                                     still failed after the HTTP layer's own retries
                                                     (the ledger's per-voice ``attempts``; each is
                                                     tried again by the runner or the next run);
                                                     ``operator`` = remote jobs replaced by
                                                     ``voice-onboard retry`` (the ledger's history)
``voice_onboard_last_run_duration_seconds``          wall time of the last run
``voice_onboard_last_run_timestamp_seconds``         when the last run finished (Unix time)
``voice_onboard_last_run_exit_code``                 its exit code (0, 1 or 3)
``voice_onboard_last_success_timestamp_seconds``     when a run last finished with exit code 0;
                                                     kept from the previous file when this run did
                                                     not (exit 1, or 3 with voices deferred);
                                                     0 = never

Written after ``run`` and after ``manifest`` (the scale-out summary), never after ``check``.
Retries come from the ledger rather than from counting log events because the ledger is durable
and shared by every process of a batch (scale-out workers included), so the figure is the same
whichever process writes the file. One file per batch: two batches writing one file would
overwrite each other's figures.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from pipeline.records import VoiceStatus

PREFIX: Final = "voice_onboard_"
_SUCCESS: Final = PREFIX + "last_success_timestamp_seconds"


def _label_value(value: str) -> str:
    # The exposition format's three escapes; batch names are tame, but a label must never break
    # the file.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class _Family:
    """One metric family: HELP, TYPE and its samples, in the text exposition format 0.0.4."""

    def __init__(self, name: str, kind: str, help_: str) -> None:
        self.name = PREFIX + name
        self.kind = kind
        self.help = help_
        self.samples: list[tuple[dict[str, str], float]] = []

    def add(self, value: float, **labels: str) -> _Family:
        self.samples.append((labels, value))
        return self

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            yield f"{self.name}{_labels(labels)} {_number(value)}"


def _unix(stamp: str) -> float:
    """Seconds since the epoch of a manifest timestamp (``2026-11-21T02:15:00Z``)."""
    return datetime.fromisoformat(stamp).timestamp()


def render(
    doc: Mapping[str, Any],
    *,
    exit_code: int,
    bytes_uploaded: int | None,
    retries: Mapping[str, int],
    previous_success: float | None,
) -> str:
    """The textfile for one finished run described by its manifest ``doc``."""
    batch = str(doc["batch"])
    summary: Mapping[str, int] = doc["summary"]
    finished = _unix(doc["finished_at"])
    duration = max(0.0, finished - _unix(doc["started_at"]))
    # Only exit 0 is a success; a manifest that says voices were left unsent (or the run was cut
    # short) never is, whatever exit code it came with.
    good = exit_code == 0 and not summary.get("deferred") and not doc.get("interrupted")
    success = finished if good else (previous_success or 0.0)

    voices = _Family(
        "voices", "gauge", "Voices of the batch per status at the end of the last run."
    )
    for status in VoiceStatus:
        voices.add(summary.get(str(status), 0), batch=batch, status=str(status))
    retries_f = _Family(
        "retries_total",
        "counter",
        "Retries recorded in the ledger over the batch's life "
        "(provider_call: failed provider calls retried; operator: jobs replaced by retry).",
    )
    for kind in ("provider_call", "operator"):
        retries_f.add(retries.get(kind, 0), batch=batch, kind=kind)
    families = [voices]
    if bytes_uploaded is not None:  # unknown to `manifest` (the workers uploaded): left out
        families.append(
            _Family("last_run_bytes_uploaded", "gauge", "Bytes the last run stored remotely.").add(
                bytes_uploaded, batch=batch
            )
        )
    families += [
        retries_f,
        _Family("last_run_duration_seconds", "gauge", "Wall time of the last run in seconds.").add(
            duration, batch=batch
        ),
        _Family(
            "last_run_timestamp_seconds", "gauge", "When the last run finished (Unix time)."
        ).add(finished, batch=batch),
        _Family(
            "last_run_exit_code",
            "gauge",
            "Exit code of the last run (0 all good, 1 some voices not good, 3 cut short or "
            "voices deferred).",
        ).add(exit_code, batch=batch),
        _Family(
            "last_success_timestamp_seconds",
            "gauge",
            "When a run last finished with exit code 0 (Unix time; 0 = never).",
        ).add(success, batch=batch),
    ]
    return "\n".join(line for f in families for line in f.lines()) + "\n"


_SUCCESS_LINE: Final = re.compile(
    r"^" + re.escape(_SUCCESS) + r"\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)\s*$", re.MULTILINE
)


def previous_success(path: Path, batch: str) -> float | None:
    """The last-success timestamp the file at ``path`` holds for ``batch``, if any."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for m in _SUCCESS_LINE.finditer(text):
        if f'batch="{_label_value(batch)}"' not in m.group("labels"):
            continue
        try:
            value = float(m.group("value"))
        except ValueError:
            return None
        return value if math.isfinite(value) and value > 0 else None
    return None


def write_textfile(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by node_exporter (mode 0644)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A dot-name without the .prom suffix: the collector ignores the file until the rename.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fchmod(f.fileno(), 0o644)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def publish(
    path: Path,
    doc: Mapping[str, Any],
    *,
    exit_code: int,
    bytes_uploaded: int | None,
    retries: Mapping[str, int],
) -> None:
    """Write the metrics of the run ``doc`` describes to ``path``."""
    before = previous_success(path, str(doc["batch"]))
    text = render(
        doc,
        exit_code=exit_code,
        bytes_uploaded=bytes_uploaded,
        retries=retries,
        previous_success=before,
    )
    write_textfile(path, text)
