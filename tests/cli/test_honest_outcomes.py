"""Honest outcomes, as cron sees them: exit codes, the manifest, metrics and one-line errors when
the provider is unreachable, the ledger belongs to another endpoint, or the machine fails us."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.commands.sample_data import write_inbox
from pipeline.emulator.context import DEFAULT_HUAWEI_AK, DEFAULT_HUAWEI_SK

FAST = '[await]\npoll_interval = "0.2s"\ndeadline = "2m"\n'
EMULATOR = "[emulator]\ntime_scale = 1000000\n"
#: One try per call and a one-second budget: an unreachable provider is known in seconds.
IMPATIENT = '[limits]\nretry_attempts = 1\nretry_budget = "1s"\n'
FAKE_CREDENTIALS = {"HUAWEICLOUD_SDK_AK": "x", "HUAWEICLOUD_SDK_SK": "y"}
EMULATOR_CREDENTIALS = {
    "HUAWEICLOUD_SDK_AK": DEFAULT_HUAWEI_AK,
    "HUAWEICLOUD_SDK_SK": DEFAULT_HUAWEI_SK,
}


def cli(
    *args: str, env: dict[str, str] | None = None, stdin: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m pipeline ARGS` the way cron would (no terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
        stdin=stdin,
    )


def said(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines of stderr that are not JSON log events: what the operator is told."""
    return [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("{")]


def one_line(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Assert exit ``code``, no traceback and exactly one told line holding ``needles``."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = said(proc)
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def job(root: Path, endpoint: str, extra: str = "", *, batch: str = "honest") -> Path:
    """A Huawei basic job file in ``root`` against ``endpoint``."""
    path = root / "job.toml"
    path.write_text(
        f'[batch]\nname = "{batch}"\ninbox = "inbox"\nstate_dir = "var"\n\n'
        f'[provider]\nkind = "huawei-metastudio"\nendpoint = "{endpoint}"\nedition = "basic"\n\n'
        f"{FAST}{extra}",
        encoding="utf-8",
    )
    return path


def manifest_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The manifest whose path the run printed."""
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("manifest: "))
    doc: dict[str, Any] = json.loads(Path(line.removeprefix("manifest: ")).read_text())
    return doc


def metrics(path: Path) -> dict[str, float]:
    """The textfile's samples by name (labels other than batch dropped)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            status = sample.labels.get("status")
            out[f"{sample.name}{{{status}}}" if status else sample.name] = sample.value
    return out


@pytest.fixture(scope="module")
def inbox3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three healthy Huawei basic voices, written once for the module."""
    root = tmp_path_factory.mktemp("inbox3")
    write_inbox(root / "inbox", voices=3, profile="huawei-basic", seed=3)
    return root / "inbox"


@pytest.fixture
def root(tmp_path: Path, inbox3: Path) -> Path:
    """A folder with a private copy of the three-voice inbox."""
    dst = tmp_path / "inbox"
    dst.mkdir()
    for voice in inbox3.iterdir():
        (dst / voice.name).mkdir()
        for f in voice.iterdir():
            os.link(f, dst / voice.name / f.name)
    return tmp_path


@contextlib.contextmanager
def standalone_emulator(*flags: str) -> Iterator[str]:
    """`voice-onboard emulator --port 0` as a process; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "emulator", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("emulator listening on "), line
        yield line.strip().rpartition(" ")[2]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def emulator_jobs(base_url: str) -> list[dict[str, Any]]:
    """Every Huawei job the standalone emulator holds."""
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/_emulator/state", timeout=10) as answer:
        state: dict[str, Any] = json.load(answer)
    tenants: dict[str, Any] = state["huawei"]["tenants"]
    return [j for tenant in tenants.values() for j in tenant["jobs"]]


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --- 1. an unreachable provider is never a success ------------------------------------------


def test_unreachable_provider_defers_every_voice_and_exits_3(root: Path) -> None:
    """Nothing listening: every voice `deferred`, exit 3, `interrupted` set, metrics say 3."""
    prom = root / "metrics.prom"
    path = job(
        root,
        f"http://127.0.0.1:{free_port()}",
        IMPATIENT + f'[report]\nmetrics_textfile = "{prom.name}"\n',
    )
    proc = cli("run", str(path), env=FAKE_CREDENTIALS)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    doc = manifest_of(proc)
    assert {v["status"] for v in doc["voices"]} == {"deferred"}
    assert doc["summary"]["deferred"] == 3
    assert doc["summary"]["pending"] == 0
    assert "3 of 3 voices could not be sent" in doc["interrupted"]
    assert "cannot connect" in doc["interrupted"]
    cut = [ln for ln in proc.stdout.splitlines() if ln.startswith("cut short: ")]
    assert len(cut) == 1
    assert "could not be sent" in cut[0]
    m = metrics(prom)
    assert m["voice_onboard_last_run_exit_code"] == 3
    assert m["voice_onboard_last_success_timestamp_seconds"] == 0
    assert m["voice_onboard_voices{deferred}"] == 3
    assert m.get("voice_onboard_voices{pending}", 0) == 0


def test_unresolvable_https_endpoint_exits_3(root: Path) -> None:
    """An https endpoint whose host does not resolve: deferred voices and exit 3, not 0."""
    path = job(root, "https://metastudio.invalid", IMPATIENT)
    proc = cli("run", str(path), env=FAKE_CREDENTIALS)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert {v["status"] for v in manifest_of(proc)["voices"]} == {"deferred"}


# --- 2. endpoint is required; the ledger remembers its endpoint ------------------------------


def test_job_file_without_endpoint_is_refused(root: Path) -> None:
    """No `endpoint`: exit 2 naming the key; nothing runs on an emulator by surprise."""
    path = root / "job.toml"
    path.write_text(
        '[batch]\nname = "b"\ninbox = "inbox"\nstate_dir = "var"\n'
        '[provider]\nkind = "huawei-metastudio"\n',
        encoding="utf-8",
    )
    one_line(cli("run", str(path)), 2, "needs key 'endpoint'", '"emulator"')
    assert not (root / "var").exists()


def test_emulator_ledger_never_blocks_a_real_run(root: Path) -> None:
    """A batch run on the emulator, then pointed at another endpoint: exit 2 until --rebind,
    which sends every voice again (here: deferred, the endpoint is down)."""
    emulated = cli("run", str(job(root, "emulator", EMULATOR)))
    assert emulated.returncode == 0, emulated.stdout + emulated.stderr
    real = job(root, f"http://127.0.0.1:{free_port()}", IMPATIENT)
    refused = cli("run", str(real), env=FAKE_CREDENTIALS)
    one_line(refused, 2, "belongs to huawei-metastudio emulator", "--rebind", "fresh state_dir")
    rebound = cli("run", str(real), "--rebind", env=FAKE_CREDENTIALS)
    assert rebound.returncode == 3, rebound.stdout + rebound.stderr
    assert {v["status"] for v in manifest_of(rebound)["voices"]} == {"deferred"}
    status = json.loads(cli("status", str(real), "--json").stdout)
    assert all(v["history"] for v in status["voices"])  # the emulator's jobs, kept


# --- 3. one speaker never trains under another's job ----------------------------------------


def test_a_job_of_another_voice_with_the_same_name_is_not_adopted(root: Path) -> None:
    """Voice A trains as name N; A's folder goes, B arrives with name N: B gets a job of its
    own (the name alone never adopts another voice's job)."""
    inbox = root / "inbox"
    keep, *rest = sorted(inbox.iterdir())
    for extra in rest:
        for f in extra.iterdir():
            f.unlink()
        extra.rmdir()
    with standalone_emulator("--time-scale", "1000000") as url:
        path = job(root, url)
        first = cli("run", str(path), env=EMULATOR_CREDENTIALS)
        assert first.returncode == 0, first.stdout + first.stderr
        (inbox / keep.name).rename(inbox / "zz-newcomer")
        second = cli("run", str(path), env=EMULATOR_CREDENTIALS)
        jobs = emulator_jobs(url)
    assert second.returncode == 0, second.stdout + second.stderr
    by_voice = {v["voice"]: v for v in manifest_of(second)["voices"]}
    assert by_voice["zz-newcomer"]["status"] == "succeeded"
    assert by_voice[keep.name]["status"] == "succeeded"  # gone from the inbox, kept as it was
    assert by_voice["zz-newcomer"]["remote"]["job_id"] != by_voice[keep.name]["remote"]["job_id"]
    assert len(jobs) == 2


# --- 4. faults of the environment: one line, the right code ----------------------------------


def test_run_with_missing_inbox_or_inbox_a_file_exits_2(tmp_path: Path) -> None:
    """`run` (like `check`) names a missing inbox and an inbox that is a file; exit 2."""
    path = job(tmp_path, "emulator", EMULATOR)
    one_line(cli("run", str(path)), 2, "inbox not found")
    (tmp_path / "inbox").write_text("not a folder")
    one_line(cli("run", str(path)), 2, "inbox is not a folder")


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[await]\npoll_interval = nan\ndeadline = "1m"\n', "poll_interval"),
        ("[await]\ndeadline = nan\n", "deadline"),
        ("[await]\ndeadline = inf\n", "deadline"),
        ("[emulator]\ntime_scale = nan\n", "time_scale"),
    ],
)
def test_non_finite_durations_and_scales_exit_2(root: Path, extra: str, key: str) -> None:
    """nan/inf durations and scales: exit 2 naming the key, never a hang or a traceback."""
    path = root / "job.toml"
    path.write_text(
        '[batch]\nname = "b"\ninbox = "inbox"\nstate_dir = "var"\n'
        f'[provider]\nkind = "huawei-metastudio"\nendpoint = "emulator"\n{extra}',
        encoding="utf-8",
    )
    one_line(cli("run", str(path)), 2, f".{key} must be a finite")


def _mount_tmpfs(where: Path, *options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


@contextlib.contextmanager
def tmpfs(where: Path, *options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``where`` for the body (needs root, as in CI)."""
    _mount_tmpfs(where, *options)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_read_only_state_dir_exits_2(root: Path) -> None:
    """A state_dir on a read-only filesystem: exit 2 naming it, nothing else happens."""
    with tmpfs(root / "var", "ro", "size=1m"):
        one_line(cli("run", str(job(root, "emulator", EMULATOR))), 2, "state_dir", "var")


def test_status_reads_a_read_only_ledger(root: Path) -> None:
    """`status` on a ledger whose folder is mounted read-only still answers (exit 0)."""
    path = job(root, "emulator", EMULATOR)
    assert cli("run", str(path)).returncode == 0
    var = root / "var"
    subprocess.run(["mount", "--bind", str(var), str(var)], check=False)
    remount = subprocess.run(
        ["mount", "-o", "remount,bind,ro", str(var)], capture_output=True, check=False
    )
    try:
        if remount.returncode != 0:
            pytest.skip("cannot make a read-only bind mount here")
        proc = cli("status", str(path))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("succeeded") >= 3
    finally:
        subprocess.run(["umount", "-l", str(var)], check=False)


def test_disk_full_mid_run_exits_3_with_a_true_line(root: Path) -> None:
    """The state_dir's disk fills during normalization: exit 3 and one line that says so."""
    with tmpfs(root / "var", "size=3m"):
        proc = cli("run", str(job(root, "emulator", EMULATOR)))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    told = said(proc) + [ln for ln in proc.stdout.splitlines() if ln.startswith("cut short")]
    assert any("No space left on device" in ln for ln in told), told


def test_emulator_port_in_use_exits_2() -> None:
    """`voice-onboard emulator --port P` with P taken: exit 2, one line naming the port."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        one_line(cli("emulator", "--port", str(port)), 2, f"127.0.0.1:{port}", "--port")


def test_emulator_flags_must_be_finite() -> None:
    """`emulator --time-scale nan` is refused with exit 2, never a hang."""
    one_line(cli("emulator", "--time-scale", "nan"), 2, "--time-scale")


def test_closed_stdout_is_not_an_error(root: Path) -> None:
    """`run | head -1` and `status | head -1`: the run's own exit code, no BrokenPipeError."""
    path = job(root, "emulator", EMULATOR)
    for command in ("run", "status"):
        shell = subprocess.run(
            f"{sys.executable} -m pipeline {command} {path} | head -1; "
            'echo "rc=${PIPESTATUS[0]}"',
            shell=True,
            executable="/bin/bash",
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=300,
            check=False,
        )
        assert "rc=0" in shell.stdout, shell.stdout + shell.stderr
        assert "BrokenPipe" not in shell.stderr
        assert "Traceback" not in shell.stderr


# --- 8. an interrupted run's manifest lists every voice --------------------------------------


def test_rejected_credentials_manifest_lists_every_voice(root: Path) -> None:
    """A 401 stops the run (exit 3); the manifest still names all three voices, none pending."""
    with standalone_emulator() as url:
        wrong = {"HUAWEICLOUD_SDK_AK": "wrong", "HUAWEICLOUD_SDK_SK": "wrong-secret"}
        proc = cli("run", str(job(root, url)), env=wrong)
        jobs = emulator_jobs(url)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    doc = manifest_of(proc)
    assert len(doc["voices"]) == 3
    assert {v["status"] for v in doc["voices"]} == {"deferred"}
    assert "credentials" in doc["interrupted"]
    assert jobs == []


def test_sigterm_in_preflight_manifest_lists_every_voice(tmp_path: Path) -> None:
    """SIGTERM while the pre-flight still runs: exit 3, and the manifest names every voice of
    the batch (those not reached are `deferred`), none `pending` without a remote job."""
    write_inbox(tmp_path / "inbox", voices=10, profile="huawei-basic", seed=11)
    path = job(tmp_path, "emulator", EMULATOR)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if '"run.started"' in line:  # logged once the run's signal handler is in place
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, out + err
    assert "Traceback" not in err
    line = next(ln for ln in out.splitlines() if ln.startswith("manifest: "))
    doc = json.loads(Path(line.removeprefix("manifest: ")).read_text())
    assert doc["interrupted"] == "signal"
    assert len(doc["voices"]) == 10
    assert doc["summary"]["deferred"] >= 1
    for voice in doc["voices"]:
        if voice["status"] == "pending":
            assert voice["remote"].get("job_id")


def test_check_after_a_run_keeps_the_runs_latest(root: Path) -> None:
    """`check` writes <batch>-check-latest.*; the run's <batch>-latest.* keep its statuses."""
    path = job(root, "emulator", EMULATOR)
    assert cli("run", str(path)).returncode == 0
    manifests = root / "var" / "manifests"
    ran = json.loads((manifests / "honest-latest.json").read_text())
    checked = cli("check", str(path))
    assert checked.returncode == 0, checked.stderr
    assert json.loads((manifests / "honest-latest.json").read_text()) == ran
    assert {v["status"] for v in ran["voices"]} == {"succeeded"}
    check_doc = json.loads((manifests / "honest-check-latest.json").read_text())
    assert {v["status"] for v in check_doc["voices"]} == {"ready"}
    assert (manifests / "honest-check-latest.html").is_file()
    assert "succeeded" in (manifests / "honest-latest.html").read_text()


def test_sample_data_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    """`sample-data DIR` into a folder with anything in it: exit 2 naming it; --force writes."""
    target = tmp_path / "inbox"
    target.mkdir()
    (target / "alice").mkdir()
    one_line(cli("sample-data", str(target), "--voices", "1"), 2, str(target), "--force")
    assert [p.name for p in target.iterdir()] == ["alice"]
    forced = cli("sample-data", str(target), "--voices", "1", "--force")
    assert forced.returncode == 0, forced.stderr
    assert (target / "voice-001" / "voice.toml").is_file()


# --- 6. suggested commands are shell-quoted ----------------------------------------------------

HOSTILE = ("$(id)", "a b", "-rf", "it's", "x`id`")


def test_suggested_retry_commands_survive_hostile_names(root: Path) -> None:
    """Voice folders named `$(id)`, `a b`, `-rf` …: the report's retry command, pasted into a
    shell, passes each name as one literal --voices value and runs nothing else."""
    import html
    import re

    inbox = root / "inbox"
    for folder, name in zip(sorted(inbox.iterdir()), HOSTILE, strict=False):
        folder.rename(inbox / name)
    path = job(root, "emulator", '[emulator]\ntime_scale = 1000000\noutcomes = {"*" = "FAILED"}\n')
    proc = cli("run", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = next(ln for ln in proc.stdout.splitlines() if ln.startswith("report: "))
    page = Path(report.removeprefix("report: ")).read_text(encoding="utf-8")
    commands = [html.unescape(c) for c in re.findall(r'<pre class="cmd">(.*?)</pre>', page)]
    seen = set()
    for command in commands:
        assert command.startswith("voice-onboard retry ")
        # The shell's own parse of the pasted line, with printf in voice-onboard's place.
        argv = subprocess.run(
            ["bash", "-c", "printf '%s\\n' " + command.removeprefix("voice-onboard ")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert argv[0] == "retry"
        assert len(argv) == 3, argv
        assert argv[2].startswith("--voices=")
        seen.add(argv[2].removeprefix("--voices="))
    assert seen == set(HOSTILE[:3])


def test_run_summary_is_one_line_per_voice_whatever_the_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provider message with line breaks (and a multi-line cut-short reason) still gives one
    stdout line per voice, then the summary, cut-short and manifest lines."""
    from pipeline.commands.cli import _print_summary
    from pipeline.records import Finding, Severity, VoiceStatus
    from pipeline.stages.manifest import VoiceResult
    from pipeline.stages.results import RunReport

    broken = "MSS.00000003: bad value\nline two\r\nline\u2028three"
    results = (
        VoiceResult(
            voice="a",
            voice_name="A",
            status=VoiceStatus.FAILED,
            findings=(
                Finding(severity=Severity.ERROR, code="remote.error", file=None, message=broken),
            ),
        ),
        VoiceResult(voice="b", voice_name="B", status=VoiceStatus.DEFERRED, last_error=broken),
    )
    report = RunReport(
        command="run", manifest=tmp_path / "m.json", results=results, interrupted=broken
    )
    _print_summary(report)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5, lines
    assert lines[0].startswith("failed")
    assert "line two line three" in lines[0]
    assert lines[1].startswith("deferred")
    assert "not sent: MSS.00000003" in lines[1]
    assert lines[3].startswith("cut short: ")
