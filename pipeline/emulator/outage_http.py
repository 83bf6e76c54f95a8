"""How the server plays outage windows (``outages``): the middleware that resets or 503s every
provider call, and the listener that closes its socket for ``refuse`` windows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import anyio
from aiohttp import web
from aiohttp.typedefs import Middleware

from pipeline.emulator.azure.blobstore import StorageError
from pipeline.emulator.azure.errors import AzureError
from pipeline.emulator.huawei.errors import INTERNAL, HuaweiError
from pipeline.emulator.outages import OutageSchedule
from pipeline.emulator.store import StoreError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Paths that stay answered during a reset or 503 window (the tests' inspection route).
_EXEMPT_PREFIX: Final = "/_emulator/"


def middleware(
    schedule: OutageSchedule,
) -> Middleware:
    """The aiohttp middleware that fails every provider call while a window is open."""

    @web.middleware
    async def outage(request: web.Request, handler: Handler) -> web.StreamResponse:
        kind = schedule.active()
        if kind is None or request.path.startswith(_EXEMPT_PREFIX):
            return await handler(request)
        schedule.failed[kind] += 1
        if kind == "503":
            return unavailable(request.path)
        # refuse (a request on a connection opened before the socket closed) and reset: drop
        # the connection unanswered, as a host that went away mid-request does.
        if request.transport is not None:
            request.transport.abort()
        return web.Response()  # never sent: the transport is gone

    return outage


def unavailable(path: str) -> web.Response:
    """The 503 each provider answers during maintenance, in its own error format."""
    message = "The service is temporarily unavailable (emulated outage)."
    if path.startswith("/v1/"):
        error: HuaweiError | AzureError | StoreError | StorageError = HuaweiError(
            503, INTERNAL, message
        )
    elif path.startswith("/customvoice"):
        error = AzureError(503, message)
    elif path.startswith("/blob/"):
        error = StorageError(503, "ServerBusy", message)
    else:
        error = StoreError(503, "ServiceUnavailable", message)
    return error.response()


#: Real seconds between checks of whether a refuse window opened or closed.
POLL_S: Final = 0.05


class RefuseSwitch:
    """Closes the listening socket while a ``refuse`` window is open and reopens it on the
    same port when the window ends."""

    def __init__(
        self,
        schedule: OutageSchedule,
        runner: web.AppRunner,
        site: web.TCPSite,
        address: tuple[str, int],
    ) -> None:
        self._schedule = schedule
        self._runner = runner
        self._site: web.TCPSite | None = site
        self._address = address

    async def check(self) -> bool:
        """Close or reopen as the schedule says now; False once no refuse window is left."""
        elapsed = self._schedule.elapsed()
        refusing = self._schedule.refusing(elapsed) is not None
        if refusing and self._site is not None:
            await self._site.stop()
            # Open connections would otherwise still reach the server: close them all now, as
            # a host that goes away does (an in-flight call loses its answer), so the next
            # request of a pooled client opens a connection and is refused. A graceful
            # ``close()`` is not enough: a keep-alive connection then swallows the next request
            # unanswered and the client waits for its read timeout.
            if self._runner.server is not None:
                for connection in list(self._runner.server.connections):
                    connection.force_close()
            self._site = None
        elif not refusing and self._site is None:
            host, port = self._address
            self._site = web.TCPSite(self._runner, host, port, reuse_address=True)
            await self._site.start()
        return self._site is None or self._schedule.next_refuse_after(elapsed) is not None

    async def run(self) -> None:
        """Check every POLL_S until no refuse window is left."""
        # Polled, not scheduled: a window's edges are a handful of checks a second at most.
        while True:
            if not await self.check():
                return
            await anyio.sleep(POLL_S)
