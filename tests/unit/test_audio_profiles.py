"""Audio profiles: the provider tables of DESIGN §5, overrides from the job file, fingerprints."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pipeline.audio.profiles import PROFILES, AudioProfile, resolve_profile
from pipeline.errors import ConfigError

SOURCE = "jobs/nightly.toml"


def test_profiles_follow_the_design_table() -> None:
    """Rates, per-clip bounds, clip counts and voice-level needs match DESIGN §5."""
    basic, middle = PROFILES["huawei-basic"], PROFILES["huawei-middle"]
    advance, azure = PROFILES["huawei-advance"], PROFILES["azure-personal"]
    assert {p.sample_rate for p in (basic, middle, advance)} == {48000}
    assert azure.sample_rate == 24000
    assert all(p.channels == 1 and p.subtype == "PCM_16" for p in PROFILES.values())
    assert (basic.min_clip_s, basic.max_clip_s, basic.clip_count) == (5.0, 15.0, 20)
    assert (middle.min_clip_s, middle.max_clip_s, middle.clip_count) == (5.0, 15.0, 100)
    assert advance.join_clips
    assert 2.0 <= advance.join_pause_s <= 3.0
    assert advance.max_clip_s is None
    assert advance.clip_count is None
    assert (azure.min_total_s, azure.max_total_s, azure.max_clip_s) == (5.0, 90.0, None)
    assert basic.needs_transcripts
    assert not advance.needs_transcripts
    assert not azure.needs_transcripts
    assert all(PROFILES[n].needs_authorization for n in ("huawei-basic", "huawei-advance"))
    assert azure.needs_consent
    assert not azure.needs_authorization
    assert all(name == p.name for name, p in PROFILES.items())


def test_fingerprint_is_stable_and_covers_every_field() -> None:
    """Equal profiles share a fingerprint; changing any one field changes it."""
    base = PROFILES["huawei-basic"]
    assert base.fingerprint == dataclasses.replace(base).fingerprint
    assert len(base.fingerprint) == 16
    seen = {base.fingerprint}
    for field in dataclasses.fields(AudioProfile):
        value = getattr(base, field.name)
        if isinstance(value, bool):
            changed: Any = not value
        elif isinstance(value, int | float):
            changed = value + 1
        elif value is None:
            changed = 1.0
        else:
            changed = f"{value}-x"
        seen.add(dataclasses.replace(base, **{field.name: changed}).fingerprint)
    assert len(seen) == len(dataclasses.fields(AudioProfile)) + 1


def test_resolve_applies_overrides() -> None:
    """Overrides from [audio] replace the profile's values; ints are accepted for floats."""
    p = resolve_profile(
        "huawei-basic", {"snr_warn_db": 30, "max_clip_s": 14.5, "join_pause_s": 2.0}, source=SOURCE
    )
    assert (p.snr_warn_db, p.max_clip_s, p.join_pause_s) == (30.0, 14.5, 2.0)
    assert isinstance(p.snr_warn_db, float)
    assert p.fingerprint != PROFILES["huawei-basic"].fingerprint
    assert resolve_profile("azure-personal", {}, source=SOURCE) == PROFILES["azure-personal"]


def test_resolve_rejects_unknown_key_naming_it() -> None:
    """An unknown [audio] key is a ConfigError naming the job file and the key."""
    with pytest.raises(ConfigError) as info:
        resolve_profile("huawei-basic", {"snr_warn": 30}, source=SOURCE)
    assert SOURCE in info.value.message
    assert "'snr_warn'" in info.value.message
    assert "\n" not in info.value.message


def test_resolve_rejects_the_name_key() -> None:
    """The profile name comes from the provider section, not from [audio]."""
    with pytest.raises(ConfigError, match="'name'"):
        resolve_profile("huawei-basic", {"name": "azure-personal"}, source=SOURCE)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("snr_warn_db", "35", "expected a number"),
        ("snr_warn_db", True, "expected a number"),
        ("snr_warn_db", float("nan"), "finite"),
        ("sample_rate", 48000.0, "expected an integer"),
        ("join_clips", 1, "true or false"),
        ("subtype", 16, "expected a string"),
    ],
)
def test_resolve_rejects_wrong_types(key: str, value: object, expected: str) -> None:
    """A value of the wrong type names the file, the key and what was expected."""
    with pytest.raises(ConfigError) as info:
        resolve_profile("huawei-basic", {key: value}, source=SOURCE)
    assert SOURCE in info.value.message
    assert key in info.value.message
    assert expected in info.value.message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"min_clip_s": 16.0}, "min_clip_s = 16.0 is greater than max_clip_s"),
        ({"peak_floor_dbfs": -2.0}, "peak_floor_dbfs"),
        ({"peak_ceiling_dbfs": 1.0, "peak_floor_dbfs": -1.0}, "<= 0 dBFS"),
        ({"channels": 2}, "only mono"),
        ({"subtype": "FLOAT"}, "subtype"),
        ({"clipping_error_fraction": 2.0}, "0..1"),
        ({"join_pause_s": -1.0}, "negative"),
        ({"sample_rate": 1000}, "sample_rate"),
    ],
)
def test_resolve_rejects_impossible_values(overrides: dict[str, object], expected: str) -> None:
    """Values no normalizer could honour are refused with the key in the message."""
    with pytest.raises(ConfigError, match=expected):
        resolve_profile("huawei-basic", overrides, source=SOURCE)


def test_resolve_rejects_unknown_profile() -> None:
    """An unknown profile name lists the known ones."""
    with pytest.raises(ConfigError, match="huawei-basic"):
        resolve_profile("huawei-premium", {}, source=SOURCE)


def test_derived_targets_sit_mid_range() -> None:
    """normalize() aims at -4.5 dBFS peaks and 0.15 s edges with the default ranges."""
    p = PROFILES["azure-personal"]
    assert p.peak_target_dbfs == pytest.approx(-4.5)
    assert p.edge_silence_target_s == pytest.approx(0.15)
