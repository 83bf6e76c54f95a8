"""voice-onboarding as a library: the same pipeline ``voice-onboard`` drives, from Python.

::

    import os
    from pathlib import Path

    import anyio
    import pipeline

    config = pipeline.load_job(Path("jobs/demo.toml"), os.environ)
    credentials = pipeline.Credentials.from_env(os.environ).for_provider(config)
    report = anyio.run(pipeline.run_check, config)

The error tree is imported eagerly (standard library only). The records, ``load_job``,
``run_batch``, ``run_check`` and the config types are loaded on first use (module
``__getattr__``): ``import pipeline`` stays cheap — no numpy, soundfile or aiohttp, not even
the records' dataclasses — which every command, ``voice-onboard --help`` included, relies
on: the console script starts a cold run's fork server before anything else is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from pipeline.errors import (
    AmbiguousCreate,
    AuthenticationFailed,
    CircuitOpen,
    ConfigError,
    DeadlineExceeded,
    InputError,
    LedgerError,
    LockHeld,
    NotFound,
    PipelineError,
    ProviderError,
    ProviderProtocolError,
    ProviderRejected,
    ProviderUnavailable,
    RunInterrupted,
    Throttled,
    UploadRejected,
)

if TYPE_CHECKING:
    from pipeline.config import (
        AwaitMode,
        Credentials,
        Edition,
        JobConfig,
        ProviderKind,
        UploadMode,
        load_job,
    )
    from pipeline.records import (
        AudioInfo,
        Finding,
        Phase,
        PhaseEvent,
        PreparedClip,
        PreparedVoice,
        Severity,
        VoiceMeta,
        VoiceSource,
        VoiceState,
        VoiceStatus,
    )
    from pipeline.runner import Progress, RunReport, run_batch, run_check

#: Public name → the module that defines it, imported on first access.
_LAZY: Final = {
    "AwaitMode": "pipeline.config",
    "Credentials": "pipeline.config",
    "Edition": "pipeline.config",
    "JobConfig": "pipeline.config",
    "ProviderKind": "pipeline.config",
    "UploadMode": "pipeline.config",
    "load_job": "pipeline.config",
    "Progress": "pipeline.runner",
    "RunReport": "pipeline.runner",
    "run_batch": "pipeline.runner",
    "run_check": "pipeline.runner",
    **dict.fromkeys(
        (
            "AudioInfo",
            "Finding",
            "Phase",
            "PhaseEvent",
            "PreparedClip",
            "PreparedVoice",
            "Severity",
            "VoiceMeta",
            "VoiceSource",
            "VoiceState",
            "VoiceStatus",
        ),
        "pipeline.records",
    ),
}

__all__ = [
    "AmbiguousCreate",
    "AudioInfo",
    "AuthenticationFailed",
    "AwaitMode",
    "CircuitOpen",
    "ConfigError",
    "Credentials",
    "DeadlineExceeded",
    "Edition",
    "Finding",
    "InputError",
    "JobConfig",
    "LedgerError",
    "LockHeld",
    "NotFound",
    "Phase",
    "PhaseEvent",
    "PipelineError",
    "PreparedClip",
    "PreparedVoice",
    "Progress",
    "ProviderError",
    "ProviderKind",
    "ProviderProtocolError",
    "ProviderRejected",
    "ProviderUnavailable",
    "RunInterrupted",
    "RunReport",
    "Severity",
    "Throttled",
    "UploadMode",
    "UploadRejected",
    "VoiceMeta",
    "VoiceSource",
    "VoiceState",
    "VoiceStatus",
    "load_job",
    "run_batch",
    "run_check",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
