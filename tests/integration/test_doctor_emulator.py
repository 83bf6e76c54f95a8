"""The doctor's checks against the real emulator over loopback, and the emulator's clock skew:
what the server's Date says, what its AK/SK check accepts, and that doctor writes nothing."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.config import Credentials, JobConfig, load_job
from pipeline.emulator.context import (
    DEFAULT_AZURE_KEY,
    DEFAULT_HUAWEI_AK,
    DEFAULT_HUAWEI_SK,
    EmulatorOptions,
)
from pipeline.emulator.server import Emulator
from pipeline.errors import AuthenticationFailed
from pipeline.providers.doctor import Check, Status, Verdict, diagnose, verdict
from pipeline.providers.http import Connection, HttpClient
from pipeline.providers.huawei.auth import AkSkAuth
from pipeline.providers.huawei.client import HuaweiClient
from pipeline.providers.huawei.records import CreateJobBody
from pipeline.providers.huawei.signer import sign_request

pytestmark = pytest.mark.anyio

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
HUAWEI = Credentials(huawei_ak=DEFAULT_HUAWEI_AK, huawei_sk=DEFAULT_HUAWEI_SK)
#: The calls a read-only first contact may make at the Huawei gateway.
HUAWEI_READS = {"list", "quotas", "tenant_duration_cfg", "show"}


def job(tmp_path: Path, provider: str) -> JobConfig:
    """A job file whose ``[provider]`` table is ``provider`` (plus the batch), loaded."""
    path = tmp_path / "job.toml"
    path.write_text(
        f'[batch]\nname = "doc"\ninbox = "inbox"\nstate_dir = "var"\n\n[provider]\n{provider}',
        encoding="utf-8",
    )
    return load_job(path, {})


def huawei_job(tmp_path: Path, endpoint: str) -> JobConfig:
    return job(
        tmp_path,
        f'kind = "huawei-metastudio"\nendpoint = "{endpoint}"\nproject_id = "{PROJECT}"\n'
        'edition = "basic"\n',
    )


def named(checks: tuple[Check, ...], name: str) -> Check:
    (check,) = (c for c in checks if c.name == name)
    return check


async def test_date_header_runs_ahead_by_the_clock_skew() -> None:
    """`clock_skew_s = 1200`: the emulator's Date is 20 min ahead of the real clock."""
    async with Emulator(EmulatorOptions(clock_skew_s=1200.0)) as emu, HttpClient() as http:
        before = time.time()
        answer = await http.probe(emu.base_url + "/")
        after = time.time()
    date = email.utils.parsedate_to_datetime(answer.headers["Date"]).timestamp()
    assert before + 1200 - 1 <= date <= after + 1200 + 1


async def test_signature_check_uses_the_skewed_clock() -> None:
    """A request signed at real time is refused by a server 20 min ahead; one signed at the
    server's time is accepted."""
    async with Emulator(EmulatorOptions(clock_skew_s=1200.0)) as emu, HttpClient() as http:
        client = HuaweiClient(
            Connection(http, emu.base_url),
            project_id=PROJECT,
            auth=AkSkAuth(ak=DEFAULT_HUAWEI_AK, sk=DEFAULT_HUAWEI_SK),
        )
        with pytest.raises(AuthenticationFailed, match="X-Sdk-Date"):
            await client.list_jobs(limit=1)
        url = f"{emu.base_url}/v1/{PROJECT}/voice-training-manage/user/jobs?limit=1&offset=0"
        headers = sign_request(
            method="GET",
            url=url,
            headers={"Content-Type": "application/json"},
            body=b"",
            ak=DEFAULT_HUAWEI_AK,
            sk=DEFAULT_HUAWEI_SK,
            project_id=PROJECT,
            now=datetime.fromtimestamp(time.time() + 1200, UTC),
        )
        answer = await http.request("GET", url, headers=headers)
    assert answer.status == 200


async def test_huawei_diagnosis_passes_and_only_reads(tmp_path: Path) -> None:
    """Every Huawei row ok on a default emulator; the gateway saw reads only, no job exists."""
    async with Emulator(EmulatorOptions()) as emu:
        checks = await diagnose(huawei_job(tmp_path, emu.base_url), HUAWEI, emu.base_url)
        assert verdict(checks) is Verdict.OK
        assert all(c.status is Status.OK for c in checks), checks
        assert set(emu.huawei.counters()) <= HUAWEI_READS
        assert emu.huawei.jobs() == []
        assert emu.huawei.creates == ()


async def test_list_keeps_batch_name_reads_yes_once_a_job_carries_it(tmp_path: Path) -> None:
    """With a job of this batch on the account, `alt: list keeps batch_name` says yes."""
    async with Emulator(EmulatorOptions()) as emu:
        async with HttpClient() as http:
            client = HuaweiClient(
                Connection(http, emu.base_url),
                project_id=PROJECT,
                auth=AkSkAuth(ak=DEFAULT_HUAWEI_AK, sk=DEFAULT_HUAWEI_SK),
            )
            await client.create_job("BASIC", CreateJobBody(voice_name="v", batch_name="doc"))
        checks = await diagnose(huawei_job(tmp_path, emu.base_url), HUAWEI, emu.base_url)
    assert named(checks, "alt: list keeps batch_name").detail.startswith("yes: jobs of batch")


async def test_zero_quota_play_fails_the_quota_row(tmp_path: Path) -> None:
    """`huawei-zero-quota`: the quota row fails, naming the edition; the verdict is CONFIG."""
    options = EmulatorOptions(plays=frozenset({"huawei-zero-quota"}))
    async with Emulator(options) as emu:
        checks = await diagnose(huawei_job(tmp_path, emu.base_url), HUAWEI, emu.base_url)
        assert emu.huawei.creates == ()
    quota = named(checks, "quota")
    assert quota.status is Status.FAIL
    assert "no basic training left" in quota.detail
    assert verdict(checks) is Verdict.CONFIG


async def test_azure_diagnosis_passes_and_creates_nothing(tmp_path: Path) -> None:
    """Every Azure row ok; the emulator holds no project, consent or voice afterwards."""
    async with Emulator(EmulatorOptions()) as emu:
        config = job(
            tmp_path,
            f'kind = "azure-personal-voice"\nendpoint = "{emu.base_url}"\n'
            'api_version = "2026-01-01"\nproject = "onboarding"\n',
        )
        checks = await diagnose(config, Credentials(azure_key=DEFAULT_AZURE_KEY), emu.base_url)
        snapshot = emu.azure.snapshot()
    assert all(c.status is Status.OK for c in checks), checks
    assert snapshot["projects"] == []
    assert snapshot["consents"] == []
    assert snapshot["personalVoices"] == []
