"""``voice-onboard manifest JOB``: the manifest of a batch from its (shared) ledger alone.

No inbox, no audio work, no network: any host with the job file and database access can
write it, while workers elsewhere are still running. Voices are as the ledger has them:
remote ids and states, provider findings, and the pre-flight findings of rejected voices
(workers record those). Per-file details (``files``) are known only to the host that
prepared a voice and are empty here. Works with the SQLite ledger too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.config import JobConfig
from pipeline.ledger import open_ledger
from pipeline.report import gather_facts
from pipeline.stages.results import RunReport, collect_results, finish_run


async def manifest_from_ledger(config: JobConfig) -> RunReport:
    """Write ``<state_dir>/manifests/<batch>-<UTC>.json`` (and ``-latest``) from the ledger."""
    started = datetime.now(UTC)
    async with open_ledger(config) as ledger:
        results = await collect_results(ledger, {})
        # Timelines and retry counts for the report and metrics come from the same ledger.
        facts = await gather_facts(ledger, {}, bytes_uploaded=None)
    return finish_run(config, "manifest", started, results, None, facts=facts)
