"""How a Huawei request proves who sends it: an IAM token, or an AK/SK signature per attempt."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.providers.huawei.signer import sign_request


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """IAM token authentication (``X-Auth-Token``)."""

    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AkSkAuth:
    """AK/SK request signing (``SDK-HMAC-SHA256``), optionally with a temporary token."""

    ak: str
    sk: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


Auth = TokenAuth | AkSkAuth


def authorized(
    auth: Auth, headers: dict[str, str], *, method: str, url: str, body: bytes, project_id: str
) -> dict[str, str]:
    """``headers`` with the credentials of ``auth``: the token, or the signature headers.

    Call it for every attempt, so a retry much later still has a fresh X-Sdk-Date (±15 min).
    """
    if isinstance(auth, TokenAuth):
        headers["X-Auth-Token"] = auth.token
        return headers
    return sign_request(
        method=method,
        url=url,
        headers=headers,
        body=body,
        ak=auth.ak,
        sk=auth.sk,
        project_id=project_id,
        security_token=auth.security_token,
    )
