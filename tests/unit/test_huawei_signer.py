"""Our SDK-HMAC-SHA256 signer against huaweicloudsdkcore's own signer, on generated requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.providers.huawei.signer import (
    EMPTY_BODY_SHA256,
    canonical_query,
    canonical_uri,
    sign_request,
)

AK = "HPUAXXXXXXXXXXXXXXXX"
SK = "sk-0123456789abcdefghijklmnopqrstuvwxyz"

# Names the signer (or the SDK's credentials) set themselves, or that the test adds on purpose.
RESERVED = frozenset(
    {
        "host",
        "x-sdk-date",
        "authorization",
        "x-project-id",
        "x-security-token",
        "x-sdk-content-sha256",
        "content-type",
    }
)

# Any character UTF-8 can encode (no lone surrogates); header values also lack line breaks.
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
HEADER_VALUE = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=16)
HEADER_NAME = st.text(st.sampled_from("abcXYZ019-_"), min_size=1, max_size=10).filter(
    lambda n: n.lower() not in RESERVED
)
SEGMENT = st.one_of(
    TEXT,
    st.sampled_from(["v1", "voice-training-manage", "a b", "ü", "中文", "%", "~x", ".", ".."]),
)


def sdk_authorization(
    *,
    method: str,
    host: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    project_id: str | None,
    token: str | None,
    when: datetime,
) -> tuple[str, dict[str, str]]:
    """Sign with huaweicloudsdkcore, the way its client does: BasicCredentials → Signer."""
    credentials = BasicCredentials(AK, SK, project_id)
    if token is not None:
        credentials.with_security_token(token)
    header_params: dict[str, Any] = dict(headers)
    header_params["X-Sdk-Date"] = when.strftime("%Y%m%dT%H%M%SZ")
    request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(query),
        header_params=header_params,
        body=body,
    )
    signed = credentials.sign_request(request)
    # The SDK stores header values as UTF-8 bytes decoded as latin-1 for its HTTP library.
    sent = {
        k.lower(): str(v).encode("iso-8859-1").decode("utf-8")
        for k, v in signed.header_params.items()
    }
    return sent["authorization"], sent


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A random request: method, host, encoded path, query with repeats/blanks, headers, body."""
    segments = draw(st.lists(SEGMENT, max_size=5))
    raw_path_style = draw(st.booleans())
    # Either fully encoded segments, or sub-delimiters and ':'/'@' left raw (both are legal).
    safe = "!$&'()*+,;=:@" if raw_path_style else ""
    path = "/" + "/".join(quote(s, safe=safe) for s in segments)
    if draw(st.booleans()):
        path += "/"
    keys = draw(
        st.lists(
            st.sampled_from(["job_id", "index", "a", "A", "ü", "x y", "k+"]) | TEXT, max_size=6
        )
    )
    query = [
        (k, draw(st.sampled_from(["", "1", "a b", "+", "中", "%", "x=y"]) | TEXT)) for k in keys
    ]
    repeat_key: bool = draw(st.booleans())
    if query and repeat_key:
        query.append((query[0][0], draw(TEXT)))  # a repeated key
    plus_style = draw(st.booleans())
    enc = quote_plus if plus_style else (lambda s: quote(s, safe="~"))
    query_string = "&".join(f"{enc(k)}={enc(v)}" for k, v in query)
    names = draw(st.lists(HEADER_NAME, max_size=5, unique_by=str.lower))
    headers = {n: draw(HEADER_VALUE) for n in names}
    content_type = draw(
        st.sampled_from(
            [
                None,
                "application/json",
                "application/json;charset=UTF-8",
                "application/bson",
                "application/zip",
                "text/plain",
                "audio/wav",
                "",
            ]
        )
    )
    if content_type is not None:
        headers["Content-Type"] = content_type
    if draw(st.booleans()):
        headers["Host"] = draw(st.sampled_from(["example.com", "h:8443"]))
    return {
        "method": draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "patch", "Head"])),
        "host": draw(
            st.sampled_from(
                [
                    "metastudio.cn-north-4.myhuaweicloud.com",
                    "127.0.0.1:43123",
                    "[::1]:8600",
                ]
            )
        ),
        "path": path,
        "query": query,
        "query_string": query_string,
        "headers": headers,
        "body": draw(st.sampled_from([b"", b"{}", b'{"voice_name":"\xe4\xb8\xad"}']) | st.binary()),
        "project_id": draw(st.sampled_from([None, "3f0924078d1b471c884a5383d4dec9fa"])),
        "token": draw(st.sampled_from([None, "temporary-token=="])),
        "when": draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1))),
    }


@settings(max_examples=400, deadline=None)
@given(requests())
def test_authorization_matches_sdk(req: dict[str, Any]) -> None:
    """On any request, our Authorization header and header set equal the SDK's."""
    expected_auth, expected_headers = sdk_authorization(
        method=req["method"],
        host=req["host"],
        path=req["path"],
        query=req["query"],
        headers=req["headers"],
        body=req["body"],
        project_id=req["project_id"],
        token=req["token"],
        when=req["when"],
    )
    url = f"https://{req['host']}{req['path']}"
    if req["query_string"]:
        url += "?" + req["query_string"]
    ours = sign_request(
        method=req["method"],
        url=url,
        headers=req["headers"],
        body=req["body"],
        ak=AK,
        sk=SK,
        project_id=req["project_id"],
        security_token=req["token"],
        now=req["when"],
    )
    assert ours["Authorization"] == expected_auth
    assert {k.lower(): v for k, v in ours.items()} == expected_headers


def test_simple_get_shape() -> None:
    """A plain GET carries the documented headers and Authorization format."""
    when = datetime(2024, 4, 16, 9, 53, 41, tzinfo=UTC)
    headers = sign_request(
        method="get",
        url="https://metastudio.cn-north-4.myhuaweicloud.com/v1/p/voice-training-manage/user/jobs"
        "?limit=10&offset=0",
        headers={"Content-Type": "application/json"},
        body=b"",
        ak=AK,
        sk=SK,
        project_id="p",
        now=when,
    )
    assert headers["X-Sdk-Date"] == "20240416T095341Z"
    assert headers["Host"] == "metastudio.cn-north-4.myhuaweicloud.com"
    assert headers["X-Project-Id"] == "p"
    assert "X-Sdk-Content-Sha256" not in headers
    prefix = (
        f"SDK-HMAC-SHA256 Access={AK}, "
        "SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature="
    )
    assert headers["Authorization"].startswith(prefix)
    assert len(headers["Authorization"]) == len(prefix) + 64


def test_aware_datetime_is_converted_to_utc() -> None:
    """A timezone-aware signing time is written as its UTC equivalent."""
    when = datetime(2024, 4, 16, 17, 53, 41, tzinfo=timezone(timedelta(hours=8)))
    headers = sign_request(
        method="GET",
        url="https://h/x",
        headers={},
        body=b"",
        ak=AK,
        sk=SK,
        project_id=None,
        now=when,
    )
    assert headers["X-Sdk-Date"] == "20240416T095341Z"


def test_non_json_body_is_unsigned_payload() -> None:
    """A non-JSON content type adds X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD, which is signed."""
    headers = sign_request(
        method="PUT",
        url="https://h/x",
        headers={"Content-Type": "application/zip"},
        body=b"PK",
        ak=AK,
        sk=SK,
        project_id=None,
    )
    assert headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert "x-sdk-content-sha256" in headers["Authorization"]


def test_caller_authorization_and_date_are_replaced() -> None:
    """Stale Authorization or X-Sdk-Date headers from the caller never survive signing."""
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    headers = sign_request(
        method="GET",
        url="https://h/x",
        headers={"authorization": "old", "x-sdk-date": "19990101T000000Z"},
        body=b"",
        ak=AK,
        sk=SK,
        project_id=None,
        now=when,
    )
    assert {k.lower() for k in headers} == {"host", "x-sdk-date", "authorization"}
    assert headers["X-Sdk-Date"] == "20300102T030405Z"
    assert headers["Authorization"] != "old"


def test_canonical_helpers() -> None:
    """Canonical URI gains a trailing slash; canonical query sorts decoded pairs."""
    assert canonical_uri("/v1/a%20b/c") == "/v1/a%20b/c/"
    assert canonical_uri("") == "/"
    assert canonical_query("b=2&a=&a=1&c") == "a=&a=1&b=2&c="
    assert EMPTY_BODY_SHA256.startswith("e3b0c442")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"url": "/relative"}, "absolute"),
        ({"ak": ""}, "access key"),
        ({"headers": {"X-A": "1", "x-a": "2"}}, "twice"),
        ({"headers": {"X-A": "1\r\nEvil: 1"}}, "line break"),
    ],
)
def test_rejects_bad_input(kwargs: dict[str, Any], match: str) -> None:
    """Unsignable input raises ValueError instead of producing a wrong signature."""
    args: dict[str, Any] = {
        "method": "GET",
        "url": "https://h/",
        "headers": {},
        "body": b"",
        "ak": AK,
        "sk": SK,
        "project_id": None,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sign_request(**args)
