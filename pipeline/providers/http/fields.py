"""Small typed readers of provider answers: the only place JSON values become Python types.

Every provider client parses its answers at the edge with these, so anything unexpected is a
``ProviderProtocolError`` before it reaches a record. Messages name the field, never its value
(values can be signed URLs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar, cast

from pipeline.errors import ProviderProtocolError

JsonObject = Mapping[str, object]
T = TypeVar("T")


def json_object(value: object, what: str) -> JsonObject:
    """``value`` if it is a JSON object; ``what`` names it in the error."""
    if not isinstance(value, dict):
        raise ProviderProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def opt_object(obj: JsonObject, key: str) -> JsonObject:
    """The object under ``key``; an empty one when it is absent or null."""
    value = obj.get(key)
    if value is None:
        return {}
    return json_object(value, repr(key))


def array(obj: JsonObject, key: str, what: str, *, required: bool = False) -> Sequence[object]:
    """The array under ``key`` (absent: empty, unless ``required``)."""
    value = obj.get(key, None if required else [])
    if not isinstance(value, list):
        problem = "is missing or not an array" if required else "is not an array"
        raise ProviderProtocolError(f"{what}: {key!r} {problem}")
    return value


def string(obj: JsonObject, key: str) -> str:
    """A string that must be there and not be empty."""
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ProviderProtocolError(f"{key!r} is missing or not a non-empty string")
    return value


def opt_string(obj: JsonObject, key: str) -> str | None:
    """A string, or None when absent, null or empty."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProviderProtocolError(f"{key!r} is not a string")
    return value


def _as_int(value: object, key: str) -> int:
    if isinstance(value, bool):
        raise ProviderProtocolError(f"{key!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ProviderProtocolError(f"{key!r} is not an integer")


def integer(obj: JsonObject, key: str) -> int:
    """An integer that must be there (an integral float such as ``3.0`` counts)."""
    if obj.get(key) is None:
        raise ProviderProtocolError(f"{key!r} is missing")
    return _as_int(obj[key], key)


def opt_integer(obj: JsonObject, key: str) -> int | None:
    """An integer, or None when absent or null."""
    value = obj.get(key)
    return None if value is None else _as_int(value, key)


def boolean(obj: JsonObject, key: str) -> bool:
    """A boolean that must be there."""
    value = obj.get(key)
    if not isinstance(value, bool):
        raise ProviderProtocolError(f"{key!r} is missing or not a boolean")
    return value


def strings(obj: JsonObject, key: str) -> tuple[str, ...]:
    """An array of strings; empty when absent or null."""
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProviderProtocolError(f"{key!r} is not an array of strings")
    return tuple(value)


def integers(obj: JsonObject, key: str) -> tuple[int, ...]:
    """An array of integers; empty when absent or null."""
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProviderProtocolError(f"{key!r} is not an array")
    return tuple(_as_int(v, key) for v in value)


#: The reader of each field type a wire record may declare (annotations are strings: every
#: records module uses ``from __future__ import annotations``).
_READERS: Final[Mapping[str, Callable[[JsonObject, str], object]]] = {
    "str": string,
    "str | None": opt_string,
    "int": integer,
    "int | None": opt_integer,
    "bool": boolean,
    "tuple[str, ...]": strings,
    "tuple[int, ...]": integers,
}


def record(
    cls: type[T],
    obj: JsonObject,
    *,
    camel: bool = False,
    keys: Mapping[str, str] | None = None,
    **given: object,
) -> T:
    """A wire record read field by field from ``obj``, each by its declared type (``str`` must
    be there, ``str | None`` may be absent …). A field's JSON key is its name, in camelCase
    when ``camel`` (Azure), unless ``keys`` names it; fields in ``given`` are not read (values
    a parser computes itself). One reader for every provider's records, so the wire's field
    names live in one place: the record's declaration."""
    values: dict[str, object] = dict(given)
    for f in dataclasses.fields(cast(Any, cls)):
        if f.name in values:
            continue
        reader = _READERS.get(str(f.type))
        if reader is None:  # a record declared a type no reader knows: our bug, say where
            raise TypeError(f"{cls.__name__}.{f.name}: no JSON reader for {f.type}")
        key = (keys or {}).get(f.name) or (_camel(f.name) if camel else f.name)
        values[f.name] = reader(obj, key)
    return cast(Callable[..., T], cls)(**values)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
