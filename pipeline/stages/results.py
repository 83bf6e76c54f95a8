"""The results stage: the ledger's states and this run's pre-flight as one manifest entry per
voice, the run's outcome (RunReport), and the manifest, report and metrics written from them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from pipeline.config import JobConfig, ProviderKind
from pipeline.ledger.base import Ledger
from pipeline.records import (
    Finding,
    Phase,
    PreparedVoice,
    Severity,
    VoiceSource,
    VoiceState,
    VoiceStatus,
)
from pipeline.report import RunFacts, publish
from pipeline.stages import manifest
from pipeline.stages.manifest import VoiceResult, files_of

log = structlog.get_logger("pipeline.runner")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """What a command produced; the CLI turns it into an exit code."""

    command: str
    manifest: Path
    results: tuple[VoiceResult, ...]
    interrupted: str | None = None

    @property
    def exit_code(self) -> int:
        if self.interrupted or any(r.status is VoiceStatus.DEFERRED for r in self.results):
            return 3
        return 0 if all(r.status.is_good for r in self.results) else 1

    @property
    def summary(self) -> dict[str, int]:
        return manifest.summarize(self.results)


def _prepared_result(voice: PreparedVoice, status: VoiceStatus) -> VoiceResult:
    return VoiceResult(
        voice=voice.key,
        voice_name=voice.meta.voice_name if voice.meta else None,
        status=status,
        files=files_of(voice),
        findings=voice.findings,
    )


async def collect_results(
    ledger: Ledger,
    prepared: Mapping[str, PreparedVoice],
    sources: Sequence[VoiceSource] | None = None,
) -> list[VoiceResult]:
    """One manifest entry per voice: every voice discovered in the inbox (even one a cut-short
    run never reached), every voice the ledger knows (even one gone from the inbox), with this
    run's pre-flight and the ledger's state. A voice is ``pending`` only once the provider has
    accepted it for training; one that was not sent (yet) is ``deferred``. ``sources``: this
    run's view of the inbox (None for a manifest written from the ledger alone)."""
    states = {s.key: s for s in await ledger.all()}
    discovered = {s.key: s for s in sources or ()}
    results: list[VoiceResult] = []
    for key in sorted(set(prepared) | set(states) | set(discovered)):
        voice = prepared.get(key)
        state = states.get(key)
        if voice is not None and voice.rejected and (state is None or not _sent(state)):
            # Never sent: the pre-flight's verdict. A voice already sent keeps its remote
            # status (and ids) below, with today's pre-flight findings beside it.
            results.append(_prepared_result(voice, VoiceStatus.REJECTED))
            continue
        findings: tuple[Finding, ...] = voice.findings if voice else ()
        if state is None:
            source = discovered.get(key)
            name = voice.meta if voice else source.meta if source else None
            results.append(
                VoiceResult(
                    voice=key,
                    voice_name=name.voice_name if name else None,
                    status=VoiceStatus.DEFERRED,
                    files=files_of(voice) if voice else (),
                    findings=findings,
                    last_error=None if voice else "the run ended before its pre-flight",
                )
            )
            continue
        status = outcome(state)
        if status is VoiceStatus.DEFERRED and sources is not None and key not in discovered:
            # Never sent, and its folder is gone: no run can send it until it is back.
            status = VoiceStatus.REJECTED
            findings = (*findings, _GONE)
        results.append(
            VoiceResult(
                voice=key,
                voice_name=state.voice_name,
                status=status,
                remote=state.remote,
                files=files_of(voice) if voice else (),
                findings=(*findings, *state.findings),
                last_error=state.last_error if status is not VoiceStatus.SUCCEEDED else None,
            )
        )
    return results


_GONE = Finding(
    severity=Severity.ERROR,
    code="voice.gone",
    file=None,
    message="the voice folder is no longer in the inbox and was never sent; put it back to send it",
)


def _sent(state: VoiceState) -> bool:
    """Whether the provider holds something of this voice (ids, a commit, a result)."""
    if state.stage is Phase.DONE:
        return state.status is not VoiceStatus.REJECTED
    return bool(state.job_ids) or state.stage.order >= Phase.SUBMITTING.order


def outcome(state: VoiceState) -> VoiceStatus:
    """A ledger state as a manifest status: terminal as recorded; ``pending`` once submitted
    (the provider is training it); ``deferred`` before that, whatever ids it already has."""
    return outcome_of(state.stage, state.status)


def outcome_of(stage: Phase, status: VoiceStatus) -> VoiceStatus:
    """``outcome`` for a stage and the ledger's status (a state or one of its events)."""
    if stage is Phase.DONE:
        return status
    if stage is Phase.SUBMITTED:
        return VoiceStatus.PENDING
    return VoiceStatus.DEFERRED


def _deferred_reason(results: Sequence[VoiceResult]) -> str | None:
    """The run's one line when voices could not be sent (they make it exit 3), else None."""
    deferred = [r for r in results if r.status is VoiceStatus.DEFERRED]
    if not deferred:
        return None
    errors = Counter(r.last_error for r in deferred if r.last_error)
    why = errors.most_common(1)[0][0] if errors else "the run ended before they were sent"
    return f"{len(deferred)} of {len(results)} voices could not be sent: {why}"


def _provider_info(config: JobConfig) -> dict[str, str]:
    p = config.provider
    info: dict[str, str] = {"kind": p.kind.value, "endpoint": p.endpoint}
    if p.kind is ProviderKind.HUAWEI:
        info |= {"edition": p.edition, "upload_mode": p.upload_mode, "project_id": p.project_id}
    else:
        info |= {"api_version": p.api_version, "project": p.project, "upload_mode": p.upload_mode}
    info["profile"] = config.profile.name
    return info


def finish_run(
    config: JobConfig,
    command: str,
    started: datetime,
    results: Sequence[VoiceResult],
    interrupted: str | None,
    *,
    facts: RunFacts | None = None,
    findings: Sequence[Finding] = (),
) -> RunReport:
    doc = manifest.build(
        batch=config.batch,
        command=command,
        provider=_provider_info(config),
        started_at=started,
        finished_at=datetime.now(UTC),
        results=results,
        interrupted=interrupted,
        findings=findings,
    )
    path = manifest.write(doc, config.manifest_dir, config.batch, started)
    report = RunReport(
        command=command, manifest=path, results=tuple(results), interrupted=interrupted
    )
    # The HTML report beside the manifest and the metrics file. publish() logs its own failures
    # and never raises: the manifest written above stands whatever happens there.
    publish(config, doc, path, facts or RunFacts(), exit_code=report.exit_code)
    log.info(
        "run.finished",
        command=command,
        manifest=str(path),
        interrupted=interrupted,
        **report.summary,
    )
    return report
