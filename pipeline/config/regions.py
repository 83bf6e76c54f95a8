"""Huawei MetaStudio regions (reference §1, §10): the endpoint each region id names, and the
per-tenant request rates the API gateway allows there (the client's defaults).

``ap-southeast-1`` (AP-Singapore) is the FAQ's public-test region: the endpoint table lists no
host for it, so ``metastudio.ap-southeast-1.myhuaweicloud.com`` follows the others' pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionRates:
    """Requests per second per tenant: create/commit/delete, and show/list/audit."""

    write: float
    read: float


#: Region id → its gateway rates (reference §10).
HUAWEI_REGIONS: Final = {
    "cn-north-4": RegionRates(write=10.0, read=20.0),
    "cn-east-3": RegionRates(write=3.0, read=10.0),
    "ap-southeast-1": RegionRates(write=3.0, read=10.0),
}
#: The rates when no region is named (cn-north-4's, the commercial region).
DEFAULT_RATES: Final = HUAWEI_REGIONS["cn-north-4"]


def region_endpoint(region: str) -> str:
    """The MetaStudio endpoint of ``region``."""
    return f"https://metastudio.{region}.myhuaweicloud.com"


def endpoint_region(endpoint: str) -> str | None:
    """The region a ``https://metastudio.<region>.myhuaweicloud.com`` endpoint names, if any."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    prefix, suffix = "metastudio.", ".myhuaweicloud.com"
    if parts.scheme == "https" and host.startswith(prefix) and host.endswith(suffix):
        return host[len(prefix) : -len(suffix)] or None
    return None
