"""``voice-onboard doctor``'s checks: a read-only first contact with the configured endpoint.

:func:`diagnose` returns one frozen :class:`Check` per row, in order: the endpoint answers
(DNS, connect, TLS, HTTP), its clock, the credentials (one signed list call), the provider's
own rows (:mod:`.huawei`: quota, tenant durations; :mod:`.azure`: api-version, project kind,
blob SAS URL parsed offline), the rate-limit headers seen, and which of the behaviours the
vendors' docs leave open this account shows (``alt: …``; "unknown" where only a write could
tell). Nothing is created, uploaded or committed. The command layer renders the rows and
turns :func:`verdict` into an exit code.
"""

from __future__ import annotations

from typing import Final

from pipeline.config import HUAWEI, Credentials, JobConfig
from pipeline.providers.doctor import azure, huawei
from pipeline.providers.doctor.common import Recorder, clock, rate_headers, reach
from pipeline.providers.doctor.records import Check, Status, Verdict, verdict
from pipeline.providers.http import HttpClient, HttpSettings
from pipeline.providers.huawei.auth import AkSkAuth

#: A first contact should not hang for minutes on a black-holed address.
SETTINGS: Final = HttpSettings(connections=4, connect_timeout=10.0, read_timeout=30.0)


async def diagnose(config: JobConfig, credentials: Credentials, endpoint: str) -> tuple[Check, ...]:
    """Every check for ``config``'s provider at ``endpoint`` (the emulator's loopback URL when
    the job file says ``endpoint = "emulator"``), with the environment's ``credentials``."""
    is_huawei = config.provider.kind == HUAWEI
    offline = [] if is_huawei else azure.offline(config, credentials)
    async with HttpClient(SETTINGS) as http:
        reached = await reach(http, endpoint)
        if isinstance(reached, Check):
            return (reached, *offline)
        signed = is_huawei and isinstance(huawei.auth_of(credentials), AkSkAuth)
        clock_row = clock(reached, signed=signed)
        rows = [reached.check, clock_row]
        recorder = Recorder(http)
        limits = config.limits
        if is_huawei:
            rows += await huawei.checks(
                config,
                credentials,
                recorder,
                endpoint,
                clock_failed=clock_row.status is Status.FAIL,
            )
            pacing = (
                f"voice-onboard paces itself: create/commit ≤ {limits.create_per_second:g}/s, "
                f"show/list ≤ {limits.query_per_second:g}/s ([limits])"
            )
        else:
            rows += await azure.checks(config, credentials, recorder, endpoint)
            rows += offline
            pacing = (
                f"voice-onboard paces itself: ≤ {limits.azure_requests} requests per "
                f"{limits.azure_window_s:g} s ([limits])"
            )
        rows.append(rate_headers(recorder.answers, pacing))
    return tuple(rows)


__all__ = ["Check", "Status", "Verdict", "diagnose", "verdict"]
