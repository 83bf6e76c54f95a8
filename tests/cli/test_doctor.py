"""`voice-onboard doctor` as an operator meets it: every problem one line with its fix, the
documented exit code, and an emulator that holds nothing afterwards."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from pipeline.emulator.context import DEFAULT_AZURE_KEY, DEFAULT_HUAWEI_AK, DEFAULT_HUAWEI_SK
from tests.cli.test_honest_outcomes import standalone_emulator

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
HUAWEI_KEYS = {"HUAWEICLOUD_SDK_AK": DEFAULT_HUAWEI_AK, "HUAWEICLOUD_SDK_SK": DEFAULT_HUAWEI_SK}
#: A SAS URL that is fine in every way but the one a test spoils.
GOOD_SAS = {
    "sv": "2022-11-02",
    "sr": "c",
    "sp": "racwl",
    "se": "2099-01-01T00:00:00Z",
    "sig": "c2ln",
}


def doctor(
    path: Path, *flags: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m pipeline doctor JOB` the way cron would run it (no terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "doctor", str(path), *flags],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def huawei_job(root: Path, endpoint: str, extra: str = "") -> Path:
    """A Huawei basic job file against ``endpoint``."""
    path = root / "huawei.toml"
    path.write_text(
        f'[batch]\nname = "doc"\ninbox = "inbox"\nstate_dir = "var"\n\n'
        f'[provider]\nkind = "huawei-metastudio"\nendpoint = "{endpoint}"\n'
        f'project_id = "{PROJECT}"\nedition = "basic"\n\n{extra}',
        encoding="utf-8",
    )
    return path


def azure_job(root: Path, endpoint: str, mode: str = "multipart", extra: str = "") -> Path:
    """An Azure personal-voice job file against ``endpoint``."""
    path = root / "azure.toml"
    path.write_text(
        f'[batch]\nname = "doc"\ninbox = "inbox"\nstate_dir = "var"\n\n'
        f'[provider]\nkind = "azure-personal-voice"\nendpoint = "{endpoint}"\n'
        f'api_version = "2026-01-01"\nproject = "onboarding"\nupload_mode = "{mode}"\n\n'
        f'[await]\ndeadline = "6h"\n\n{extra}',
        encoding="utf-8",
    )
    return path


def rows(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The check lines of the plain report (the summary line left out)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    return [ln for ln in proc.stdout.splitlines() if not ln.startswith("doctor: ")]


def the_failure(proc: subprocess.CompletedProcess[str], code: int, name: str) -> str:
    """Assert exit ``code`` and exactly one failing row, the check ``name``, with a fix."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    failed = [ln for ln in rows(proc) if ln.startswith("fail\t")]
    assert len(failed) >= 1, proc.stdout
    line = failed[0]
    assert line.split("\t")[1] == name, line
    assert " — fix: " in line, line
    return line


#: The conftest has already scrubbed the operator's credentials: it serves its defaults.
standalone = standalone_emulator


def state(base_url: str) -> dict[str, Any]:
    """The standalone emulator's `GET /_emulator/state`."""
    with urllib.request.urlopen(f"{base_url}/_emulator/state", timeout=10) as answer:
        doc: dict[str, Any] = json.load(answer)
    return doc


def assert_no_write(base_url: str) -> None:
    """No job, upload, project, consent, voice, operation or blob exists in the emulator."""
    doc = state(base_url)
    huawei, azure = doc["huawei"], doc["azure"]
    assert huawei["tenants"] == {}
    assert huawei["creates"] == []
    assert huawei["uploads"] == {}
    assert not {"create", "commit", "delete", "confirm_segment"} & huawei["counters"].keys()
    assert azure["projects"] == []
    assert azure["consents"] == []
    assert azure["personalVoices"] == []
    assert azure["operations"] == 0
    # The standalone emulator serves one empty container from the start; no blob was written.
    assert azure["blob"]["resets"] == 0
    assert all(blobs == [] for name, blobs in azure["blob"].items() if name != "resets")
    assert not any(
        route.split()[0] in ("PUT", "POST", "DELETE") for route in azure["counters"]["byRoute"]
    )


def sas_url(base_url: str, **spoiled: str) -> str:
    """A container SAS URL on the emulator's blob endpoint, with ``spoiled`` parameters."""
    query = "&".join(f"{k}={v}" for k, v in {**GOOD_SAS, **spoiled}.items())
    return f"{base_url}/blob/emulator/voices?{query}"


# --- all good --------------------------------------------------------------------------------


def test_huawei_in_process_emulator_passes_every_check(tmp_path: Path) -> None:
    """`endpoint = "emulator"`: every row ok, exit 0, and no state_dir written."""
    proc = doctor(huawei_job(tmp_path, "emulator"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = rows(proc)
    names = [ln.split("\t")[1] for ln in lines]
    assert {"endpoint", "clock", "credentials", "quota", "durations", "rate limits"} <= set(names)
    assert all(ln.startswith("ok\t") for ln in lines), lines
    assert proc.stdout.splitlines()[-1].startswith("doctor: ")
    assert "0 fail" in proc.stdout
    assert not (tmp_path / "var").exists()


def test_azure_in_process_emulator_passes_every_check(tmp_path: Path) -> None:
    """Azure multipart on the in-process emulator: every row ok (api-version, project), exit 0."""
    proc = doctor(azure_job(tmp_path, "emulator"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = rows(proc)
    assert all(ln.startswith("ok\t") for ln in lines), lines
    assert any("\tapi-version\t" in ln and "2026-01-01 accepted" in ln for ln in lines)
    assert any("\tproject\t" in ln and "does not exist yet" in ln for ln in lines)


def test_json_has_the_stable_schema(tmp_path: Path) -> None:
    """`--json`: {"checks": [{name, status, detail, fix}], "exit": N} and nothing else."""
    proc = doctor(huawei_job(tmp_path, "emulator"), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"checks", "exit"}
    assert doc["exit"] == 0
    for check in doc["checks"]:
        assert set(check) == {"name", "status", "detail", "fix"}
        assert check["status"] in ("ok", "warn", "fail")


def test_standalone_emulator_passes_and_holds_nothing(tmp_path: Path) -> None:
    """Against `voice-onboard emulator`: exit 0, and its state shows no write of any kind."""
    with standalone() as url:
        proc = doctor(huawei_job(tmp_path, url), env=HUAWEI_KEYS)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        proc = doctor(azure_job(tmp_path, url), env={"AZURE_SPEECH_KEY": DEFAULT_AZURE_KEY})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert_no_write(url)


# --- each problem: one line with the fix, the documented exit code, no write -----------------


def test_wrong_huawei_key_fails_credentials_exit_2(tmp_path: Path) -> None:
    """A wrong AK/SK: the credentials row fails naming the variables; nothing is written."""
    with standalone() as url:
        env = {"HUAWEICLOUD_SDK_AK": "WRONGAK00000000000000", "HUAWEICLOUD_SDK_SK": "wrong"}
        line = the_failure(doctor(huawei_job(tmp_path, url), env=env), 2, "credentials")
        assert "HTTP 401" in line
        assert "HUAWEICLOUD_SDK_AK" in line
        assert "wrong" not in line.replace("WRONGAK", "")  # the secret key is never quoted
        assert_no_write(url)


def test_wrong_azure_key_fails_credentials_exit_2(tmp_path: Path) -> None:
    """A wrong Speech key: the credentials row fails naming AZURE_SPEECH_KEY."""
    with standalone() as url:
        env = {"AZURE_SPEECH_KEY": "not-the-key-000000000000000000"}
        line = the_failure(doctor(azure_job(tmp_path, url), env=env), 2, "credentials")
        assert "AZURE_SPEECH_KEY" in line
        assert "not-the-key" not in line
        assert_no_write(url)


def test_skewed_server_clock_fails_clock_exit_2(tmp_path: Path) -> None:
    """A server clock 20 min ahead: the clock row fails with the skew and the NTP fix."""
    with standalone("--clock-skew", "1200") as url:
        proc = doctor(huawei_job(tmp_path, url), env=HUAWEI_KEYS)
        line = the_failure(proc, 2, "clock")
        assert "20 min ahead" in line
        assert "NTP" in line
        refused = next(ln for ln in rows(proc) if ln.split("\t")[1] == "credentials")
        assert "fix this machine's clock first" in refused
        assert_no_write(url)


def test_zero_quota_fails_quota_exit_2(tmp_path: Path) -> None:
    """`--play huawei-zero-quota`: the quota row fails naming the edition; nothing created."""
    with standalone("--play", "huawei-zero-quota") as url:
        line = the_failure(doctor(huawei_job(tmp_path, url), env=HUAWEI_KEYS), 2, "quota")
        assert "no basic training left" in line
        assert "edition" in line
        assert_no_write(url)


@pytest.mark.parametrize(
    ("spoiled", "needle"),
    [
        ({"se": "2020-01-01T00:00:00Z"}, "expired at 2020-01-01"),
        ({"sp": "rl"}, "lacks c = create"),
    ],
    ids=["expired", "read-only"],
)
def test_bad_sas_url_fails_blob_sas_exit_2(
    tmp_path: Path, spoiled: dict[str, str], needle: str
) -> None:
    """An expired or read-only container SAS: the blob SAS row fails; no blob is written."""
    with standalone() as url:
        env = {
            "AZURE_SPEECH_KEY": DEFAULT_AZURE_KEY,
            "AZURE_BLOB_CONTAINER_SAS_URL": sas_url(url, **spoiled),
        }
        proc = doctor(azure_job(tmp_path, url, "blob-sas"), env=env)
        line = the_failure(proc, 2, "blob SAS")
        assert needle in line
        assert "sp=racwl" in line
        assert "c2ln" not in proc.stdout
        assert_no_write(url)


def test_good_sas_url_passes(tmp_path: Path) -> None:
    """A container SAS with racwl until 2099: the blob SAS row is ok, exit 0."""
    with standalone() as url:
        env = {"AZURE_SPEECH_KEY": DEFAULT_AZURE_KEY, "AZURE_BLOB_CONTAINER_SAS_URL": sas_url(url)}
        proc = doctor(azure_job(tmp_path, url, "blob-sas"), env=env)
        assert proc.returncode == 0, proc.stdout
        assert any(ln.startswith("ok\t") and "\tblob SAS\t" in ln for ln in rows(proc))


def test_nothing_listening_fails_endpoint_exit_3(tmp_path: Path) -> None:
    """A port nothing listens on: the endpoint row fails with the fix, exit 3."""
    with socket.socket() as bound:  # bound, never listening: every connect is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        proc = doctor(huawei_job(tmp_path, f"http://127.0.0.1:{port}"), env=HUAWEI_KEYS)
    line = the_failure(proc, 3, "endpoint")
    assert "did not answer" in line
    assert "[provider] endpoint" in line
    assert len(rows(proc)) == 1


@pytest.mark.parametrize(
    ("emulator", "name"),
    [("clock_skew = 1200", "clock"), ('plays = ["huawei-zero-quota"]', "quota")],
    ids=["clock_skew", "zero-quota"],
)
def test_emulator_table_plays_the_problem_in_process(
    tmp_path: Path, emulator: str, name: str
) -> None:
    """`[emulator]` keys reach the in-process emulator doctor starts: the same failure, exit 2."""
    the_failure(doctor(huawei_job(tmp_path, "emulator", f"[emulator]\n{emulator}\n")), 2, name)


def test_missing_credentials_fail_one_row_exit_2(tmp_path: Path) -> None:
    """No credentials for a real endpoint: the credentials row says which variables to set."""
    with standalone() as url:
        line = the_failure(doctor(huawei_job(tmp_path, url)), 2, "credentials")
        assert "HUAWEICLOUD_SDK_AK" in line
