"""Huawei voice-training jobs as data: enums, settings, frozen records and the lazy state machine.

A job's state is never stored. A commit plans the whole future of the job as a timeline of
``Transition``s in emulated time (the content audit has already run, so the plan knows whether
the audit fails); reading a job at emulated time ``t`` finds the last transition at or before
``t``. Thousands of jobs therefore cost nothing between requests: no task, no timer per job.

The planned path (reference §5; states inside brackets only for the long-recording editions
ADVANCE/THIRD_PARTY, or when SPLIT_FAILED is forced)::

    CREATING -commit-> SYSTEM_AUDITING -> AUDITING -> [WAITING_SPLIT -> SPLITTING -> ANNOTATING]
      -> WAITING -> PROCESSING -> UPLOADING -> SUCCEED
    failures: SYSTEM_AUDITING -> AUDIT_FAILED (content audit failed, or forced)
              AUDITING -> AUDIT_FAILED        (manual review refused: huawei-manual-review-reject)
              SPLITTING -> SPLIT_FAILED                       (forced)
              PROCESSING -> FAILED halfway through training    (forced)
              PROCESSING -> USER_RESULT_REVIEW -> USER_REVIEW_REJECT (forced)
"""

from __future__ import annotations

import bisect
import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final


class JobType(enum.StrEnum):
    """Editions that have a create API (reference §4.1)."""

    BASIC = "BASIC"  #: 20 sentences
    MIDDLE = "MIDDLE"  #: 100 sentences ("advanced" in the English docs)
    ADVANCE = "ADVANCE"  #: one long recording ("premium")
    THIRD_PARTY = "THIRD_PARTY"  #: one long recording, trained by a partner


class CreateType(enum.StrEnum):
    """How the training data is uploaded."""

    PACKAGE = "PACKAGE"  #: one zip
    SEGMENT = "SEGMENT"  #: sentence by sentence, with confirmation


class JobState(enum.StrEnum):
    """All 16 states of the SDK's ``JobState``."""

    CREATING = "CREATING"
    SYSTEM_AUDITING = "SYSTEM_AUDITING"
    AUDITING = "AUDITING"
    WAITING_SPLIT = "WAITING_SPLIT"
    SPLITTING = "SPLITTING"
    SPLIT_FAILED = "SPLIT_FAILED"
    ANNOTATING = "ANNOTATING"
    WAITING = "WAITING"
    PROCESSING = "PROCESSING"
    RESULT_REVIEW = "RESULT_REVIEW"
    AUDIT_FAILED = "AUDIT_FAILED"
    USER_RESULT_REVIEW = "USER_RESULT_REVIEW"
    USER_REVIEW_REJECT = "USER_REVIEW_REJECT"
    UPLOADING = "UPLOADING"
    FAILED = "FAILED"
    SUCCEED = "SUCCEED"


class JobTag(enum.StrEnum):
    """Corpus styles (``JobTag``)."""

    ECOMMERCE = "ECOMMERCE"
    NEWS = "NEWS"
    MARKETING = "MARKETING"
    LIVE = "LIVE"
    EDUCATION = "EDUCATION"
    CUSTOMER = "CUSTOMER"
    STORYTELLING = "STORYTELLING"


SEXES: Final = frozenset({"FEMALE", "MALE"})
LANGUAGES: Final = frozenset({"CN", "EN"})
SERVICES: Final = frozenset({"VIDEO_2D", "LIVE_2D", "CHAT_2D"})
#: Every job_type the list filter accepts (the two without a create API never occur here).
LISTABLE_JOB_TYPES: Final = frozenset({*JobType, "THIRD_PARTY_LJZN", "FLEXUS"})

#: Sentences per job for the editions uploaded sentence by sentence.
SENTENCES: Final[Mapping[JobType, int]] = {JobType.BASIC: 20, JobType.MIDDLE: 100}
#: The ``resource_available_nums`` field that holds each edition's quota.
RESOURCE_FIELD: Final[Mapping[JobType, str]] = {
    JobType.BASIC: "basic",
    JobType.MIDDLE: "middle",
    JobType.ADVANCE: "advance",
    JobType.THIRD_PARTY: "third_party_cmww",
}
#: Where states can be left only by the user (commit again) or not at all.
COMMITTABLE: Final = frozenset({JobState.CREATING, JobState.AUDIT_FAILED})
#: Final outcomes an ``--outcome GLOB=STATE`` may force.
FORCEABLE: Final = frozenset(
    {
        JobState.SUCCEED,
        JobState.FAILED,
        JobState.AUDIT_FAILED,
        JobState.SPLIT_FAILED,
        JobState.USER_REVIEW_REJECT,
    }
)

#: Job failure codes; the reference recovered none, these are the emulator's own.
FAILURES: Final[Mapping[JobState, tuple[str, str]]] = {
    JobState.FAILED: ("MSS.20030001", "Model training failed."),
    JobState.SPLIT_FAILED: (
        "MSS.20030002",
        "The long recording could not be split into sentences.",
    ),
    JobState.USER_REVIEW_REJECT: (
        "MSS.20030003",
        "The trained voice was rejected in result review.",
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class StageDurations:
    """How long each stage takes, in emulated seconds (console guide: training takes days)."""

    system_audit: float = 5 * 60
    admin_audit: float = 30 * 60
    waiting_split: float = 10 * 60
    splitting: float = 30 * 60
    annotating: float = 60 * 60
    waiting: float = 10 * 60
    uploading: float = 10 * 60
    result_review: float = 60 * 60
    training_basic: float = 1 * 86400
    training_middle: float = 2 * 86400
    training_advance: float = 4 * 86400
    training_third_party: float = 3 * 86400

    def training(self, job_type: JobType) -> float:
        return {
            JobType.BASIC: self.training_basic,
            JobType.MIDDLE: self.training_middle,
            JobType.ADVANCE: self.training_advance,
            JobType.THIRD_PARTY: self.training_third_party,
        }[job_type]


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationLimits:
    """A tenant's audio-duration configuration in seconds (ShowTenantDurationCfg).

    Only the ADVANCE (``advance_*``) and THIRD_PARTY (``cmww_*``) minimum and maximum are
    enforced, on the one long recording; the minimums are small so tests stay small.
    """

    basic_min: int = 60
    basic_max: int = 600
    basic_advice_value: int = 200
    middle_min: int = 300
    middle_max: int = 3000
    middle_advice_value: int = 1000
    advance_min: int = 30
    advance_max: int = 7200
    advance_advice_value: int = 3600
    flexus_min: int = 30
    flexus_max: int = 600
    flexus_advice_value: int = 60
    cmww_min: int = 30
    cmww_max: int = 7200
    cmww_advice_value: int = 3600
    ljzn_min: int = 30
    ljzn_max: int = 7200
    ljzn_advice_value: int = 3600
    short_assess_min: int = 10
    short_assess_max: int = 60

    def long_recording_bounds(self, job_type: JobType) -> tuple[int, int] | None:
        """(min, max) total seconds for the editions whose duration is checked."""
        if job_type is JobType.ADVANCE:
            return self.advance_min, self.advance_max
        if job_type is JobType.THIRD_PARTY:
            return self.cmww_min, self.cmww_max
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class HuaweiSettings:
    """Huawei knobs that are not CLI flags; ``Emulator(options, huawei_settings=…)`` sets them."""

    quota: int = 100_000  #: resource_available_nums per edition and tenant at start
    not_found_status: int = 404  #: answer for an unknown or deleted job_id …
    not_found_code: str = "MSS.00000003"  #: … with this error_code ("Invalid parameter")
    durations: StageDurations = field(default_factory=StageDurations)
    limits: DurationLimits = field(default_factory=DurationLimits)
    #: share of fault_rate with which a create is performed but its answer dropped
    lost_answer_share: float = 0.5
    #: real seconds a create's answer is held after the job was made: lets crash tests kill a
    #: client between "the job exists" and "the client recorded its id"
    create_answer_delay_s: float = 0.0
    #: Retry-After (seconds) on injected 429s
    fault_retry_after_s: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class JobMeta:
    """What the user said about a job: the create body, merged with later commit bodies."""

    voice_name: str
    tag: str | None = None
    description: str | None = None
    sex: str = "FEMALE"  #: documented default (third-party page)
    language: str = "CN"  #: documented default
    phone: str | None = None
    dhtms_job_id: str | None = None
    batch_name: str | None = None
    output_language: str | None = None
    custom_text: str | None = None
    is_ondemand_resource: bool = False
    supported_service: tuple[str, ...] = ()
    app_user_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditError:
    """One per-file finding of the system audit (``system_audit_result.errors[]``)."""

    audio_name: str
    text_name: str
    error_code: str
    error_message: str

    def as_json(self) -> dict[str, str]:
        return {
            "audio_name": self.audio_name,
            "text_name": self.text_name,
            "error_code": self.error_code,
            "error_message": self.error_message,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """The job enters ``state`` at emulated time ``at``; ``actions`` are its op-log lines."""

    at: float
    state: JobState
    actions: tuple[tuple[str, str], ...] = ()  #: (action, operator USER|ADMIN|SYSTEM)


@dataclass(frozen=True, slots=True, kw_only=True)
class Submission:
    """One commit and the future it planned."""

    committed_at: float
    timeline: tuple[Transition, ...]  #: sorted by ``at``; the first is SYSTEM_AUDITING
    audit_errors: tuple[AuditError, ...]  #: revealed when the system audit ends
    audit_done_at: float  #: when the system audit ends (emulated)
    asset_id: str  #: revealed on SUCCEED
    outcome: JobState  #: the last state of the timeline
    admin_rejected: bool = False  #: AUDIT_FAILED in manual review (after the system audit)

    def passed(self, t: float) -> tuple[Transition, ...]:
        """The transitions that happened at or before ``t``."""
        return self.timeline[: bisect.bisect_right([tr.at for tr in self.timeline], t)]

    def state_at(self, t: float) -> Transition:
        passed = self.passed(t)
        # The first transition is at commit time, so it has always passed once committed.
        return passed[-1] if passed else self.timeline[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One voice-training job; replaced (never mutated) on every change."""

    tenant: str  #: project_id
    job_id: str
    job_type: JobType
    create_type: CreateType
    meta: JobMeta
    created_at: float  #: emulated Unix seconds
    submissions: tuple[Submission, ...] = ()
    confirmed: frozenset[int] = frozenset()  #: SEGMENT indices confirmed
    resource_id: str | None = None  #: set when the first commit takes a training resource

    def current(self, t: float) -> Transition:
        """The transition the job is in at ``t`` (CREATING before the first commit)."""
        if not self.submissions:
            return Transition(at=self.created_at, state=JobState.CREATING)
        return self.submissions[-1].state_at(t)

    def state_at(self, t: float) -> JobState:
        return self.current(t).state

    def updated_at(self, t: float) -> float:
        return max(self.created_at, self.current(t).at)

    def reject_times_at(self, t: float) -> int:
        """How many commits ended in AUDIT_FAILED by ``t``."""
        return sum(
            1
            for sub in self.submissions
            if sub.outcome is JobState.AUDIT_FAILED and sub.timeline[-1].at <= t
        )


def plan(
    job_type: JobType,
    committed_at: float,
    outcome: JobState,
    durations: StageDurations,
    *,
    admin_rejected: bool = False,
) -> tuple[Transition, ...]:
    """The timeline a commit at ``committed_at`` sets in motion, ending in ``outcome``
    (``admin_rejected``: an AUDIT_FAILED decided in manual review, not by the system audit)."""
    t = committed_at
    steps = [Transition(at=t, state=JobState.SYSTEM_AUDITING, actions=(("COMMIT_JOB", "USER"),))]
    t += durations.system_audit
    if outcome is JobState.AUDIT_FAILED and not admin_rejected:
        steps.append(
            Transition(at=t, state=JobState.AUDIT_FAILED, actions=(("AUDIT_NOT_PASS", "SYSTEM"),))
        )
        return tuple(steps)
    steps.append(
        Transition(at=t, state=JobState.AUDITING, actions=(("SYSTEM_AUDIT_PASS", "SYSTEM"),))
    )
    t += durations.admin_audit
    if outcome is JobState.AUDIT_FAILED:
        steps.append(
            Transition(at=t, state=JobState.AUDIT_FAILED, actions=(("AUDIT_NOT_PASS", "ADMIN"),))
        )
        return tuple(steps)
    audit_pass: tuple[tuple[str, str], ...] = (("ADMIN_AUDIT_PASS", "ADMIN"),)
    long_recording = job_type in (JobType.ADVANCE, JobType.THIRD_PARTY)
    if long_recording or outcome is JobState.SPLIT_FAILED:
        steps.append(Transition(at=t, state=JobState.WAITING_SPLIT, actions=audit_pass))
        audit_pass = ()
        t += durations.waiting_split
        steps.append(Transition(at=t, state=JobState.SPLITTING))
        t += durations.splitting
        if outcome is JobState.SPLIT_FAILED:
            steps.append(
                Transition(at=t, state=JobState.SPLIT_FAILED, actions=(("SPLIT_FAILED", "SYSTEM"),))
            )
            return tuple(steps)
        steps.append(Transition(at=t, state=JobState.ANNOTATING))
        t += durations.annotating
    steps.append(Transition(at=t, state=JobState.WAITING, actions=audit_pass))
    t += durations.waiting
    steps.append(Transition(at=t, state=JobState.PROCESSING))
    training = durations.training(job_type)
    if outcome is JobState.FAILED:
        steps.append(
            Transition(
                at=t + training / 2,
                state=JobState.FAILED,
                actions=(("TRAINING_FAILED", "SYSTEM"),),
            )
        )
        return tuple(steps)
    t += training
    finished = ("TRAINING_FINISH", "SYSTEM")
    if outcome is JobState.USER_REVIEW_REJECT:
        steps.append(Transition(at=t, state=JobState.USER_RESULT_REVIEW, actions=(finished,)))
        t += durations.result_review
        steps.append(
            Transition(
                at=t,
                state=JobState.USER_REVIEW_REJECT,
                actions=(("USER_REVIEW_REJECT", "USER"),),
            )
        )
        return tuple(steps)
    steps.append(
        Transition(
            at=t, state=JobState.UPLOADING, actions=(finished, ("UPLOADING_MODEL", "SYSTEM"))
        )
    )
    t += durations.uploading
    steps.append(Transition(at=t, state=JobState.SUCCEED, actions=(("COMPLETE_JOB", "SYSTEM"),)))
    return tuple(steps)


def new_submission(
    job_type: JobType,
    committed_at: float,
    outcome: JobState,
    audit_errors: tuple[AuditError, ...],
    durations: StageDurations,
    *,
    admin_rejected: bool = False,
) -> Submission:
    """A commit's record: its planned timeline and the (still hidden) audit verdict."""
    return Submission(
        committed_at=committed_at,
        timeline=plan(job_type, committed_at, outcome, durations, admin_rejected=admin_rejected),
        audit_errors=audit_errors,
        audit_done_at=committed_at + durations.system_audit,
        asset_id=str(uuid.uuid4()),
        outcome=outcome,
        admin_rejected=admin_rejected,
    )


def forced_state(text: str | None) -> JobState | None:
    """The Huawei state an ``--outcome`` value names (case-insensitive; SUCCEEDED = SUCCEED),
    or None when it names no Huawei outcome (it may be meant for the Azure half)."""
    if text is None:
        return None
    name = text.strip().upper()
    if name == "SUCCEEDED":
        name = "SUCCEED"
    try:
        state = JobState(name)
    except ValueError:
        return None
    return state if state in FORCEABLE else None
