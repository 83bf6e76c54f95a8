"""The job file's typed shape: its tables, keys, types, defaults and allowed values."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Final

from pipeline.audio.profiles import AudioProfile


class ProviderKind(StrEnum):
    """``[provider] kind``."""

    HUAWEI = "huawei-metastudio"
    AZURE = "azure-personal-voice"


class Edition(StrEnum):
    """``[provider] edition`` (Huawei)."""

    BASIC = "basic"
    MIDDLE = "middle"
    ADVANCE = "advance"
    THIRD_PARTY = "third-party"


class UploadMode(StrEnum):
    """``[provider] upload_mode``: Huawei package | segment; Azure multipart | blob-sas."""

    PACKAGE = "package"
    SEGMENT = "segment"
    MULTIPART = "multipart"
    BLOB_SAS = "blob-sas"


class AwaitMode(StrEnum):
    """``[await] mode``."""

    WAIT = "wait"
    DETACH = "detach"


HUAWEI: Final = ProviderKind.HUAWEI
AZURE: Final = ProviderKind.AZURE
EMULATOR: Final = "emulator"
#: The environment variable that names the ledger database when the job file does not.
DATABASE_URL_ENV: Final = "VOICE_ONBOARD_DATABASE_URL"

#: The tables (and keys) a job file may hold at its top level.
TOP_LEVEL: Final = (
    "batch",
    "provider",
    "audio",
    "limits",
    "await",
    "emulator",
    "report",
    "content",
)
#: ``[provider] edition`` → Huawei's job_type.
EDITIONS: Final = {
    "basic": "BASIC",
    "middle": "MIDDLE",
    "advance": "ADVANCE",
    "third-party": "THIRD_PARTY",
}
#: ``[provider] edition`` → the audio profile its recordings are normalized to.
EDITION_PROFILE: Final = {
    "basic": "huawei-basic",
    "middle": "huawei-middle",
    "advance": "huawei-advance",
    "third-party": "huawei-advance",
}
#: ``[provider] api_version`` (Azure); the first is the default.
AZURE_API_VERSIONS: Final = ("2026-01-01", "2024-02-01-preview", "2023-12-01-preview")
#: ``[provider] project`` (Azure).
AZURE_ID: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}[a-zA-Z0-9]$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderConfig:
    """The ``[provider]`` table."""

    kind: ProviderKind
    endpoint: str  #: "emulator", an https URL, or http to a loopback address
    project_id: str = ""  #: Huawei IAM project id
    edition: Edition = Edition.BASIC  #: Huawei
    upload_mode: UploadMode = (
        UploadMode.PACKAGE
    )  #: Huawei: package | segment; Azure: multipart | blob-sas
    api_version: str = AZURE_API_VERSIONS[0]  #: Azure (GA; the previews stay accepted)
    project: str = "onboarding"  #: Azure project id
    app_user_id: str | None = None  #: Huawei X-App-UserId
    #: Huawei region id (``[provider] region``, or read from a metastudio.<region> endpoint)
    region: str | None = None

    @property
    def job_type(self) -> str:
        """Huawei's job_type for the edition (BASIC, MIDDLE, ADVANCE, THIRD_PARTY)."""
        return EDITIONS[self.edition]

    @property
    def is_emulator(self) -> bool:
        return self.endpoint == EMULATOR


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The ``[limits]`` table: concurrency, request rates and hostile-input bounds."""

    uploads: int = 8  #: uploads in flight
    cpu_workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    create_per_second: float = 10.0  #: Huawei create/commit/delete
    query_per_second: float = 20.0  #: Huawei show/list/audit/segment/address
    azure_requests: int = 50  #: Azure: requests per window per key
    azure_window_s: float = 10.0
    max_file_mb: float = 2048.0
    max_clips: int = 2000  #: per voice
    max_voice_duration_s: float = 4 * 3600.0
    circuit_breaker: int = 20  #: consecutive voices failing on provider errors before the run stops
    #: seconds a provider that answered earlier in the run and then stopped is waited for
    outage_window_s: float = 300.0
    #: per-call retry budgets (None = each call kind's default: create 6 tries / 60 s, commit
    #: 6 / 120 s, poll 8 / 300 s, upload 4 / 900 s)
    retry_attempts: int | None = None
    retry_budget_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AwaitConfig:
    """The ``[await]`` table."""

    mode: AwaitMode = AwaitMode.WAIT
    deadline_s: float = 6 * 3600.0
    poll_interval_s: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportConfig:
    """The ``[report]`` table: what a run writes besides the manifest."""

    html: bool = True  #: an HTML report beside each manifest
    metrics_textfile: Path | None = None  #: Prometheus textfile (node_exporter), None = off


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentConfig:
    """The ``[content] table``: whether the pre-flight hears the clips, and with which models."""

    check: bool = False
    #: BCP-47 tag -> pocketsphinx model folder (checked loadable when the job file is read)
    models: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorSettings:
    """The ``[emulator]`` table (only with ``endpoint = "emulator"``): the in-process
    emulator's knobs. The command layer that starts the emulator turns them into its options;
    the library never imports the emulator."""

    time_scale: float = 100_000.0  #: emulated seconds per real second
    fault_rate: float = 0.0  #: share of control calls failing
    upload_fault_rate: float = 0.0  #: share of uploads reset mid-body
    url_ttl: float = 3600.0  #: real seconds an upload URL lives
    latency: float = 0.0  #: real seconds added to control calls
    seed: int = 0
    outcomes: tuple[tuple[str, str], ...] = ()  #: (voice-name glob, forced final state)
    storage: Path | None = None  #: where uploaded objects live; None = a temporary folder
    #: undocumented behaviours to play (the command layer checks the names against the
    #: emulator's list: ``voice-onboard emulator --help``)
    plays: frozenset[str] = frozenset()
    clock_skew_s: float = 0.0  #: seconds the emulator's clock runs ahead (negative: behind)
    #: outage window specs, checked by the command layer against the emulator's parser
    #: (``voice-onboard emulator --help``)
    outages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class JobConfig:
    """Everything a run needs from the job file, resolved and validated."""

    path: Path  #: the job file
    batch: str
    inbox: Path
    state_dir: Path
    ledger_url: str | None  #: None = SQLite in state_dir
    provider: ProviderConfig
    profile: AudioProfile
    limits: Limits
    await_: AwaitConfig
    emulator: EmulatorSettings | None  #: set when provider.endpoint == "emulator"
    report: ReportConfig = field(default_factory=ReportConfig)
    content: ContentConfig = field(default_factory=ContentConfig)

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.sqlite3"

    @property
    def manifest_dir(self) -> Path:
        return self.state_dir / "manifests"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"
