"""An operator's first commands: --version, global flags after the command, one voice first."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from tests.cli.test_honest_outcomes import (
    EMULATOR,
    cli,
    inbox3,
    job,
    manifest_of,
    one_line,
    root,
)

__all__ = ["inbox3", "root"]  # the fixtures, shared with the honest-outcome tests


def test_version_names_the_package_and_the_provider_apis() -> None:
    """`--version` prints our version and the API versions we speak, and exits 0."""
    proc = cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"voice-onboard {version('voice-onboarding')} ")
    assert "Huawei MetaStudio" in proc.stdout
    assert "api-version" in proc.stdout


def test_global_flags_after_the_command(root: Path) -> None:
    """`run job.toml -v --log-json` is accepted: JSON log lines on stderr, exit 0."""
    proc = cli("run", str(job(root, "emulator", EMULATOR)), "-v", "--log-json")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(ln)["event"] for ln in proc.stderr.splitlines() if ln.startswith("{")]
    assert "run.finished" in events


def test_run_one_voice_first(root: Path) -> None:
    """`run --voices KEY` sends only that voice; the manifest lists it alone."""
    key = min(p.name for p in (root / "inbox").iterdir())
    proc = cli("run", str(job(root, "emulator", EMULATOR)), "--voices", key)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = manifest_of(proc)
    assert [v["voice"] for v in doc["voices"]] == [key]
    assert doc["voices"][0]["status"] == "succeeded"


def test_voices_glob_matching_nothing_exits_2(root: Path) -> None:
    """A --voices pattern that matches no folder is one line naming it, exit 2, no run."""
    path = job(root, "emulator", EMULATOR)
    for command in ("check", "run"):
        one_line(cli(command, str(path), "--voices", "nobody*"), 2, "'nobody*'", "no voice folder")
    assert not (root / "var").exists() or not any((root / "var").rglob("*.json"))
