"""Secrets never leave the process: real `python -m pipeline run` subprocesses with distinctive
credentials against an in-process emulator that expects them, with faults, expired upload URLs
and wrong keys so the retry, refresh and error paths log; then every byte the run left behind
(stdout, stderr, manifest, ledger, reports, the whole state_dir) is searched. Plus the
redaction functions themselves."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

import anyio
import pytest
import structlog

from pipeline import log
from pipeline.commands.sample_data import write_inbox
from pipeline.emulator.context import Credentials as EmulatorCredentials
from pipeline.emulator.context import EmulatorOptions
from pipeline.emulator.server import Emulator
from pipeline.providers import http

PROJECT_ID = "5ec7e75ec7e75ec7e75ec7e75ec7e75e"
FAST = 1_000_000.0
# Distinctive values: nothing else in a run could contain them by chance.
AK = "AKSECRETPROBE4A7F19"
SK = "sk-secret-probe-9c2e41d7b8a3f605e1d2"
TOKEN = "iam-token-secret-probe-71f3c0a9e5"
AZURE_KEY = "azure-key-secret-probe-0d8b6e2c4f"
# A query or header value after one of these names must be REDACTED; anything else is a leak.
# (A raw byte scan: `sig=` must follow a separator, so "design=" in a report is no match.)
LEAKED_SIGNATURE = re.compile(
    rb"(?i)(?:^|[?&\s,\"';])(?:Signature|sig|AccessKeyId|X-Amz-Signature)(?:=|%3D)"
    rb"(?!REDACTED)[^&\s\"'<>,;]"
)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-scoped so module-scoped async fixtures can use it."""
    return "asyncio"


@pytest.fixture(scope="module")
def inboxes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small inboxes (Huawei basic, Azure personal), written once and only read."""
    root = tmp_path_factory.mktemp("secret-inboxes")
    write_inbox(root / "huawei", voices=2, profile="huawei-basic", seed=5)
    write_inbox(root / "azure", voices=2, profile="azure-personal", seed=6)
    return {"huawei": root / "huawei", "azure": root / "azure"}


@dataclass
class Outputs:
    """Everything one run produced: its streams and its state folder."""

    returncode: int
    stdout: bytes
    stderr: bytes
    state_dir: Path
    files: dict[Path, bytes] = field(default_factory=dict)

    def blobs(self) -> Iterator[tuple[str, bytes]]:
        """(where, bytes) of every output, the SQLite ledger's raw pages included."""
        yield "stdout", self.stdout
        yield "stderr", self.stderr
        for path, data in self.files.items():
            yield str(path), data


_SHARED_CACHE: dict[str, Path] = {}


async def run_cli(
    folder: Path,
    *,
    inbox: Path,
    endpoint: str,
    provider: str,
    env: dict[str, str],
    shared_cache: str,
) -> Outputs:
    """`python -m pipeline run job.toml` in a subprocess (the emulator keeps serving here)."""
    folder.mkdir(parents=True, exist_ok=True)
    state = folder / "var"
    job = folder / "job.toml"
    job.write_text(
        f'[batch]\nname = "secrets"\ninbox = "{inbox}"\nstate_dir = "{state}"\n'
        f'[provider]\nendpoint = "{endpoint}"\n{provider}\n'
        '[await]\npoll_interval = "0.1s"\ndeadline = "60s"\n'
        # Fail fast on a dead provider: the point is the error text, not the persistence.
        "[limits]\ncircuit_breaker = 50\n",
        encoding="utf-8",
    )
    # Normalized audio from an earlier run of the same inbox: no audio work twice.
    if shared_cache in _SHARED_CACHE:
        shutil.copytree(_SHARED_CACHE[shared_cache], state / "cache", copy_function=os.link)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD", "AZURE"))}
    clean.pop("METASTUDIO_AUTH_TOKEN", None)
    with anyio.fail_after(120):
        proc = await anyio.run_process(
            [sys.executable, "-m", "pipeline", "--log-json", "run", str(job)],
            env={**clean, **env},
            check=False,
        )
    if (state / "cache").is_dir():
        _SHARED_CACHE.setdefault(shared_cache, state / "cache")
    out = Outputs(proc.returncode, proc.stdout, proc.stderr, state)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out.files[path] = path.read_bytes()
    # Kept beside the state for a look after a failure (pytest keeps the last tmp folders).
    (folder / "stdout.log").write_bytes(proc.stdout)
    (folder / "stderr.log").write_bytes(proc.stderr)
    return out


def assert_no_secret(out: Outputs, *secrets: str) -> None:
    """No secret value (verbatim or percent-encoded) and no unredacted signature anywhere."""
    # 70 is an internal error (a bug); 2 a config error: neither is what these runs test.
    assert out.returncode in (0, 1, 3), out.stderr.decode(errors="replace")[-3000:]
    assert b"Traceback" not in out.stdout
    needles = {s.encode() for s in secrets} | {quote(s, safe="").encode() for s in secrets}
    for where, data in out.blobs():
        for needle in needles:
            assert needle not in data, f"{needle!r} leaked into {where}"
        match = LEAKED_SIGNATURE.search(data)
        assert match is None, (
            f"signature leaked into {where}: {data[match.start() : match.start() + 60]!r}"
        )
    assert any(p.name.endswith("latest.json") for p in out.files), out.stderr.decode()[-4000:]


def events(out: Outputs) -> set[str]:
    """The event names of the run's JSON log lines."""
    return set(re.findall(rb'"event": "([a-z_.]+)"', out.stderr))


@pytest.mark.anyio
async def test_huawei_aksk_never_leaks_under_faults(
    inboxes: dict[str, Path], tmp_path: Path
) -> None:
    """AK/SK signing with control faults, upload resets, then expired URLs: no AK, no SK and
    no URL signature in any output, including the retry and refusal paths' messages."""
    provider = (
        f'kind = "huawei-metastudio"\nproject_id = "{PROJECT_ID}"\nedition = "basic"\n'
        'upload_mode = "package"'
    )
    env = {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK}
    creds = EmulatorCredentials(huawei_ak=AK, huawei_sk=SK)
    flaky = EmulatorOptions(
        time_scale=FAST, credentials=creds, fault_rate=0.3, upload_fault_rate=0.5, seed=4
    )
    async with Emulator(flaky) as emu:
        out = await run_cli(
            tmp_path / "flaky",
            inbox=inboxes["huawei"],
            endpoint=emu.base_url,
            provider=provider,
            env=env,
            shared_cache="huawei",
        )
    assert_no_secret(out, AK, SK)
    assert b"http.retry_scheduled" in out.stderr  # the faults did reach the logged paths

    # Every upload URL is already expired when minted: refused, refreshed, refused again.
    expired = EmulatorOptions(time_scale=FAST, credentials=creds, url_ttl=-60.0)
    async with Emulator(expired) as emu:
        out = await run_cli(
            tmp_path / "expired",
            inbox=inboxes["huawei"],
            endpoint=emu.base_url,
            provider=provider,
            env=env,
            shared_cache="huawei",
        )
        refused = emu.huawei.store.outcomes.get("expired", 0)
    assert_no_secret(out, AK, SK)
    assert refused > 0
    assert b"Request has expired" in b"".join(d for _, d in out.blobs())


@pytest.mark.anyio
async def test_huawei_token_and_wrong_keys_never_leak(
    inboxes: dict[str, Path], tmp_path: Path
) -> None:
    """IAM-token mode with faults, and AK/SK the service refuses (401 paths): neither the
    token nor the refused keys appear anywhere."""
    provider = f'kind = "huawei-metastudio"\nproject_id = "{PROJECT_ID}"\nedition = "basic"'
    options = EmulatorOptions(
        time_scale=FAST,
        credentials=EmulatorCredentials(huawei_token=TOKEN),
        fault_rate=0.2,
        upload_fault_rate=0.3,
        seed=9,
    )
    async with Emulator(options) as emu:
        token_run = await run_cli(
            tmp_path / "token",
            inbox=inboxes["huawei"],
            endpoint=emu.base_url,
            provider=provider,
            env={"METASTUDIO_AUTH_TOKEN": TOKEN},
            shared_cache="huawei",
        )
        # The emulator expects its default AK/SK; these are wrong, so every call is a 401.
        wrong_run = await run_cli(
            tmp_path / "wrong",
            inbox=inboxes["huawei"],
            endpoint=emu.base_url,
            provider=provider,
            env={"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK},
            shared_cache="huawei",
        )
    assert_no_secret(token_run, TOKEN)
    assert_no_secret(wrong_run, AK, SK)
    assert wrong_run.returncode != 0


@pytest.mark.anyio
async def test_azure_key_and_sas_never_leak(inboxes: dict[str, Path], tmp_path: Path) -> None:
    """Azure multipart and blob-SAS mode with faults: neither the Speech key nor the
    container SAS signature appears in any output."""
    options = EmulatorOptions(
        time_scale=FAST,
        credentials=EmulatorCredentials(azure_key=AZURE_KEY),
        fault_rate=0.2,
        upload_fault_rate=0.3,
        seed=2,
    )
    async with Emulator(options) as emu:
        sas = emu.azure.container_sas_url("voices", ttl=600.0)
        sig = sas.rpartition("sig=")[2]
        multipart = await run_cli(
            tmp_path / "multipart",
            inbox=inboxes["azure"],
            endpoint=emu.base_url,
            provider='kind = "azure-personal-voice"\nupload_mode = "multipart"',
            env={"AZURE_SPEECH_KEY": AZURE_KEY},
            shared_cache="azure",
        )
        blob = await run_cli(
            tmp_path / "blob",
            inbox=inboxes["azure"],
            endpoint=emu.base_url,
            provider='kind = "azure-personal-voice"\nupload_mode = "blob-sas"',
            env={"AZURE_SPEECH_KEY": AZURE_KEY, "AZURE_BLOB_CONTAINER_SAS_URL": sas},
            shared_cache="azure",
        )
    assert_no_secret(multipart, AZURE_KEY)
    assert_no_secret(blob, AZURE_KEY, sig, unquote(sig))


# --------------------------------------------------------------------------- redaction itself


def test_redact_text_covers_urls_headers_and_known_values() -> None:
    """Query signatures (plain and percent-encoded), credential headers, URL userinfo and
    known secret values (verbatim and percent-encoded) are all replaced."""
    cases = {
        "PUT https://b.obs/x.zip?AccessKeyId=AK1&Expires=9&Signature=ab%2Bc": (
            "PUT https://b.obs/x.zip?AccessKeyId=REDACTED&Expires=9&Signature=REDACTED"
        ),
        "https://a.blob.core.windows.net/c/x?sv=1&se=2&sig=zz%3D&sp=r": (
            "https://a.blob.core.windows.net/c/x?sv=1&se=2&sig=REDACTED&sp=r"
        ),
        "next=https%3A%2F%2Fh%2Fo%3FSignature%3Dabc%26Expires%3D9": (
            "next=https%3A%2F%2Fh%2Fo%3FSignature%3DREDACTED%26Expires%3D9"
        ),
        "Authorization: SDK-HMAC-SHA256 Access=K, SignedHeaders=host, Signature=beef": (
            "Authorization: REDACTED"
        ),
        "{'X-Auth-Token': 'tok', 'Ocp-Apim-Subscription-Key': \"k\"}": (
            "{'X-Auth-Token': 'REDACTED', 'Ocp-Apim-Subscription-Key': \"REDACTED\"}"
        ),
        "https://user:pw@host/p?a=1": "https://REDACTED@host/p?a=1",
        "design=3 Xsig=4 assignature=5": "design=3 Xsig=4 assignature=5",
    }
    for text, expected in cases.items():
        assert log.redact_text(text) == expected, text
    secret = "s3cr/t+v@lue"
    assert log.redact_text(f"a {secret} b s3cr%2Ft%2Bv%40lue c", [secret]) == (
        "a REDACTED b REDACTED c"
    )
    assert log.redact_text("abcd", ["abcd"]) == "REDACTED"
    assert log.redact_text("ab", ["ab"]) == "ab"  # too short to search for safely


def test_http_redaction_is_the_log_redaction() -> None:
    """http.redact_text is log.redact_text with the known secrets; both share one list of
    signature parameters, and redact_url still strips userinfo and fragments."""
    assert http.SECRET_QUERY_PARAMS is log.SECRET_QUERY_PARAMS
    text = "GET https://h/o?X-Amz-Signature=1&x=2 and https://u:p@h/#frag"
    assert http.redact_text(text) == log.redact_text(text, log.known_secrets())
    assert http.redact_url("https://u:p@h/p?sig=1&a=2#f") == "https://h/p?sig=REDACTED&a=2"


def test_redactor_scrubs_every_shape_of_value() -> None:
    """Nested dicts and lists, exceptions, bytes, objects with a signed repr and credential
    header keys are all scrubbed by the structlog processor."""

    class Signed:
        def __str__(self) -> str:
            return "https://h/x?Signature=obj"

    redactor = log.Redactor(["hunter2-secret"])
    event = redactor(
        None,
        "info",
        {
            "event": "x",
            "nested": {"url": "https://h/?sig=a", "list": ["hunter2-secret", 3, None]},
            "error": RuntimeError("failed with hunter2-secret"),
            "raw": b"Signature=rawbytes",
            "obj": Signed(),
            "headers": {"Authorization": "SDK-HMAC-SHA256 Access=x", "Accept": "json"},
            "count": 5,
        },
    )
    text = repr(event)
    for leaked in ("hunter2-secret", "=a'", "rawbytes", "=obj", "Access=x"):
        assert leaked not in text, leaked
    assert event["count"] == 5
    assert event["headers"]["Accept"] == "json"


def test_configured_logging_redacts_process_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    """Through the real structlog configuration, a secret added to the process redactor and a
    signed URL never reach the rendered JSON line (exceptions included)."""
    # Stays in the process-wide redactor afterwards: harmless, nothing else logs this value.
    log.REDACTOR.add(["probe-secret-4411"])
    try:
        log.configure(json=True, stream=sys.stdout)
        try:
            raise ValueError("boom https://h/x?Signature=sss probe-secret-4411")
        except ValueError:
            structlog.get_logger("t").error("t.failed", exc_info=True, key="probe-secret-4411")
        line = capsys.readouterr().out
    finally:
        structlog.reset_defaults()  # configure() bound capsys's stream; later tests need defaults
    assert "t.failed" in line
    assert "probe-secret-4411" not in line
    assert "Signature=sss" not in line
