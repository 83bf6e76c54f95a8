"""The CLI as cron and make see it: exit codes, one-line errors, help, the pre-flight report."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.commands.emulator import EMULATOR_HELP
from pipeline.commands.parser import build_parser
from pipeline.commands.sample_data import write_inbox
from pipeline.lock import batch_lock


def _commands() -> list[str]:
    """Every subcommand, as the parser knows them (a new command cannot be left out)."""
    actions = build_parser()._actions
    (sub,) = (a for a in actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


COMMANDS = _commands()


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m pipeline ARGS` the way cron would (no terminal)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    """`voice-onboard COMMAND --help` prints usage and exits 0."""
    proc = cli(command, "--help")
    assert proc.returncode == 0
    assert "usage:" in proc.stdout


def test_the_parser_knows_every_command() -> None:
    assert {"check", "run", "status", "retry", "emulator", "sample-data"} <= set(COMMANDS)


def test_help_imports_no_emulator() -> None:
    """Building the parser (every command, `--help` too) loads no emulator, no aiohttp.web, and
    neither the config nor the audio stack (numpy) that only the commands themselves need."""
    heavy = "('pipeline.emulator', 'pipeline.config', 'pipeline.audio', 'aiohttp.web', 'numpy')"
    code = (
        "import sys\n"
        "from pipeline.commands.parser import build_parser\n"
        "build_parser()\n"
        f"print([m for m in sys.modules if m.startswith({heavy})])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert proc.stdout.strip() == "[]"


def test_emulator_help_names_the_emulators_test_credentials() -> None:
    """The help text lives in the command layer; it must name the emulator's real defaults."""
    from pipeline.emulator import context, server

    for value in (
        context.DEFAULT_HUAWEI_AK,
        context.DEFAULT_HUAWEI_SK,
        context.DEFAULT_HUAWEI_TOKEN,
        context.DEFAULT_AZURE_KEY,
        server.STATE_PATH,
    ):
        assert value in EMULATOR_HELP


def _one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_unknown_key_is_one_line_exit_2(write_job: Callable[..., Path]) -> None:
    """An unknown key in the job file: exit 2, one line naming file, line and key."""
    path = write_job(extra="[limits]\nuploadz = 3\n")
    _one_line_error(cli("check", str(path)), 2, str(path), "limits.uploadz")


def test_missing_and_broken_job_files(tmp_path: Path) -> None:
    """A missing job file and broken TOML are one-line errors, exit 2."""
    _one_line_error(cli("check", str(tmp_path / "none.toml")), 2, "job file not found")
    bad = tmp_path / "bad.toml"
    bad.write_text("[batch]\nname = \n", encoding="utf-8")
    _one_line_error(cli("run", str(bad)), 2, "not valid TOML")


def test_missing_inbox(write_job: Callable[..., Path], tmp_path: Path) -> None:
    """A job whose inbox does not exist: exit 2, one line naming the folder."""
    path = write_job()
    (tmp_path / "inbox").rmdir()
    _one_line_error(cli("check", str(path)), 2, "inbox not found")


def test_missing_credentials_for_real_endpoint(write_job: Callable[..., Path]) -> None:
    """A real endpoint without credentials: exit 2 before anything is sent."""
    path = write_job(
        provider='kind = "huawei-metastudio"\nendpoint = "https://metastudio.example.com"'
    )
    _one_line_error(cli("run", str(path)), 2, "HUAWEICLOUD_SDK_AK")


def test_detach_needs_a_lasting_emulator(write_job: Callable[..., Path]) -> None:
    """--detach against the in-process emulator would lose its jobs: refused with exit 2."""
    _one_line_error(cli("run", "--detach", str(write_job())), 2, "--detach")


def test_locked_batch_exits_75(write_job: Callable[..., Path], tmp_path: Path) -> None:
    """While another run holds the batch lock, a run exits 75 at once with one line."""
    path = write_job()
    with batch_lock(tmp_path / "var", "t"):
        proc = cli("run", str(path))
    _one_line_error(proc, 75, "locked")


def test_check_with_defects(tmp_path: Path, write_job: Callable[..., Path]) -> None:
    """sample-data --with-defects then check: exit 1; each defect found, healthy voices ready."""
    path = write_job()
    inbox = tmp_path / "inbox"
    inbox.rmdir()  # sample-data never writes into an existing voice folder; start empty
    proc = cli(
        "sample-data", str(inbox), "--voices", "2", "--profile", "huawei-basic", "--with-defects"
    )
    assert proc.returncode == 0, proc.stderr
    expected = {
        v.key: v
        for v in write_inbox(
            tmp_path / "again", voices=2, profile="huawei-basic", with_defects=True
        )
    }
    proc = cli("check", str(path))
    assert proc.returncode == 1, proc.stderr[-2000:]
    manifest = json.loads((tmp_path / "var" / "manifests" / "t-check-latest.json").read_text())
    got = {v["voice"]: v for v in manifest["voices"]}
    assert set(got) == set(expected)
    for key, sample in expected.items():
        entry = got[key]
        assert entry["status"] == sample.expected_status, (key, entry["findings"])
        codes = {f["code"] for f in entry["findings"] if f["severity"] in ("error", "warning")}
        assert set(sample.expected_codes) <= codes, (key, codes)
        if sample.defect is None:
            assert not [f for f in entry["findings"] if f["severity"] == "error"], key
    assert "manifest:" in proc.stdout
    assert manifest["summary"]["rejected"] == sum(
        1 for v in expected.values() if v.expected_status == "rejected"
    )


def test_run_on_emulator_and_status(tmp_path: Path, write_job: Callable[..., Path]) -> None:
    """`run` on the in-process emulator exits 0 with every voice succeeded; `status` shows them."""
    path = write_job(extra='[await]\npoll_interval = "0.2s"\n[emulator]\ntime_scale = 1000000')
    (tmp_path / "inbox").rmdir()
    sample = cli("sample-data", str(tmp_path / "inbox"), "--voices", "2", "--seed", "4")
    assert sample.returncode == 0
    proc = cli("run", str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("succeeded") >= 2
    for line in proc.stderr.splitlines():  # cron sees JSON lines only
        json.loads(line)
    status = cli("status", "--json", str(path))
    assert status.returncode == 0
    voices = json.loads(status.stdout)["voices"]
    assert [v["status"] for v in voices] == ["succeeded", "succeeded"]


def test_standalone_emulator_serves_and_stops(tmp_path: Path) -> None:
    """`voice-onboard emulator --port 0` prints its URL, serves both APIs' state, stops on SIGTERM."""
    import signal
    import urllib.request

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "emulator",
            "--port",
            "0",
            "--time-scale",
            "1000",
            "--storage",
            str(tmp_path / "objects"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("emulator listening on http://127.0.0.1:")
        base = line.split()[-1]
        with urllib.request.urlopen(f"{base}/_emulator/state", timeout=10) as answer:
            state = json.loads(answer.read())
        assert "huawei" in state
        assert "azure" in state
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
