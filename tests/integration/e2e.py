"""Helpers for end-to-end tests: sample inboxes generated once and shared by hard links, job
files pointing at a standalone emulator, and a run through the real runner and provider."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipeline.commands.emulated import emulated, emulator_options
from pipeline.config import Credentials, JobConfig, load_job
from pipeline.emulator.context import DEFAULT_AZURE_KEY, DEFAULT_HUAWEI_AK, DEFAULT_HUAWEI_SK
from pipeline.providers.factory import open_provider
from pipeline.runner import ProviderOpener, RunReport, run_batch

PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
CREDENTIALS = Credentials(
    huawei_ak=DEFAULT_HUAWEI_AK, huawei_sk=DEFAULT_HUAWEI_SK, azure_key=DEFAULT_AZURE_KEY
)


def link_tree(src: Path, dst: Path, keys: list[str] | None = None) -> Path:
    """Copy an inbox (or some of its voices) by hard links: cheap, and the files are read-only
    inputs for the pipeline."""
    dst.mkdir(parents=True, exist_ok=True)
    for voice in sorted(src.iterdir()):
        if keys is None or voice.name in keys:
            shutil.copytree(voice, dst / voice.name, copy_function=os.link)
    return dst


def huawei_job(
    folder: Path,
    *,
    endpoint: str,
    inbox: Path,
    edition: str = "basic",
    upload_mode: str = "package",
    batch: str = "b",
    extra: str = "",
    cache_from: Path | None = None,
) -> JobConfig:
    """A Huawei job file in ``folder`` against ``endpoint``; optionally seeded with another
    run's normalized-audio cache (hard links) so tests do not normalize the same audio twice."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "job.toml"
    path.write_text(
        f'[batch]\nname = "{batch}"\ninbox = "{inbox}"\nstate_dir = "{folder / "var"}"\n'
        f'[provider]\nkind = "huawei-metastudio"\nendpoint = "{endpoint}"\n'
        f'project_id = "{PROJECT_ID}"\nedition = "{edition}"\nupload_mode = "{upload_mode}"\n'
        f'[await]\npoll_interval = "0.2s"\ndeadline = "2m"\n{extra}\n',
        encoding="utf-8",
    )
    config = load_job(path)
    if cache_from is not None and cache_from.exists() and not config.cache_dir.exists():
        shutil.copytree(cache_from, config.cache_dir, copy_function=os.link)
    return config


async def run(config: JobConfig, *, detach: bool | None = None) -> RunReport:
    """One `voice-onboard run` through the real runner, provider and HTTP client (for
    ``endpoint = "emulator"`` wrapped in the in-process emulator, as the CLI does)."""
    opener: ProviderOpener = open_provider
    if config.provider.is_emulator:
        assert config.emulator is not None
        opener = emulated(open_provider, emulator_options(config.emulator, {}))
    return await run_batch(config, CREDENTIALS, open_provider=opener, detach=detach)
