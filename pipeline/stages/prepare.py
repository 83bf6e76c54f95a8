"""validate → normalize → pair: ``VoiceSource`` → ``PreparedVoice``.

Audio work runs on the shared pool of audio worker processes, ``cpu_workers`` of them (or,
with ``executor="thread"``, in threads under the CPU limiter): see
:mod:`pipeline.audio.workers` for why processes. The clips of a voice are normalized
concurrently, so every core stays busy within one voice, and the event loop stays free for the
network stages of other voices meanwhile. Normalized audio is content-addressed: a source
whose stat identity is unchanged since it was hashed is known without reading it, so a re-run
over unchanged input reads no audio, does no audio work and starts no worker. Never touches the network; never raises for bad input — every problem is a finding
on the returned voice.

Nothing outside the inbox is read: before anything of a voice is opened, the voice folder and
each file discover listed are checked again (``pipeline.sanitize.outside_problem``: no symlink,
no symlinked folder on the way, as the inbox may have changed since discovery). A refused
folder is not read at all (no recording, transcript, letter or consent); a refused file is a
``voice.unsafe_path`` error and is left out. Transcripts are read from the files discover
vetted only, never by listing the folder again, and decoded for the voice's language
(``pipeline.transcripts.transcript_language`` of its voice.toml).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import anyio.to_thread

from pipeline import audio
from pipeline.audio import workers
from pipeline.audio.identity import Identities, remember
from pipeline.audio.profiles import AudioProfile
from pipeline.checksums import file_sha256
from pipeline.config import Limits
from pipeline.errors import InputError
from pipeline.records import Finding, PreparedClip, PreparedVoice, Severity, VoiceSource
from pipeline.sanitize import outside_problem
from pipeline.stages.audio_jobs import PrepareContext, run_batched, run_guarded
from pipeline.stages.content import Consent, hear_voice, with_unsent_texts
from pipeline.transcripts import read_transcripts, transcript_language

__all__ = ["PrepareContext", "normalize_clip", "normalize_clips", "prepare"]

# The consent recording has its own rules (Azure accepts 16–48 kHz WAV); only its format is
# normalized, so its duration is never judged by the prompt-audio bounds.
_CONSENT_CHECKS = frozenset(
    {"audio.unreadable", "audio.low_sample_rate", "audio.silent", "audio.clipping"}
)


def _error(code: str, file: str | None, message: str) -> Finding:
    return Finding(severity=Severity.ERROR, code=code, file=file, message=message)


async def prepare(source: VoiceSource, ctx: PrepareContext) -> PreparedVoice:
    """Validate, normalize and pair one voice."""
    profile = ctx.profile
    key = source.key
    findings: list[Finding] = list(source.findings)
    max_bytes = int(ctx.limits.max_file_mb * 1024 * 1024)

    # discover lists only the inbox's top level, so a voice folder's parent is the inbox.
    inbox = source.folder.parent
    problem = outside_problem(source.folder, inbox)
    if problem is not None:
        # Not a byte of it is read: no recording, transcript, letter or consent.
        if not any(f.code == "voice.unsafe_path" and f.file == key for f in findings):
            findings.append(_error("voice.unsafe_path", key, f"the voice folder is {problem}"))
        return PreparedVoice(
            key=key,
            meta=source.meta,
            clips=(),
            authorization=None,
            consent=None,
            fingerprint=_fingerprint(source, profile, [], "", ""),
            findings=tuple(findings),
        )
    source = _confined(source, inbox, findings)

    wavs = list(source.wavs)
    if not wavs:
        findings.append(_error("voice.no_audio", key, "the voice folder holds no recordings"))
    if len(wavs) > ctx.limits.max_clips:
        findings.append(
            _error(
                "voice.too_many_clips",
                key,
                f"{len(wavs)} recordings > limit {ctx.limits.max_clips}; none processed",
            )
        )
        wavs = []

    # Normalize every clip concurrently; the CPU limiter bounds the real parallelism.
    results: dict[Path, audio.NormalizedAudio | InputError] = {}
    wanted: list[tuple[Path, str]] = []
    for path in wavs:
        rel = f"{key}/{path.name}"
        try:
            size = path.stat().st_size
        except OSError as exc:
            results[path] = InputError("audio.unreadable", rel, f"cannot stat: {exc.strerror}")
            continue
        if size > max_bytes:
            results[path] = InputError(
                "audio.file_too_large",
                rel,
                f"{size / 1e6:.0f} MB > limit {ctx.limits.max_file_mb:g} MB",
            )
            continue
        wanted.append((path, rel))
    for (path, _), result in zip(wanted, await normalize_clips(ctx, wanted), strict=True):
        results[path] = result

    # Transcripts (only where the provider needs them).
    texts: dict[str, tuple[str, str]] = {}
    if profile.needs_transcripts:
        tset = read_transcripts(
            source.folder,
            wav_stems=[p.stem for p in wavs],
            rel=key,
            language=transcript_language(source.meta),
            files=source.transcript_files,
        )
        findings.extend(tset.findings)
        texts = {stem: (t.text, t.source) for stem, t in tset.by_stem.items()}
    clips: list[PreparedClip] = []
    total = 0.0
    for index, path in enumerate(wavs):
        rel = f"{key}/{path.name}"
        result = results[path]
        if isinstance(result, InputError):
            findings.append(_error(result.code, result.file or rel, result.message))
            continue
        # Duration bounds are judged on what will be uploaded (after edge-silence trimming);
        # everything else on the recording as it came in.
        judged = replace(result.info_in, duration_s=result.info_out.duration_s)
        clip_findings = audio.assess(judged, profile, file=rel)
        findings.extend(clip_findings)
        findings.extend(result.findings)
        text, transcript = texts.get(path.stem, (None, None))
        total += result.info_out.duration_s
        clips.append(
            PreparedClip(
                index=index,
                source=rel,
                sha256=result.source_sha256,
                normalized=result.path,
                normalized_crc32=result.crc32,
                duration_s=result.info_out.duration_s,
                sample_rate_in=result.info_in.sample_rate,
                sample_rate_out=result.info_out.sample_rate,
                text=text,
                transcript=transcript,
                info_in=result.info_in,
                info_out=result.info_out,
            )
        )

    findings.extend(_voice_checks(source, profile, len(wavs), total, ctx.limits))

    consent_path: Path | None = None
    consent_sha = ""
    heard_consent: Consent | None = None
    if profile.needs_consent and source.consent is not None:
        rel = f"{key}/{source.consent.name}"
        c = await normalize_clip(ctx, source.consent, rel)
        if isinstance(c, InputError):
            findings.append(_error(c.code, rel, c.message))
        else:
            consent_path = c.path
            consent_sha = c.source_sha256
            heard_consent = Consent(c.path, c.source_sha256, rel)
            findings.extend(
                f for f in audio.assess(c.info_in, profile, file=rel) if f.code in _CONSENT_CHECKS
            )

    heard_clips = clips
    if not profile.needs_transcripts and ctx.content.check and source.transcript_files:
        heard_clips = with_unsent_texts(source, clips)
    findings.extend(
        await hear_voice(
            key=key,
            meta=source.meta,
            clips=heard_clips,
            consent=heard_consent,
            strict=profile.needs_transcripts,
            content=ctx.content,
            profile=profile,
            cache_dir=ctx.cache_dir,
            run_audio=ctx.run_audio,
            speechless=frozenset(
                f.file for f in findings if f.file and f.code in ("audio.silent", "audio.no_speech")
            ),
        )
    )

    auth_sha = ""
    if profile.needs_authorization and source.authorization is not None:
        auth_sha = await anyio.to_thread.run_sync(file_sha256, source.authorization)

    fingerprint = _fingerprint(source, profile, clips, consent_sha, auth_sha)
    voice = PreparedVoice(
        key=key,
        meta=source.meta,
        clips=tuple(clips),
        authorization=source.authorization if profile.needs_authorization else None,
        consent=consent_path,
        consent_source=f"{key}/{source.consent.name}" if source.consent else None,
        fingerprint=fingerprint,
        findings=tuple(findings),
    )
    if profile.join_clips and clips and not voice.rejected:
        joined = ctx.cache_dir / "joined" / f"{fingerprint}.wav"
        if not joined.exists():
            # Unmeasured: every clip's measurements are known; one clip is hard-linked.
            refused = await run_guarded(
                ctx, key, workers.join_job, [c.normalized for c in clips], profile, joined
            )
            if refused is not None:
                return replace(
                    voice, findings=(*voice.findings, _error(refused.code, key, refused.message))
                )
        voice = replace(voice, joined=joined)
    return voice


def _confined(source: VoiceSource, inbox: Path, findings: list[Finding]) -> VoiceSource:
    """``source`` without the files that are (now) symlinks or reached through one, each left
    out with a ``voice.unsafe_path`` error in ``findings``."""

    def keep(path: Path) -> bool:
        problem = outside_problem(path, inbox)
        if problem is None:
            return True
        findings.append(_error("voice.unsafe_path", f"{source.key}/{path.name}", problem))
        return False

    def one(path: Path | None) -> Path | None:
        return path if path is not None and keep(path) else None

    return replace(
        source,
        wavs=tuple(p for p in source.wavs if keep(p)),
        transcript_files=tuple(p for p in source.transcript_files if keep(p)),
        authorization=one(source.authorization),
        consent=one(source.consent),
    )


async def normalize_clip(
    ctx: PrepareContext, path: Path, rel: str
) -> audio.NormalizedAudio | InputError:
    """One recording from the cache, or normalized on a worker; its input error as a value."""
    return (await normalize_clips(ctx, [(path, rel)]))[0]


async def normalize_clips(
    ctx: PrepareContext, clips: Sequence[tuple[Path, str]]
) -> list[audio.NormalizedAudio | InputError]:
    """Recordings (path, inbox-relative name) from the cache, or normalized on the workers
    concurrently; input errors as values, in the order given.

    The cache look-ups run in one thread of this process, for all the clips at once: a source
    whose stat identity vouches for its recorded hash is answered without reading a byte of
    it, and a hit never occupies a worker; any other source goes to a worker, which hashes it
    in the same read as its decode (:func:`pipeline.audio.normalize`) and returns its stat
    identity, recorded here for all of them in one write. A voice costs one thread hop for
    its look-ups, not one per clip.
    """
    found = await anyio.to_thread.run_sync(
        _lookup_all, clips, ctx.profile, ctx.cache_dir, ctx.content.check, limiter=ctx.lookups
    )
    results: list[audio.NormalizedAudio | InputError | None] = []
    misses: list[tuple[int, Path, str, str | None]] = []
    for index, ((path, rel), one) in enumerate(zip(clips, found, strict=True)):
        if isinstance(one, workers.Refused):
            results.append(one.error(rel))
            continue
        sha, hit = one
        results.append(hit)  # None until a worker has normalized it
        if hit is None:
            misses.append((index, path, rel, sha))

    ran = await run_batched(
        ctx,
        [(rel, (path, rel, sha)) for _, path, rel, sha in misses],
        workers.normalize_many_job,
        ctx.profile,
        ctx.cache_dir,
        ctx.content.check,  # the voice-activity checks are part of `[content] check`
    )
    for (index, _, rel, _), result in zip(misses, ran, strict=True):
        results[index] = result.error(rel) if isinstance(result, workers.Refused) else result
    out = [r for r in results if r is not None]
    assert len(out) == len(clips), "every miss was normalized or refused"
    # Not isinstance(r, audio.NormalizedAudio): that name loads the audio stack (NumPy) here.
    records = [r.hashed for r in out if not isinstance(r, InputError) and r.hashed is not None]
    if records:  # the voice's new identities, one write for its folder
        await anyio.to_thread.run_sync(remember, ctx.cache_dir, records, limiter=ctx.lookups)
    return out


def _lookup_all(
    clips: Sequence[tuple[Path, str]], profile: AudioProfile, cache_dir: Path, speech: bool
) -> list[tuple[str | None, audio.NormalizedAudio | None] | workers.Refused]:
    identities = Identities(cache_dir)
    return [
        workers.lookup_job(path, profile, cache_dir, rel, speech, identities) for path, rel in clips
    ]


def _voice_checks(
    source: VoiceSource, profile: AudioProfile, n_wavs: int, total: float, limits: Limits
) -> list[Finding]:
    key = source.key
    out: list[Finding] = []
    if profile.clip_count is not None and n_wavs and n_wavs != profile.clip_count:
        out.append(
            _error(
                "voice.clip_count",
                key,
                f"{n_wavs} recordings; {profile.name} needs exactly {profile.clip_count}",
            )
        )
    if profile.min_total_s is not None and n_wavs and total < profile.min_total_s:
        out.append(
            _error(
                "voice.total_duration", key, f"{total:.1f} s of audio < {profile.min_total_s:g} s"
            )
        )
    if profile.max_total_s is not None and total > profile.max_total_s:
        out.append(
            _error(
                "voice.total_duration", key, f"{total:.1f} s of audio > {profile.max_total_s:g} s"
            )
        )
    if total > limits.max_voice_duration_s:
        out.append(
            _error(
                "voice.total_duration",
                key,
                f"{total:.0f} s of audio > limit {limits.max_voice_duration_s:g} s",
            )
        )
    if profile.needs_authorization and source.authorization is None:
        out.append(
            _error(
                "voice.missing_authorization",
                key,
                "no signed authorization letter (authorization.pdf/.jpg/.jpeg/.png)",
            )
        )
    if profile.needs_consent:
        if source.consent is None:
            out.append(
                _error("voice.missing_consent", key, "no consent.wav (the consent statement)")
            )
        meta = source.meta
        if meta is not None:
            missing = [
                name
                for name in ("talent_name", "company_name", "locale")
                if not getattr(meta, name)
            ]
            if missing:
                out.append(
                    _error(
                        "voice.missing_talent",
                        f"{key}/voice.toml",
                        f"missing {', '.join(missing)} (needed for the consent)",
                    )
                )
    return out


def _fingerprint(
    source: VoiceSource,
    profile: AudioProfile,
    clips: list[PreparedClip],
    consent_sha: str,
    auth_sha: str,
) -> str:
    """A hash over every input that reaches the provider: a changed recording, transcript,
    letter or voice.toml is a new version of the voice."""
    payload = {
        "profile": profile.fingerprint,
        "meta": None if source.meta is None else repr(source.meta),
        "clips": [(c.source, c.sha256, c.text) for c in clips],
        "consent": consent_sha,
        "authorization": auth_sha,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]
