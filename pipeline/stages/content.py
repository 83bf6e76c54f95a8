"""The content pre-flight of one voice: is each clip's speech its transcript, and does the
consent say its statement? Part of prepare, after normalization.

Two passes. Every clip is first heard against its own text (one alignment and one phone
loop: ~0.03 s a second of speech); only a clip whose own text fits badly is heard again
against the other clips' texts of the voice (the closed set: is this speech another clip's
text — swapped transcripts, metadata.csv shifted by a line?) and freely decoded, so the
finding can say what was heard. Both passes go through the content cache first, in a
thread of this process: a re-run over unchanged input starts no recognizer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import anyio
import anyio.to_thread
import structlog

from pipeline.audio.content import Heard, RecognizerSpec, Unheard, cached, judge
from pipeline.audio.content.select import recognizer_for, voice_language
from pipeline.audio.profiles import AudioProfile
from pipeline.audio.workers import WorkerCrashed
from pipeline.config import ContentConfig
from pipeline.records import Finding, PreparedClip, Severity, VoiceMeta, VoiceSource
from pipeline.report.heard import mismatch_message
from pipeline.transcripts import read_transcripts, transcript_language

log = structlog.get_logger("pipeline.prepare")


@dataclass(frozen=True, slots=True)
class Consent:
    """The consent recording to hear."""

    normalized: Path
    sha256: str  #: of the source bytes
    source: str  #: inbox-relative name


@dataclass(frozen=True, slots=True)
class _Job:
    audio: Path
    audio_id: str
    texts: tuple[str, ...]
    want_heard: bool


class Hearer:
    """Runs hearing jobs through the cache and the audio workers; counts recognitions."""

    def __init__(self, spec: RecognizerSpec, cache_dir: Path, run_audio: object) -> None:
        self.spec = spec
        self.cache_dir = cache_dir
        self._run_audio = run_audio
        self.computed = 0
        self.cached = 0

    async def hear(self, jobs: Sequence[_Job]) -> list[Heard | Unheard]:
        """Every job answered, from the cache where it can be, else on a worker."""
        found = await anyio.to_thread.run_sync(self._lookup, jobs)
        out: list[Heard | Unheard | None] = list(found)

        # Here, not at the top: the recognizer's module imports NumPy and pocketsphinx,
        # which a run whose every answer is cached never needs.
        from pipeline.audio.content.jobs import hear_job

        async def one(index: int, job: _Job) -> None:
            run = self._run_audio
            assert callable(run)
            try:
                result = await run(
                    hear_job,
                    self.spec,
                    job.audio,
                    job.audio_id,
                    job.texts,
                    job.want_heard,
                    self.cache_dir,
                )
            except WorkerCrashed as exc:
                # The recognizer took its worker down twice on this input: not heard, and
                # said so; the rest of the batch goes on.
                result = Unheard(f"the recognizer crashed on it ({exc})")
            if isinstance(result, Heard):
                self.computed += result.computed
            out[index] = result

        async with anyio.create_task_group() as tg:
            for index, (job, hit) in enumerate(zip(jobs, found, strict=True)):
                if hit is None:
                    tg.start_soon(one, index, job)
                else:
                    self.cached += 1
        return [r if r is not None else Unheard("not heard") for r in out]

    def _lookup(self, jobs: Sequence[_Job]) -> list[Heard | None]:
        return [cached(self.spec, j.audio_id, j.texts, j.want_heard, self.cache_dir) for j in jobs]


async def hear_voice(
    *,
    key: str,
    meta: VoiceMeta | None,
    clips: Sequence[PreparedClip],
    consent: Consent | None,
    strict: bool,
    content: ContentConfig,
    profile: AudioProfile,
    cache_dir: Path,
    run_audio: object,
    speechless: frozenset[str] = frozenset(),
) -> list[Finding]:
    """The content findings of one voice (none when ``[content] check = false``).

    ``strict``: the provider trains on the transcripts (Huawei basic/middle), so a mismatch
    is an error; elsewhere it is a warning. A consent mismatch is always an error: Azure
    rejects it (AudioAndScriptNotMatch).
    """
    if not content.check:
        return []
    # A clip already known to hold no speech (audio.silent, audio.no_speech) has nothing to
    # hear: a mismatch on it would only say the same thing twice.
    texted = [c for c in clips if c.text and c.source not in speechless]
    language = voice_language(meta)
    spec = recognizer_for(language, content.models)
    if spec is None:
        if not texted and consent is None:
            return []
        what = "transcripts were" if consent is None else "consent statement was"
        return [
            Finding(
                severity=Severity.INFO,
                code="content.not_checked",
                file=key,
                message=f"no recognizer for language {language or 'unknown'}: the {what} "
                "not heard (configure [content] models)",
            )
        ]
    hearer = Hearer(spec, cache_dir, run_audio)
    findings = await _transcripts(hearer, texted, strict, profile.fingerprint)
    if consent is not None and meta is not None:
        findings.extend(await _consent(hearer, consent, meta, profile.fingerprint))
    log.info(
        "content.heard",
        voice=key,
        recognizer=spec.language,
        clips=len(texted),
        recognized=hearer.computed,
        cached=hearer.cached,
    )
    return findings


async def _transcripts(
    hearer: Hearer, clips: Sequence[PreparedClip], strict: bool, profile_fp: str
) -> list[Finding]:
    ids = [f"{c.sha256}:{profile_fp}" for c in clips]
    first = await hearer.hear(
        [_Job(c.normalized, i, (c.text or "",), False) for c, i in zip(clips, ids, strict=True)]
    )
    suspects: list[int] = []
    verdicts: list[judge.Verdict | None] = []
    for n, result in enumerate(first):
        if isinstance(result, Unheard):
            verdicts.append(None)
            continue
        v = judge.verdict(result.fits[0])
        verdicts.append(v)
        if v != "ok":
            suspects.append(n)
    findings: list[Finding] = []
    for n, result in enumerate(first):
        if isinstance(result, Unheard):
            findings.append(_not_heard(clips[n].source, result.message))
    if not suspects:
        return findings
    others = [[m for m in range(len(clips)) if m != n] for n in suspects]
    second = await hearer.hear(
        [
            _Job(clips[n].normalized, ids[n], tuple(clips[m].text or "" for m in rest), True)
            for n, rest in zip(suspects, others, strict=True)
        ]
    )
    for n, rest, result in zip(suspects, others, second, strict=True):
        own = first[n]
        assert isinstance(own, Heard)
        fit = own.fits[0]
        clip = clips[n]
        heard = ""
        belongs: int | None = None
        if isinstance(result, Heard):
            heard = result.heard or ""
            belongs = judge.best_other(fit, list(zip(rest, result.fits, strict=True)))
        wrong = verdicts[n] == "wrong" or belongs is not None
        severity = Severity.ERROR if strict and wrong else Severity.WARNING
        if belongs is not None:
            other = clips[belongs]
            where = f" ({other.transcript})" if other.transcript else ""
            lead = f"the speech is the transcript of {other.source}{where}, not its own"
        elif wrong:
            lead = "the speech does not say its transcript"
        else:
            lead = "the speech may not say its transcript"
        findings.append(
            Finding(
                severity=severity,
                code="transcript.mismatch",
                file=clip.source,
                message=mismatch_message(lead, judge.describe(fit), heard, clip.text or ""),
            )
        )
    return findings


async def _consent(
    hearer: Hearer, consent: Consent, meta: VoiceMeta, profile_fp: str
) -> list[Finding]:
    if not (meta.locale and meta.talent_name and meta.company_name):
        return []  # voice.missing_talent says so already
    statement = judge.consent_statement(meta.locale, meta.talent_name, meta.company_name)
    if statement is None:
        return [
            Finding(
                severity=Severity.INFO,
                code="content.not_checked",
                file=consent.source,
                message=f"no consent statement template for locale {meta.locale}: "
                "the consent was not heard",
            )
        ]
    audio_id = f"{consent.sha256}:{profile_fp}:consent"
    (result,) = await hearer.hear([_Job(consent.normalized, audio_id, (statement,), False)])
    if isinstance(result, Unheard):
        return [_not_heard(consent.source, result.message)]
    fit = result.fits[0]
    names = [_words(meta.talent_name), _words(meta.company_name)]
    if judge.consent_verdict(fit, names) == "ok":
        return []
    (again,) = await hearer.hear([_Job(consent.normalized, audio_id, (statement,), True)])
    heard = again.heard or "" if isinstance(again, Heard) else ""
    deficit = judge.names_fit(fit, names)
    detail = judge.describe(fit)
    if fit.aligned and deficit is not None:
        detail += f"; the names fit {deficit:.1f}/frame"
    return [
        Finding(
            severity=Severity.ERROR,
            code="consent.mismatch",
            file=consent.source,
            message=mismatch_message(
                f"the consent does not say the statement with talent {meta.talent_name!r} "
                f"and company {meta.company_name!r}",
                detail,
                heard,
                statement,
            ),
        )
    ]


def with_unsent_texts(source: VoiceSource, clips: Sequence[PreparedClip]) -> list[PreparedClip]:
    """``clips`` with the transcripts the folder has although the provider takes none: the
    content check still hears them (a warning at most); the prepared voice keeps its clips
    as they were, so the texts stay out of the upload and the fingerprint."""
    tset = read_transcripts(
        source.folder,
        wav_stems=[Path(c.source).stem for c in clips],
        rel=source.key,
        language=transcript_language(source.meta),
        files=source.transcript_files,
    )
    out: list[PreparedClip] = []
    for clip in clips:
        found = tset.by_stem.get(Path(clip.source).stem)
        out.append(
            clip if found is None else replace(clip, text=found.text, transcript=found.source)
        )
    return out


def _words(name: str) -> frozenset[str]:
    """A name's words as the recognizer spells them (lower case, no punctuation)."""
    return frozenset(w for w in re.findall(r"[a-z0-9']+", name.lower()) if w.strip("'"))


def _not_heard(file: str, message: str) -> Finding:
    return Finding(
        severity=Severity.WARNING, code="content.not_checked", file=file, message=message
    )
