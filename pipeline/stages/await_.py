"""The await stage: one polling round after another over every submitted voice of the batch
(bulk list calls inside the provider), until all are terminal, the deadline, or once."""

from __future__ import annotations

from collections.abc import Mapping

import anyio
import structlog

from pipeline.config import JobConfig
from pipeline.errors import (
    CircuitOpen,
    DeadlineExceeded,
    ProviderProtocolError,
    ProviderUnavailable,
)
from pipeline.ledger.base import Ledger
from pipeline.providers.base import Provider
from pipeline.records import (
    Phase,
    PreparedVoice,
)
from pipeline.stages.outage import Breaker
from pipeline.stages.stream import Progress

log = structlog.get_logger("pipeline.await")


async def await_batch(
    config: JobConfig,
    ledger: Ledger,
    provider: Provider,
    prepared: Mapping[str, PreparedVoice],
    progress: Progress,
    *,
    once: bool = False,
    breaker: Breaker | None = None,
) -> None:
    """Poll every submitted voice of the batch together until all are terminal (``once``: a
    single round, for detached runs). ``breaker``: the run's; an outage it gives up on ends
    the wait (CircuitOpen: exit 3, the voices stay ``pending`` for the next run)."""
    deadline = anyio.current_time() + config.await_.deadline_s
    interval = config.await_.poll_interval_s
    while True:
        pending = [s for s in await ledger.all() if s.stage is Phase.SUBMITTED]
        if not pending:
            return
        try:
            changed = await provider.poll(pending, prepared)
        except (ProviderUnavailable, ProviderProtocolError) as exc:
            log.warning("await.poll_failed", error=str(exc))
            changed = []
        for state in changed:
            await ledger.put(state)
            if state.stage is Phase.DONE:
                progress.voices_done += 1
                log.info(
                    "job.status_changed",
                    voice=state.key,
                    status=str(state.status),
                    remote_state=state.remote.get("state"),
                )
        still = len(pending) - sum(1 for s in changed if s.stage is Phase.DONE)
        if still == 0 or once:
            return
        if breaker is not None and breaker.gave_up():
            # Polls fail quietly per job (the next round asks again); the reachability seen
            # by every request says whether a next round can answer in time.
            raise CircuitOpen(f"the provider stopped answering with {still} voices pending")
        if anyio.current_time() + interval > deadline:
            raise DeadlineExceeded(
                f"deadline of {config.await_.deadline_s:g} s passed with {still} voices pending"
            )
        await anyio.sleep(interval)
