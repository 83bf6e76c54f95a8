"""``voice-onboard init DIR --profile P``: a job file and an inbox skeleton to start from.

It writes ``DIR/job.toml`` (runnable at once against the in-process emulator; the lines to
change for a real account are marked ``FILL IN``), the two JSON Schemas beside it for TOML
editors, and ``DIR/inbox/voice-001/voice.toml`` saying what a voice folder holds. It never
overwrites: any of those paths already there is a ConfigError naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pipeline.config.schema import dumps, job_schema, voice_schema
from pipeline.errors import ConfigError

#: profile → (provider table lines, what a voice folder needs, voice.toml keys)
_PROVIDER: Final = {
    "huawei-basic": ("huawei", "basic"),
    "huawei-middle": ("huawei", "middle"),
    "huawei-advance": ("huawei", "advance"),
    "azure-personal": ("azure", None),
}

_HUAWEI: Final = """\
[provider]
kind = "huawei-metastudio"
# FILL IN: your region's endpoint, e.g. https://metastudio.cn-north-4.myhuaweicloud.com;
# "emulator" tries everything offline first.
endpoint = "emulator"
project_id = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"   # FILL IN: the region's IAM project id
edition = "{edition}"
"""

_AZURE: Final = """\
[provider]
kind = "azure-personal-voice"
# FILL IN: your Speech resource, e.g. https://<resource>.cognitiveservices.azure.com;
# "emulator" tries everything offline first.
endpoint = "emulator"
project = "onboarding"
"""

_JOB: Final = """\
#:schema ./job.schema.json
# Written by `voice-onboard init --profile {profile}`. Every key: README "Job-file reference".
# Credentials come from the environment, never this file ({credentials}).
# Try it: voice-onboard check {path}, then voice-onboard run {path} --voices voice-001.
[batch]
name = "{name}"
inbox = "inbox"      # one folder per voice
state_dir = "var"    # ledger, audio cache, manifests

{provider}
[await]
mode = "wait"
deadline = "6h"
"""

_VOICE: Final = """\
#:schema ../../voice.schema.json
# One folder per voice: this file, the recordings (*.wav){needs}.
voice_name = "voice-001"   # the name the provider trains the voice under
{keys}"""

_HUAWEI_KEYS: Final = 'sex = "FEMALE"       # FEMALE | MALE\nlanguage = "CN"      # CN | EN\n'
_AZURE_KEYS: Final = (
    'talent_name = "Ana Example"     # as spoken in consent.wav\n'
    'company_name = "Example Corp"   # as spoken in consent.wav\n'
    'locale = "en-US"\n'
)


def write_skeleton(folder: Path, profile: str) -> list[Path]:
    """Write the job file, schemas and inbox skeleton for ``profile`` into ``folder``."""
    family, edition = _PROVIDER[profile]
    job = folder / "job.toml"
    voice = folder / "inbox" / "voice-001" / "voice.toml"
    files = {
        job: _JOB.format(
            profile=profile,
            path=job,
            name=_batch_name(folder),
            credentials="HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK, or METASTUDIO_AUTH_TOKEN"
            if family == "huawei"
            else "AZURE_SPEECH_KEY",
            provider=_HUAWEI.format(edition=edition) if family == "huawei" else _AZURE,
        ),
        folder / "job.schema.json": dumps(job_schema()),
        folder / "voice.schema.json": dumps(voice_schema()),
        voice: _VOICE.format(
            needs=_needs(profile), keys=_HUAWEI_KEYS if family == "huawei" else _AZURE_KEYS
        ),
    }
    there = [p for p in files if p.exists()]
    if there:
        raise ConfigError(f"{there[0]} already exists; init never overwrites (pick another DIR)")
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as out:  # "x": never over a file
                out.write(text)
    except OSError as exc:
        raise ConfigError(f"cannot write {exc.filename or folder}: {exc.strerror or exc}") from None
    return list(files)


def _needs(profile: str) -> str:
    if profile == "azure-personal":
        return " and consent.wav (the talent reading Microsoft's consent statement)"
    letter = ", authorization.pdf (the signed authorization letter)"
    if profile == "huawei-advance":
        return letter
    return f" with transcripts (<stem>.txt, transcripts.tsv or metadata.csv){letter}"


def _batch_name(folder: Path) -> str:
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in folder.resolve().name)
    return name.strip("-._")[:63] or "batch"
