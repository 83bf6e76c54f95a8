"""The checks every provider shares: the endpoint answers, its clock, its rate-limit headers.

``Recorder`` wraps the run's HTTP transport so that the provider clients' ordinary calls can
be made as they are, while the doctor keeps the headers of every answer (``Date``, any
rate-limit header) for the rows below.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final
from urllib.parse import urlsplit

from pipeline.errors import ProviderError
from pipeline.providers.doctor.records import Check, fail, ok, span, warn
from pipeline.providers.http import HttpClient, HttpResponse, RetryPolicy, UploadBody

#: A skew this small is harmless; past it, say so.
CLOCK_WARN_S: Final = 60.0
#: Past this a signed request is close to the gateway's 15-minute window (reference §2.2):
#: a request that waits in a retry or a queue for a few minutes would be refused.
CLOCK_FAIL_S: Final = 600.0
#: Header names that carry rate-limit information on the services we know of, or might.
_RATE_HEADER: Final = re.compile(r"rate-?limit|retry-after|quota|remaining", re.IGNORECASE)


class Recorder:
    """An ``HttpTransport`` over ``HttpClient`` that keeps every answer's headers."""

    def __init__(self, http: HttpClient) -> None:
        self._http = http
        self.answers: list[Mapping[str, str]] = []  #: headers of each 2xx answer, in order

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | BinaryIO | None = None,
        idempotent: bool = True,
        throttle_codes: Collection[str] = (),
    ) -> HttpResponse:
        response = await self._http.request(
            method,
            url,
            headers=headers or {},
            body=body,
            idempotent=idempotent,
            throttle_codes=throttle_codes,
        )
        self.answers.append(response.headers)
        return response

    async def put_file(
        self,
        url: str,
        source: Path | UploadBody,
        *,
        content_type: str,
        extra_headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
    ) -> int:
        raise AssertionError("doctor is read-only: it never uploads")


@dataclass(frozen=True, slots=True)
class Reached:
    """The endpoint's answer to an unauthenticated GET: its ``Date`` and when we asked."""

    check: Check
    date: str | None  #: the answer's Date header, if any
    local_mid: float  #: this machine's Unix time halfway through the exchange


async def reach(http: HttpClient, endpoint: str, name: str = "endpoint") -> Reached | Check:
    """DNS, connect, TLS and HTTP in one GET of the endpoint's root, without credentials."""
    url = endpoint.rstrip("/") + "/"
    host = urlsplit(url).netloc
    started = time.time()
    try:
        response = await http.probe(url)
    except ProviderError as exc:
        return fail(name, f"{host} did not answer: {exc}", _reach_fix(str(exc)), unreachable=True)
    ended = time.time()
    tls = "TLS ok, " if url.startswith("https:") else ""
    detail = f"{host} answered ({tls}HTTP {response.status} in {(ended - started) * 1000:.0f} ms)"
    return Reached(ok(name, detail), response.headers.get("Date"), (started + ended) / 2)


def _reach_fix(message: str) -> str:
    if "DNS" in message or "Name or service not known" in message or "nodename" in message:
        return "check the host name in [provider] endpoint (and this machine's DNS resolver)"
    if "SSL" in message or "Certificate" in message or "certificate" in message:
        return (
            "TLS failed: check the endpoint's host name, this machine's CA certificates and any "
            "TLS-intercepting proxy"
        )
    return (
        "check [provider] endpoint, that the service (or `voice-onboard emulator`) is up and "
        "listening there, and any firewall or proxy in between"
    )


def clock(reached: Reached, *, signed: bool, name: str = "clock") -> Check:
    """The server's ``Date`` against this machine's clock; ``signed``: requests carry an AK/SK
    signature whose date the gateway refuses past 15 minutes."""
    if not reached.date:
        return warn(name, "the server sent no Date header: the skew is unknown")
    try:
        server = email.utils.parsedate_to_datetime(reached.date).timestamp()
    except (TypeError, ValueError):
        return warn(name, f"the server's Date header does not parse ({reached.date[:40]!r})")
    skew = server - reached.local_mid
    if abs(skew) <= CLOCK_WARN_S:
        return ok(name, f"this machine and the server agree within {span(max(abs(skew), 1))}")
    way = "ahead of" if skew > 0 else "behind"
    detail = f"the server's clock is {span(skew)} {way} this machine's ({reached.date})"
    fix = "synchronise this machine's clock (NTP: `timedatectl set-ntp true`, chrony)"
    if not signed:
        return warn(name, detail + "; key auth does not depend on it, SAS expiry does", fix)
    if abs(skew) <= CLOCK_FAIL_S:
        return warn(name, detail + "; AK/SK signatures die at 15 min", fix)
    return fail(name, detail + "; AK/SK signatures are refused past 15 min", fix)


def rate_headers(
    answers: Sequence[Mapping[str, str]], pacing: str, name: str = "rate limits"
) -> Check:
    """Which rate-limit headers came back on the answers; ``pacing`` says how we pace anyway."""
    seen: dict[str, str] = {}
    names: set[str] = set()
    for headers in answers:
        for key, value in headers.items():
            names.add(key)
            if _RATE_HEADER.search(key):
                seen[key] = value[:60]
    if seen:
        listed = ", ".join(f"{k}: {v}" for k, v in sorted(seen.items()))
        return ok(name, f"seen: {listed}; {pacing}")
    if not answers:
        return ok(name, f"unknown (no answer to read); {pacing}")
    return ok(
        name,
        f"none in {len(answers)} answers (headers: {', '.join(sorted(names)) or 'none'}); {pacing}",
    )
