"""What both emulated services share: options, emulated time, credentials, the context.

The Huawei and Azure halves of the emulator each receive one ``EmulatorContext`` (options,
clock, the seeded ``faults.Faults``, storage, base URL); nothing here knows either API.
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pipeline.emulator.faults import Faults
from pipeline.emulator.outages import Outage

#: Fixed test credentials, used when the matching environment variable is not set.
DEFAULT_HUAWEI_AK: Final = "EMULATORAK0000000000"
DEFAULT_HUAWEI_SK: Final = "emulator-secret-key-0000000000000000000000"
DEFAULT_HUAWEI_TOKEN: Final = "emulator-iam-token"
DEFAULT_AZURE_KEY: Final = "emulator-speech-key-00000000000000"


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """What the emulator accepts; the client reads the same environment variables."""

    huawei_ak: str = DEFAULT_HUAWEI_AK
    huawei_sk: str = DEFAULT_HUAWEI_SK
    huawei_token: str = DEFAULT_HUAWEI_TOKEN
    azure_key: str = DEFAULT_AZURE_KEY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if env is None else env
        return cls(
            huawei_ak=env.get("HUAWEICLOUD_SDK_AK") or DEFAULT_HUAWEI_AK,
            huawei_sk=env.get("HUAWEICLOUD_SDK_SK") or DEFAULT_HUAWEI_SK,
            huawei_token=env.get("METASTUDIO_AUTH_TOKEN") or DEFAULT_HUAWEI_TOKEN,
            azure_key=env.get("AZURE_SPEECH_KEY") or DEFAULT_AZURE_KEY,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorOptions:
    """The emulator's knobs: the CLI flags of ``voice-onboard emulator`` and the job file's
    ``[emulator]`` table."""

    host: str = "127.0.0.1"
    port: int = 0  #: 0 = a free port
    time_scale: float = 1.0  #: emulated seconds per real second
    fault_rate: float = 0.0  #: share of control calls answered 500/503/429
    upload_fault_rate: float = 0.0  #: share of uploads whose connection is reset mid-body
    url_ttl: float = 3600.0  #: real seconds an upload URL stays valid
    latency: float = 0.0  #: real seconds added to every control call
    outcomes: tuple[tuple[str, str], ...] = ()  #: (voice-name glob, forced final state)
    seed: int = 0
    storage: Path | None = None  #: where uploaded objects live; None = a temporary folder
    credentials: Credentials = field(default_factory=Credentials)
    #: per-tenant requests per second (Huawei) keyed by API kind; 0 disables throttling
    huawei_rate_limits: tuple[tuple[str, float], ...] = (
        ("create", 10.0),
        ("commit", 10.0),
        ("show", 20.0),
        ("list", 20.0),
        ("delete", 10.0),
        ("other", 20.0),
    )
    #: Azure: requests per window per key
    azure_requests_per_window: int = 50
    azure_window_s: float = 10.0
    #: Azure: the most items a list page holds, whatever ``maxpagesize`` asks (tests lower it
    #: so that a handful of voices already spans pages)
    azure_max_page_size: int = 100
    #: the undocumented behaviours to play instead of the defaults (``alternatives.ALTERNATIVES``)
    plays: frozenset[str] = frozenset()
    #: seconds the emulator's clock is ahead of real time (negative: behind): its ``Date``
    #: header and the signing check use it, as a server with a skewed clock would
    clock_skew_s: float = 0.0
    #: windows of real time during which every call fails (``outages.Outage``)
    outages: tuple[Outage, ...] = ()
    #: the durable state file (``durable.StateFile``); None = state lives in memory only
    state: Path | None = None

    def playing(self, name: str) -> bool:
        """Whether the emulator plays the alternative ``name`` (a key of ALTERNATIVES)."""
        return name in self.plays

    def forced_outcome(self, voice_name: str) -> str | None:
        """The final state forced for a voice name, if any glob matches (first match wins)."""
        for pattern, state in self.outcomes:
            if fnmatch.fnmatchcase(voice_name, pattern):
                return state
        return None


class EmulatedClock:
    """Emulated time: runs ``time_scale`` times faster than the real clock, from real now.

    ``start`` is the emulated time to begin at (a restart from a state file resumes there);
    while ``horizon`` is set, :meth:`now` never reads past it (``durable`` leases time ahead).

    ``skew_s`` sets the server's own wall clock that many seconds ahead of real time (negative:
    behind), as a server whose clock is off would have: :meth:`server_now` is what its ``Date``
    header says and what its AK/SK signature check compares ``X-Sdk-Date`` with.
    """

    def __init__(
        self, time_scale: float = 1.0, *, skew_s: float = 0.0, start: float | None = None
    ) -> None:
        self._scale = time_scale
        self._skew = skew_s
        self._real0 = time.monotonic()
        self._wall0 = time.time() if start is None else start
        self.horizon: float | None = None

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        """Emulated Unix time in seconds."""
        now = self.running_now()
        return now if self.horizon is None else min(now, self.horizon)

    def running_now(self) -> float:
        """Emulated time as it runs, ignoring the horizon (what the lease is measured from)."""
        return self._wall0 + (time.monotonic() - self._real0) * self._scale

    def real_now(self) -> float:
        """Real Unix time (for URL expiry, which is never scaled)."""
        return time.time()

    def server_now(self) -> float:
        """The server's wall clock: real Unix time plus the configured skew (never scaled);
        its ``Date`` header and the signing clock check read it."""
        return time.time() + self._skew


@dataclass(slots=True)
class EmulatorContext:
    """Shared state handed to both service halves."""

    options: EmulatorOptions
    clock: EmulatedClock
    faults: Faults
    storage: Path  #: the folder uploaded objects are written to
    base_url: str = ""  #: set once the server is bound, e.g. http://127.0.0.1:8600
