"""The emulator's server: both providers and their object stores in one aiohttp app, one port.

``Emulator`` is the in-process form (``async with Emulator(options) as emu``), used by the tests,
the demo and ``endpoint = "emulator"``; ``serve_forever`` is ``voice-onboard emulator``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from email.utils import formatdate
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import anyio
import anyio.to_thread
from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from pipeline.emulator import outage_http
from pipeline.emulator.azure.service import AzureService
from pipeline.emulator.context import (
    EmulatedClock,
    EmulatorContext,
    EmulatorOptions,
)
from pipeline.emulator.durable import LEASE_S, READ_ONLY, TICK_S, Journal, Saved, StateFile
from pipeline.emulator.faults import Faults
from pipeline.emulator.huawei.model import HuaweiSettings
from pipeline.emulator.huawei.service import HuaweiService
from pipeline.emulator.outages import OutageSchedule
from pipeline.emulator.store import ObjectStore
from pipeline.errors import ConfigError

STATE_PATH: Final = "/_emulator/state"


_STATE_NAME = re.compile(r"[A-Za-z][A-Za-z_]*")


def parse_outcome(text: str) -> tuple[str, str]:
    """Split a ``GLOB=STATE`` flag value into (glob, state); ConfigError when malformed."""
    glob, sep, state = text.rpartition("=")
    glob, state = glob.strip(), state.strip()
    if not sep or not glob or not _STATE_NAME.fullmatch(state):
        raise ConfigError(f"--outcome expects GLOB=STATE (e.g. 'alice*=FAILED'), got {text!r}")
    return glob, state


def _url_host(host: str) -> str:
    # A wildcard bind is reachable on loopback; an IPv6 literal needs brackets in a URL.
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    try:
        is_v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        return host
    return f"[{host}]" if is_v6 else host


def _dated(clock: EmulatedClock) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """A response hook that stamps every answer's ``Date`` with the server's clock (real time
    plus ``clock_skew_s``); aiohttp keeps a Date that is already set."""

    async def stamp(request: web.Request, response: web.StreamResponse) -> None:
        response.headers[hdrs.DATE] = formatdate(clock.server_now(), usegmt=True)

    return stamp


class Emulator:
    """Both emulated providers on ``options.host:options.port`` (0 = a free port)."""

    def __init__(
        self, options: EmulatorOptions, *, huawei_settings: HuaweiSettings | None = None
    ) -> None:
        self.options = options
        self._huawei_settings = huawei_settings
        self._stack: AsyncExitStack | None = None
        self._context: EmulatorContext | None = None
        self._huawei: HuaweiService | None = None
        self._azure: AzureService | None = None
        self._schedule: OutageSchedule | None = None

    @property
    def context(self) -> EmulatorContext:
        if self._context is None:
            raise RuntimeError("the emulator is not running")
        return self._context

    @property
    def base_url(self) -> str:
        """e.g. ``http://127.0.0.1:43123``."""
        return self.context.base_url

    @property
    def huawei(self) -> HuaweiService:
        if self._huawei is None:
            raise RuntimeError("the emulator is not running")
        return self._huawei

    @property
    def azure(self) -> AzureService:
        if self._azure is None:
            raise RuntimeError("the emulator is not running")
        return self._azure

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("an Emulator can be entered only once")
        stack = self._stack = AsyncExitStack()
        try:
            await self._start(stack)
        except BaseException:
            await stack.aclose()
            raise
        return self

    async def _start(self, stack: AsyncExitStack) -> None:
        options = self.options
        state_file: StateFile | None = None
        saved: Saved | None = None
        if options.state is not None:
            state_file = await anyio.to_thread.run_sync(StateFile, options.state)
            stack.callback(state_file.close)
            saved = await anyio.to_thread.run_sync(state_file.load)
        storage = await self._storage(stack)
        clock = EmulatedClock(
            options.time_scale,
            skew_s=options.clock_skew_s,
            start=None if saved is None else saved.horizon,
        )
        ctx = EmulatorContext(options=options, clock=clock, faults=Faults(options), storage=storage)
        store = ObjectStore(ctx)
        huawei = HuaweiService(ctx, store=store, settings=self._huawei_settings)
        azure = AzureService(ctx)
        schedule = OutageSchedule(options.outages, time.monotonic)
        middlewares = [outage_http.middleware(schedule)] if options.outages else []
        journal: Journal | None = None
        if state_file is not None:
            parts = {
                "faults": ctx.faults.durable_part(),
                "obs": store.durable_part(),
                **huawei.durable_parts(),
                **azure.durable_parts(),
            }
            journal = Journal(state_file, parts, clock.now())
            if saved is not None:
                journal.restore(saved)
                huawei.restored()
            clock.horizon = journal.horizon
            # The final write runs after the server stopped answering (pushed before it).
            stack.push_async_callback(_final_save, journal, clock)
            await journal.commit()
            middlewares.append(_journaled(journal))
        app = web.Application(middlewares=middlewares)
        app.on_response_prepare.append(_dated(ctx.clock))
        store.install(app)
        huawei.install(app)
        azure.install(app)
        app.router.add_get(STATE_PATH, self._state)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, options.host, options.port)
        try:
            await site.start()
        except OSError as exc:  # port in use, an address not on this machine, a privileged port
            raise ConfigError(
                f"emulator: cannot listen on {options.host}:{options.port}: "
                f"{exc.strerror or exc}; choose another --port (0 = any free port)"
            ) from None
        port = runner.addresses[0][1]
        ctx.base_url = f"http://{_url_host(options.host)}:{port}"
        if journal is not None:
            await _lease(journal, clock)
            _background(stack, _tick(journal, clock))
        if any(outage.kind == "refuse" for outage in options.outages):
            switch = outage_http.RefuseSwitch(schedule, runner, site, (options.host, port))
            # A window open from the start is closed before the URL is announced.
            if await switch.check():
                _background(stack, switch.run())
        self._context, self._huawei, self._azure = ctx, huawei, azure
        self._schedule = schedule

    async def _storage(self, stack: AsyncExitStack) -> Path:
        """Where uploaded objects live: ``--storage``; beside a state file (they must outlive
        the process as the state does); else a temporary folder removed on stop."""
        options = self.options
        storage = options.storage
        if storage is None and options.state is not None:
            storage = options.state.with_name(options.state.name + ".objects")
        if storage is not None:
            chosen = storage
            await anyio.to_thread.run_sync(lambda: chosen.mkdir(parents=True, exist_ok=True))
            return chosen
        temporary = tempfile.TemporaryDirectory(prefix="voice-onboard-emulator-")
        # Removing thousands of uploaded objects is disk work: keep it off the event loop.
        stack.push_async_callback(anyio.to_thread.run_sync, temporary.cleanup)
        return Path(temporary.name)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stack is not None:
            # Shielded: when the caller is being cancelled (SIGINT, a test's task group), the
            # server must still close its sockets and remove its temporary storage.
            with anyio.CancelScope(shield=True):
                await self._stack.aclose()

    async def _state(self, request: web.Request) -> web.StreamResponse:
        ctx = self.context
        return web.json_response(
            {
                "base_url": ctx.base_url,
                "time_scale": ctx.clock.scale,
                "emulated_now": ctx.clock.now(),
                "huawei": self.huawei.snapshot(),
                "azure": self.azure.snapshot(),
                "outages": None if self._schedule is None else self._schedule.snapshot(),
            }
        )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _journaled(journal: Journal) -> Middleware:
    """The middleware that commits a snapshot after every changing request, before its answer
    is sent (aiohttp sends the returned response only after the middleware returns)."""

    @web.middleware
    async def journaled(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in READ_ONLY:
            journal.touch()
            return await handler(request)
        try:
            return await handler(request)
        finally:
            # Shielded: a handler cancelled by its client going away may have changed state.
            with anyio.CancelScope(shield=True):
                await journal.commit()

    return journaled


def _background(stack: AsyncExitStack, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` beside the server until it stops. A plain asyncio task, not an anyio task
    group: the emulator is entered and left by ``async with`` across the caller's own cancel
    scopes (``__aexit__`` shields), which a task group held open between them may not span."""
    task = asyncio.ensure_future(work)

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)


async def _lease(journal: Journal, clock: EmulatedClock) -> None:
    """Persist a horizon LEASE_S real seconds ahead, then let the clock run up to it."""
    await journal.lease(clock.running_now() + LEASE_S * clock.scale)
    clock.horizon = journal.horizon


async def _tick(journal: Journal, clock: EmulatedClock) -> None:
    while True:
        await anyio.sleep(TICK_S)
        await _lease(journal, clock)


async def _final_save(journal: Journal, clock: EmulatedClock) -> None:
    """On stop: write everything, with the horizon at the clock's last reading, so a restart
    continues exactly where this process stopped."""
    journal.horizon = clock.now()
    clock.horizon = journal.horizon
    await journal.commit()


#: How long the standalone emulator's printed container SAS URL stays valid (real seconds).
SAS_TTL_S: Final = 7 * 86400.0


async def serve_forever(options: EmulatorOptions, sas_file: Path | None = None) -> None:
    """Run the emulator, print ``emulator listening on URL`` and a blob container SAS URL
    (also written to ``sas_file``, mode 0600, when given), stop on cancel/SIGINT/SIGTERM."""
    async with Emulator(options) as emulator:
        sas = emulator.azure.container_sas_url("voices", permissions="racwl", ttl=SAS_TTL_S)
        if sas_file is not None:
            fd = os.open(sas_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(sas + "\n")
        print(f"emulator listening on {emulator.base_url}", flush=True)
        print(f"blob container SAS URL (AZURE_BLOB_CONTAINER_SAS_URL): {sas}", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _signum in signals:
                break
