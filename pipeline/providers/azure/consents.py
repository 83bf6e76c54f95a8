"""Waiting for consents: one list call per round for every voice that waits (``ConsentWatch``)."""

from __future__ import annotations

import math
from datetime import datetime

import anyio
import structlog

from pipeline.errors import ProviderError, ProviderRejected, ProviderUnavailable
from pipeline.providers.azure.client import AzureClient
from pipeline.providers.azure.records import Consent, parse_datetime

log = structlog.get_logger("pipeline.providers.azure")


class ConsentWatch:
    """Waits for consents to end, one list call per round for every voice that waits.

    The samples GET each consent every second (reference §2.5). Under the 50-requests-per-10-s
    limit that GET is a third of a voice's budget (consent create, consent GET, voice create),
    so waiting voices share rounds instead: a round lists the project's consents created since
    the oldest one waited for (``createdDateTime ge``, so old batches are never paged through)
    and every waiter reads its consent from it. A waiter sleeps ``interval``, then joins a
    round that started after it woke, or leads one. If the service refuses the list filter,
    the watch falls back to one GET per consent for the rest of the run.
    """

    def __init__(self, client: AzureClient, project: str, interval: float) -> None:
        self._client = client
        self._project = project
        self._interval = interval
        self._waiting: dict[str, datetime] = {}  #: consent id → its createdDateTime
        self._latest: dict[str, Consent] = {}  #: what the last round saw of waited consents
        self._round: tuple[float, anyio.Event] | None = None  #: (started, done) in progress
        self._last_round_started = -math.inf  #: of the last round that ended
        self._by_get = False
        #: why the last round failed, when the service was unreachable (None: it answered)
        self._round_failed: ProviderUnavailable | None = None
        self.rounds = 0

    async def wait(self, consent: Consent, bound: float) -> Consent:
        """``consent`` once it is terminal; ProviderUnavailable after ``bound`` seconds."""
        created = parse_datetime(consent.created)
        # The bound is real time: a round's list call may retry for a long while on its own.
        began = anyio.current_time()
        if not consent.terminal and created is not None:
            self._waiting[consent.id] = created
        try:
            while not consent.terminal:
                waited = anyio.current_time() - began
                if waited >= bound:
                    raise ProviderUnavailable(
                        f"consent {consent.id} still {consent.status} after {waited:.0f} s"
                    )
                await anyio.sleep(self._interval)
                if self._by_get or consent.id not in self._waiting:
                    consent = await self._client.get_consent(consent.id)
                    continue
                await self._round_after(anyio.current_time())
                failed = self._round_failed
                if failed is not None:
                    # The service is unreachable (the list's own retries are spent): the voice's
                    # driver decides whether to wait the outage out or leave it for next run.
                    raise ProviderUnavailable(
                        str(failed), status=failed.status, code=failed.code
                    ) from failed
                seen = self._latest.get(consent.id)
                if seen is None:
                    # Not listed (a lagging list, or the filter refused meanwhile): ask directly.
                    seen = await self._client.get_consent(consent.id)
                consent = seen
        finally:
            self._waiting.pop(consent.id, None)
            self._latest.pop(consent.id, None)
        return consent

    async def _round_after(self, asked: float) -> None:
        """Return once a round that started at or after ``asked`` has ended."""
        while self._last_round_started < asked:
            current = self._round
            if current is None:
                await self._lead_round()
                return
            started, done = current
            await done.wait()
            if started >= asked:
                return

    async def _lead_round(self) -> None:
        done = anyio.Event()
        started = anyio.current_time()
        self._round = (started, done)
        try:
            since = min(self._waiting.values(), default=None)
            listed: dict[str, Consent] = {}
            try:
                async for item in self._client.iter_consents(self._project, created_since=since):
                    if item.id in self._waiting:
                        listed[item.id] = item
            except ProviderRejected as exc:
                log.warning("consent_watch.list_refused", error=str(exc))
                self._by_get = True
                return
            except ProviderUnavailable as exc:
                log.warning("consent_watch.round_failed", error=str(exc))
                self._round_failed = exc
                return
            except ProviderError as exc:
                # Waiters keep their last view and try again next interval (within the bound).
                log.warning("consent_watch.round_failed", error=str(exc))
                return
            self._round_failed = None
            self._latest = listed
            self.rounds += 1
        finally:
            self._last_round_started = started
            self._round = None
            done.set()
