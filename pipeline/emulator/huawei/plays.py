"""The Huawei alternatives the emulator can play (``pipeline.emulator.alternatives``), in one place.

Each is a behaviour a real account may show where the docs are silent:

- ``huawei-batch-name-dropped``: the tenant lacks the batch permission, so ``batch_name`` is not
  kept: show/list answer none, and a list filtered by it matches nothing.
- ``huawei-batch-name-rewritten``: the service keeps a ``batch_name`` of its own (ours with a
  tenant suffix): show/list answer it, and a filter by ours matches nothing.
- ``huawei-one-segment-url``: SEGMENT create and uploading-address hand out one audio and one
  txt slot, for the *current* sentence (the lowest index not confirmed yet); the client asks
  uploading-address again after each confirmation.
- ``huawei-unknown-job-400``: an unknown or deleted job id is answered 400 ``MSS.00000003``.
- ``huawei-manual-review-reject``: every job passes the system audit and is then refused in
  manual review (AUDITING → AUDIT_FAILED by ADMIN): the audit result's ``admin_audit_result``
  holds a message and an attachment, the op-log entry ``admin_audit_failure_reason`` and
  ``algorithm_failure_reason``.
- ``huawei-zero-quota``: every edition's ``resource_available_nums`` starts at 0 (commit
  refuses with ``MSS.20010005``).
- ``huawei-narrow-durations``: the tenant's duration configuration is narrow
  (``NARROW_LIMITS``); the audit enforces it on the long recording.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from pipeline.emulator.context import EmulatorOptions
from pipeline.emulator.huawei.model import DurationLimits, HuaweiSettings, Job

BATCH_DROPPED: Final = "huawei-batch-name-dropped"
BATCH_REWRITTEN: Final = "huawei-batch-name-rewritten"
ONE_SEGMENT_URL: Final = "huawei-one-segment-url"
UNKNOWN_JOB_400: Final = "huawei-unknown-job-400"
MANUAL_REVIEW_REJECT: Final = "huawei-manual-review-reject"
ZERO_QUOTA: Final = "huawei-zero-quota"
NARROW_DURATIONS: Final = "huawei-narrow-durations"

#: The narrow tenant configuration: long recordings of 150–162 s only (the docs' defaults, and
#: the emulator's, allow 30–7200 s).
NARROW_LIMITS: Final = DurationLimits(
    basic_min=100,
    basic_max=300,
    middle_min=500,
    middle_max=1500,
    advance_min=150,
    advance_max=162,
    advance_advice_value=150,
    cmww_min=150,
    cmww_max=162,
    cmww_advice_value=150,
)

#: What the manual reviewer says, and the attachment they add (reference §6.4).
ADMIN_MESSAGE: Final = (
    "Manual review rejected the training data: the speaker's voice in the recordings does not "
    "match the voice on the authorization letter's sample."
)
ADMIN_ATTACHMENT: Final = "review-notes.pdf"
ALGORITHM_REASON: Final = "Speaker consistency score 0.41 is below the required 0.80."


def settings_for(options: EmulatorOptions, settings: HuaweiSettings) -> HuaweiSettings:
    """``settings`` with the alternatives that change a setting applied."""
    changes: dict[str, object] = {}
    if options.playing(UNKNOWN_JOB_400):
        changes["not_found_status"] = 400
    if options.playing(ZERO_QUOTA):
        changes["quota"] = 0
    if options.playing(NARROW_DURATIONS):
        changes["limits"] = NARROW_LIMITS
    return dataclasses.replace(settings, **changes) if changes else settings  # type: ignore[arg-type]


def stored_batch_name(options: EmulatorOptions, sent: str | None, tenant: str) -> str | None:
    """The batch_name the service keeps for a create that sent ``sent``."""
    if sent is None or options.playing(BATCH_DROPPED):
        return None
    if options.playing(BATCH_REWRITTEN):
        return f"{sent}-{tenant[:6]}"
    return sent


def segment_slots(options: EmulatorOptions, job: Job, count: int) -> range:
    """The sentence indices whose upload URLs a create or uploading-address hands out."""
    if not options.playing(ONE_SEGMENT_URL):
        return range(count)
    current = next((i for i in range(count) if i not in job.confirmed), count - 1)
    return range(current, current + 1)


def rejects_in_review(options: EmulatorOptions) -> bool:
    """Whether manual review refuses every job that passed the system audit."""
    return options.playing(MANUAL_REVIEW_REJECT)
