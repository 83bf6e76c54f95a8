"""The in-process emulator as a provider opener: what ``endpoint = "emulator"`` means.

Command-layer code: it imports the emulator, which the library below never does. The run gets
an opener like any other; this one starts the emulator, hands the real opener its loopback URL,
and stops the emulator (and drops its jobs) when the run ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict

import structlog

from pipeline.config import Credentials, EmulatorSettings, JobConfig
from pipeline.emulator.alternatives import checked
from pipeline.emulator.context import Credentials as EmulatorCredentials
from pipeline.emulator.context import EmulatorOptions
from pipeline.emulator.outages import parse_outages
from pipeline.emulator.server import Emulator
from pipeline.providers.base import Provider
from pipeline.runner import ProviderOpener

log = structlog.get_logger("pipeline.emulated")


def emulator_options(settings: EmulatorSettings, env: Mapping[str, str]) -> EmulatorOptions:
    """The job file's ``[emulator]`` table as the emulator's options; it accepts the
    credentials of ``env`` where set, its fixed test values otherwise. An unknown name in
    ``plays`` is a ConfigError naming the key and the known ones, a malformed window of
    ``outages`` one naming the key and the expected form."""
    fields = asdict(settings)
    fields["plays"] = checked(settings.plays, "[emulator] plays")
    fields["outages"] = parse_outages(settings.outages, "[emulator] outages")
    return EmulatorOptions(**fields, credentials=EmulatorCredentials.from_env(env))


def client_credentials(
    credentials: Credentials, config: JobConfig, options: EmulatorOptions
) -> Credentials:
    """The client's credentials for the emulator: the environment's, else its test values."""
    accepted = options.credentials
    emulator = Credentials(
        huawei_ak=accepted.huawei_ak, huawei_sk=accepted.huawei_sk, azure_key=accepted.azure_key
    )
    return credentials.for_provider(config, emulator=emulator)


def emulated(open_provider: ProviderOpener, options: EmulatorOptions) -> ProviderOpener:
    """An opener that runs ``open_provider`` against a fresh in-process emulator."""

    @asynccontextmanager
    async def opener(
        config: JobConfig, credentials: Credentials, endpoint: str
    ) -> AsyncIterator[Provider]:
        async with Emulator(options) as emu:
            log.info("emulator.started", base_url=emu.base_url)
            async with open_provider(config, credentials, emu.base_url) as provider:
                yield provider

    return opener
