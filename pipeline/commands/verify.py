"""``voice-onboard status --verify``: ask the provider whether finished voices still exist.

``status`` alone shows what the ledger knows and sends nothing. A voice that succeeded is never
touched again by ``run`` (a re-run of a finished batch sends no request), so a consent or
personal voice deleted at the service afterwards is invisible to both. ``--verify`` asks first:
read-only at the provider (list calls, a GET for anything the list did not show), it records in
the ledger each succeeded voice whose remote resources are gone — ``needs_attention`` with a
``remote.deleted`` finding and remote state ``Deleted`` — and ``status`` then shows it, as do
the next manifest and ``retry --force``, which creates new ones under new ids.

It holds the batch lock (a run must not write the same voices meanwhile; exit 75 when one
does) and refuses a ledger bound to another account, and ``endpoint = "emulator"``, whose
in-process emulator keeps nothing between runs (every voice would look deleted).
"""

from __future__ import annotations

import structlog

from pipeline.config import Credentials, JobConfig
from pipeline.errors import ConfigError
from pipeline.ledger import open_ledger
from pipeline.ledger.binding import binding_of
from pipeline.lock import batch_lock
from pipeline.providers.base import Verifier
from pipeline.records import VoiceState
from pipeline.runner import ProviderOpener

log = structlog.get_logger("pipeline.verify")


async def verify_finished(
    config: JobConfig, credentials: Credentials, open_provider: ProviderOpener
) -> list[VoiceState]:
    """Record the succeeded voices whose remote resources were deleted; their new states."""
    if config.provider.is_emulator:
        raise ConfigError(
            f'{config.path}: status --verify with endpoint = "emulator": the in-process emulator '
            "keeps nothing between runs; point endpoint at the service (or a standalone "
            "`voice-onboard emulator`) that holds the voices"
        )
    if not config.ledger_url and not config.ledger_path.exists():
        return []
    with batch_lock(config.state_dir, config.batch):
        async with open_ledger(config) as ledger:
            bound, wanted = await ledger.binding(), binding_of(config.provider)
            if bound is not None and bound != wanted:
                raise ConfigError(
                    f"{config.path}: the ledger of batch '{config.batch}' belongs to {bound}, "
                    f"not {wanted}; --verify would ask the wrong account"
                )
            states = await ledger.all()
            async with open_provider(config, credentials, config.provider.endpoint) as provider:
                if not isinstance(provider, Verifier):
                    raise ConfigError(
                        f"{config.path}: status --verify is not offered for "
                        f"{config.provider.kind} (only azure-personal-voice)"
                    )
                changed = await provider.verify(states)
            for state in changed:
                await ledger.put(state, detail="status --verify: deleted at the provider")
    log.info("verify.finished", voices=len(states), deleted=len(changed))
    return changed
