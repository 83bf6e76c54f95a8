"""The alternatives the emulator can play where the vendors' docs are silent.

Each name is one behaviour a real account may show that the default emulator does not (the
default plays the documented or most likely one). A run, a test or ``voice-onboard doctor``
turns them on with ``--play NAME`` (repeatable) or ``[emulator] plays = ["NAME", …]``, so every
bet the clients make is exercised both ways. The services read ``EmulatorOptions.plays``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from pipeline.errors import ConfigError

#: name → what the emulator does differently when it plays it.
ALTERNATIVES: Final[Mapping[str, str]] = {
    "huawei-batch-name-dropped": "Huawei: show/list answer batch_name empty (no tenant permission)",
    "huawei-batch-name-rewritten": "Huawei: show/list answer a batch_name other than the one sent",
    "huawei-one-segment-url": "Huawei SEGMENT: create hands out one upload slot, not one per sentence",
    "huawei-unknown-job-400": "Huawei: an unknown or deleted job_id is 400, not 404",
    "huawei-manual-review-reject": "Huawei: jobs end in manual-review rejection with admin message, attachment and operation log",
    "huawei-zero-quota": "Huawei: no training resource left for any edition",
    "huawei-narrow-durations": "Huawei: the tenant's audio-duration range is narrower than the docs' defaults",
    "azure-foreign-host-links": "Azure: nextLink and Operation-Location name another host of the same server (localhost for 127.0.0.1); requests sent there are refused 421 and counted",
    "azure-consent-delete-allowed": "Azure: a consent that a personal voice uses can be deleted; the voice stays",
    "azure-project-put-refused": "Azure: PUT of an existing project is refused, not answered with the project",
}  # fmt: skip


def checked(names: Iterable[str], where: str) -> frozenset[str]:
    """``names`` as a set, every one known; ``where`` names the flag or key in the error."""
    chosen = frozenset(names)
    unknown = sorted(chosen - ALTERNATIVES.keys())
    if unknown:
        raise ConfigError(
            f"{where}: unknown alternative {', '.join(map(repr, unknown))}; "
            f"one of {', '.join(sorted(ALTERNATIVES))}"
        )
    return chosen
