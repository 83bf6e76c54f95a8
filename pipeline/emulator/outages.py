"""Outage windows: spans of real time during which every call of both providers fails one way.

A window is ``after=30s,for=120s,kind=refuse|reset|503``: it opens ``after`` wall-clock seconds
after this emulator process started listening and lasts ``for`` wall-clock seconds. Wall time,
never emulated time: "down for two minutes" is what an operator means, whatever ``time_scale``
makes of training durations. During a window:

- ``refuse``: the listening socket is closed (clients get ECONNREFUSED) and a request that
  still arrives on an open keep-alive connection has that connection dropped unanswered;
- ``reset``: every request's connection is reset before any answer;
- ``503``: every request is answered 503 with the provider's own error body (Huawei and Azure
  JSON, OBS and Azure Storage XML), so a client sees what the real service sends in maintenance.

This module is the spec and the schedule (no aiohttp: the options load early);
``outage_http`` is how the server plays them. ``/_emulator/state`` (the tests' window into the emulator) stays answered under ``reset`` and
``503``; under ``refuse`` nothing on the port answers. Nothing a failed call asked for happens.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from pipeline.errors import ConfigError

Kind = Literal["refuse", "reset", "503"]
KINDS: Final[tuple[Kind, ...]] = ("refuse", "reset", "503")
#: A spec's example, for error messages and help.
EXAMPLE: Final = "after=30s,for=120s,kind=503"

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS: Final = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, slots=True, kw_only=True)
class Outage:
    """One window: opens ``after_s`` real seconds after start, lasts ``for_s`` real seconds."""

    after_s: float
    for_s: float
    kind: Kind

    @property
    def until_s(self) -> float:
        return self.after_s + self.for_s

    def covers(self, elapsed_s: float) -> bool:
        """Whether the window is open ``elapsed_s`` real seconds after start."""
        return self.after_s <= elapsed_s < self.until_s


def parse_outage(text: str, label: str = "--outage") -> Outage:
    """``after=30s,for=120s,kind=refuse`` as an Outage; a ConfigError naming ``label`` and the
    expected form when anything is off (a missing or repeated field, a bad duration or kind)."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in ("after", "for", "kind") or name in fields:
            raise _bad(label, text, f"unexpected part {part.strip()!r}")
        fields[name] = value.strip()
    missing = [name for name in ("after", "for", "kind") if name not in fields]
    if missing:
        raise _bad(label, text, f"missing {', '.join(missing)}")
    kind = fields["kind"]
    if kind not in KINDS:
        raise _bad(label, text, f"kind must be one of {', '.join(KINDS)}")
    after = _seconds(fields["after"], label, text, "after")
    span = _seconds(fields["for"], label, text, "for")
    if span <= 0:
        raise _bad(label, text, "for must be positive")
    return Outage(after_s=after, for_s=span, kind=kind)


def parse_outages(texts: list[str] | tuple[str, ...], label: str) -> tuple[Outage, ...]:
    """Every spec of a repeatable flag or list key, sorted by opening time."""
    return tuple(sorted((parse_outage(t, label) for t in texts), key=lambda o: o.after_s))


def _seconds(value: str, label: str, text: str, name: str) -> float:
    match = _DURATION.match(value)
    if match is None:
        raise _bad(label, text, f"{name} must be a duration like 30s, 2m or 1h")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _bad(label: str, text: str, why: str) -> ConfigError:
    return ConfigError(
        f"{label}: {why} in {text!r}; expected 'after=DURATION,for=DURATION,"
        f"kind={'|'.join(KINDS)}', e.g. '{EXAMPLE}'"
    )


class OutageSchedule:
    """The windows and the emulator's start, on a real clock; which kind is open now."""

    def __init__(self, outages: tuple[Outage, ...], clock: Callable[[], float]) -> None:
        self.outages = outages
        self._clock = clock
        self._start = clock()
        #: calls failed by a window, by kind (``refuse`` counts only calls that came in on a
        #: connection opened before the socket closed: refused connects never reach us).
        #: Per process, like the windows themselves.
        self.failed: Counter[str] = Counter()

    def elapsed(self) -> float:
        """Real seconds since the emulator started listening."""
        return self._clock() - self._start

    def active(self) -> Kind | None:
        """The kind of the window open now (the first one listed when two overlap), or None."""
        elapsed = self.elapsed()
        for outage in self.outages:
            if outage.covers(elapsed):
                return outage.kind
        return None

    def snapshot(self) -> dict[str, object]:
        """A JSON-able view for ``GET /_emulator/state``."""
        return {
            "elapsed_s": round(self.elapsed(), 3),
            "windows": [
                {"after_s": o.after_s, "for_s": o.for_s, "kind": o.kind} for o in self.outages
            ],
            "active": self.active(),
            "failed": dict(self.failed),
        }

    def refusing(self, elapsed_s: float) -> Outage | None:
        """The ``refuse`` window open at ``elapsed_s``, if any (the longest-lasting one)."""
        open_ = [o for o in self.outages if o.kind == "refuse" and o.covers(elapsed_s)]
        return max(open_, key=lambda o: o.until_s, default=None)

    def next_refuse_after(self, elapsed_s: float) -> Outage | None:
        """The next ``refuse`` window to open after ``elapsed_s``."""
        later = [o for o in self.outages if o.kind == "refuse" and o.after_s > elapsed_s]
        return min(later, key=lambda o: o.after_s, default=None)
