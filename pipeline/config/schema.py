"""JSON Schemas of the job file and voice.toml, and the README's key reference, generated from
:mod:`.keys` and the records: the same declarations the loader reads by, so the three agree.

TOML editors (Taplo, Even Better TOML) validate and complete a file whose first line is
``#:schema ./job.schema.json``; ``voice-onboard schema job|voice`` prints them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, Final

from pipeline.config.keys import (
    AUDIO_MEANINGS,
    TABLES,
    Key,
    audio_keys,
)
from pipeline.config.records import ProviderKind
from pipeline.records import VOICE_CHOICES, VOICE_MEANINGS, VoiceMeta

_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
#: The duration syntax the loader accepts (pipeline.config.tables).
_DURATION: Final = r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$"
#: Longest value of a voice.toml key (pipeline.stages.discover.MAX_META_VALUE).
_META_VALUE: Final = 256
_FAMILY: Final = {"huawei": ProviderKind.HUAWEI, "azure": ProviderKind.AZURE}

Schema = dict[str, Any]


def _property(k: Key, plays: Sequence[str]) -> Schema:
    match k.type:
        case "string":
            prop: Schema = {"type": "string", "minLength": 1}
            if k.choices:
                prop["enum"] = list(k.choices)
            if k.pattern:
                prop["pattern"] = k.pattern
        case "integer" | "number":
            prop = {"type": k.type}
        case "boolean":
            prop = {"type": "boolean"}
        case "duration":
            prop = {
                "anyOf": [
                    {"type": "number", "exclusiveMinimum": 0},
                    {"type": "string", "pattern": _DURATION},
                ]
            }
        case "strings":
            items: Schema = {"type": "string"}
            if plays and k.name == "plays":  # not [emulator] outages, a list of its own
                items["enum"] = list(plays)
            prop = {"type": "array", "items": items}
        case "paths":
            prop = {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}}
        case "outcomes":
            prop = {
                "anyOf": [
                    {"type": "object", "additionalProperties": {"type": "string"}},
                    {"type": "array", "items": {"type": "string", "pattern": "="}},
                ]
            }
    if k.type in ("integer", "number"):
        low = k.minimum if k.minimum is not None else 0  # the loader's floor (tables.Table)
        prop["minimum"] = low if k.type == "number" else int(low)
        if k.maximum is not None:
            prop["maximum"] = k.maximum
    prop["description"] = k.meaning + (f" (default: {_default_text(k)})" if _has_default(k) else "")
    if k.default is not None:
        prop["default"] = k.default
    return prop


def _table(keys: Sequence[Key], plays: Sequence[str] = (), **extra: Schema) -> Schema:
    props = {k.name: _property(k, plays) for k in keys}
    props.update(extra)
    table: Schema = {"type": "object", "additionalProperties": False, "properties": props}
    required = [k.name for k in keys if k.required]
    if required:
        table["required"] = required
    return table


def _provider() -> Schema:
    variants = []
    for family, kind in _FAMILY.items():
        keys = [k for k in TABLES["provider"] if k.provider in (None, family) and k.name != "kind"]
        kind_key = next(k for k in TABLES["provider"] if k.name == "kind")
        variant = _table(keys, kind={"const": str(kind), "description": kind_key.meaning})
        variant["required"] = ["kind", *variant.get("required", [])]
        if family == "azure":
            variant["required"].append("endpoint")
        else:  # a region names the endpoint too
            variant["anyOf"] = [{"required": ["endpoint"]}, {"required": ["region"]}]
        if family == "huawei":  # the loader's one cross-key rule
            variant["if"] = {
                "properties": {"upload_mode": {"const": "segment"}},
                "required": ["upload_mode"],
            }
            variant["then"] = {"properties": {"edition": {"enum": ["basic", "middle"]}}}
        variants.append(variant)
    return {"oneOf": variants}


def job_schema(plays: Sequence[str] = ()) -> Schema:
    """The job file's schema; ``plays``: the emulator's alternative names (the command layer
    knows them; the library never imports the emulator)."""
    properties: Schema = {
        "batch": _table(TABLES["batch"]),
        "provider": _provider(),
        "audio": _table(audio_keys()),
        "limits": _table(TABLES["limits"]),
        "await": _table(TABLES["await"]),
        "report": _table(TABLES["report"]),
        "content": _table(TABLES["content"]),
        "emulator": _table(TABLES["emulator"], plays),
    }
    return {
        "$schema": _DIALECT,
        "title": "voice-onboard job file",
        "description": "One batch: where its voices are, which service trains them, limits.",
        "type": "object",
        "additionalProperties": False,
        "required": ["batch", "provider"],
        "properties": properties,
    }


def voice_schema() -> Schema:
    """voice.toml's schema (one per voice folder)."""
    props: Schema = {}
    for f in dataclasses.fields(VoiceMeta):
        prop: Schema = {"type": "string", "maxLength": _META_VALUE}
        if f.name in VOICE_CHOICES:
            prop["enum"] = list(VOICE_CHOICES[f.name])
        prop["description"] = VOICE_MEANINGS[f.name]
        props[f.name] = prop
    props["voice_name"]["minLength"] = 1
    return {
        "$schema": _DIALECT,
        "title": "voice-onboard voice.toml",
        "description": "What one voice folder says about its speaker.",
        "type": "object",
        "additionalProperties": False,
        "required": ["voice_name"],
        "properties": props,
    }


def dumps(schema: Schema) -> str:
    """A schema as the files in ``jobs/`` hold it."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _has_default(k: Key) -> bool:
    return k.default is not None or k.default_doc is not None


def _default_text(k: Key) -> str:
    if k.default_doc is not None:
        return k.default_doc
    if k.type == "duration" and isinstance(k.default, float):
        return _seconds(k.default)
    if isinstance(k.default, bool):
        return "true" if k.default else "false"
    if isinstance(k.default, str):
        return f'"{k.default}"'
    return f"{k.default:g}" if isinstance(k.default, float) else str(k.default)


def _seconds(value: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f'"{int(value // size)}{unit}"'
    return f'"{value:g}s"'


def _allowed(k: Key) -> str:
    if k.choices:
        return ", ".join(f"`{c}`" for c in k.choices)
    bounds = []
    low = k.minimum if k.minimum is not None else 0.0
    if k.type in ("integer", "number") and low > -1e9:
        bounds.append(f"≥ {low:g}")
    if k.maximum is not None:
        bounds.append(f"≤ {k.maximum:g}")
    if k.pattern:
        bounds.append(f"`{k.pattern}`")
    return ", ".join(bounds)


def reference_markdown() -> str:
    """The README's job-file and voice.toml reference: one table per TOML table."""
    out: list[str] = []
    sections: list[tuple[str, Sequence[Key]]] = [(t, keys) for t, keys in TABLES.items()]
    sections.insert(2, ("audio", audio_keys()))
    for table, keys in sections:
        out.append(f"`[{table}]`\n")
        out.append("| key | type | default | allowed | meaning |")
        out.append("|---|---|---|---|---|")
        for k in keys:
            name = f"`{k.name}`" + (f" ({k.provider})" if k.provider else "")
            default = "required" if k.required else (_default_text(k) if _has_default(k) else "—")
            meaning = k.meaning.replace("|", "\\|")
            out.append(f"| {name} | {k.type} | {default} | {_allowed(k)} | {meaning} |")
        out.append("")
    out.append("`voice.toml`\n")
    out.append("| key | allowed | meaning |")
    out.append("|---|---|---|")
    for f in dataclasses.fields(VoiceMeta):
        allowed = ", ".join(f"`{c}`" for c in VOICE_CHOICES.get(f.name, ()))
        required = " (required)" if f.name == "voice_name" else ""
        out.append(f"| `{f.name}`{required} | {allowed} | {VOICE_MEANINGS[f.name]} |")
    return "\n".join(out) + "\n"


__all__ = ["AUDIO_MEANINGS", "dumps", "job_schema", "reference_markdown", "voice_schema"]
