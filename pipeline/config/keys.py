"""Every job-file key in one table: its type, default, allowed values and meaning.

The one source of truth for a key: the readers (:mod:`.sections`, :mod:`.load`) take defaults,
bounds and choices from here (a reader asking for an undeclared key is a bug a test trips
over), the JSON Schema (:mod:`.schema`) and the README's reference are generated from it.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from pipeline.audio.profiles import AudioProfile
from pipeline.config.records import (
    AZURE_API_VERSIONS,
    AZURE_ID,
    EDITIONS,
    AwaitMode,
    ProviderKind,
)
from pipeline.config.regions import HUAWEI_REGIONS

#: How a key's value is written in TOML (``duration``: ``"30s"``, ``"6h"`` or seconds).
Type = Literal["string", "integer", "number", "boolean", "duration", "strings", "outcomes", "paths"]
#: Which provider kind a ``[provider]`` key belongs to (None: both).
For = Literal["huawei", "azure"] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Key:
    """One key of one table."""

    name: str
    type: Type
    meaning: str
    default: object = None  #: None: no default (the key is optional, or required)
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None  #: a regular expression the whole string must match
    provider: For = None
    #: the default as the docs say it, where the value is computed (e.g. the CPU count)
    default_doc: str | None = None


_DURATION_DOC: Final = 'a duration: "30s", "10m", "6h", "2d" or a number of seconds'

BATCH: Final = (
    Key(
        name="name",
        type="string",
        required=True,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
        meaning="the batch's name: ledger rows, manifests and remote batch names use it",
    ),
    Key(
        name="inbox",
        type="string",
        required=True,
        meaning="the inbox folder (one folder per voice), relative to the job file",
    ),
    Key(
        name="state_dir",
        type="string",
        required=True,
        meaning="the ledger, lock, audio cache and manifests, relative to the job file",
    ),
    Key(
        name="ledger",
        type="string",
        meaning="a postgresql:// URL for a shared ledger (scale-out); default: "
        "VOICE_ONBOARD_DATABASE_URL, else SQLite in state_dir",
    ),
)

PROVIDER: Final = (
    Key(
        name="kind",
        type="string",
        required=True,
        choices=tuple(ProviderKind),
        meaning="which service",
    ),
    Key(
        name="endpoint",
        type="string",
        default_doc="required (Huawei: or region)",
        meaning='the service\'s https:// URL, http:// to a loopback emulator, or "emulator" '
        "for the in-process emulator",
    ),
    Key(
        name="region",
        type="string",
        provider="huawei",
        choices=tuple(HUAWEI_REGIONS),
        meaning="the region: sets the endpoint (metastudio.<region>.myhuaweicloud.com) and "
        "its gateway rate defaults; must agree with endpoint when both are given",
    ),
    Key(
        name="edition",
        type="string",
        provider="huawei",
        default="basic",
        choices=tuple(EDITIONS),
        meaning="the training edition; it picks the audio profile",
    ),
    Key(
        name="upload_mode",
        type="string",
        provider="huawei",
        default="package",
        choices=("package", "segment"),
        meaning="one zip per voice, or one upload per sentence (basic and middle only)",
    ),
    Key(
        name="project_id",
        type="string",
        provider="huawei",
        default="0" * 32,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        meaning="the IAM project id of the region",
    ),
    Key(
        name="app_user_id",
        type="string",
        provider="huawei",
        meaning="sent as X-App-UserId where the API defines it",
    ),
    Key(
        name="api_version",
        type="string",
        provider="azure",
        default=AZURE_API_VERSIONS[0],
        choices=AZURE_API_VERSIONS,
        meaning="the Custom Voice REST api-version",
    ),
    Key(
        name="project",
        type="string",
        provider="azure",
        default="onboarding",
        pattern=AZURE_ID.pattern,
        meaning="the Custom Voice project id (created when missing)",
    ),
    Key(
        name="upload_mode",
        type="string",
        provider="azure",
        default="multipart",
        choices=("multipart", "blob-sas"),
        meaning="audio in the request body, or staged in your blob container "
        "(AZURE_BLOB_CONTAINER_SAS_URL)",
    ),
)

LIMITS: Final = (
    Key(name="uploads", type="integer", default=8, minimum=1, meaning="uploads in flight"),
    Key(
        name="cpu_workers",
        type="integer",
        minimum=1,
        default_doc="the number of CPUs",
        meaning="audio worker processes",
    ),
    Key(
        name="create_per_second",
        type="number",
        minimum=0.01,
        default_doc="the region's gateway quota: 10 (cn-north-4), 3 (cn-east-3, ap-southeast-1)",
        meaning="Huawei create/commit/delete calls per second",
    ),
    Key(
        name="query_per_second",
        type="number",
        minimum=0.01,
        default_doc="the region's gateway quota: 20 (cn-north-4), 10 (cn-east-3, ap-southeast-1)",
        meaning="Huawei show/list/audit/segment/address calls per second",
    ),
    Key(
        name="azure_requests",
        type="integer",
        default=50,
        minimum=1,
        meaning="Azure requests per azure_window_s per key",
    ),
    Key(
        name="azure_window_s",
        type="number",
        default=10.0,
        minimum=0.1,
        meaning="Azure's rate window in seconds",
    ),
    Key(
        name="max_file_mb",
        type="number",
        default=2048.0,
        minimum=0.001,
        meaning="larger input files are refused (audio.file_too_large)",
    ),
    Key(name="max_clips", type="integer", default=2000, minimum=1, meaning="clips per voice"),
    Key(
        name="max_voice_duration",
        type="duration",
        default=4 * 3600.0,
        meaning="audio per voice; longer voices are refused",
    ),
    Key(
        name="circuit_breaker",
        type="integer",
        default=20,
        minimum=1,
        meaning="consecutive voices failing on provider errors before the run stops",
    ),
    Key(
        name="outage_window",
        type="duration",
        default=300.0,
        meaning="how long a provider (or the workers' database) that stopped answering is waited "
        "for; the circuit breaker never opens on a shorter outage",
    ),
    Key(
        name="retry_attempts",
        type="integer",
        minimum=1,
        default_doc="per call kind: create 6, commit 6, poll 8, upload 4",
        meaning="tries per provider call (the call ends when its tries or its time run out)",
    ),
    Key(
        name="retry_budget",
        type="duration",
        default_doc="per call kind: create 60 s, commit 120 s, poll 300 s, upload 900 s",
        meaning="time per provider call, retries included; an outage is waited out longer (outage_window)",
    ),
)

AWAIT: Final = (
    Key(
        name="mode",
        type="string",
        default="wait",
        choices=tuple(AwaitMode),
        meaning="wait for terminal statuses, or submit and exit (the next run polls)",
    ),
    Key(
        name="deadline",
        type="duration",
        default=6 * 3600.0,
        meaning="how long a run waits; voices still training stay pending (exit 3)",
    ),
    Key(name="poll_interval", type="duration", default=30.0, meaning="between polling rounds"),
)

REPORT: Final = (
    Key(name="html", type="boolean", default=True, meaning="an HTML report beside each manifest"),
    Key(
        name="metrics_textfile",
        type="string",
        meaning="a Prometheus textfile (node_exporter) to write, relative to the job file",
    ),
)

CONTENT: Final = (
    Key(
        name="check",
        type="boolean",
        default=False,
        meaning="hear every clip offline: voice activity (audio.no_speech, speech-bounded "
        "edges, long pauses), transcript.mismatch, consent.mismatch (content.not_checked "
        "where no recognizer knows the voice's language); off by default until it is "
        "calibrated on long multi-sentence clips",
    ),
    Key(
        name="models",
        type="paths",
        meaning='pocketsphinx model folders by language, e.g. {"zh-CN" = "/models/zh-cn"} '
        "(acoustic model folder, *.dict, *.lm.bin); en-US comes built in",
    ),
)

EMULATOR: Final = (
    Key(
        name="time_scale",
        type="number",
        default=100_000.0,
        minimum=0.001,
        meaning="emulated seconds per real second",
    ),
    Key(
        name="fault_rate",
        type="number",
        default=0.0,
        minimum=0.0,
        maximum=1.0,
        meaning="share of control calls failing (500/503/429, lost create answers)",
    ),
    Key(
        name="upload_fault_rate",
        type="number",
        default=0.0,
        minimum=0.0,
        maximum=1.0,
        meaning="share of uploads reset mid-body",
    ),
    Key(name="url_ttl", type="duration", default=3600.0, meaning="real time an upload URL lives"),
    Key(name="latency", type="number", default=0.0, meaning="real seconds added to control calls"),
    Key(name="seed", type="integer", default=0, meaning="the seed of injected faults"),
    Key(
        name="outcomes",
        type="outcomes",
        meaning='forced final states: {"voice-glob" = "STATE"} or ["GLOB=STATE", …]',
    ),
    Key(
        name="storage",
        type="string",
        meaning="where uploaded objects are kept (default: a temporary folder)",
    ),
    Key(
        name="plays",
        type="strings",
        meaning="undocumented alternatives to play (names: `voice-onboard emulator --help`)",
    ),
    Key(
        name="clock_skew",
        type="number",
        default=0.0,
        minimum=-1e9,
        meaning="seconds the emulator's clock runs ahead of real time (negative: behind)",
    ),
    Key(
        name="outages",
        type="strings",
        meaning='outage windows ["after=30s,for=120s,kind=refuse|reset|503", …]: real seconds '
        "from the emulator's start during which every call fails that way",
    ),
)

#: Every table but [audio] (whose keys are the audio profile's fields, see AUDIO).
TABLES: Final[Mapping[str, tuple[Key, ...]]] = {
    "batch": BATCH,
    "provider": PROVIDER,
    "limits": LIMITS,
    "await": AWAIT,
    "report": REPORT,
    "content": CONTENT,
    "emulator": EMULATOR,
}


def audio_keys() -> tuple[Key, ...]:
    """The [audio] overrides: every field of the audio profile but its name; the edition's
    profile gives the defaults (``voice-onboard schema job`` lists them per profile)."""
    hints = typing.get_type_hints(AudioProfile)
    keys: list[Key] = []
    for f in dataclasses.fields(AudioProfile):
        if f.name == "name":
            continue
        base = next((a for a in typing.get_args(hints[f.name]) if a is not type(None)), None)
        kind = base or hints[f.name]
        keys.append(
            Key(
                name=f.name,
                type=_AUDIO_TYPES[kind],
                meaning=AUDIO_MEANINGS[f.name],
                default_doc="the edition's profile",
            )
        )
    return tuple(keys)


_AUDIO_TYPES: Final[Mapping[object, Type]] = {
    int: "integer",
    float: "number",
    bool: "boolean",
    str: "string",
}

#: What each [audio] override means (a test checks that every profile field has one).
AUDIO_MEANINGS: Final[Mapping[str, str]] = {
    "sample_rate": "output sample rate (Hz)",
    "channels": "output channels (only 1)",
    "subtype": "output format: PCM_16 or PCM_24",
    "min_input_rate": "lower input rates are rejected, never upsampled",
    "min_clip_s": "shortest clip (s) after normalization",
    "max_clip_s": "longest clip (s) after normalization",
    "clip_count": "exact number of clips per voice",
    "min_total_s": "least audio per voice (s)",
    "max_total_s": "most audio per voice (s)",
    "join_clips": "join the clips into one long recording (advance editions)",
    "join_pause_s": "silence between joined clips (s)",
    "edge_silence_min_s": "least silence kept at each end (s)",
    "edge_silence_max_s": "most silence kept at each end (s)",
    "peak_ceiling_dbfs": "peaks are normalized to at most this",
    "peak_floor_dbfs": "quieter peaks are raised to at least this",
    "max_gain_db": "the most gain ever applied",
    "dc_offset_threshold": "a DC offset at or above this is removed",
    "quiet_lufs": "integrated loudness below this is audio.quiet",
    "snr_warn_db": "estimated SNR below this is a warning",
    "snr_error_db": "estimated SNR below this rejects the clip",
    "clipping_error_fraction": "clipped samples at or above this share reject the clip",
    "needs_transcripts": "every clip needs a transcript",
    "needs_authorization": "the voice needs an authorization letter",
    "needs_consent": "the voice needs a consent recording",
    "max_file_bytes": "larger input files are refused",
}


def declared(table: str, name: str, provider: str | None = None) -> Key:
    """The declared key ``name`` of ``table`` (for [provider], of ``provider``'s kind)."""
    for k in TABLES[table]:
        if k.name == name and (k.provider is None or k.provider == provider):
            return k
    raise KeyError(f"[{table}] {name}: not declared in pipeline.config.keys")


def provider_family(kind: str | None) -> For:
    """``huawei`` or ``azure`` for a provider kind."""
    if kind == ProviderKind.HUAWEI:
        return "huawei"
    if kind == ProviderKind.AZURE:
        return "azure"
    return None
