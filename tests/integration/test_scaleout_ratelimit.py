"""The shared rate limit: request windows in PostgreSQL used by several processes at once.

Each ``SharedWindow`` below has its own connection pool, as separate worker processes would;
they meet only in the database (a fresh schema per test).
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from pipeline.ledger.postgres import PostgresLedger
from pipeline.providers.http import Connection, HttpResponse, WindowSpec
from pipeline.providers.huawei.auth import TokenAuth
from pipeline.providers.huawei.client import HuaweiClient
from pipeline.providers.huawei.records import CreateJobBody
from pipeline.scaleout.ratelimit import SharedWindow
from pipeline.scaleout.testing import max_per_window, require_test_database, scratch_schema

pytestmark = pytest.mark.anyio

Pool = AsyncConnectionPool[psycopg.AsyncConnection[Any]]
BASE = "https://metastudio.cn-north-4.myhuaweicloud.com/v1/0a1b/voice-training-manage"


class _Sent(Exception):
    """Raised by the recording transport instead of answering: the request has been seen."""


class _Recorder:
    """Transport and shared limit at once: records every request with the quota kind whose
    slot it was sent in (None: no slot was taken)."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.seen: list[tuple[str, str, str | None]] = []

    @asynccontextmanager
    async def slot(self, kind: str) -> AsyncIterator[None]:
        self.kind = kind
        try:
            yield
        finally:
            self.kind = None

    async def request(self, method: str, url: str, **_: object) -> HttpResponse:
        self.seen.append((method, url, self.kind))
        raise _Sent

    async def put_file(self, url: str, source: object, **_: object) -> int:
        self.seen.append(("PUT", url, self.kind))
        raise _Sent


@functools.cache
def _client_requests() -> tuple[tuple[str, str, str | None], ...]:
    """Every HuaweiClient call made once (and one upload): (method, URL, quota kind)."""
    recorder = _Recorder()
    client = HuaweiClient(
        Connection(recorder, "https://metastudio.cn-north-4.myhuaweicloud.com", shared=recorder),
        project_id="0a1b",
        auth=TokenAuth("t"),
    )
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: client.create_job("BASIC", CreateJobBody(voice_name="v")),
        lambda: client.create_job("THIRD_PARTY", CreateJobBody(voice_name="v")),
        lambda: client.commit_job("j1"),
        lambda: client.show_job("j1"),
        lambda: client.delete_job("j1"),
        lambda: client.list_jobs(batch_name="b"),
        lambda: client.audit_result("j1"),
        lambda: client.uploading_address("j1"),
        lambda: client.confirm_segment("j1", 0),
        lambda: client.segment_info("j1"),
        lambda: client.quotas(),
        lambda: client.tenant_duration_cfg(),
        lambda: client.put_file(
            "http://127.0.0.1:8600/obs/bucket/j1/package.zip", Path("p"), content_type="x"
        ),
    ]

    async def run() -> None:
        for call in calls:
            with pytest.raises(_Sent):
                await call()

    anyio.run(run)
    return tuple(recorder.seen)


def huawei_call_kind(method: str, url: str) -> str | None:
    """The quota kind HuaweiClient names for the request ``method url`` (a URL given without
    its query matches that route with any query), or None when it takes no slot for it."""
    for sent_method, sent_url, kind in _client_requests():
        if sent_method == method and url in (sent_url, sent_url.partition("?")[0]):
            return kind
    raise AssertionError(f"HuaweiClient sends no {method} {url}")


@pytest.fixture
async def pools() -> AsyncIterator[list[Pool]]:
    """Three pools on one fresh, migrated schema: three "workers" sharing a database."""
    with scratch_schema(require_test_database()) as url:
        async with PostgresLedger(url, "b"):  # applies the migrations, rate windows included
            pass
        opened: list[Pool] = []
        try:
            for _ in range(3):
                pool: Pool = AsyncConnectionPool(
                    url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=False
                )
                await pool.open(wait=True)
                opened.append(pool)
            yield opened
        finally:
            for pool in opened:
                await pool.close()


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/user/basic-jobs", "create"),
        ("POST", "/user/third-party-jobs", "create"),
        ("POST", "/user/jobs/j1", "commit"),
        ("GET", "/user/jobs/j1", "show"),
        ("DELETE", "/user/jobs/j1", "delete"),
        ("GET", "/user/jobs?offset=0&limit=100&batch_name=b", "list"),
        ("GET", "/user/jobs/j1/audit-result", "audit"),
        ("GET", "/user/jobs/j1/uploading-address-url", "address"),
        ("POST", "/user/training-segment", "commit"),
        ("GET", "/user/training-segment?job_id=j1", "segment"),
        ("GET", "/quotas", "quota"),
        ("GET", "/user/tenant-duration-cfg", "quota"),
    ],
)
def test_huawei_requests_map_to_their_api_kind(method: str, path: str, kind: str) -> None:
    """Every HuaweiClient route is counted against the quota of its own API kind."""
    assert huawei_call_kind(method, BASE + path) == kind


def test_uploads_are_not_control_requests() -> None:
    """Pre-signed object-store URLs are not MetaStudio routes: no quota applies."""
    assert huawei_call_kind("PUT", "http://127.0.0.1:8600/obs/bucket/j1/package.zip") is None


async def test_three_processes_share_one_window(pools: list[Pool]) -> None:
    """30 requests from three "processes" at once: never more than 5 start in any second."""
    spec = WindowSpec(max_calls=5, period=1.0)
    windows = [SharedWindow(p, scope="t", kind="create", spec=spec) for p in pools]
    starts: list[float] = []

    async def request(window: SharedWindow) -> None:
        async with window.slot():
            starts.append(time.time())
            await anyio.sleep(0.05)  # the request's own duration

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for i in range(30):
                tg.start_soon(request, windows[i % 3])
    assert len(starts) == 30
    assert max_per_window(starts) <= 5


async def test_windows_are_independent(pools: list[Pool]) -> None:
    """A full window of one API kind or account does not hold back another."""
    spec = WindowSpec(max_calls=1, period=30.0)
    create = SharedWindow(pools[0], scope="t", kind="create", spec=spec)
    show = SharedWindow(pools[1], scope="t", kind="show", spec=spec)
    other = SharedWindow(pools[2], scope="other", kind="create", spec=spec)
    with anyio.fail_after(10):
        async with create.slot():
            pass
        async with show.slot(), other.slot():
            pass


async def test_slot_of_a_dead_process_expires(pools: list[Pool]) -> None:
    """A slot never released (its worker was SIGKILLed) stops counting after the expiry."""
    spec = WindowSpec(max_calls=1, period=1.0)
    dead = SharedWindow(pools[0], scope="t", kind="create", spec=spec, in_flight_expiry_s=0.5)
    alive = SharedWindow(pools[1], scope="t", kind="create", spec=spec, in_flight_expiry_s=0.5)
    await dead.acquire()  # never released
    with anyio.fail_after(10):
        await alive.release(await alive.acquire())


async def test_next_slot_waits_for_the_end_of_the_request(pools: list[Pool]) -> None:
    """A full window admits the next request only after the running one has finished."""
    spec = WindowSpec(max_calls=1, period=0.2)
    first = SharedWindow(pools[0], scope="t", kind="commit", spec=spec)
    second = SharedWindow(pools[1], scope="t", kind="commit", spec=spec)
    order: list[str] = []
    running = anyio.Event()

    async def long_request() -> None:
        async with first.slot():
            order.append("first started")
            running.set()
            await anyio.sleep(0.5)  # the request's own length: past the 0.2 s window
            order.append("first finished")

    async def next_request() -> None:
        await running.wait()  # arrives while the first request is still running
        async with second.slot():
            order.append("second started")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(long_request)
            tg.start_soon(next_request)
    assert order == ["first started", "first finished", "second started"]
