"""The typed TOML table reader: checked values, leftover keys, errors naming file:line and key."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Final

from pipeline.config.keys import TABLES, For, declared
from pipeline.errors import ConfigError

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class Table:
    """One TOML table being read: tracks which keys were used so leftovers can be named."""

    def __init__(self, source: Source, name: str, data: object, family: For = None) -> None:
        """``family``: for [provider], which provider kind's keys it may hold."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{source.where(name, None)}: [{name}] must be a table")
        self.source = source
        self.name = name
        self.family = family
        self.data: dict[str, object] = data
        self.used: set[str] = set()
        #: the keys pipeline.config.keys declares for this table (None: [audio], checked
        #: against the audio profile's fields instead)
        self.declared = (
            {k.name for k in TABLES[name] if k.provider in (None, family)}
            if name in TABLES
            else None
        )

    def _get(self, name: str) -> object:
        if self.declared is not None and name not in self.declared:
            # A reader asked for a key nobody documented: the schema and the README would
            # not know it. Our bug, caught by the config tests.
            raise KeyError(f"[{self.name}] {name}: not declared in pipeline.config.keys")
        self.used.add(name)
        return self.data.get(name)

    def get(self, name: str, default: Any = None) -> Any:
        """The key ``name`` read by its declaration (type, default, bounds, choices);
        ``default`` only for keys whose default is computed (``default_doc``)."""
        k = declared(self.name, name, self.family)
        fallback: Any = k.default if k.default is not None else default
        absent = self.data.get(name) is None
        if absent and fallback is None and not k.required:
            self._get(name)
            return None
        match k.type:
            case "string" if k.choices:
                return self.choice(name, str(fallback), k.choices)
            case "string":
                return self.str_(name, fallback, required=k.required)
            case "integer":
                return self.integer(name, int(fallback or 0), minimum=int(k.minimum or 0))
            case "number":
                value = self.number(name, float(fallback or 0.0), minimum=k.minimum or 0.0)
                if k.maximum is not None and value > k.maximum:
                    raise self.bad(name, f"must be between {k.minimum:g} and {k.maximum:g}")
                return value
            case "duration":
                return self.duration(name, float(fallback or 0.0))
            case "boolean":
                flag = self._get(name)
                if flag is None:
                    return fallback
                if not isinstance(flag, bool):
                    raise self.bad(name, "must be true or false")
                return flag
        raise TypeError(f"[{self.name}] {name}: {k.type} keys are read by their own reader")

    def bad(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source.where(self.name, key)}: {self.name}.{key} {problem}")

    def str_(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(key)
        if value is None:
            if required:
                raise ConfigError(
                    f"{self.source.where(self.name, None)}: [{self.name}] needs key '{key}'"
                )
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.bad(key, "must be a non-empty string")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.str_(key, default)
        assert value is not None
        if value not in choices:
            raise self.bad(key, f"must be one of {', '.join(choices)} (got {value!r})")
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.bad(key, "must be a number")
        if not math.isfinite(value):
            raise self.bad(key, f"must be a finite number (got {value})")
        if value < minimum:
            raise self.bad(key, f"must be >= {minimum:g}")
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.bad(key, "must be an integer")
        if value < minimum:
            raise self.bad(key, f"must be >= {minimum}")
        return value

    def duration(self, key: str, default: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            raise self.bad(key, "must be a duration like '30s', '6h' or a number of seconds")
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str) and (m := _DURATION.match(value)):
            seconds = float(m.group(1)) * _UNITS[m.group(2)]
        else:
            raise self.bad(key, "must be a duration like '30s', '6h' or a number of seconds")
        if not math.isfinite(seconds):
            # TOML has nan and inf; a NaN deadline or poll interval would hang or spin the run.
            raise self.bad(key, f"must be a finite duration like '30s' or '6h' (got {value})")
        if seconds <= 0:
            raise self.bad(key, "must be positive")
        return seconds

    def raw(self, key: str) -> object:
        return self._get(key)

    def rest(self) -> dict[str, object]:
        """Keys not read yet (for tables passed on whole, like [audio])."""
        return {k: v for k, v in self.data.items() if k not in self.used}

    def finish(self, allowed_extra: tuple[str, ...] = ()) -> None:
        for key in self.data:
            if key not in self.used and key not in allowed_extra:
                raise ConfigError(
                    f"{self.source.where(self.name, key)}: unknown key '{self.name}.{key}'"
                )


class Source:
    """The job file's text, for finding the line a key is on."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line_of(self, table: str, key: str | None) -> int | None:
        section = re.compile(r"^\s*\[\s*" + re.escape(table) + r"\s*\]\s*(#.*)?$")
        any_section = re.compile(r"^\s*\[")
        key_re = re.compile(r"^\s*" + re.escape(key) + r"\s*=") if key else None
        inside = False
        for number, line in enumerate(self.lines, start=1):
            if section.match(line):
                if key_re is None:
                    return number
                inside = True
                continue
            if any_section.match(line):
                inside = False
            elif inside and key_re is not None and key_re.match(line):
                return number
        return None

    def where(self, table: str, key: str | None) -> str:
        line = self.line_of(table, key)
        return f"{self.path}:{line}" if line else str(self.path)
