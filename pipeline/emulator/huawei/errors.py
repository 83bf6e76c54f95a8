"""Huawei error answers: ``{"error_code", "error_msg"}`` bodies, and the codes the emulator uses.

Documented codes (reference §3) are used where one fits; where the docs are silent the emulator
picks a code and says so here, so the client and its tests can rely on it.

| HTTP | error_code   | when |
|------|--------------|------|
| 401  | MSS.00000001 | bad or missing token/signature, X-Sdk-Date ±15 min off, X-Project-Id ≠ path |
| 400  | MSS.00010003 | no such API under ``/v1/{project_id}/voice-training-manage`` |
| 400  | MSS.00010004 | the path exists, the method does not |
| 400  | MSS.10000002 | body is not JSON (or not a JSON object) |
| 400  | MSS.10000003 | validation failed: missing voice_name, bad enum, limit/offset/index out of range, SEGMENT for ADVANCE/THIRD_PARTY, a sentence call on a PACKAGE job |
| 404  | MSS.00000003 | unknown or deleted job_id (status and code configurable: ``HuaweiSettings``) |
| 400  | MSS.20010004 | the job's state does not allow the call (commit outside CREATING/AUDIT_FAILED, confirm after commit) — emulator's choice |
| 400  | MSS.20010005 | no training resource of this edition left (quota 0) — emulator's choice |
| 429  | APIGW.0308   | throttled (per tenant, per API) or an injected 429; with Retry-After |
| 500  | MSS.00000004 | injected fault (also on injected 503s) |
"""

from __future__ import annotations

import json
from typing import Final

from aiohttp import web

from pipeline.emulator.errors import ServiceError

UNAUTHORIZED: Final = "MSS.00000001"
INVALID_PARAMETER: Final = "MSS.00000003"
INTERNAL: Final = "MSS.00000004"
API_NOT_FOUND: Final = "MSS.00010003"
METHOD_NOT_ALLOWED: Final = "MSS.00010004"
BAD_JSON: Final = "MSS.10000002"
VALIDATION: Final = "MSS.10000003"
WRONG_STATE: Final = "MSS.20010004"
NO_QUOTA: Final = "MSS.20010005"
THROTTLED: Final = "APIGW.0308"


class HuaweiError(ServiceError):
    """An error answer; the gateway (``huawei.gateway``) turns it into the JSON response."""

    def response(self) -> web.Response:
        body = json.dumps({"error_code": self.code, "error_msg": self.message})
        return web.Response(
            status=self.status, text=body, content_type="application/json", headers=self.headers
        )


def validation(message: str) -> HuaweiError:
    """400 MSS.10000003: a parameter failed validation."""
    return HuaweiError(400, VALIDATION, f"Parameter validation failed: {message}")


def throttled(limit: float, retry_after: float) -> HuaweiError:
    """429 APIGW.0308, worded like the API gateway, with a whole-second Retry-After."""
    seconds = max(1, int(-(-retry_after // 1)))
    return HuaweiError(
        429,
        THROTTLED,
        f"The throttling threshold has been reached: policy user over ratelimit,"
        f"limit:{int(limit)},time:1 second",
        headers={"Retry-After": str(seconds)},
    )
