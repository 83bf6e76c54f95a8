"""One reader per job-file table ([provider], [limits], [await], [report], [emulator])."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pipeline.config.endpoints import check_endpoint
from pipeline.config.records import (
    AZURE_API_VERSIONS,
    AZURE_ID,
    EDITIONS,
    HUAWEI,
    AwaitConfig,
    AwaitMode,
    Edition,
    EmulatorSettings,
    Limits,
    ProviderConfig,
    ProviderKind,
    ReportConfig,
    UploadMode,
)
from pipeline.config.tables import Table
from pipeline.errors import ConfigError


def read_provider(t: Table) -> ProviderConfig:
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
    check_endpoint(endpoint, t)
    if kind == HUAWEI:
        edition = Edition(t.choice("edition", "basic", tuple(EDITIONS)))
        mode = UploadMode(t.choice("upload_mode", "package", ("package", "segment")))
        if mode is UploadMode.SEGMENT and edition not in (Edition.BASIC, Edition.MIDDLE):
            raise t.bad("upload_mode", "segment works only with edition basic or middle")
        project_id = t.str_("project_id", "0" * 32)
        assert project_id is not None
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", project_id):
            raise t.bad("project_id", "must be an IAM project id (letters and digits)")
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
    api_version = t.choice("api_version", AZURE_API_VERSIONS[0], AZURE_API_VERSIONS)
    project = t.str_("project", "onboarding")
    assert project is not None
    if not AZURE_ID.match(project):
        raise t.bad("project", "must match ^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}[a-zA-Z0-9]$")
    mode = UploadMode(t.choice("upload_mode", "multipart", ("multipart", "blob-sas")))
    t.finish()
    return ProviderConfig(
        kind=kind, endpoint=endpoint, api_version=api_version, project=project, upload_mode=mode
    )


def read_limits(t: Table) -> Limits:
    limits = Limits(
        uploads=t.integer("uploads", 8, minimum=1),
        cpu_workers=t.integer("cpu_workers", max(1, os.cpu_count() or 1), minimum=1),
        create_per_second=t.number("create_per_second", 10.0, minimum=0.01),
        query_per_second=t.number("query_per_second", 20.0, minimum=0.01),
        azure_requests=t.integer("azure_requests", 50, minimum=1),
        azure_window_s=t.number("azure_window_s", 10.0, minimum=0.1),
        max_file_mb=t.number("max_file_mb", 2048.0, minimum=0.001),
        max_clips=t.integer("max_clips", 2000, minimum=1),
        max_voice_duration_s=t.duration("max_voice_duration", 4 * 3600.0),
        circuit_breaker=t.integer("circuit_breaker", 20, minimum=1),
        retry_attempts=(
            t.integer("retry_attempts", 0, minimum=1) if "retry_attempts" in t.data else None
        ),
        retry_budget_s=t.duration("retry_budget", 0.0) if "retry_budget" in t.data else None,
    )
    t.finish()
    return limits


def read_await(t: Table) -> AwaitConfig:
    await_cfg = AwaitConfig(
        mode=AwaitMode(t.choice("mode", "wait", tuple(AwaitMode))),
        deadline_s=t.duration("deadline", 6 * 3600.0),
        poll_interval_s=t.duration("poll_interval", 30.0),
    )
    t.finish()
    return await_cfg


def read_report(t: Table, base: Path) -> ReportConfig:
    html = t.raw("html")
    if html is not None and not isinstance(html, bool):
        raise t.bad("html", "must be true or false")
    metrics_raw = t.str_("metrics_textfile")
    t.finish()
    return ReportConfig(
        html=True if html is None else html,
        metrics_textfile=(base / metrics_raw).resolve() if metrics_raw else None,
    )


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
    storage = t.str_("storage")
    plays_raw = t.raw("plays")
    if plays_raw is None:
        plays_raw = []
    if not isinstance(plays_raw, list) or not all(isinstance(p, str) for p in plays_raw):
        raise t.bad(
            "plays", "must be a list of alternative names (`voice-onboard emulator --help`)"
        )
    options = EmulatorSettings(
        time_scale=t.number("time_scale", 100_000.0, minimum=0.001),
        fault_rate=t.number("fault_rate", 0.0),
        upload_fault_rate=t.number("upload_fault_rate", 0.0),
        url_ttl=t.duration("url_ttl", 3600.0),
        latency=t.number("latency", 0.0),
        seed=t.integer("seed", 0),
        outcomes=tuple(outcomes),
        storage=(base / storage).resolve() if storage else None,
        plays=frozenset(plays_raw),
        clock_skew_s=t.number("clock_skew", 0.0, minimum=-1e9),
    )
    t.finish()
    for name in ("fault_rate", "upload_fault_rate"):
        if getattr(options, name) > 1:
            raise t.bad(name, "must be between 0 and 1")
    return options
