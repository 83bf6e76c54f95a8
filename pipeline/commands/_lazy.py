"""``pipeline.log`` for the CLI, imported on first use.

structlog imports its console renderer, and with it rich's pretty-printer and tracebacks, at
import time (~60 ms here): ``voice-onboard --help`` and ``--version`` exit before any logging
is set up and should not pay for it. Attribute access on :data:`log` imports the module.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class _Lazy:
    """A stand-in for a module that imports it on first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


if TYPE_CHECKING:
    from pipeline import log
else:
    log = _Lazy("pipeline.log")

__all__ = ["log"]
