"""Which ``[provider] endpoint`` values are allowed: the emulator, https, or http to loopback."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pipeline.config.records import EMULATOR
from pipeline.config.tables import Table


def check_endpoint(endpoint: str, t: Table) -> None:
    if endpoint == EMULATOR:
        return
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    raise t.bad("endpoint", 'must be "emulator", an https:// URL, or http:// to a loopback address')


def is_loopback(host: str) -> bool:
    """Whether a host name is a loopback address (plain http is allowed only there)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
