"""The Huawei half's bookkeeping: tenants, their jobs and quotas, and the list query.

No HTTP here. Every ``project_id`` is its own tenant with its own jobs, quotas and throttles;
a tenant springs into being on first use, as any valid project does on the real service.
Jobs are frozen records replaced on change; their state is computed on read (``huawei.model``).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from pipeline.emulator.huawei.errors import NO_QUOTA, WRONG_STATE, HuaweiError
from pipeline.emulator.huawei.model import (
    COMMITTABLE,
    CreateType,
    HuaweiSettings,
    Job,
    JobMeta,
    JobState,
    JobType,
    Submission,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateRecord:
    """One create call that made a job (the inspection log of creates)."""

    tenant: str
    job_id: str
    voice_name: str
    batch_name: str | None
    job_type: JobType
    real_time: float  #: Unix seconds, real
    emulated_time: float  #: Unix seconds, emulated
    answered: bool  #: False when an injected fault dropped the answer after creating


@dataclass(frozen=True, slots=True, kw_only=True)
class ListQuery:
    """The filters, order and page of ListVoiceTrainingJob; times are Unix milliseconds."""

    offset: int = 0
    limit: int = 10
    states: frozenset[JobState] | None = None
    job_id: str | None = None
    voice_name: str | None = None  #: exact match (the docs do not say; exact is unambiguous)
    tag: str | None = None
    job_type: str | None = None
    batch_name: str | None = None
    create_since: int | None = None
    create_until: int | None = None
    update_since: int | None = None
    update_until: int | None = None
    is_ondemand_resource: bool | None = None
    sort_key: str = "create_time"  #: create_time | update_time
    descending: bool = True


def millis(seconds: float) -> int:
    return int(seconds * 1000)


class Tenant:
    """One project: its jobs (insertion-ordered), remaining quota per edition, commits in flight."""

    def __init__(self, project_id: str, quota: int) -> None:
        self.project_id = project_id
        self.jobs: dict[str, Job] = {}
        self.available: dict[JobType, int] = dict.fromkeys(JobType, quota)
        self.initial = quota
        self.committing: set[str] = set()


class JobBook:
    """All tenants' jobs; the one place that changes them."""

    def __init__(self, settings: HuaweiSettings) -> None:
        self._settings = settings
        self._tenants: dict[str, Tenant] = {}
        self.creates: list[CreateRecord] = []

    def tenant(self, project_id: str) -> Tenant:
        found = self._tenants.get(project_id)
        if found is None:
            found = self._tenants[project_id] = Tenant(project_id, self._settings.quota)
        return found

    def tenants(self) -> list[Tenant]:
        return list(self._tenants.values())

    def find(self, job_id: str) -> Job | None:
        """A job by id in any tenant (inspection only)."""
        for tenant in self._tenants.values():
            job = tenant.jobs.get(job_id)
            if job is not None:
                return job
        return None

    def create(
        self,
        project_id: str,
        job_type: JobType,
        create_type: CreateType,
        meta: JobMeta,
        now: float,
    ) -> Job:
        job = Job(
            tenant=project_id,
            job_id=str(uuid.uuid4()),
            job_type=job_type,
            create_type=create_type,
            meta=meta,
            created_at=now,
        )
        self.tenant(project_id).jobs[job.job_id] = job
        return job

    def get(self, project_id: str, job_id: str) -> Job:
        job = self.tenant(project_id).jobs.get(job_id)
        if job is None:
            raise HuaweiError(
                self._settings.not_found_status,
                self._settings.not_found_code,
                f"Invalid parameter: voice training job {job_id} does not exist",
            )
        return job

    def replace(self, job: Job) -> None:
        """Store a changed job, unless it was deleted meanwhile."""
        jobs = self.tenant(job.tenant).jobs
        if job.job_id in jobs:
            jobs[job.job_id] = job

    def delete(self, project_id: str, job_id: str) -> Job:
        job = self.get(project_id, job_id)
        del self.tenant(project_id).jobs[job_id]
        return job

    def begin_commit(self, project_id: str, job_id: str, now: float) -> Job:
        """Check that the job may be committed now and take its training resource.

        The first commit of a job takes one resource of its edition; a commit after
        AUDIT_FAILED reuses it (the job keeps its ``allocated_resource``).
        """
        tenant = self.tenant(project_id)
        job = self.get(project_id, job_id)
        state = job.state_at(now)
        if state not in COMMITTABLE or job_id in tenant.committing:
            raise HuaweiError(
                400,
                WRONG_STATE,
                f"Training job {job_id} is {state}; only CREATING or AUDIT_FAILED jobs can be "
                "committed",
            )
        if job.resource_id is None:
            if tenant.available[job.job_type] <= 0:
                raise HuaweiError(
                    400,
                    NO_QUOTA,
                    f"No {job.job_type} training resource left (resource_available_nums is 0)",
                )
            tenant.available[job.job_type] -= 1
            job = dataclasses.replace(job, resource_id=str(uuid.uuid4()))
            tenant.jobs[job_id] = job
        tenant.committing.add(job_id)
        return job

    def finish_commit(self, job: Job, meta: JobMeta, submission: Submission | None) -> Job | None:
        """Record a commit's outcome (None: it was abandoned); the job, or None if deleted."""
        tenant = self.tenant(job.tenant)
        tenant.committing.discard(job.job_id)
        current = tenant.jobs.get(job.job_id)
        if current is None or submission is None:
            return current
        updated = dataclasses.replace(
            current, meta=meta, submissions=(*current.submissions, submission)
        )
        tenant.jobs[job.job_id] = updated
        return updated

    def query(self, project_id: str, query: ListQuery, now: float) -> tuple[int, list[Job]]:
        """(total matching, the requested page) in a total order: sort key, then job_id."""
        matches = [
            job for job in self.tenant(project_id).jobs.values() if _matches(job, query, now)
        ]
        if query.sort_key == "update_time":
            matches.sort(
                key=lambda job: (job.updated_at(now), job.job_id), reverse=query.descending
            )
        else:
            matches.sort(key=lambda job: (job.created_at, job.job_id), reverse=query.descending)
        return len(matches), matches[query.offset : query.offset + query.limit]


def _matches(job: Job, q: ListQuery, now: float) -> bool:
    meta = job.meta
    checks = (
        q.job_id is None or job.job_id == q.job_id,
        q.voice_name is None or meta.voice_name == q.voice_name,
        q.tag is None or meta.tag == q.tag,
        q.job_type is None or job.job_type == q.job_type,
        q.batch_name is None or meta.batch_name == q.batch_name,
        q.is_ondemand_resource is None or meta.is_ondemand_resource == q.is_ondemand_resource,
        q.create_since is None or millis(job.created_at) >= q.create_since,
        q.create_until is None or millis(job.created_at) <= q.create_until,
    )
    if not all(checks):
        return False
    if q.update_since is not None or q.update_until is not None:
        updated = millis(job.updated_at(now))
        if q.update_since is not None and updated < q.update_since:
            return False
        if q.update_until is not None and updated > q.update_until:
            return False
    return q.states is None or job.state_at(now) in q.states
