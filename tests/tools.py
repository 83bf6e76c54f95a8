"""Tests that need a tool from the machine (Chromium, espeak-ng): skipped where it is missing,
failed under CI, which installs it (`make test`)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(tool: str, package: str, what: str) -> NoReturn:
    """Skip the calling test (fail it under CI=true): ``tool`` is not installed."""
    reason = (
        f"{tool} is not installed (Debian: apt-get install {package}; "
        "`make test` installs it where apt-get is usable)"
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI must run the {what}: {reason}")
    pytest.skip(reason)
