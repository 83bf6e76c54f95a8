"""Job file + an environment mapping → frozen ``JobConfig`` and ``Credentials``.

This module never reads ``os.environ``: the command layer hands the environment in
(``load_job(path, env)``, ``Credentials.from_env(env)``). Every problem is a ``ConfigError``
whose message names the file, the key and, where it can be found, the line.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from pipeline.audio.profiles import AudioProfile, resolve_profile
from pipeline.errors import ConfigError


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

_EDITIONS: Final = {
    "basic": "BASIC",
    "middle": "MIDDLE",
    "advance": "ADVANCE",
    "third-party": "THIRD_PARTY",
}
_EDITION_PROFILE: Final = {
    "basic": "huawei-basic",
    "middle": "huawei-middle",
    "advance": "huawei-advance",
    "third-party": "huawei-advance",
}
_AZURE_API_VERSIONS: Final = ("2024-02-01-preview", "2026-01-01", "2023-12-01-preview")
_AZURE_ID: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}[a-zA-Z0-9]$")
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


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
    api_version: str = "2024-02-01-preview"  #: Azure
    project: str = "onboarding"  #: Azure project id
    app_user_id: str | None = None  #: Huawei X-App-UserId

    @property
    def job_type(self) -> str:
        """Huawei's job_type for the edition (BASIC, MIDDLE, ADVANCE, THIRD_PARTY)."""
        return _EDITIONS[self.edition]

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

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.sqlite3"

    @property
    def manifest_dir(self) -> Path:
        return self.state_dir / "manifests"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Secrets from the environment (DESIGN §3.3). Never logged, never stored."""

    huawei_ak: str | None = None
    huawei_sk: str | None = None
    huawei_security_token: str | None = None
    huawei_token: str | None = None
    azure_key: str | None = None
    azure_blob_sas_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        def get(name: str) -> str | None:
            return env.get(name) or None

        return cls(
            huawei_ak=get("HUAWEICLOUD_SDK_AK"),
            huawei_sk=get("HUAWEICLOUD_SDK_SK"),
            huawei_security_token=get("HUAWEICLOUD_SDK_SECURITY_TOKEN"),
            huawei_token=get("METASTUDIO_AUTH_TOKEN"),
            azure_key=get("AZURE_SPEECH_KEY"),
            azure_blob_sas_url=get("AZURE_BLOB_CONTAINER_SAS_URL"),
        )

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for the log redactor."""
        values = (
            self.huawei_sk,
            self.huawei_ak,
            self.huawei_security_token,
            self.huawei_token,
            self.azure_key,
        )
        return tuple(v for v in values if v)

    def for_provider(
        self, config: JobConfig, *, emulator: Credentials | None = None
    ) -> Credentials:
        """These credentials, completed with ``emulator`` (the in-process emulator's test
        values, handed in by the command that starts it) for ``endpoint = "emulator"``, or
        checked for a real endpoint; raises ConfigError when the provider's are missing."""
        kind = config.provider.kind
        if config.provider.is_emulator:
            emu = emulator or Credentials()
            if kind == HUAWEI and not self.huawei_token and not (self.huawei_ak and self.huawei_sk):
                return replace(self, huawei_ak=emu.huawei_ak, huawei_sk=emu.huawei_sk)
            if kind == AZURE and not self.azure_key:
                return replace(self, azure_key=emu.azure_key)
            return self
        if kind == HUAWEI and not self.huawei_token and not (self.huawei_ak and self.huawei_sk):
            raise ConfigError(
                f"{config.path}: missing credentials: set HUAWEICLOUD_SDK_AK and "
                "HUAWEICLOUD_SDK_SK, or METASTUDIO_AUTH_TOKEN"
            )
        if kind == AZURE and not self.azure_key:
            raise ConfigError(f"{config.path}: missing credentials: set AZURE_SPEECH_KEY")
        if (
            kind == AZURE
            and config.provider.upload_mode is UploadMode.BLOB_SAS
            and not self.azure_blob_sas_url
        ):
            raise ConfigError(
                f"{config.path}: upload_mode = blob-sas needs AZURE_BLOB_CONTAINER_SAS_URL"
            )
        return self


# --- parsing -------------------------------------------------------------------------------


class _Table:
    """One TOML table being read: tracks which keys were used so leftovers can be named."""

    def __init__(self, source: _Source, name: str, data: object) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{source.where(name, None)}: [{name}] must be a table")
        self.source = source
        self.name = name
        self.data: dict[str, object] = data
        self.used: set[str] = set()

    def _get(self, key: str) -> object:
        self.used.add(key)
        return self.data.get(key)

    def _bad(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source.where(self.name, key)}: {self.name}.{key} {problem}")

    def str_(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(key)
        if value is None:
            if required:
                raise ConfigError(
                    f"{self.source.where(self.name, None)}: [{self.name}] needs key '{key}'"
                )
            return default
        if not isinstance(value, str) or not value.strip():
            raise self._bad(key, "must be a non-empty string")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.str_(key, default)
        assert value is not None
        if value not in choices:
            raise self._bad(key, f"must be one of {', '.join(choices)} (got {value!r})")
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(key, "must be a number")
        if not math.isfinite(value):
            raise self._bad(key, f"must be a finite number (got {value})")
        if value < minimum:
            raise self._bad(key, f"must be >= {minimum:g}")
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key, "must be an integer")
        if value < minimum:
            raise self._bad(key, f"must be >= {minimum}")
        return value

    def duration(self, key: str, default: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            raise self._bad(key, "must be a duration like '30s', '6h' or a number of seconds")
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str) and (m := _DURATION.match(value)):
            seconds = float(m.group(1)) * _UNITS[m.group(2)]
        else:
            raise self._bad(key, "must be a duration like '30s', '6h' or a number of seconds")
        if not math.isfinite(seconds):
            # TOML has nan and inf; a NaN deadline or poll interval would hang or spin the run.
            raise self._bad(key, f"must be a finite duration like '30s' or '6h' (got {value})")
        if seconds <= 0:
            raise self._bad(key, "must be positive")
        return seconds

    def raw(self, key: str) -> object:
        return self._get(key)

    def rest(self) -> dict[str, object]:
        """Keys not read yet (for tables passed on whole, like [audio])."""
        return {k: v for k, v in self.data.items() if k not in self.used}

    def finish(self, allowed_extra: tuple[str, ...] = ()) -> None:
        for key in self.data:
            if key not in self.used and key not in allowed_extra:
                raise ConfigError(
                    f"{self.source.where(self.name, key)}: unknown key '{self.name}.{key}'"
                )


class _Source:
    """The job file's text, for finding the line a key is on."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line_of(self, table: str, key: str | None) -> int | None:
        section = re.compile(r"^\s*\[\s*" + re.escape(table) + r"\s*\]\s*(#.*)?$")
        any_section = re.compile(r"^\s*\[")
        key_re = re.compile(r"^\s*" + re.escape(key) + r"\s*=") if key else None
        inside = False
        for number, line in enumerate(self.lines, start=1):
            if section.match(line):
                if key_re is None:
                    return number
                inside = True
                continue
            if any_section.match(line):
                inside = False
            elif inside and key_re is not None and key_re.match(line):
                return number
        return None

    def where(self, table: str, key: str | None) -> str:
        line = self.line_of(table, key)
        return f"{self.path}:{line}" if line else str(self.path)


_TOP_LEVEL: Final = ("batch", "provider", "audio", "limits", "await", "emulator", "report")


def load_job(path: Path, env: Mapping[str, str] | None = None) -> JobConfig:
    """Read and validate a job file; every problem is one ConfigError line.

    ``env`` is the environment the command layer hands in (``os.environ``); only
    ``VOICE_ONBOARD_DATABASE_URL`` is read from it, when the job file names no ledger.
    """
    env = {} if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: job file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read job file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    source = _Source(path, text)
    for key in data:
        if key not in _TOP_LEVEL:
            line = source.line_of(key, None)
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(f"{where}: unknown table or key '{key}'")
    base = path.parent

    batch = _Table(source, "batch", data.get("batch"))
    name = batch.str_("name", required=True)
    assert name is not None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", name):
        raise batch._bad("name", "may hold only letters, digits, '.', '_' and '-' (max 63)")
    inbox_raw = batch.str_("inbox", required=True)
    state_raw = batch.str_("state_dir", required=True)
    ledger_url = batch.str_("ledger") or env.get(DATABASE_URL_ENV) or None
    batch.finish()
    assert inbox_raw is not None
    assert state_raw is not None
    inbox = (base / inbox_raw).resolve()
    state_dir = (base / state_raw).resolve()

    provider = _read_provider(_Table(source, "provider", data.get("provider")))

    limits_t = _Table(source, "limits", data.get("limits"))
    limits = Limits(
        uploads=limits_t.integer("uploads", 8, minimum=1),
        cpu_workers=limits_t.integer("cpu_workers", max(1, os.cpu_count() or 1), minimum=1),
        create_per_second=limits_t.number("create_per_second", 10.0, minimum=0.01),
        query_per_second=limits_t.number("query_per_second", 20.0, minimum=0.01),
        azure_requests=limits_t.integer("azure_requests", 50, minimum=1),
        azure_window_s=limits_t.number("azure_window_s", 10.0, minimum=0.1),
        max_file_mb=limits_t.number("max_file_mb", 2048.0, minimum=0.001),
        max_clips=limits_t.integer("max_clips", 2000, minimum=1),
        max_voice_duration_s=limits_t.duration("max_voice_duration", 4 * 3600.0),
        circuit_breaker=limits_t.integer("circuit_breaker", 20, minimum=1),
        retry_attempts=(
            limits_t.integer("retry_attempts", 0, minimum=1)
            if "retry_attempts" in limits_t.data
            else None
        ),
        retry_budget_s=(
            limits_t.duration("retry_budget", 0.0) if "retry_budget" in limits_t.data else None
        ),
    )
    limits_t.finish()

    await_t = _Table(source, "await", data.get("await"))
    await_cfg = AwaitConfig(
        mode=AwaitMode(await_t.choice("mode", "wait", tuple(AwaitMode))),
        deadline_s=await_t.duration("deadline", 6 * 3600.0),
        poll_interval_s=await_t.duration("poll_interval", 30.0),
    )
    await_t.finish()

    audio_t = _Table(source, "audio", data.get("audio"))
    if provider.kind == HUAWEI:
        profile_name = _EDITION_PROFILE[provider.edition]
    else:
        profile_name = "azure-personal"
    profile = resolve_profile(profile_name, audio_t.rest(), source=str(path))

    emulator: EmulatorSettings | None = None
    emu_t = _Table(source, "emulator", data.get("emulator"))
    if provider.is_emulator:
        emulator = _read_emulator(emu_t, base)
    elif emu_t.data:
        raise ConfigError(
            f'{source.where("emulator", None)}: [emulator] is only used with endpoint = "emulator"'
        )

    report_t = _Table(source, "report", data.get("report"))
    html = report_t.raw("html")
    if html is not None and not isinstance(html, bool):
        raise report_t._bad("html", "must be true or false")
    metrics_raw = report_t.str_("metrics_textfile")
    report_t.finish()
    report = ReportConfig(
        html=True if html is None else html,
        metrics_textfile=(base / metrics_raw).resolve() if metrics_raw else None,
    )

    return JobConfig(
        path=path.resolve(),
        batch=name,
        inbox=inbox,
        state_dir=state_dir,
        ledger_url=ledger_url,
        provider=provider,
        profile=profile,
        limits=limits,
        await_=await_cfg,
        emulator=emulator,
        report=report,
    )


def _read_provider(t: _Table) -> ProviderConfig:
    kind = ProviderKind(t.choice("kind", "", tuple(ProviderKind))) if t.data.get("kind") else None
    if kind is None:
        raise ConfigError(f"{t.source.where('provider', None)}: [provider] needs key 'kind'")
    # Required: a job file without it used to run on the in-process emulator and record
    # "succeeded" voices in the ledger that a later real run would then skip.
    endpoint = t.str_("endpoint")
    if endpoint is None:
        raise ConfigError(
            f"{t.source.where('provider', None)}: [provider] needs key 'endpoint': "
            'the service\'s https:// URL, or "emulator" for the built-in emulator'
        )
    _check_endpoint(endpoint, t)
    if kind == HUAWEI:
        edition = Edition(t.choice("edition", "basic", tuple(_EDITIONS)))
        mode = UploadMode(t.choice("upload_mode", "package", ("package", "segment")))
        if mode is UploadMode.SEGMENT and edition not in (Edition.BASIC, Edition.MIDDLE):
            raise t._bad("upload_mode", "segment works only with edition basic or middle")
        project_id = t.str_("project_id", "0" * 32)
        assert project_id is not None
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", project_id):
            raise t._bad("project_id", "must be an IAM project id (letters and digits)")
        app_user_id = t.str_("app_user_id")
        t.finish()
        return ProviderConfig(
            kind=kind,
            endpoint=endpoint,
            project_id=project_id,
            edition=edition,
            upload_mode=mode,
            app_user_id=app_user_id,
        )
    api_version = t.choice("api_version", "2024-02-01-preview", _AZURE_API_VERSIONS)
    project = t.str_("project", "onboarding")
    assert project is not None
    if not _AZURE_ID.match(project):
        raise t._bad("project", "must match ^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}[a-zA-Z0-9]$")
    mode = UploadMode(t.choice("upload_mode", "multipart", ("multipart", "blob-sas")))
    t.finish()
    return ProviderConfig(
        kind=kind, endpoint=endpoint, api_version=api_version, project=project, upload_mode=mode
    )


def _check_endpoint(endpoint: str, t: _Table) -> None:
    if endpoint == EMULATOR:
        return
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    raise t._bad(
        "endpoint", 'must be "emulator", an https:// URL, or http:// to a loopback address'
    )


def is_loopback(host: str) -> bool:
    """Whether a host name is a loopback address (plain http is allowed only there)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _read_emulator(t: _Table, base: Path) -> EmulatorSettings:
    outcomes_raw = t.raw("outcomes")
    outcomes: list[tuple[str, str]] = []
    if isinstance(outcomes_raw, dict):
        outcomes = [(str(k), str(v)) for k, v in outcomes_raw.items()]
    elif isinstance(outcomes_raw, list):
        for item in outcomes_raw:
            if not isinstance(item, str) or "=" not in item:
                raise t._bad("outcomes", "entries must be 'GLOB=STATE' strings")
            glob, _, state = item.partition("=")
            outcomes.append((glob.strip(), state.strip()))
    elif outcomes_raw is not None:
        raise t._bad("outcomes", "must be a table {glob = state} or a list of 'GLOB=STATE'")
    storage = t.str_("storage")
    options = EmulatorSettings(
        time_scale=t.number("time_scale", 100_000.0, minimum=0.001),
        fault_rate=t.number("fault_rate", 0.0),
        upload_fault_rate=t.number("upload_fault_rate", 0.0),
        url_ttl=t.duration("url_ttl", 3600.0),
        latency=t.number("latency", 0.0),
        seed=t.integer("seed", 0),
        outcomes=tuple(outcomes),
        storage=(base / storage).resolve() if storage else None,
    )
    t.finish()
    for name in ("fault_rate", "upload_fault_rate"):
        if getattr(options, name) > 1:
            raise t._bad(name, "must be between 0 and 1")
    return options
