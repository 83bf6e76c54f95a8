"""Reading Huawei request bodies and query strings into typed values, or validation errors.

Bodies: a non-empty body must be JSON (``Content-Type: application/json``) holding an object,
else 400 ``MSS.10000002``; a field of the wrong type or outside its enum is 400
``MSS.10000003``. Unknown fields are ignored, as the service's lenient JSON binding does.
Time filters of the list API accept Unix milliseconds or RFC 3339 (``2020-07-30T10:43:17Z``);
the docs do not say which, and the other MetaStudio lists use RFC 3339.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipeline.emulator.huawei.book import ListQuery
from pipeline.emulator.huawei.errors import BAD_JSON, HuaweiError, validation
from pipeline.emulator.huawei.model import (
    LANGUAGES,
    LISTABLE_JOB_TYPES,
    SERVICES,
    SEXES,
    CreateType,
    JobMeta,
    JobState,
    JobTag,
)

MAX_INT32 = 2_147_483_647
_COMMIT_FIELDS = (
    "tag",
    "description",
    "sex",
    "voice_name",
    "language",
    "phone",
    "app_user_id",
    "output_language",
    "custom_text",
)
_FREE_TEXT = (
    "description",
    "phone",
    "dhtms_job_id",
    "batch_name",
    "output_language",
    "custom_text",
    "app_user_id",
)


def json_object(body: bytes, content_type: str) -> dict[str, Any]:
    """The JSON object in a request body; {} for an empty body."""
    if not body.strip():
        return {}
    if not content_type.startswith("application/json"):
        raise HuaweiError(400, BAD_JSON, "The request body must be JSON (application/json)")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HuaweiError(400, BAD_JSON, f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HuaweiError(400, BAD_JSON, "The request body must be a JSON object")
    return data


def _optional_str(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise validation(f"{name} must be a string")
    return value


def _optional_enum(data: Mapping[str, Any], name: str, allowed: frozenset[str]) -> str | None:
    value = _optional_str(data, name)
    if value is not None and value not in allowed:
        raise validation(f"{name} must be one of {', '.join(sorted(allowed))}")
    return value


_TAGS = frozenset(JobTag)
_CREATE_TYPES = frozenset(CreateType)


def _voice_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise validation("voice_name is required and must be a non-empty string")
    return value


def parse_create(data: Mapping[str, Any], app_user_id: str | None) -> tuple[JobMeta, CreateType]:
    """The job metadata and upload mode of a create body (``CreateTrainingJobReq``).

    ``create_type`` defaults to PACKAGE when omitted (the docs do not say).
    """
    voice_name = _voice_name(data.get("voice_name"))
    tag = _optional_enum(data, "tag", _TAGS)
    sex = _optional_enum(data, "sex", SEXES)
    language = _optional_enum(data, "language", LANGUAGES)
    create_type = _optional_enum(data, "create_type", _CREATE_TYPES)
    texts = {name: _optional_str(data, name) for name in _FREE_TEXT if name != "app_user_id"}
    ondemand = data.get("is_ondemand_resource")
    if ondemand is not None and not isinstance(ondemand, bool):
        raise validation("is_ondemand_resource must be a boolean")
    services = data.get("supported_service")
    if services is not None and (
        not isinstance(services, list) or any(item not in SERVICES for item in services)
    ):
        raise validation(f"supported_service must be a list of {', '.join(sorted(SERVICES))}")
    meta = JobMeta(
        voice_name=voice_name,
        tag=tag,
        sex=sex or "FEMALE",
        language=language or "CN",
        is_ondemand_resource=bool(ondemand),
        supported_service=tuple(services or ()),
        app_user_id=app_user_id,
        **texts,
    )
    return meta, CreateType(create_type or CreateType.PACKAGE)


def parse_commit(data: Mapping[str, Any]) -> dict[str, Any]:
    """The JobMeta fields a commit body (``CommitJobReq``) overrides."""
    changes: dict[str, Any] = {}
    for name in _COMMIT_FIELDS:
        if data.get(name) is None:
            continue
        if name == "voice_name":
            value: str | None = _voice_name(data[name])
        elif name == "tag":
            value = _optional_enum(data, name, _TAGS)
        elif name == "sex":
            value = _optional_enum(data, name, SEXES)
        elif name == "language":
            value = _optional_enum(data, name, LANGUAGES)
        else:
            value = _optional_str(data, name)
        if value is not None:
            changes[name] = value
    return changes


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An optional integer query parameter within [low, high]."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    return _bounded(name, raw, low, high)


def required_int(query: Mapping[str, str], name: str, low: int, high: int) -> int:
    """A required integer query parameter within [low, high]."""
    return _bounded(name, required_param(query, name), low, high)


def _bounded(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise validation(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise validation(f"{name} must be between {low} and {high}")
    return value


def page(query: Mapping[str, str]) -> tuple[int, int]:
    """``offset`` (0–2147483647, default 0) and ``limit`` (1–100, default 10)."""
    return int_param(query, "offset", 0, 0, MAX_INT32), int_param(query, "limit", 10, 1, 100)


def required_param(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise validation(f"{name} is required")
    return value


def _time_param(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if not raw:
        return None
    if raw.isdigit():
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise validation(f"{name} must be Unix milliseconds or RFC 3339") from None
    if moment.tzinfo is None:
        raise validation(f"{name} needs a time zone (e.g. a trailing Z)")
    return int(moment.timestamp() * 1000)


def _bool_param(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise validation(f"{name} must be true or false")
    return raw.lower() == "true"


def parse_list(query: Mapping[str, str]) -> ListQuery:
    """The filters, order and page of ListVoiceTrainingJob."""
    offset, limit = page(query)
    states = None
    if query.get("state"):
        names = [name.strip() for name in query["state"].split(",") if name.strip()]
        try:
            states = frozenset(JobState(name) for name in names)
        except ValueError:
            raise validation("state must be a comma-separated list of JobState values") from None
    job_type = query.get("job_type") or None
    if job_type is not None and job_type not in LISTABLE_JOB_TYPES:
        raise validation(f"job_type must be one of {', '.join(sorted(LISTABLE_JOB_TYPES))}")
    tag = query.get("tag") or None
    if tag is not None and tag not in _TAGS:
        raise validation(f"tag must be one of {', '.join(sorted(_TAGS))}")
    sort_key = query.get("sort_key") or "create_time"
    if sort_key not in ("create_time", "update_time"):
        raise validation("sort_key must be create_time or update_time")
    sort_dir = query.get("sort_dir") or "desc"
    if sort_dir not in ("asc", "desc"):
        raise validation("sort_dir must be asc or desc")
    return ListQuery(
        offset=offset,
        limit=limit,
        states=states,
        job_id=query.get("job_id") or None,
        voice_name=query.get("voice_name") or None,
        tag=tag,
        job_type=job_type,
        batch_name=query.get("batch_name") or None,
        create_since=_time_param(query, "create_since"),
        create_until=_time_param(query, "create_until"),
        update_since=_time_param(query, "update_since"),
        update_until=_time_param(query, "update_until"),
        is_ondemand_resource=_bool_param(query, "is_ondemand_resource"),
        sort_key=sort_key,
        descending=sort_dir == "desc",
    )
