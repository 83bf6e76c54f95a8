"""Azure personal voice end to end: runner + AzureProvider + AzureClient against the emulator
(and Azurite for blob-SAS mode), over real loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import time
import tomllib
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

import aiohttp
import anyio
import pytest

from pipeline.commands.sample_data import write_inbox
from pipeline.config import Credentials, JobConfig, load_job
from pipeline.emulator.context import DEFAULT_AZURE_KEY, EmulatorOptions
from pipeline.emulator.server import Emulator
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.providers.azure.client import AzureClient
from pipeline.providers.azure.ids import blob_prefix, voice_ids
from pipeline.providers.azure.provider import AzureProvider
from pipeline.providers.base import Provider
from pipeline.providers.http import Connection, HttpClient, HttpSettings, RetryPolicies, RetryPolicy
from pipeline.records import Phase, PreparedVoice, VoiceStatus
from pipeline.runner import ProviderOpener, RunReport, run_batch
from pipeline.stages.discover import discover
from pipeline.stages.prepare import PrepareContext, prepare

REPO = Path(__file__).resolve().parents[2]
#: Emulated seconds per real second: a consent (2-4 s) or voice (2-6 s) ends within ~30 ms.
FAST = 200.0
CREDS = Credentials(azure_key=DEFAULT_AZURE_KEY)
RESOURCE_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}[a-zA-Z0-9]$")
#: Azurite's well-known development account (published in the Azurite README).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE_INSTALL = "npm install --no-save --prefix .cache/azurite azurite@3"


# --------------------------------------------------------------------------- helpers


@dataclass
class Opened:
    """The clients the runner opened (one per run), for request and 429 counts."""

    clients: list[AzureClient] = field(default_factory=list)

    def opener(
        self,
        *,
        blob_single_put_max: int = 4 * 1024 * 1024,
        blob_block_size: int = 1024 * 1024,
        retry: RetryPolicies | None = None,
    ) -> ProviderOpener:
        """What the lead's factory builds, with the blob thresholds open to tests."""

        @asynccontextmanager
        async def open_provider(
            config: JobConfig, credentials: Credentials, endpoint: str
        ) -> AsyncIterator[Provider]:
            async with HttpClient(HttpSettings(connections=config.limits.uploads + 8)) as http:
                client = AzureClient(
                    Connection(http, endpoint, retry=retry),
                    config=config,
                    key=credentials.azure_key or "",
                )
                self.clients.append(client)
                yield AzureProvider(
                    config=config,
                    client=client,
                    http=http,
                    uploads=anyio.CapacityLimiter(config.limits.uploads),
                    credentials=credentials,
                    blob_single_put_max=blob_single_put_max,
                    blob_block_size=blob_block_size,
                )

        return open_provider


def make_job(
    folder: Path,
    *,
    endpoint: str,
    inbox: Path,
    batch: str,
    upload_mode: str = "multipart",
    limits: str = "",
) -> JobConfig:
    """Write and load an Azure job file pointing at a running emulator."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "job.toml"
    path.write_text(
        f'[batch]\nname = "{batch}"\ninbox = "{inbox}"\nstate_dir = "var"\n\n'
        f'[provider]\nkind = "azure-personal-voice"\nendpoint = "{endpoint}"\n'
        f'upload_mode = "{upload_mode}"\n\n'
        f'[await]\npoll_interval = "0.2s"\ndeadline = "120s"\n\n[limits]\n{limits}\n',
        encoding="utf-8",
    )
    return load_job(path)


def make_inbox(root: Path, voices: int, seed: int) -> Path:
    """A sample azure-personal inbox of ``voices`` healthy voices."""
    inbox = root / "inbox"
    write_inbox(inbox, voices=voices, profile="azure-personal", seed=seed)
    return inbox


def set_talent(inbox: Path, key: str, talent: str) -> None:
    """Rewrite a voice's talent_name (the emulator's forced outcomes match on it)."""
    path = inbox / key / "voice.toml"
    meta = tomllib.loads(path.read_text(encoding="utf-8"))
    meta["talent_name"] = talent
    path.write_text(
        "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in meta.items()),
        encoding="utf-8",
    )


async def prepared_voices(config: JobConfig) -> dict[str, PreparedVoice]:
    """The run's prepared voices again (normalized audio comes from the cache)."""
    ctx = PrepareContext(
        profile=config.profile,
        cache_dir=config.cache_dir,
        limits=config.limits,
        cpu=anyio.CapacityLimiter(2),
    )
    return {s.key: await prepare(s, ctx) for s in discover(config.inbox)}


def statuses(report: RunReport) -> dict[str, VoiceStatus]:
    """Voice key → manifest status."""
    return {r.voice: r.status for r in report.results}


@pytest.fixture(scope="module")
def inbox30(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Thirty sample voices, written once for the module (runs only read them)."""
    return make_inbox(tmp_path_factory.mktemp("thirty"), 30, seed=11)


# --------------------------------------------------------------------------- azurite


def _azurite_binary() -> Path | None:
    """azurite-blob as `make test` installs it, else from PATH."""
    for candidate in (
        REPO / ".cache" / "azurite" / "node_modules" / ".bin" / "azurite-blob",
        REPO / "node_modules" / ".bin" / "azurite-blob",
    ):
        if candidate.exists():
            return candidate
    found = shutil.which("azurite-blob")
    return Path(found) if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob service on loopback."""

    port: int

    @property
    def account_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"

    def create_container(self, name: str) -> None:
        """PUT the container with Shared Key auth (a container SAS cannot create one)."""
        date = formatdate(usegmt=True)
        version = "2021-08-06"
        content_type = "application/octet-stream"  # urllib would add a form type otherwise
        # VERB, Content-Encoding, -Language, -Length ("" for 0), -MD5, -Type, Date,
        # If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range
        lines = ["PUT", "", "", "", "", content_type, "", "", "", "", "", ""]
        to_sign = (
            "\n".join(lines) + f"\nx-ms-date:{date}\nx-ms-version:{version}\n"
            f"/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{name}\nrestype:container"
        )
        sig = base64.b64encode(
            hmac.new(base64.b64decode(AZURITE_KEY), to_sign.encode(), hashlib.sha256).digest()
        ).decode()
        request = urllib.request.Request(
            f"{self.account_url}/{name}?restype=container",
            method="PUT",
            data=b"",
            headers={
                "Content-Type": content_type,
                "x-ms-date": date,
                "x-ms-version": version,
                "Authorization": f"SharedKey {AZURITE_ACCOUNT}:{sig}",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201

    def container_sas_url(self, name: str, permissions: str = "racwl") -> str:
        """A service SAS for the container (string-to-sign of version 2020-12-06 and later)."""
        version = "2020-12-06"
        expiry = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        # sp, st, se, canonicalized resource, si, sip, spr, sv, sr, snapshot, ses,
        # rscc, rscd, rsce, rscl, rsct
        fields = [permissions, "", expiry, f"/blob/{AZURITE_ACCOUNT}/{name}", "", "", ""]
        fields += [version, "c", "", "", "", "", "", "", ""]
        sig = base64.b64encode(
            hmac.new(
                base64.b64decode(AZURITE_KEY), "\n".join(fields).encode(), hashlib.sha256
            ).digest()
        ).decode()
        query = (
            f"sv={version}&sr=c&sp={permissions}&se={quote(expiry, safe='')}"
            f"&sig={quote(sig, safe='')}"
        )
        return f"{self.account_url}/{name}?{query}"


@pytest.fixture
def azurite(tmp_path: Path) -> Iterator[Azurite]:
    """Azurite's blob service on a free loopback port, in memory; skipped when not installed."""
    binary = _azurite_binary()
    if binary is None:
        if os.environ.get("CI") == "true":  # CI has Node.js: a missing Azurite is a failure
            pytest.fail(
                f"azurite-blob not found in CI; `make test` installs it ({AZURITE_INSTALL})"
            )
        pytest.skip(f"azurite-blob not found; install it with `{AZURITE_INSTALL}`")
    port = _free_port()
    args = [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    args += ["--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--loose"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                pytest.fail(f"azurite-blob exited with {proc.returncode}: {err[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("azurite-blob did not start listening within 30 s")
                time.sleep(0.1)
        yield Azurite(port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


async def list_blobs(sas_url: str, prefix: str = "") -> dict[str, int]:
    """Blob name → size, from the container's List Blobs answer."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{sas_url}&restype=container&comp=list&prefix={quote(prefix, safe='')}"
        ) as response,
    ):
        assert response.status == 200, await response.text()
        root = ET.fromstring(await response.read())
    return {
        blob.findtext("Name", ""): int(blob.findtext("Properties/Content-Length", "-1"))
        for blob in root.iterfind("Blobs/Blob")
    }


async def blob_sha256(sas_url: str, name: str) -> str:
    """The SHA-256 of a blob's bytes as the store serves them."""
    base, _, query = sas_url.partition("?")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/{quote(name)}?{query}") as response,
    ):
        assert response.status == 200
        return hashlib.sha256(await response.read()).hexdigest()


# --------------------------------------------------------------------------- ids


def test_ids_are_valid_deterministic_and_distinct() -> None:
    """Ids match ResourceId, fit 64 chars, repeat for the same input and differ otherwise."""
    keys = ["alice", "a b", "a-b", "a_b", "王小明", "-x-", "k" * 300, "x/../y", ".hidden."]
    seen: set[str] = set()
    for key in keys:
        ids = voice_ids("nightly", key, "f" * 64)
        values = [
            ids.consent_id,
            ids.consent_operation_id,
            ids.personal_voice_id,
            ids.personal_voice_operation_id,
        ]
        for value in values:
            assert RESOURCE_ID.match(value), value
            assert len(value) <= 64
        assert len(set(values)) == 4
        assert voice_ids("nightly", key, "f" * 64) == ids
        assert voice_ids("nightly", key, "e" * 64).consent_id != ids.consent_id
        assert voice_ids("other", key, "f" * 64).consent_id != ids.consent_id
        seen.update(values)
    assert len(seen) == 4 * len(keys)  # "a b" and "a-b" sanitize alike yet never collide


# --------------------------------------------------------------------------- end to end


@pytest.mark.anyio
async def test_thirty_voices_succeed_and_a_rerun_creates_nothing(
    tmp_path: Path, inbox30: Path
) -> None:
    """30 voices end succeeded with one consent and one voice each; a re-run sends no create."""
    opened = Opened()
    async with Emulator(EmulatorOptions(time_scale=FAST)) as emu:
        config = make_job(tmp_path, endpoint=emu.base_url, inbox=inbox30, batch="thirty")
        report = await run_batch(config, CREDS, open_provider=opened.opener(), detach=False)

        assert report.exit_code == 0
        assert set(statuses(report).values()) == {VoiceStatus.SUCCEEDED}
        assert len(report.results) == 30
        consents = {c.id: c for c in emu.azure.consents()}
        voices = {v.id: v for v in emu.azure.personal_voices()}
        assert len(consents) == 30
        assert len(voices) == 30
        for result in report.results:
            remote = result.remote
            pv = voices[remote["personal_voice_id"]]
            assert pv.consent_id == remote["consent_id"] in consents
            assert remote["speaker_profile_id"] == pv.speaker_profile_id
            assert remote["state"] == "Succeeded"
            assert "failure_reason" not in remote
            assert len(emu.azure.stored_audio("personalvoice", pv.id)) == len(result.files)
        # The manifest on disk carries the same remote ids.
        manifest = json.loads(report.manifest.read_text(encoding="utf-8"))
        assert all(
            {"consent_id", "personal_voice_id", "speaker_profile_id", "state"} <= set(v["remote"])
            for v in manifest["voices"]
        )
        before = emu.azure.counters()
        assert before.throttled == 0
        assert before.by_route["PUT projects"] == 1  # once per run, not per voice

        again = await run_batch(config, CREDS, open_provider=opened.opener(), detach=False)

        after = emu.azure.counters()
        assert again.exit_code == 0
        assert set(statuses(again).values()) == {VoiceStatus.SUCCEEDED}
        assert after.creates == before.creates
        for route in ("POST consents", "POST personalvoices", "PUT personalvoices"):
            assert after.by_route.get(route) == before.by_route.get(route)
        assert opened.clients[1].requests == 0


@pytest.mark.anyio
async def test_consent_and_speaker_verification_failures(tmp_path: Path) -> None:
    """A failed consent ends needs_attention, failed verification ends failed; exit 1."""
    inbox = make_inbox(tmp_path, 3, seed=5)
    set_talent(inbox, "voice-001", "bad-consent Alex Morgan")
    set_talent(inbox, "voice-002", "bad-speaker Sam Rivera")
    options = EmulatorOptions(
        time_scale=FAST,
        outcomes=(
            ("*bad-consent*", "AudioAndScriptNotMatch"),
            ("*bad-speaker*", "SpeakerVerificationFailed"),
        ),
    )
    opened = Opened()
    async with Emulator(options) as emu:
        config = make_job(tmp_path, endpoint=emu.base_url, inbox=inbox, batch="failures")
        report = await run_batch(config, CREDS, open_provider=opened.opener(), detach=False)

        assert report.exit_code == 1
        assert statuses(report) == {
            "voice-001": VoiceStatus.NEEDS_ATTENTION,
            "voice-002": VoiceStatus.FAILED,
            "voice-003": VoiceStatus.SUCCEEDED,
        }
        by_key = {r.voice: r for r in report.results}
        consent_failed = by_key["voice-001"]
        assert consent_failed.remote["failure_reason"] == "AudioAndScriptNotMatch"
        assert "personal_voice_id" not in consent_failed.remote
        finding = next(f for f in consent_failed.findings if f.code == "remote.consent_failed")
        assert "AudioAndScriptNotMatch" in finding.message
        assert finding.file == "voice-001/consent.wav"
        verification = by_key["voice-002"]
        assert verification.remote["failure_reason"] == "SpeakerVerificationFailed"
        assert verification.remote["state"] == "Failed"
        assert any(
            f.code == "remote.job_failed" and "SpeakerVerificationFailed" in f.message
            for f in verification.findings
        )
        # No personal voice is made from a failed consent.
        assert len(emu.azure.consents()) == 3
        assert len(emu.azure.personal_voices()) == 2

        # Listing follows nextLink page by page: 2 voices per page → 1 + 1 requests.
        async with HttpClient() as http:
            client = AzureClient(Connection(http, emu.base_url), key=DEFAULT_AZURE_KEY, page_size=1)
            listed = [v.id async for v in client.iter_personal_voices("onboarding")]
            assert sorted(listed) == sorted(v.id for v in emu.azure.personal_voices())
            assert client.requests == 2


@pytest.mark.anyio
async def test_resume_adopts_existing_resources(tmp_path: Path) -> None:
    """A ledger rewound to an intent adopts by GET; a lost ledger replays, never duplicates."""
    inbox = make_inbox(tmp_path, 3, seed=7)
    opened = Opened()
    async with Emulator(EmulatorOptions(time_scale=FAST)) as emu:
        config = make_job(tmp_path / "a", endpoint=emu.base_url, inbox=inbox, batch="resume")
        first = await run_batch(config, CREDS, open_provider=opened.opener(), detach=True)
        assert first.exit_code == 0  # detached: pending is fine
        # A detached run polls once before it exits, so some may have finished already.
        assert set(statuses(first).values()) <= {VoiceStatus.PENDING, VoiceStatus.SUCCEEDED}
        base = emu.azure.counters()

        # A crash right after the create intents: every voice back at `creating`.
        async with SqliteLedger(config.ledger_path, config.batch) as ledger:
            for state in await ledger.all():
                await ledger.put(state.advance(Phase.CREATING, status=VoiceStatus.PENDING))
        second = await run_batch(config, CREDS, open_provider=opened.opener(), detach=False)
        assert set(statuses(second).values()) == {VoiceStatus.SUCCEEDED}
        mid = emu.azure.counters()
        for route in ("POST consents", "POST personalvoices"):
            assert mid.by_route.get(route) == base.by_route.get(route)  # looked up, not re-sent

        # The ledger lost entirely (a new state_dir): the same Operation-Ids are replayed.
        fresh = make_job(tmp_path / "b", endpoint=emu.base_url, inbox=inbox, batch="resume")
        third = await run_batch(fresh, CREDS, open_provider=opened.opener(), detach=False)
        assert set(statuses(third).values()) == {VoiceStatus.SUCCEEDED}
        end = emu.azure.counters()
        assert end.creates == base.creates
        assert end.replays == base.replays + 6
        assert len(emu.azure.consents()) == len(emu.azure.personal_voices()) == 3
        assert {r.remote["personal_voice_id"] for r in third.results} == {
            r.remote["personal_voice_id"] for r in second.results
        }


@pytest.mark.anyio
async def test_injected_faults_never_duplicate_resources(tmp_path: Path) -> None:
    """500/503/429 answers, lost create answers and reset uploads: all succeed, nothing twice."""
    inbox = make_inbox(tmp_path, 6, seed=13)
    options = EmulatorOptions(time_scale=FAST, fault_rate=0.2, upload_fault_rate=0.4, seed=3)
    # About half the create attempts fail here: a deep but quick retry budget keeps the odds of
    # a voice running out of attempts near 1e-6 (the defaults are sized for real outages).
    quick = RetryPolicy(attempts=20, max_elapsed_s=120.0, base_delay=0.05, max_delay=0.5)
    opened = Opened()
    async with Emulator(options) as emu:
        config = make_job(tmp_path, endpoint=emu.base_url, inbox=inbox, batch="faults")
        report = await run_batch(
            config,
            CREDS,
            open_provider=opened.opener(retry=RetryPolicies(create=quick, read=quick)),
            detach=False,
        )

        counters = emu.azure.counters()
        assert counters.faults.get(500, 0) > 0
        assert counters.upload_resets > 0
        assert report.exit_code == 0, [r.last_error for r in report.results]
        assert set(statuses(report).values()) == {VoiceStatus.SUCCEEDED}
        assert len(emu.azure.consents()) == 6
        assert len(emu.azure.personal_voices()) == 6


@pytest.mark.anyio
async def test_blob_sas_mode_uploads_to_azurite(tmp_path: Path, azurite: Azurite) -> None:
    """Clips land under the voice's prefix in Azurite and the voice is created from them."""
    azurite.create_container("voices")
    sas = azurite.container_sas_url("voices")
    inbox = make_inbox(tmp_path, 3, seed=17)
    creds = Credentials(azure_key=DEFAULT_AZURE_KEY, azure_blob_sas_url=sas)
    # Clips of 0.26-0.48 MB: a 360 kB threshold sends some whole and some in 128 KiB blocks.
    opened = Opened()
    opener = opened.opener(blob_single_put_max=360_000, blob_block_size=128 * 1024)
    async with Emulator(EmulatorOptions(time_scale=FAST)) as emu:
        config = make_job(
            tmp_path, endpoint=emu.base_url, inbox=inbox, batch="blobs", upload_mode="blob-sas"
        )
        report = await run_batch(config, creds, open_provider=opener, detach=False)

        assert report.exit_code == 0, [r.last_error for r in report.results]
        prepared = await prepared_voices(config)
        stored = await list_blobs(sas)
        expected: dict[str, tuple[int, str]] = {}
        async with SqliteLedger(config.ledger_path, config.batch) as ledger:
            states = {s.key: s for s in await ledger.all()}
        for key, voice in prepared.items():
            ids = voice_ids(config.batch, key, voice.fingerprint)
            prefix = blob_prefix(config.batch, ids.personal_voice_id)
            names = []
            for clip in voice.clips:
                name = f"{prefix}{clip.index:04d}.wav"
                data = clip.normalized.read_bytes()
                expected[name] = (len(data), hashlib.sha256(data).hexdigest())
                names.append(name)
            assert sorted(states[key].uploaded) == sorted(names)
            pv = next(v for v in emu.azure.personal_voices() if v.id == ids.personal_voice_id)
            assert pv.source == "blob"
            audio = emu.azure.stored_audio("personalvoice", pv.id)
            assert sorted((a.filename, a.size) for a in audio) == sorted(
                (n, expected[n][0]) for n in names
            )
        assert stored == {name: size for name, (size, _) in expected.items()}
        for name, (_, digest) in expected.items():
            assert await blob_sha256(sas, name) == digest
        sizes = [size for size, _ in expected.values()]
        assert min(sizes) <= 360_000 < max(sizes)  # both upload paths were taken
        # The SAS never reaches the ledger or the manifest.
        sig = sas.rpartition("sig=")[2]
        assert sig not in report.manifest.read_text(encoding="utf-8")
        assert sig not in config.ledger_path.read_bytes().decode("utf-8", "replace")


@pytest.mark.anyio
async def test_hundred_voices_at_default_limits_meet_no_429(tmp_path: Path) -> None:
    """100 voices against the 50-per-10-s throttle: the client's window keeps every 429 away."""
    inbox = make_inbox(tmp_path, 100, seed=23)
    opened = Opened()
    async with Emulator(EmulatorOptions(time_scale=FAST)) as emu:
        config = make_job(tmp_path, endpoint=emu.base_url, inbox=inbox, batch="hundred")
        report = await run_batch(config, CREDS, open_provider=opened.opener(), detach=False)

        assert report.exit_code == 0
        assert set(statuses(report).values()) == {VoiceStatus.SUCCEEDED}
        assert emu.azure.counters().throttled == 0
        assert opened.clients[0].throttled == 0
        assert len(emu.azure.personal_voices()) == 100


@pytest.mark.anyio
async def test_service_limit_below_the_client_limit_still_succeeds(
    tmp_path: Path, inbox30: Path
) -> None:
    """An emulator limit under the client's own makes 429s; every voice still succeeds."""
    options = EmulatorOptions(time_scale=FAST, azure_requests_per_window=20, azure_window_s=1.0)
    opened = Opened()
    async with Emulator(options) as emu:
        config = make_job(
            tmp_path,
            endpoint=emu.base_url,
            inbox=inbox30,
            batch="throttled",
            limits="azure_requests = 50\nazure_window_s = 1.0",
        )
        report = await run_batch(config, CREDS, open_provider=opened.opener(), detach=False)

        counters = emu.azure.counters()
        assert counters.throttled > 0
        assert opened.clients[0].throttled == counters.throttled
        assert report.exit_code == 0
        assert set(statuses(report).values()) == {VoiceStatus.SUCCEEDED}
        assert len(emu.azure.consents()) == len(emu.azure.personal_voices()) == 30
