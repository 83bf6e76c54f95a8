"""Job file + an environment mapping → frozen ``JobConfig`` and ``Credentials``.

This package never reads ``os.environ``: the command layer hands the environment in
(``load_job(path, env)``, ``Credentials.from_env(env)``). Every problem is a ``ConfigError``
whose message names the file, the key and, where it can be found, the line.

Modules: ``records`` (the typed tables: keys, types, defaults, allowed values), ``tables``
(the typed TOML table reader and its error messages), ``sections`` (one reader per table),
``endpoints`` (allowed endpoint URLs), ``load`` (``load_job``), ``credentials``.
"""

from __future__ import annotations

from pipeline.config.credentials import Credentials
from pipeline.config.endpoints import is_loopback
from pipeline.config.load import load_job
from pipeline.config.records import (
    AZURE,
    DATABASE_URL_ENV,
    EMULATOR,
    HUAWEI,
    AwaitConfig,
    AwaitMode,
    ContentConfig,
    Edition,
    EmulatorSettings,
    JobConfig,
    Limits,
    ProviderConfig,
    ProviderKind,
    ReportConfig,
    UploadMode,
)

__all__ = [
    "AZURE",
    "DATABASE_URL_ENV",
    "EMULATOR",
    "HUAWEI",
    "AwaitConfig",
    "AwaitMode",
    "ContentConfig",
    "Credentials",
    "Edition",
    "EmulatorSettings",
    "JobConfig",
    "Limits",
    "ProviderConfig",
    "ProviderKind",
    "ReportConfig",
    "UploadMode",
    "is_loopback",
    "load_job",
]
