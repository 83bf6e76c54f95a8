"""One reader per job-file table ([provider], [limits], [await], [report], [content],
[emulator])."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import MappingProxyType

from pipeline.config.endpoints import check_endpoint
from pipeline.config.keys import declared
from pipeline.config.records import (
    HUAWEI,
    AwaitConfig,
    AwaitMode,
    ContentConfig,
    Edition,
    EmulatorSettings,
    Limits,
    ProviderConfig,
    ProviderKind,
    ReportConfig,
    UploadMode,
)
from pipeline.config.regions import (
    DEFAULT_RATES,
    HUAWEI_REGIONS,
    endpoint_region,
    region_endpoint,
)
from pipeline.config.tables import Table
from pipeline.errors import ConfigError


def _huawei_region(t: Table, kind: ProviderKind, endpoint: str | None) -> str | None:
    """``[provider] region`` (Huawei): a known region id, agreeing with an explicit endpoint."""
    if kind != HUAWEI:
        if "region" in t.data:
            raise t.bad("region", "is a Huawei key; Azure's region is in its endpoint")
        return None
    region = t.str_("region")
    if region is None:
        return endpoint_region(endpoint) if endpoint else None
    if region not in HUAWEI_REGIONS:
        raise t.bad("region", f"must be one of {', '.join(HUAWEI_REGIONS)} (got {region!r})")
    if endpoint is not None and endpoint_region(endpoint) != region:
        raise t.bad(
            "region",
            f"{region!r} does not match endpoint {endpoint!r}: region {region} is "
            f"{region_endpoint(region)}; drop one of the two keys or make them agree",
        )
    return region


def read_provider(t: Table) -> ProviderConfig:
    kind = ProviderKind(t.choice("kind", "", tuple(ProviderKind))) if t.data.get("kind") else None
    if kind is None:
        raise ConfigError(f"{t.source.where('provider', None)}: [provider] needs key 'kind'")
    # Required: a job file without it used to run on the in-process emulator and record
    # "succeeded" voices in the ledger that a later real run would then skip. A Huawei
    # [provider] region names it instead.
    endpoint = t.str_("endpoint")
    region = _huawei_region(t, kind, endpoint)
    if endpoint is None and region is not None:
        endpoint = region_endpoint(region)
    if endpoint is None:
        raise ConfigError(
            f"{t.source.where('provider', None)}: [provider] needs key 'endpoint': "
            'the service\'s https:// URL, or "emulator" for the built-in emulator'
        )
    check_endpoint(endpoint, t)
    if kind == HUAWEI:
        edition = Edition(t.get("edition"))
        mode = UploadMode(t.get("upload_mode"))
        if mode is UploadMode.SEGMENT and edition not in (Edition.BASIC, Edition.MIDDLE):
            raise t.bad("upload_mode", "segment works only with edition basic or middle")
        project_id: str = t.get("project_id")
        if not _matches(t, "project_id", project_id):
            raise t.bad("project_id", "must be an IAM project id (letters and digits)")
        app_user_id = t.get("app_user_id")
        t.finish()
        return ProviderConfig(
            kind=kind,
            endpoint=endpoint,
            project_id=project_id,
            edition=edition,
            upload_mode=mode,
            app_user_id=app_user_id,
            region=region,
        )
    api_version: str = t.get("api_version")
    project: str = t.get("project")
    if not _matches(t, "project", project):
        raise t.bad("project", f"must match {declared('provider', 'project', 'azure').pattern}")
    mode = UploadMode(t.get("upload_mode"))
    t.finish()
    return ProviderConfig(
        kind=kind, endpoint=endpoint, api_version=api_version, project=project, upload_mode=mode
    )


def read_limits(t: Table, region: str | None = None) -> Limits:
    """``[limits]``; the Huawei rates default to ``region``'s gateway quotas (reference §10)."""
    rates = HUAWEI_REGIONS.get(region or "", DEFAULT_RATES)
    limits = Limits(
        uploads=t.get("uploads"),
        cpu_workers=t.get("cpu_workers", max(1, os.cpu_count() or 1)),
        create_per_second=t.get("create_per_second", rates.write),
        query_per_second=t.get("query_per_second", rates.read),
        azure_requests=t.get("azure_requests"),
        azure_window_s=t.get("azure_window_s"),
        max_file_mb=t.get("max_file_mb"),
        max_clips=t.get("max_clips"),
        max_voice_duration_s=t.get("max_voice_duration"),
        circuit_breaker=t.get("circuit_breaker"),
        outage_window_s=t.get("outage_window"),
        retry_attempts=t.get("retry_attempts"),
        retry_budget_s=t.get("retry_budget"),
    )
    t.finish()
    return limits


def read_await(t: Table) -> AwaitConfig:
    await_cfg = AwaitConfig(
        mode=AwaitMode(t.get("mode")),
        deadline_s=t.get("deadline"),
        poll_interval_s=t.get("poll_interval"),
    )
    t.finish()
    return await_cfg


def read_report(t: Table, base: Path) -> ReportConfig:
    html: bool = t.get("html")
    metrics_raw: str | None = t.get("metrics_textfile")
    t.finish()
    return ReportConfig(
        html=html,
        metrics_textfile=(base / metrics_raw).resolve() if metrics_raw else None,
    )


def read_content(t: Table, base: Path) -> ContentConfig:
    check: bool = t.get("check")
    raw = t.raw("models")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v.strip() for v in raw.values()):
        raise t.bad("models", 'must be a table of folders: {"zh-CN" = "/path/to/model"}')
    models: dict[str, Path] = {}
    if raw:
        # Here, not at the top: the recognizer package loads NumPy, and every command (even
        # `--version`) reads the config records; only a job that names models pays for it.
        from pipeline.audio.content import ModelError, check_model
    for tag, folder in raw.items():
        path = (base / folder).resolve()
        try:
            # The real loader: a folder that loads here is one the workers can use.
            check_model(path)
        except ModelError as exc:
            raise t.bad(f'models."{tag}"', str(exc)) from None
        models[str(tag)] = path
    t.finish()
    return ContentConfig(check=check, models=MappingProxyType(models))


def read_emulator(t: Table, base: Path) -> EmulatorSettings:
    outcomes_raw = t.raw("outcomes")
    outcomes: list[tuple[str, str]] = []
    if isinstance(outcomes_raw, dict):
        outcomes = [(str(k), str(v)) for k, v in outcomes_raw.items()]
    elif isinstance(outcomes_raw, list):
        for item in outcomes_raw:
            if not isinstance(item, str) or "=" not in item:
                raise t.bad("outcomes", "entries must be 'GLOB=STATE' strings")
            glob, _, state = item.partition("=")
            outcomes.append((glob.strip(), state.strip()))
    elif outcomes_raw is not None:
        raise t.bad("outcomes", "must be a table {glob = state} or a list of 'GLOB=STATE'")
    storage: str | None = t.get("storage")
    plays_raw = t.raw("plays")
    if plays_raw is None:
        plays_raw = []
    if not isinstance(plays_raw, list) or not all(isinstance(p, str) for p in plays_raw):
        raise t.bad(
            "plays", "must be a list of alternative names (`voice-onboard emulator --help`)"
        )
    outages_raw = t.raw("outages")
    if outages_raw is None:
        outages_raw = []
    if not isinstance(outages_raw, list) or not all(isinstance(o, str) for o in outages_raw):
        raise t.bad("outages", "must be a list of 'after=30s,for=120s,kind=refuse|reset|503'")
    options = EmulatorSettings(
        time_scale=t.get("time_scale"),
        fault_rate=t.get("fault_rate"),
        upload_fault_rate=t.get("upload_fault_rate"),
        url_ttl=t.get("url_ttl"),
        latency=t.get("latency"),
        seed=t.get("seed"),
        outcomes=tuple(outcomes),
        storage=(base / storage).resolve() if storage else None,
        plays=frozenset(plays_raw),
        clock_skew_s=t.get("clock_skew"),
        outages=tuple(outages_raw),
    )
    t.finish()
    return options


def _matches(t: Table, name: str, value: str) -> bool:
    """Whether ``value`` fits the declared pattern of key ``name``."""
    pattern = declared(t.name, name, t.family).pattern
    return pattern is None or re.fullmatch(pattern, value) is not None
