"""Where a Huawei job's uploads live in the object store, and the pre-signed URLs for them.

Upload objects live in bucket ``metastudio-voice-training`` under
``{project_id}/{job_id}/training_data.zip``, ``…/segments/{i}.wav|txt`` and
``…/authorization_letter``; a create or uploading-address call returns only the URLs of the
job's ``create_type`` (PACKAGE: the zip; SEGMENT: one audio and one txt URL per sentence index
0..N-1, or only the current sentence's with ``huawei-one-segment-url``) plus the letter URL, which accepts ``application/pdf``, ``image/jpeg`` or ``image/png``
(the store records which one arrived; the audit checks the file's magic bytes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from pipeline.emulator.huawei.audit import LETTER_MAGIC, LETTER_NAME
from pipeline.emulator.huawei.model import SENTENCES, CreateType, Job
from pipeline.emulator.store import ObjectStore, StoredObject

BUCKET: Final = "metastudio-voice-training"
PACKAGE_NAME: Final = "training_data.zip"
PACKAGE_TYPES: Final = ("application/zip",)
AUDIO_TYPES: Final = ("audio/wav",)
TEXT_TYPES: Final = ("text/plain",)
LETTER_TYPES: Final = tuple(LETTER_MAGIC)


class JobFiles:
    """A job's objects in the store: lookup, upload URLs, download URLs, removal."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    @staticmethod
    def key(job: Job, name: str) -> str:
        return f"{job.tenant}/{job.job_id}/{name}"

    def get(self, job: Job, name: str) -> StoredObject | None:
        """The stored object ``name`` of ``job`` (``training_data.zip``, ``segments/0.wav`` …)."""
        return self.store.get(BUCKET, self.key(job, name))

    def all(self, job: Job) -> dict[str, StoredObject]:
        """Every stored object of ``job`` by name."""
        prefix = self.key(job, "")
        return {obj.key[len(prefix) :]: obj for obj in self.store.objects(BUCKET, prefix)}

    def segment_paths(self, job: Job, index: int) -> tuple[Path | None, Path | None]:
        """Where sentence ``index``'s WAV and TXT are on disk, each None until uploaded."""
        wav = self.get(job, f"segments/{index}.wav")
        txt = self.get(job, f"segments/{index}.txt")
        return (wav.path if wav else None, txt.path if txt else None)

    def upload_urls(self, job: Job, shape: str, slots: range | None = None) -> dict[str, Any]:
        """Fresh pre-signed URLs in the create (§4.4) or uploading-address (§6.6) shape;
        ``slots``: the sentence indices a SEGMENT job gets URLs for (default: every one)."""
        put = self.store.presign_put
        out: dict[str, Any] = {}
        if job.create_type is CreateType.PACKAGE:
            url = put(BUCKET, self.key(job, PACKAGE_NAME), PACKAGE_TYPES)
            if shape == "create":
                out["training_data_uploading_url"] = url
            else:
                out["package_url"] = {"training_data_uploading_url": url}
        else:
            indices = range(SENTENCES[job.job_type]) if slots is None else slots
            segments = {
                "audio_uploading_url": [
                    put(BUCKET, self.key(job, f"segments/{i}.wav"), AUDIO_TYPES) for i in indices
                ],
                "txt_uploading_url": [
                    put(BUCKET, self.key(job, f"segments/{i}.txt"), TEXT_TYPES) for i in indices
                ],
            }
            out["segment_uploading_url" if shape == "create" else "segment_url"] = segments
        out["authorization_letter_uploading_url"] = put(
            BUCKET, self.key(job, LETTER_NAME), LETTER_TYPES
        )
        return out

    def download_urls(self, job: Job) -> tuple[str | None, str | None]:
        """Read-back URLs of the letter and the package, each None until uploaded."""
        letter = self.get(job, LETTER_NAME)
        package = self.get(job, PACKAGE_NAME)
        return (
            self.store.presign_get(BUCKET, letter.key) if letter else None,
            self.store.presign_get(BUCKET, package.key) if package else None,
        )

    async def delete(self, job: Job) -> None:
        """Remove every object of ``job`` (and its URL grants)."""
        await self.store.delete_prefix(BUCKET, self.key(job, ""))
