"""Shared fixtures: the anyio backend, a clean environment, job-file and inbox factories."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

_OUR_ENV = (
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "METASTUDIO_AUTH_TOKEN",
    "AZURE_SPEECH_KEY",
    "AZURE_BLOB_CONTAINER_SAS_URL",
    "VOICE_ONBOARD_DATABASE_URL",
)
#: The suite's own knobs (``make soak``, the test database); every other VOICE_ONBOARD_* is
#: the operator's and is never seen by a test.
_TEST_KNOBS = (
    "VOICE_ONBOARD_TEST_DATABASE_URL",
    "VOICE_ONBOARD_SOAK",
    "VOICE_ONBOARD_FUZZ_EXAMPLES",
)


def _operator_env(name: str) -> bool:
    return name in _OUR_ENV or (name.startswith("VOICE_ONBOARD_") and name not in _TEST_KNOBS)


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp needs asyncio; run every async test on it."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real credentials (nor one a test before it set)."""
    for name in [n for n in os.environ if _operator_env(n)]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def evict() -> Callable[[Path], None]:
    """Drop a file's pages from the page cache (written back first, so they are clean): its
    next read has to go to the disk."""

    def drop(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    return drop


@pytest.fixture
def write_job(tmp_path: Path) -> Callable[..., Path]:
    """Write a job file; keyword arguments become extra TOML text appended to it."""

    def write(
        *,
        provider: str = 'kind = "huawei-metastudio"\nendpoint = "emulator"\nedition = "basic"',
        extra: str = "",
        name: str = "job.toml",
        batch: str = "t",
    ) -> Path:
        path = tmp_path / name
        path.write_text(
            f'[batch]\nname = "{batch}"\ninbox = "inbox"\nstate_dir = "var"\n\n'
            f"[provider]\n{provider}\n\n{extra}\n",
            encoding="utf-8",
        )
        (tmp_path / "inbox").mkdir(exist_ok=True)
        return path

    return write


def pytest_configure(config: pytest.Config) -> None:
    """Keep numpy/BLAS from oversubscribing the 2 cores the suite shares, and drop the
    operator's credentials before any fixture of any scope runs (a module-scoped fixture runs
    before the function-scoped clean environment)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for name in [n for n in os.environ if _operator_env(n)]:
        del os.environ[name]
