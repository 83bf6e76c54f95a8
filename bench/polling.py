"""Benchmark 5: the cost of one polling round for 1,000 pending Huawei jobs.

The emulator (in-process: its call counters are read directly) holds 1,000 submitted jobs of
one batch, still training (emulated time runs at real speed, and training takes a day). One
round of ``HuaweiProvider.poll`` over the 1,000 ledger states is counted at the emulator:

- ours: the provider's bulk poll, ``ListVoiceTrainingJob`` pages of 100 filtered by batch;
- anchor: the naive way, one ``ShowVoiceTrainingJob`` per job.

The figure is requests per round (and seconds per round under the default 20 queries/s quota,
which the client honours; the naive round's is computed from its request count).
"""

from __future__ import annotations

import time
from typing import Final

import anyio

from bench.common import PROJECT_ID, VAR, Result, huawei_job

NAME: Final = "polling"
TITLE: Final = "Polling: one round over 1,000 pending jobs (requests counted at the emulator)"
JOBS: Final = 1000
MAX_REQUESTS: Final = 15


async def _measure() -> dict[str, float]:
    from pipeline.config import Credentials, load_job
    from pipeline.emulator.context import DEFAULT_HUAWEI_AK, DEFAULT_HUAWEI_SK, EmulatorOptions
    from pipeline.emulator.server import Emulator
    from pipeline.providers.factory import open_provider
    from pipeline.providers.http import Connection, HttpClient
    from pipeline.providers.huawei.auth import AkSkAuth
    from pipeline.providers.huawei.client import HuaweiClient, RateLimits
    from pipeline.providers.huawei.provider import HuaweiProvider
    from pipeline.providers.huawei.records import CreateJobBody
    from pipeline.records import Phase, VoiceState, VoiceStatus

    # Setup only: no emulated quotas, so 2,000 creates and commits take seconds, not minutes.
    unthrottled = tuple((kind, 0.0) for kind in ("create", "commit", "show", "list", "delete"))
    options = EmulatorOptions(
        huawei_rate_limits=(*unthrottled, ("other", 0.0)), outcomes=(("*", "SUCCEED"),)
    )
    async with Emulator(options) as emu, HttpClient() as http:
        setup = HuaweiClient(
            Connection(http, emu.base_url),
            project_id=PROJECT_ID,
            auth=AkSkAuth(ak=DEFAULT_HUAWEI_AK, sk=DEFAULT_HUAWEI_SK),
            rate_limits=RateLimits.uniform(write=10_000, read=10_000),
        )
        slots = anyio.CapacityLimiter(16)
        states: list[VoiceState] = []

        async def one(i: int) -> None:
            async with slots:
                body = CreateJobBody(voice_name=f"voice-{i:04d}", batch_name="bench")
                created = await setup.create_job("BASIC", body)
                await setup.commit_job(created.job_id)
                job = await setup.show_job(created.job_id)
            states.append(
                VoiceState(
                    batch="bench",
                    key=f"voice-{i:04d}",
                    fingerprint="f",
                    voice_name=f"voice-{i:04d}",
                    stage=Phase.SUBMITTED,
                    status=VoiceStatus.PENDING,
                    remote={"job_id": created.job_id, "state": job.state},
                )
            )

        async with anyio.create_task_group() as tg:
            for i in range(JOBS):
                tg.start_soon(one, i)

        job_file = huawei_job(VAR / "runs" / NAME, inbox=VAR, endpoint=emu.base_url)
        config = load_job(job_file)
        credentials = Credentials(huawei_ak=DEFAULT_HUAWEI_AK, huawei_sk=DEFAULT_HUAWEI_SK)
        async with open_provider(config, credentials, emu.base_url) as provider:
            assert isinstance(provider, HuaweiProvider)
            before = emu.huawei.counters()
            started = time.perf_counter()
            changed = await provider.poll(states, {})
            ours_s = time.perf_counter() - started
            after = emu.huawei.counters()
            ours_requests = sum(after.values()) - sum(before.values())
            ours_lists = after.get("list", 0) - before.get("list", 0)
            if any(s.stage is Phase.DONE for s in changed):
                raise RuntimeError("a pending job was reported finished")

            # The anchor: one GET per job. Counted without the client's quota (under the
            # 20 queries/s quota the round would take 1,000 / 20 = 50 s; reported as such).
            before = emu.huawei.counters()
            async with anyio.create_task_group() as tg:
                for state in states:
                    tg.start_soon(setup.show_job, state.remote["job_id"])
            after = emu.huawei.counters()
            naive_requests = sum(after.values()) - sum(before.values())
            naive_s = naive_requests / config.limits.query_per_second
    return {
        "ours_requests": ours_requests,
        "ours_list_requests": ours_lists,
        "ours_s": ours_s,
        "naive_requests": naive_requests,
        "naive_s": naive_s,
        "query_quota_per_s": config.limits.query_per_second,
    }


def run() -> Result:
    """Set up 1,000 pending jobs, count one bulk round and one naive round."""
    figures = anyio.run(_measure)
    ours, naive = figures["ours_requests"], figures["naive_requests"]
    print(f"bench: {NAME}: ours {ours:.0f} requests, one GET per job {naive:.0f}", flush=True)
    return Result(
        name=NAME,
        title=TITLE,
        metric="requests per polling round",
        ours=ours,
        anchor=naive,
        anchor_name="one ShowVoiceTrainingJob per job",
        ratio=round(ours / naive, 4),
        target=f"<= {MAX_REQUESTS} requests per round",
        passed=ours <= MAX_REQUESTS,
        details={
            "pending_jobs": JOBS,
            "list_requests": figures["ours_list_requests"],
            "ours_round_s": round(figures["ours_s"], 2),
            "naive_round_s_at_quota": round(figures["naive_s"], 2),
            "query_quota_per_s": figures["query_quota_per_s"],
        },
    )
