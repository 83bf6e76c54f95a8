"""Audio profiles: what each provider wants, and the thresholds the checks use (DESIGN §5).

A profile is a frozen value. The job file's ``[audio]`` table may override any field except
``name``; :func:`resolve_profile` checks the overrides and names the offending key on error.
The profile's :attr:`AudioProfile.fingerprint` is part of the normalized-audio cache key, so a
changed threshold or a new normalization algorithm (bump :data:`PROFILE_ALGO_VERSION`) never
serves stale audio.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from pipeline.errors import ConfigError

#: Bump whenever normalize() would write different audio for the same input and profile.
PROFILE_ALGO_VERSION: Final = 1

#: Output sample formats normalize() can write (integer PCM that providers accept).
OUTPUT_SUBTYPES: Final = frozenset({"PCM_16", "PCM_24"})


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioProfile:
    """What one provider edition wants from each clip, and the thresholds of the checks."""

    name: str  #: "huawei-basic" | "huawei-middle" | "huawei-advance" | "azure-personal"
    sample_rate: int  #: output rate
    channels: int = 1  #: output channels; providers take mono only
    subtype: str = "PCM_16"  #: output libsndfile subtype
    min_input_rate: int = 16000  #: lower is rejected (audio.low_sample_rate), never upsampled
    min_clip_s: float | None = None  #: per-clip bounds, on the normalized duration
    max_clip_s: float | None = None  #: per-clip upper bound (Huawei: never > 15 s)
    clip_count: int | None = None  #: exact number of clips per voice
    min_total_s: float | None = None  #: total audio per voice
    max_total_s: float | None = None
    join_clips: bool = False  #: huawei-advance: clips joined into one long WAV
    join_pause_s: float = 2.5  #: silence inserted between joined clips
    edge_silence_min_s: float = 0.1
    edge_silence_max_s: float = 0.2
    peak_ceiling_dbfs: float = -3.0
    peak_floor_dbfs: float = -6.0
    max_gain_db: float = 20.0  #: never boost a quiet recording (and its noise) more than this
    dc_offset_threshold: float = 0.001  #: |mean| at or above this is removed (-60 dBFS)
    quiet_lufs: float = -40.0  #: integrated loudness below this gives audio.quiet
    snr_warn_db: float = 35.0
    snr_error_db: float = 20.0
    clipping_error_fraction: float = 0.001  #: clipped samples / all samples at or above → error
    needs_transcripts: bool = False
    needs_authorization: bool = False
    needs_consent: bool = False
    max_file_bytes: int = 2 * 1024**3  #: hostile-input limit (audio.file_too_large)

    @property
    def fingerprint(self) -> str:
        """Short hash of every field and the algorithm version: part of the cache key."""
        return _fingerprint(self)

    @property
    def edge_silence_target_s(self) -> float:
        """The edge silence normalize() aims for when an edge is out of range (0.15 s)."""
        return (self.edge_silence_min_s + self.edge_silence_max_s) / 2

    @property
    def peak_target_dbfs(self) -> float:
        """The peak normalize() aims for when the peak is out of range (-4.5 dBFS)."""
        return (self.peak_floor_dbfs + self.peak_ceiling_dbfs) / 2


def _huawei_sentences(name: str, clip_count: int) -> AudioProfile:
    """Huawei basic/middle: N sentences of 5–15 s, each with its transcript."""
    return AudioProfile(
        name=name,
        sample_rate=48000,
        min_clip_s=5.0,
        max_clip_s=15.0,
        clip_count=clip_count,
        needs_transcripts=True,
        needs_authorization=True,
    )


PROFILES: Final[Mapping[str, AudioProfile]] = MappingProxyType(
    {
        "huawei-basic": _huawei_sentences("huawei-basic", 20),
        "huawei-middle": _huawei_sentences("huawei-middle", 100),
        "huawei-advance": AudioProfile(
            name="huawei-advance",
            sample_rate=48000,
            join_clips=True,
            needs_authorization=True,
        ),
        "azure-personal": AudioProfile(
            name="azure-personal",
            sample_rate=24000,
            min_total_s=5.0,
            max_total_s=90.0,
            needs_consent=True,
        ),
    }
)


def _field_kinds() -> dict[str, tuple[type, bool]]:
    """Each overridable field's base type and whether None is allowed."""
    hints = typing.get_type_hints(AudioProfile)
    kinds: dict[str, tuple[type, bool]] = {}
    for f in dataclasses.fields(AudioProfile):
        hint = hints[f.name]
        args = typing.get_args(hint)
        if args:  # X | None
            base = next(a for a in args if a is not type(None))
            kinds[f.name] = (base, True)
        else:
            kinds[f.name] = (hint, False)
    return kinds


_KINDS: Final = _field_kinds()


def _check_type(key: str, value: object, where: str) -> object:
    """Return ``value`` converted to the field's type, or raise ConfigError."""
    base, optional = _KINDS[key]
    if value is None and optional:
        return None
    # bool is an int subclass in Python; TOML `true` must not pass as a number.
    if base is float and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(f"{where} {key} = {value!r}: expected a finite number")
        return float(value)
    if base is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base is bool and isinstance(value, bool):
        return value
    if base is str and isinstance(value, str):
        return value
    expected = {float: "a number", int: "an integer", bool: "true or false", str: "a string"}
    raise ConfigError(f"{where} {key} = {value!r}: expected {expected.get(base, base.__name__)}")


def _check_values(p: AudioProfile, where: str) -> None:
    """Reject combinations no normalizer could honour; one problem per message."""

    def bad(msg: str) -> ConfigError:
        return ConfigError(f"{where} {msg}")

    if p.channels != 1:
        raise bad(f"channels = {p.channels}: only mono (1) output is supported")
    if p.subtype not in OUTPUT_SUBTYPES:
        raise bad(f"subtype = {p.subtype!r}: expected one of {', '.join(sorted(OUTPUT_SUBTYPES))}")
    if not 8000 <= p.sample_rate <= 192000:
        raise bad(f"sample_rate = {p.sample_rate}: expected 8000..192000")
    if not 1000 <= p.min_input_rate <= 192000:
        raise bad(f"min_input_rate = {p.min_input_rate}: expected 1000..192000")
    pairs = [
        ("min_clip_s", p.min_clip_s, "max_clip_s", p.max_clip_s),
        ("min_total_s", p.min_total_s, "max_total_s", p.max_total_s),
        ("edge_silence_min_s", p.edge_silence_min_s, "edge_silence_max_s", p.edge_silence_max_s),
        ("peak_floor_dbfs", p.peak_floor_dbfs, "peak_ceiling_dbfs", p.peak_ceiling_dbfs),
        ("snr_error_db", p.snr_error_db, "snr_warn_db", p.snr_warn_db),
    ]
    for lo_name, lo, hi_name, hi in pairs:
        if lo is not None and hi is not None and lo > hi:
            raise bad(f"{lo_name} = {lo} is greater than {hi_name} = {hi}")
    nonneg = {
        "min_clip_s": p.min_clip_s,
        "max_clip_s": p.max_clip_s,
        "min_total_s": p.min_total_s,
        "max_total_s": p.max_total_s,
        "join_pause_s": p.join_pause_s,
        "edge_silence_min_s": p.edge_silence_min_s,
        "max_gain_db": p.max_gain_db,
        "dc_offset_threshold": p.dc_offset_threshold,
    }
    for key, value in nonneg.items():
        if value is not None and value < 0:
            raise bad(f"{key} = {value}: must not be negative")
    if p.peak_ceiling_dbfs > 0:
        raise bad(f"peak_ceiling_dbfs = {p.peak_ceiling_dbfs}: must be <= 0 dBFS")
    if not 0 <= p.clipping_error_fraction <= 1:
        raise bad(f"clipping_error_fraction = {p.clipping_error_fraction}: expected 0..1")
    if p.clip_count is not None and p.clip_count < 1:
        raise bad(f"clip_count = {p.clip_count}: must be at least 1")
    if p.max_file_bytes < 1:
        raise bad(f"max_file_bytes = {p.max_file_bytes}: must be positive")


def resolve_profile(name: str, overrides: Mapping[str, object], *, source: str) -> AudioProfile:
    """The profile ``name`` with the job file's ``[audio]`` overrides applied and checked.

    Raises ConfigError naming ``source`` (the job file), the key and the problem.
    """
    try:
        base = PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ConfigError(f"{source}: unknown audio profile {name!r} (known: {known})") from None
    where = f"{source}: [audio]"
    changes: dict[str, object] = {}
    for key, value in overrides.items():
        if key not in _KINDS or key == "name":
            known = ", ".join(k for k in _KINDS if k != "name")
            raise ConfigError(f"{where} unknown key {key!r} (known: {known})")
        changes[key] = _check_type(key, value, where)
    profile = dataclasses.replace(base, **changes)  # type: ignore[arg-type]
    _check_values(profile, where)
    return profile


@functools.lru_cache(maxsize=64)
def _fingerprint(profile: AudioProfile) -> str:
    """:attr:`AudioProfile.fingerprint`, computed once per profile (a frozen value): every
    cache look-up asks for it, and the JSON and hash cost ~0.7 ms each time."""
    fields = {f.name: getattr(profile, f.name) for f in dataclasses.fields(profile)}
    blob = json.dumps(
        {"algo": PROFILE_ALGO_VERSION, "fields": fields}, sort_keys=True, allow_nan=False
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
