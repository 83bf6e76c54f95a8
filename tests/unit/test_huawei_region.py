"""`[provider] region` (Huawei): the endpoint it names and the rate defaults of its gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_job
from pipeline.config.regions import HUAWEI_REGIONS, endpoint_region, region_endpoint
from pipeline.errors import ConfigError
from pipeline.providers.huawei.client import THROTTLE_CODES


def _job(tmp_path: Path, provider: str, limits: str = "") -> Path:
    path = tmp_path / "job.toml"
    path.write_text(
        '[batch]\nname = "b"\ninbox = "inbox"\nstate_dir = "var"\n'
        f'[provider]\nkind = "huawei-metastudio"\n{provider}\n{limits}',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("region", sorted(HUAWEI_REGIONS))
def test_region_sets_endpoint_and_rates(tmp_path: Path, region: str) -> None:
    """Each known region gives its metastudio endpoint and its gateway's rates (§10)."""
    config = load_job(_job(tmp_path, f'region = "{region}"'))
    assert config.provider.endpoint == f"https://metastudio.{region}.myhuaweicloud.com"
    assert config.provider.region == region
    assert config.limits.create_per_second == HUAWEI_REGIONS[region].write
    assert config.limits.query_per_second == HUAWEI_REGIONS[region].read


def test_cn_east_3_defaults_to_its_lower_rates(tmp_path: Path) -> None:
    """cn-east-3 allows 3 creates/s and 10 reads/s; explicit [limits] still win."""
    config = load_job(_job(tmp_path, 'region = "cn-east-3"'))
    assert (config.limits.create_per_second, config.limits.query_per_second) == (3.0, 10.0)
    tuned = load_job(_job(tmp_path, 'region = "cn-east-3"', "[limits]\ncreate_per_second = 1"))
    assert tuned.limits.create_per_second == 1.0


def test_region_read_from_a_regional_endpoint(tmp_path: Path) -> None:
    """An endpoint naming a region without the key gets that region's rate defaults."""
    config = load_job(_job(tmp_path, f'endpoint = "{region_endpoint("cn-east-3")}"'))
    assert config.provider.region == "cn-east-3"
    assert config.limits.create_per_second == 3.0


def test_agreeing_region_and_endpoint_are_accepted(tmp_path: Path) -> None:
    """`region` and the same region's endpoint together are fine."""
    endpoint = region_endpoint("cn-north-4")
    config = load_job(_job(tmp_path, f'region = "cn-north-4"\nendpoint = "{endpoint}"'))
    assert config.provider.endpoint == endpoint


def test_disagreeing_region_and_endpoint_are_refused(tmp_path: Path) -> None:
    """Another region's endpoint beside `region` is one ConfigError naming both."""
    provider = f'region = "cn-north-4"\nendpoint = "{region_endpoint("cn-east-3")}"'
    with pytest.raises(ConfigError, match="does not match endpoint"):
        load_job(_job(tmp_path, provider))


def test_endpoint_region_parsing() -> None:
    """Only https metastudio.<region>.myhuaweicloud.com hosts name a region."""
    assert endpoint_region("https://metastudio.cn-north-4.myhuaweicloud.com/") == "cn-north-4"
    assert endpoint_region("http://metastudio.cn-north-4.myhuaweicloud.com") is None
    assert endpoint_region("emulator") is None
    assert endpoint_region("https://example.com") is None


def test_both_gateway_throttle_spellings_are_throttling() -> None:
    """APIG.0308 and APIGW.0308 both mean "throttled" (retried after Retry-After)."""
    assert {"APIG.0308", "APIGW.0308"} <= THROTTLE_CODES
