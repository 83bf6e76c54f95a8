"""Huawei account limits and regions as the operator meets them: one line and exit 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.commands.sample_data import write_inbox
from tests.cli.test_honest_outcomes import (
    EMULATOR_CREDENTIALS,
    FAST,
    cli,
    emulator_jobs,
    job,
    manifest_of,
    one_line,
    standalone_emulator,
)


@pytest.fixture(scope="module")
def inbox3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three healthy Huawei basic voices, written once for the module."""
    folder = tmp_path_factory.mktemp("tenant-inbox") / "inbox"
    write_inbox(folder, voices=3, profile="huawei-basic", seed=3)
    return folder


@pytest.fixture
def root(tmp_path: Path, inbox3: Path) -> Path:
    """A folder with a private copy (hard links) of the three-voice inbox."""
    for voice in inbox3.iterdir():
        (tmp_path / "inbox" / voice.name).mkdir(parents=True)
        for f in voice.iterdir():
            os.link(f, tmp_path / "inbox" / voice.name / f.name)
    return tmp_path


def test_zero_quota_exits_2_naming_the_quota(root: Path) -> None:
    """No training resource left: exit 2, one line naming the quota field, no job created."""
    with standalone_emulator("--time-scale", "1000000", "--play", "huawei-zero-quota") as url:
        path = job(root, url)
        proc = cli("run", str(path), env=EMULATOR_CREDENTIALS)
        again = cli("run", str(path), env=EMULATOR_CREDENTIALS)
        jobs = emulator_jobs(url)
    for attempt in (proc, again):
        one_line(attempt, 2, "resource_available_nums.basic is 0", "nothing was created")
    assert jobs == []


def test_narrow_durations_leave_basic_voices_alone(root: Path) -> None:
    """The tenant's range judges the long recording (advance/third-party) only: a basic batch
    under a narrow range runs as ever, exit 0, one job per voice."""
    with standalone_emulator("--time-scale", "1000000", "--play", "huawei-narrow-durations") as url:
        path = job(root, url)
        proc = cli("run", str(path), env=EMULATOR_CREDENTIALS)
        jobs = emulator_jobs(url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {v["status"] for v in manifest_of(proc)["voices"]} == {"succeeded"}
    assert len(jobs) == 3


def _region_job(root: Path, provider_lines: str) -> Path:
    path = root / "job.toml"
    path.write_text(
        '[batch]\nname = "b"\ninbox = "inbox"\nstate_dir = "var"\n\n'
        f'[provider]\nkind = "huawei-metastudio"\nedition = "basic"\n{provider_lines}\n{FAST}',
        encoding="utf-8",
    )
    return path


def test_region_and_endpoint_that_disagree_exit_2(root: Path) -> None:
    """`region` and an `endpoint` of another region: one line naming both, exit 2."""
    path = _region_job(
        root,
        'region = "cn-north-4"\nendpoint = "https://metastudio.cn-east-3.myhuaweicloud.com"',
    )
    one_line(cli("check", str(path)), 2, "region", "cn-north-4", "metastudio.cn-east-3")


def test_unknown_region_exits_2_listing_the_known_ones(root: Path) -> None:
    """An unknown region id: one line listing the known regions, exit 2."""
    path = _region_job(root, 'region = "mars-1"')
    one_line(cli("check", str(path)), 2, "provider.region", "'mars-1'", "cn-north-4")


def test_region_with_the_emulator_is_refused(root: Path) -> None:
    """`region` beside endpoint = "emulator" does not agree: exit 2, nothing runs."""
    path = _region_job(root, 'region = "cn-east-3"\nendpoint = "emulator"')
    one_line(cli("run", str(path)), 2, "region", "emulator")


def test_region_alone_sets_the_endpoint(root: Path) -> None:
    """`region` without `endpoint` is a complete job file: `check` passes (no network)."""
    path = _region_job(root, 'region = "cn-east-3"')
    proc = cli("check", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        manifest_of(proc)["provider"]["endpoint"]
        == "https://metastudio.cn-east-3.myhuaweicloud.com"
    )
