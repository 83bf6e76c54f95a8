"""A package's public names, each imported from its submodule on first use (PEP 562).

A package whose ``__init__`` imported every submodule made any import of one of them pay
for all: ``pipeline.stages.outage`` needs only ``providers.http.reachability`` (stdlib
only), yet importing it ran ``providers/http/__init__`` and with it aiohttp (~0.18 s), on
every ``check`` that never opens a connection.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: each name in ``homes`` comes from the submodule
    ``homes[name]``, imported when the name is first looked up and then bound on the package
    (later look-ups do not come here)."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
