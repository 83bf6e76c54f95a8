"""Job-file loading: defaults, paths, and one-line errors naming file, key and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.config import Credentials, load_job
from pipeline.errors import ConfigError


def test_defaults_and_relative_paths(write_job: Callable[..., Path], tmp_path: Path) -> None:
    """Relative paths resolve against the job file's folder; the profile follows the edition."""
    config = load_job(write_job())
    assert config.inbox == (tmp_path / "inbox").resolve()
    assert config.state_dir == (tmp_path / "var").resolve()
    assert config.profile.name == "huawei-basic"
    assert config.provider.job_type == "BASIC"
    assert config.limits.uploads == 8
    assert config.emulator is not None


def test_unknown_key_named_with_line(write_job: Callable[..., Path]) -> None:
    """An unknown key is an error that names the key, the file and its line."""
    path = write_job(extra="[limits]\nuploads = 4\nuplods = 3\n")
    with pytest.raises(ConfigError) as info:
        load_job(path)
    msg = str(info.value)
    assert "limits.uplods" in msg
    assert f"{path}:" in msg
    line = int(msg.split(f"{path}:")[1].split(":")[0])
    assert path.read_text().splitlines()[line - 1].startswith("uplods")


def test_unknown_table(write_job: Callable[..., Path]) -> None:
    """A misspelled table is named."""
    with pytest.raises(ConfigError, match="unknown table or key 'limit'"):
        load_job(write_job(extra="[limit]\nuploads = 4\n"))


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    """A missing job file and invalid TOML are one-line errors."""
    with pytest.raises(ConfigError, match="job file not found"):
        load_job(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[batch\nname=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_job(bad)


def test_bad_values(write_job: Callable[..., Path]) -> None:
    """Wrong types, bad enums and bad durations are named."""
    with pytest.raises(ConfigError, match="edition must be one of"):
        load_job(
            write_job(
                provider='kind = "huawei-metastudio"\nendpoint = "emulator"\nedition = "gold"'
            )
        )
    with pytest.raises(ConfigError, match="uploads must be an integer"):
        load_job(write_job(extra='[limits]\nuploads = "many"'))
    with pytest.raises(ConfigError, match="deadline must be a duration"):
        load_job(write_job(extra='[await]\ndeadline = "soon"'))
    with pytest.raises(ConfigError, match="segment works only"):
        load_job(
            write_job(
                provider='kind = "huawei-metastudio"\nendpoint = "emulator"\nedition = "advance"\n'
                'upload_mode = "segment"'
            )
        )


def test_endpoint_is_required(write_job: Callable[..., Path]) -> None:
    """A job file without endpoint is refused; it never falls back to the emulator."""
    with pytest.raises(ConfigError, match=r"\[provider\] needs key 'endpoint'"):
        load_job(write_job(provider='kind = "huawei-metastudio"'))


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("[await]\npoll_interval = nan", "poll_interval"),
        ("[await]\ndeadline = inf", "deadline"),
        ("[await]\ndeadline = -inf", "deadline"),
        ("[limits]\ncreate_per_second = nan", "create_per_second"),
        ("[limits]\nretry_budget = nan", "retry_budget"),
        ("[emulator]\ntime_scale = nan", "time_scale"),
        ("[emulator]\nlatency = inf", "latency"),
    ],
)
def test_non_finite_numbers_are_refused(
    write_job: Callable[..., Path], extra: str, key: str
) -> None:
    """TOML's nan and inf never reach a deadline, an interval or a scale."""
    with pytest.raises(ConfigError, match=rf"\.{key} must be a finite"):
        load_job(write_job(extra=extra))


def test_endpoint_rules(write_job: Callable[..., Path]) -> None:
    """Plain http is allowed only to a loopback address."""
    ok = load_job(
        write_job(provider='kind = "huawei-metastudio"\nendpoint = "http://127.0.0.1:8600"')
    )
    assert ok.emulator is None
    with pytest.raises(ConfigError, match="endpoint must be"):
        load_job(write_job(provider='kind = "huawei-metastudio"\nendpoint = "http://example.com"'))


def test_durations_and_audio_overrides(write_job: Callable[..., Path]) -> None:
    """Durations accept units; [audio] overrides reach the profile."""
    config = load_job(
        write_job(
            extra='[await]\ndeadline = "2h"\npoll_interval = "30s"\n[audio]\nsnr_warn_db = 30.0'
        )
    )
    assert config.await_.deadline_s == 7200
    assert config.await_.poll_interval_s == 30
    assert config.profile.snr_warn_db == 30.0


def test_missing_credentials_for_real_endpoint(write_job: Callable[..., Path]) -> None:
    """A real endpoint without credentials is a configuration error; the emulator needs none."""
    real = load_job(
        write_job(
            provider='kind = "huawei-metastudio"\nendpoint = "https://metastudio.example.com"'
        )
    )
    with pytest.raises(ConfigError, match="HUAWEICLOUD_SDK_AK"):
        Credentials.from_env({}).for_provider(real)
    emu = load_job(write_job())
    test_values = Credentials(huawei_ak="emu-ak", huawei_sk="emu-sk")
    creds = Credentials.from_env({}).for_provider(emu, emulator=test_values)
    assert (creds.huawei_ak, creds.huawei_sk) == ("emu-ak", "emu-sk")
    own = Credentials.from_env({"HUAWEICLOUD_SDK_AK": "mine", "HUAWEICLOUD_SDK_SK": "s"})
    assert own.for_provider(emu, emulator=test_values).huawei_ak == "mine"
    azure = load_job(
        write_job(
            provider='kind = "azure-personal-voice"\nendpoint = "https://x.example.com"\nupload_mode = "blob-sas"'
        )
    )
    with pytest.raises(ConfigError, match="AZURE_BLOB_CONTAINER_SAS_URL"):
        Credentials.from_env({"AZURE_SPEECH_KEY": "k"}).for_provider(azure)
