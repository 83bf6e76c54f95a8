"""``load_job``: read a job file, check its top level and [batch], and assemble ``JobConfig``."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pipeline.audio.profiles import resolve_profile
from pipeline.config.keys import declared, provider_family
from pipeline.config.records import (
    DATABASE_URL_ENV,
    EDITION_PROFILE,
    HUAWEI,
    TOP_LEVEL,
    EmulatorSettings,
    JobConfig,
)
from pipeline.config.sections import (
    read_await,
    read_content,
    read_emulator,
    read_limits,
    read_provider,
    read_report,
)
from pipeline.config.tables import Source, Table
from pipeline.errors import ConfigError


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
    source = Source(path, text)
    for key in data:
        if key not in TOP_LEVEL:
            line = source.line_of(key, None)
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(f"{where}: unknown table or key '{key}'")
    base = path.parent

    batch = Table(source, "batch", data.get("batch"))
    name: str = batch.get("name")
    if not re.fullmatch(str(declared("batch", "name").pattern), name):
        raise batch.bad("name", "may hold only letters, digits, '.', '_' and '-' (max 63)")
    inbox_raw: str = batch.get("inbox")
    state_raw: str = batch.get("state_dir")
    ledger_url = batch.get("ledger") or env.get(DATABASE_URL_ENV) or None
    batch.finish()
    inbox = (base / inbox_raw).resolve()
    state_dir = (base / state_raw).resolve()

    provider_data = data.get("provider")
    kind = provider_data.get("kind") if isinstance(provider_data, dict) else None
    provider = read_provider(
        Table(
            source,
            "provider",
            provider_data,
            provider_family(kind if isinstance(kind, str) else None),
        )
    )
    limits = read_limits(Table(source, "limits", data.get("limits")), provider.region)
    await_cfg = read_await(Table(source, "await", data.get("await")))

    audio_t = Table(source, "audio", data.get("audio"))
    if provider.kind == HUAWEI:
        profile_name = EDITION_PROFILE[provider.edition]
    else:
        profile_name = "azure-personal"
    profile = resolve_profile(profile_name, audio_t.rest(), source=str(path))

    emulator: EmulatorSettings | None = None
    emu_t = Table(source, "emulator", data.get("emulator"))
    if provider.is_emulator:
        emulator = read_emulator(emu_t, base)
    elif emu_t.data:
        raise ConfigError(
            f'{source.where("emulator", None)}: [emulator] is only used with endpoint = "emulator"'
        )

    report = read_report(Table(source, "report", data.get("report")), base)
    content = read_content(Table(source, "content", data.get("content")), base)

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
        content=content,
    )
