"""The content-addressed cache of normalized recordings: its entries, their paths and sidecars.

Results are content-addressed: the key is the SHA-256 of the source bytes plus the profile's
fingerprint, the WAV lives at ``cache_dir/audio/<key>.wav`` and a JSON sidecar beside it
holds the measurements, findings and edits. One folder, no two-letter fan-out: each new
fan-out folder was one more inode per clip for a fresh cache (ext4's directories index their
names, so a flat folder of many thousands of entries stays fast); entries made before, at
``cache_dir/<key[:2]>/<key>.wav``, are still found. A re-run over unchanged input knows each source's
hash from its stat identity (:mod:`.identity`: no byte of it is read), finds the sidecar and
returns ``cached=True`` without decoding any audio (:func:`lookup`); a source it cannot vouch
for is hashed by the worker that decodes it, in the same read (:func:`cached` then answers
for content seen before under another name or stat).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pipeline.audio.files import check_regular_file
from pipeline.audio.identity import RACY_MARGIN_NS, Hashed, Identities
from pipeline.audio.profiles import AudioProfile
from pipeline.audio.speech_map import VAD_VERSION, SpeechMap, SpeechSpan
from pipeline.errors import InputError
from pipeline.outputs import write_atomic
from pipeline.records import AudioInfo, Finding, Severity

__all__ = ["SIDECAR_VERSION", "NormalizedAudio", "cache_path", "cached", "lookup", "store"]

#: Bump when the sidecar's layout changes; older sidecars then count as cache misses.
#: 2: the normalized file's CRC-32. 3: the speech map (voice-activity detection).
SIDECAR_VERSION: Final = 3
#: In the cache key of entries normalized with speech detection (their edges are the speech's,
#: so their audio differs): a new VAD model or smoothing (VAD_VERSION) never serves old audio.
_SPEECH_TAG: Final = "v" + hashlib.sha256(VAD_VERSION.encode()).hexdigest()[:8]


@dataclass(frozen=True, slots=True, kw_only=True)
class NormalizedAudio:
    """One recording in the profile's format, in the cache, with what was done to it."""

    path: Path  #: the normalized WAV in the cache
    source_sha256: str
    #: CRC-32 of the normalized WAV: computed once here, while the file is hot in the page
    #: cache, so an upload package can state every member's CRC before streaming it
    crc32: int
    info_in: AudioInfo
    info_out: AudioInfo
    findings: tuple[Finding, ...]  #: what normalization changed (fixed) or could not (warning)
    cached: bool  #: served from the cache with no audio work
    lead_trimmed_s: float = 0.0  #: source audio dropped before the speech
    lead_padded_s: float = 0.0  #: digital silence added before it
    trail_trimmed_s: float = 0.0
    trail_padded_s: float = 0.0
    gain_db: float = 0.0
    #: where the speech is in the normalized clip, when speech detection ran
    speech: SpeechMap | None = None
    #: the source's hash and stat identity when this call hashed it, for the caller to
    #: record (:func:`pipeline.audio.identity.remember`); None when the identity vouched
    #: for it, or the file changed while it was read. About this call, not the audio: not
    #: compared
    hashed: Hashed | None = dataclasses.field(default=None, compare=False)

    @property
    def expected_duration_s(self) -> float:
        """The input's duration minus trimmed plus padded silence: the output's, within 10 ms."""
        return (
            self.info_in.duration_s
            - self.lead_trimmed_s
            - self.trail_trimmed_s
            + self.lead_padded_s
            + self.trail_padded_s
        )


def lookup(
    src: Path,
    profile: AudioProfile,
    cache_dir: Path,
    *,
    file: str,
    margin_ns: int = RACY_MARGIN_NS,
    speech_detection: bool = True,
    identities: Identities | None = None,
) -> tuple[str | None, NormalizedAudio | None]:
    """The source's SHA-256 when its stat identity proves it unchanged since it was hashed
    (else None: a worker hashes it), and its cache entry, if complete. Reads no byte of the
    source: cheap enough for the caller's thread; only a miss needs a worker. ``margin_ns``:
    see :data:`~pipeline.audio.identity.RACY_MARGIN_NS` (tests trust files written just
    now with a negative one). ``speech_detection``: the entry normalized with (or without)
    voice-activity detection, as :func:`~pipeline.audio.normalize.normalize` takes it.
    ``identities``: the recorded identities to consult (one per voice: its clips share the
    read of their folder's file)."""
    check_regular_file(src, file=file, max_bytes=profile.max_file_bytes)
    try:
        st = src.stat()
    except OSError as exc:
        raise InputError(
            code="audio.unreadable", file=file, message=f"cannot stat: {exc.strerror or exc}"
        ) from None
    index = identities if identities is not None else Identities(cache_dir)
    source_sha = index.known_sha256(src, st, margin_ns=margin_ns)
    if source_sha is None:
        return None, None
    return source_sha, cached(
        cache_dir, source_sha, profile, file=file, speech_detection=speech_detection
    )


def cached(
    cache_dir: Path,
    source_sha: str,
    profile: AudioProfile,
    *,
    file: str,
    speech_detection: bool = True,
) -> NormalizedAudio | None:
    """The complete cache entry of the source with hash ``source_sha``, or None."""
    key = _key(source_sha, profile, speech_detection)
    for wav in (cache_dir / _FOLDER / f"{key}.wav", cache_dir / key[:2] / f"{key}.wav"):
        hit = _load(
            wav.with_suffix(".json"),
            wav,
            source_sha=source_sha,
            profile=profile,
            file=file,
            speech_detection=speech_detection,
        )
        if hit is not None:
            return hit
    return None


#: The folder of the cache's entries (``cache_dir/<key[:2]>/`` before 2026-12-03: still read).
_FOLDER: Final = "audio"


def _key(source_sha: str, profile: AudioProfile, speech_detection: bool) -> str:
    key = f"{source_sha}-{profile.fingerprint}"
    return f"{key}-{_SPEECH_TAG}" if speech_detection else key


def cache_path(
    cache_dir: Path, source_sha: str, profile: AudioProfile, *, speech_detection: bool = True
) -> Path:
    """Where a new entry's WAV is written (its sidecar beside it, ``.json``)."""
    return cache_dir / _FOLDER / f"{_key(source_sha, profile, speech_detection)}.wav"


# --- the sidecar: a cache entry's measurements, findings and edits --------------------------


def _info_json(info: AudioInfo) -> dict[str, object]:
    return {f.name: getattr(info, f.name) for f in dataclasses.fields(info)}


def _info_from(raw: object) -> AudioInfo:
    """Rebuild an AudioInfo, checking every field's type (a bad sidecar is a cache miss)."""
    if not isinstance(raw, dict):
        raise TypeError("info is not an object")
    values: dict[str, object] = {}
    for f in dataclasses.fields(AudioInfo):
        value = raw[f.name]
        if f.type == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
            raise TypeError(f"{f.name} is not an int")
        if f.type == "str" and not isinstance(value, str):
            raise TypeError(f"{f.name} is not a str")
        if f.type == "float":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError(f"{f.name} is not a number")
            value = float(value)
        values[f.name] = value
    return AudioInfo(**values)  # type: ignore[arg-type]


def _speech_json(speech: SpeechMap | None) -> object:
    if speech is None:
        return None
    return {"duration": speech.duration, "spans": [[s.start, s.end] for s in speech.spans]}


def _speech_from(raw: object) -> SpeechMap:
    """Rebuild a SpeechMap, checking its types (a bad sidecar is a cache miss)."""
    if not isinstance(raw, dict) or not isinstance(raw["spans"], list):
        raise TypeError("speech is not an object with spans")
    spans = tuple(SpeechSpan(float(a), float(b)) for a, b in raw["spans"])
    return SpeechMap(spans, float(raw["duration"]))


def store(sidecar: Path, result: NormalizedAudio, profile: AudioProfile) -> None:
    """Write the sidecar atomically, after the WAV: its presence marks a complete entry."""
    document = {
        "version": SIDECAR_VERSION,
        "source_sha256": result.source_sha256,
        "profile": profile.name,
        "fingerprint": profile.fingerprint,
        "wav_bytes": result.path.stat().st_size,
        "crc32": result.crc32,
        "info_in": _info_json(result.info_in),
        "info_out": _info_json(result.info_out),
        # Without `file`: identical bytes in two voices share the entry, and each caller's
        # findings name its own file.
        "findings": [
            {"severity": str(f.severity), "code": f.code, "message": f.message}
            for f in result.findings
        ],
        "edits": {
            "lead_trimmed_s": result.lead_trimmed_s,
            "lead_padded_s": result.lead_padded_s,
            "trail_trimmed_s": result.trail_trimmed_s,
            "trail_padded_s": result.trail_padded_s,
            "gain_db": result.gain_db,
        },
        "speech": _speech_json(result.speech),
    }
    # json writes -inf (peak or loudness of silence) as -Infinity and reads it back.
    # No indent: with one, json falls back to its pure-Python encoder, which cost ~1.5 ms a
    # clip (7% of normalizing it); compact output goes through the C encoder.
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    write_atomic(sidecar, text.encode(), durable=False)


def _load(
    sidecar: Path,
    wav: Path,
    *,
    source_sha: str,
    profile: AudioProfile,
    file: str,
    speech_detection: bool,
) -> NormalizedAudio | None:
    """The cached result, or None when there is no complete, matching entry."""
    try:
        document = json.loads(sidecar.read_text(encoding="utf-8"))
        if (
            document["version"] != SIDECAR_VERSION
            or document["source_sha256"] != source_sha
            or document["fingerprint"] != profile.fingerprint
            or wav.stat().st_size != document["wav_bytes"]
        ):
            return None
        findings = tuple(
            Finding(
                severity=Severity(str(f["severity"])),
                code=str(f["code"]),
                file=file,
                message=str(f["message"]),
            )
            for f in document["findings"]
        )
        edits = document["edits"]
        crc32 = document["crc32"]
        if not isinstance(crc32, int) or isinstance(crc32, bool):
            return None
        speech = document["speech"]
        if (speech is not None) != speech_detection:
            return None
        return NormalizedAudio(
            path=wav,
            source_sha256=source_sha,
            crc32=crc32,
            info_in=_info_from(document["info_in"]),
            info_out=_info_from(document["info_out"]),
            findings=findings,
            cached=True,
            lead_trimmed_s=float(edits["lead_trimmed_s"]),
            lead_padded_s=float(edits["lead_padded_s"]),
            trail_trimmed_s=float(edits["trail_trimmed_s"]),
            trail_padded_s=float(edits["trail_padded_s"]),
            gain_db=float(edits["gain_db"]),
            speech=_speech_from(speech) if speech is not None else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
