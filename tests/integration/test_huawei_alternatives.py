"""Each Huawei alternative the emulator plays, end to end: a batch run as a process is killed
(SIGKILL) right after its first create reached the service, resumed, then run again; every
voice ends as it should and the emulator holds exactly one job per voice."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from pipeline.commands.sample_data import write_inbox
from pipeline.emulator.context import EmulatorOptions
from pipeline.emulator.huawei.model import HuaweiSettings
from pipeline.emulator.huawei.plays import ADMIN_MESSAGE, ALGORITHM_REASON, NARROW_LIMITS
from pipeline.emulator.server import Emulator
from pipeline.providers.http import Connection, HttpClient, HttpSettings
from pipeline.providers.huawei.auth import AkSkAuth
from pipeline.providers.huawei.client import HuaweiClient
from pipeline.records import VoiceStatus
from pipeline.runner import RunReport, run_check
from pipeline.stages.tenant import CODE as OUT_OF_RANGE
from tests.integration.e2e import CREDENTIALS, PROJECT_ID, huawei_job, link_tree, run
from tests.integration.test_crash_soak import ENV

pytestmark = pytest.mark.anyio

FAST = 1_000_000.0
#: Long enough to kill the client between "the job exists" and "its id is in the ledger".
ANSWER_DELAY_S = 1.5


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-scoped so module-scoped async fixtures can use it."""
    return "asyncio"


@pytest.fixture(scope="module")
def basic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three healthy basic voices for the module."""
    root = tmp_path_factory.mktemp("alt-basic") / "inbox"
    write_inbox(root, voices=3, profile="huawei-basic", seed=5)
    return root


@pytest.fixture(scope="module")
async def basic_cache(basic: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The basic voices' normalized audio, made once."""
    config = huawei_job(tmp_path_factory.mktemp("alt-check"), endpoint="emulator", inbox=basic)
    assert (await run_check(config)).exit_code == 0
    return config.cache_dir


def _jobs_per_voice(emu: Emulator) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job in emu.huawei.jobs(PROJECT_ID):
        counts[job.voice_name] = counts.get(job.voice_name, 0) + 1
    return counts


def _start(job: Path) -> subprocess.Popen[bytes]:
    """`voice-onboard run JOB` as a separate process (its log beside the job)."""
    with (job.parent / "runs.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", str(job)],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


async def _kill_after_first_create(emu: Emulator, job: Path) -> None:
    """The run as a process, SIGKILLed once its first create reached the emulator (whose
    answer is held back, so the id never reached the ledger)."""
    proc = _start(job)
    try:
        with anyio.fail_after(120):
            while not emu.huawei.creates:
                await anyio.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()


async def _crash_resume_rerun(
    plays: str, config_for: Any, *, voices: int, settings: HuaweiSettings | None = None
) -> tuple[Emulator, RunReport, RunReport]:
    """Kill after the first create, resume, run again; (emulator, resumed, re-run)."""
    settings = settings or HuaweiSettings(create_answer_delay_s=ANSWER_DELAY_S)
    options = EmulatorOptions(time_scale=FAST, plays=frozenset({plays}))
    async with Emulator(options, huawei_settings=settings) as emu:
        config = config_for(emu.base_url)
        await _kill_after_first_create(emu, config.path)
        resumed = await run(config)
        creates = len(emu.huawei.creates)
        again = await run(config)
        assert len(emu.huawei.creates) == creates  # the re-run created nothing
    counts = _jobs_per_voice(emu)
    assert len(counts) == voices, counts
    assert set(counts.values()) == {1}, counts
    return emu, resumed, again


def _statuses(report: RunReport) -> dict[str, VoiceStatus]:
    return {r.voice: r.status for r in report.results}


def _ok(report: RunReport, voices: int) -> None:
    assert list(_statuses(report).values()) == [VoiceStatus.SUCCEEDED] * voices, [
        (r.voice, r.status, r.last_error) for r in report.results
    ]


@pytest.mark.parametrize("plays", ["huawei-batch-name-dropped", "huawei-batch-name-rewritten"])
async def test_batch_name_not_kept(
    plays: str, basic: Path, basic_cache: Path, tmp_path: Path
) -> None:
    """batch_name dropped or rewritten: a lost create answer is still adopted (by voice name
    and our marker), polling still finds every job, nothing duplicated or "vanished"."""

    def config_for(url: str) -> Any:
        return huawei_job(tmp_path, endpoint=url, inbox=basic, cache_from=basic_cache)

    emu, resumed, again = await _crash_resume_rerun(plays, config_for, voices=3)
    _ok(resumed, 3)
    _ok(again, 3)
    kept = {job.batch_name for job in emu.huawei.jobs(PROJECT_ID)}
    assert kept == ({None} if plays.endswith("dropped") else {"b-" + PROJECT_ID[:6]})
    assert all(r.remote["job_id"] for r in resumed.results)


async def test_one_segment_url(basic: Path, basic_cache: Path, tmp_path: Path) -> None:
    """SEGMENT mode with one upload slot: the client asks uploading-address per sentence, every
    sentence lands under its own index, every voice trains."""

    def config_for(url: str) -> Any:
        return huawei_job(
            tmp_path, endpoint=url, inbox=basic, upload_mode="segment", cache_from=basic_cache
        )

    emu, resumed, again = await _crash_resume_rerun("huawei-one-segment-url", config_for, voices=3)
    _ok(resumed, 3)
    _ok(again, 3)
    for job in emu.huawei.jobs(PROJECT_ID):
        assert job.confirmed == frozenset(range(20))
        names = set(emu.huawei.objects(job.job_id))
        assert {f"segments/{i}.wav" for i in range(20)} <= names


async def test_unknown_job_400(basic: Path, basic_cache: Path, tmp_path: Path) -> None:
    """Unknown jobs answered 400: resume and polling still work; a job deleted at the service
    reads as gone (failed, "no longer exists"), not as an endless pending or a bad request."""

    def config_for(url: str) -> Any:
        return huawei_job(tmp_path, endpoint=url, inbox=basic, cache_from=basic_cache)

    _, resumed, _ = await _crash_resume_rerun("huawei-unknown-job-400", config_for, voices=3)
    _ok(resumed, 3)
    options = EmulatorOptions(time_scale=FAST, plays=frozenset({"huawei-unknown-job-400"}))
    async with Emulator(options) as emu2:
        config = huawei_job(
            tmp_path / "deleted",
            endpoint=emu2.base_url,
            inbox=basic,
            cache_from=basic_cache,
        )
        detached = await run(config, detach=True)
        assert {r.status for r in detached.results} <= {VoiceStatus.PENDING, VoiceStatus.SUCCEEDED}
        pending = [r for r in detached.results if r.status is VoiceStatus.PENDING]
        victim = (pending or list(detached.results))[0]
        async with HttpClient(HttpSettings()) as http:
            client = HuaweiClient(
                Connection(http, emu2.base_url),
                project_id=PROJECT_ID,
                auth=AkSkAuth(ak=CREDENTIALS.huawei_ak or "", sk=CREDENTIALS.huawei_sk or ""),
            )
            await client.delete_job(victim.remote["job_id"])
        final = await run(config)
    by_voice = {r.voice: r for r in final.results}
    if victim.status is VoiceStatus.PENDING:
        gone = by_voice[victim.voice]
        assert gone.status is VoiceStatus.FAILED
        assert "no longer exists" in (gone.last_error or "")
    others = [r for r in final.results if r.voice != victim.voice]
    assert {r.status for r in others} == {VoiceStatus.SUCCEEDED}
    assert len(emu2.huawei.creates) == 3


async def test_manual_review_reject(basic: Path, basic_cache: Path, tmp_path: Path) -> None:
    """Manual review refuses every job: needs_attention with the admin message, the attachment
    URL and the operation log's reasons in the manifest, never "no reason given"."""

    def config_for(url: str) -> Any:
        return huawei_job(tmp_path, endpoint=url, inbox=basic, cache_from=basic_cache)

    _, resumed, again = await _crash_resume_rerun(
        "huawei-manual-review-reject", config_for, voices=3
    )
    for report in (resumed, again):
        assert set(_statuses(report).values()) == {VoiceStatus.NEEDS_ATTENTION}
    manifest = json.loads((tmp_path / "var" / "manifests" / "b-latest.json").read_text())
    for voice in manifest["voices"]:
        messages = [f["message"] for f in voice["findings"] if f["code"] == "remote.audit_failed"]
        text = "\n".join(messages)
        assert ADMIN_MESSAGE in text
        assert "review-notes.pdf" in text
        assert "https://" in text
        assert ALGORITHM_REASON in text
        assert "no reason given" not in text


@pytest.fixture(scope="module")
def advance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six healthy advance voices (long recordings of about 155–166 s with seed 8) for the module."""
    root = tmp_path_factory.mktemp("alt-advance") / "inbox"
    write_inbox(root, voices=6, profile="huawei-advance", seed=8)
    return root


async def test_narrow_durations(advance: Path, tmp_path: Path) -> None:
    """A narrow tenant duration range: voices outside it are rejected in the pre-flight with
    the tenant's figures and never created; the others train; one job per created voice."""
    options = EmulatorOptions(time_scale=FAST, plays=frozenset({"huawei-narrow-durations"}))
    settings = HuaweiSettings(create_answer_delay_s=ANSWER_DELAY_S)
    async with Emulator(options, huawei_settings=settings) as emu:
        config = huawei_job(tmp_path, endpoint=emu.base_url, inbox=advance, edition="advance")
        await _kill_after_first_create(emu, config.path)
        resumed = await run(config)
        creates = len(emu.huawei.creates)
        again = await run(config)
        assert len(emu.huawei.creates) == creates
    statuses = _statuses(resumed)
    assert statuses == _statuses(again)
    rejected = {k for k, s in statuses.items() if s is VoiceStatus.REJECTED}
    assert rejected, statuses
    assert rejected != set(statuses), statuses
    assert {s for k, s in statuses.items() if k not in rejected} == {VoiceStatus.SUCCEEDED}
    figures = f"{NARROW_LIMITS.advance_min}–{NARROW_LIMITS.advance_max} s"
    for result in resumed.results:
        codes = {f.code: f.message for f in result.findings}
        assert (OUT_OF_RANGE in codes) == (result.voice in rejected)
        if result.voice in rejected:
            assert figures in codes[OUT_OF_RANGE]
    counts = _jobs_per_voice(emu)
    names: Mapping[str, str | None] = {r.voice: r.voice_name for r in resumed.results}
    assert set(counts) == {names[k] for k in statuses if k not in rejected}
    assert set(counts.values()) == {1}


async def test_zero_quota_creates_nothing(basic: Path, basic_cache: Path, tmp_path: Path) -> None:
    """No training resource left: the run is refused before anything is created, also when
    run again; the emulator holds no job (the CLI's exit 2 line: tests/cli)."""
    options = EmulatorOptions(time_scale=FAST, plays=frozenset({"huawei-zero-quota"}))
    async with Emulator(options) as emu:
        config = huawei_job(tmp_path, endpoint=emu.base_url, inbox=basic, cache_from=basic_cache)
        for _ in range(2):
            with pytest.raises(BaseException) as caught:
                await run(config)
            assert "resource_available_nums.basic is 0" in repr(caught.value)
        assert emu.huawei.creates == ()
        assert emu.huawei.jobs(PROJECT_ID) == []


async def test_default_mode_keeps_batch_name_and_one_list_per_round(
    basic: Path, basic_cache: Path, tmp_path: Path
) -> None:
    """In the default mode the batch list answers every job: polling asks no show per job."""
    async with Emulator(EmulatorOptions(time_scale=FAST)) as emu:
        one = link_tree(basic, tmp_path / "inbox")
        config = huawei_job(tmp_path, endpoint=emu.base_url, inbox=one, cache_from=basic_cache)
        _ok(await run(config), 3)
        shows_before = emu.huawei.counters().get("show", 0)
        _ok(await run(config), 3)
        assert emu.huawei.counters().get("show", 0) == shows_before
