"""`voice-onboard emulator --outage` / `[emulator] outages` and `--state`: what a bad value
tells the operator, and what a client sees during each kind of window."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipeline.commands.sample_data import write_inbox
from tests.cli.test_honest_outcomes import cli, manifest_of, one_line, standalone_emulator

HUAWEI_PATH = "/v1/p1/voice-training-manage/user/jobs"
AZURE_PATH = "/customvoice/projects?api-version=2026-01-01"


def get(url: str) -> tuple[int, str]:
    """(status, body) of a GET; raises what the connection raises."""
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("after=30s,for=2m", "missing kind"),
        ("after=30s,for=2m,kind=down", "kind must be one of refuse, reset, 503"),
        ("after=soon,for=2m,kind=503", "after must be a duration"),
        ("after=0s,for=0s,kind=503", "for must be positive"),
        ("after=0s,for=1s,kind=503,every=5m", "unexpected part"),
        ("after=0s,after=1s,for=1s,kind=503", "unexpected part"),
    ],
)
def test_bad_outage_flag_exits_2_naming_the_flag_and_the_form(spec: str, needle: str) -> None:
    """A malformed --outage is one line, exit 2, naming the flag, the fault and the form."""
    proc = cli("emulator", "--port", "0", "--outage", spec)
    one_line(proc, 2, "--outage", needle, "after=DURATION,for=DURATION,kind=refuse|reset|503")


def test_bad_outages_key_exits_2_naming_the_key(tmp_path: Path) -> None:
    """A malformed `[emulator] outages` entry stops `run` before anything is sent: exit 2,
    one line naming the key."""
    write_inbox(tmp_path / "inbox", voices=1, profile="huawei-basic", seed=1)
    job = tmp_path / "job.toml"
    job.write_text(
        '[batch]\nname = "b"\ninbox = "inbox"\nstate_dir = "var"\n\n'
        '[provider]\nkind = "huawei-metastudio"\nendpoint = "emulator"\nproject_id = "p"\n\n'
        '[emulator]\noutages = ["after=1m,for=2m,kind=flood"]\n'
    )
    one_line(cli("run", str(job)), 2, "[emulator] outages", "kind must be one of")


def test_outages_key_that_is_not_a_list_of_strings_exits_2(tmp_path: Path) -> None:
    """`outages = "after=…"` (a string, not a list) is one line, exit 2, naming the key."""
    job = tmp_path / "job.toml"
    job.write_text(
        '[batch]\nname = "b"\ninbox = "inbox"\nstate_dir = "var"\n\n'
        '[provider]\nkind = "huawei-metastudio"\nendpoint = "emulator"\nproject_id = "p"\n\n'
        '[emulator]\noutages = "after=1m,for=2m,kind=503"\n'
    )
    one_line(cli("check", str(job)), 2, "emulator.outages", "must be a list")


def test_unusable_state_file_exits_2_naming_the_flag(tmp_path: Path) -> None:
    """--state naming something that is not a state file (here: a text file) is one line,
    exit 2, naming the flag and what to do."""
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database, just notes\n" * 100)
    proc = cli("emulator", "--port", "0", "--state", str(bogus))
    one_line(proc, 2, "--state", str(bogus), "state file")


def test_refuse_window_refuses_connections_then_listens_again() -> None:
    """During a refuse window a connect is refused (ECONNREFUSED); once the window ends the
    same port answers again."""
    with standalone_emulator("--outage", "after=0s,for=2s,kind=refuse") as base:
        host, _, port = base.removeprefix("http://").partition(":")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=10).close()
        # The window is 2 s of wall time: poll (generously) until the port answers again.
        for _ in range(300):
            try:
                status, _body = get(base + HUAWEI_PATH)
                break
            except (ConnectionError, urllib.error.URLError):
                time.sleep(0.1)
        else:
            pytest.fail("the port never listened again after the refuse window")
        assert status == 401  # the Huawei API again: unsigned, so refused by the gateway


def test_reset_window_drops_every_provider_call_but_not_the_state_route() -> None:
    """During a reset window every provider call has its connection dropped unanswered;
    `/_emulator/state` still answers (the tests' window into the emulator)."""
    with standalone_emulator("--outage", "after=0s,for=1h,kind=reset") as base:
        for path in (HUAWEI_PATH, AZURE_PATH, "/obs/b/k", "/blob/emulator/voices/x"):
            with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
                get(base + path)
        status, body = get(base + "/_emulator/state")
        assert status == 200
        assert json.loads(body)["huawei"]["creates"] == []


def test_503_window_answers_each_service_in_its_own_error_format() -> None:
    """During a 503 window Huawei answers its JSON error, Azure its JSON error, OBS and Azure
    Storage their XML errors, all 503."""
    with standalone_emulator("--outage", "after=0s,for=1h,kind=503") as base:
        status, body = get(base + HUAWEI_PATH)
        assert status == 503
        assert json.loads(body)["error_code"] == "MSS.00000004"
        status, body = get(base + AZURE_PATH)
        assert status == 503
        assert json.loads(body)["error"]["code"] == "ServiceUnavailable"
        status, body = get(base + "/obs/bucket/key")
        assert status == 503
        assert "<Code>ServiceUnavailable</Code>" in body
        status, body = get(base + "/blob/emulator/voices/x")
        assert status == 503
        assert "<Code>ServerBusy</Code>" in body


def test_window_that_has_not_opened_yet_lets_calls_through() -> None:
    """Before its `after`, a window changes nothing: the API answers as usual."""
    with standalone_emulator("--outage", "after=1h,for=1h,kind=503") as base:
        status, _body = get(base + HUAWEI_PATH)
        assert status == 401


def test_help_says_outage_times_are_wall_clock_seconds() -> None:
    """`emulator --help` says after/for are real seconds whatever --time-scale is."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "emulator", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    text = " ".join(proc.stdout.split())
    assert "after/for are real (wall-clock) seconds whatever --time-scale is" in text
    assert "--state FILE" in text


def test_outages_key_reaches_the_in_process_emulator(tmp_path: Path) -> None:
    """`[emulator] outages` with `endpoint = "emulator"`: a 503 window open for the whole run
    makes it end cut short (exit 3) with nothing pending, saying the provider was unreachable."""
    write_inbox(tmp_path / "inbox", voices=1, profile="huawei-basic", seed=1)
    job = tmp_path / "job.toml"
    job.write_text(
        '[batch]\nname = "b"\ninbox = "inbox"\nstate_dir = "var"\n\n'
        '[provider]\nkind = "huawei-metastudio"\nendpoint = "emulator"\nproject_id = "p"\n\n'
        '[limits]\nretry_budget = "2s"\n\n'
        '[emulator]\noutages = ["after=0s,for=1h,kind=503"]\n'
    )
    run = cli("run", str(job))
    assert run.returncode == 3, run.stdout + run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert "unreachable since" in run.stdout + run.stderr
    assert "HTTP 503" in run.stdout + run.stderr
    summary = manifest_of(run)["summary"]
    assert summary["pending"] == 0
    assert summary["deferred"] == 1
