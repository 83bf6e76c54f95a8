"""Azure end to end with the emulator playing each alternative the docs leave open: a batch,
a re-run and a SIGKILL-then-resume, each ending with one consent and one personal voice per
voice; the Speech key never reaches a host the client was not configured with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import anyio
import pytest

from pipeline.emulator.context import DEFAULT_AZURE_KEY, EmulatorOptions
from pipeline.emulator.server import Emulator
from pipeline.errors import ConfigError
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.providers.azure.client import AzureClient
from pipeline.providers.azure.records import AudioFile
from pipeline.providers.http import Connection, HttpClient
from pipeline.records import VoiceStatus
from pipeline.runner import run_batch
from tests.integration.e2e import link_tree
from tests.integration.test_azure_provider import CREDS, FAST, Opened, make_inbox, make_job

pytestmark = pytest.mark.anyio

VOICES = 3
ENV = {**os.environ, "AZURE_SPEECH_KEY": DEFAULT_AZURE_KEY}
KEY = {"Ocp-Apim-Subscription-Key": DEFAULT_AZURE_KEY}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-scoped so the module-scoped inbox can be shared."""
    return "asyncio"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three healthy azure-personal voices, written once for the module."""
    return make_inbox(tmp_path_factory.mktemp("alternatives"), VOICES, seed=31)


def options(*plays: str) -> EmulatorOptions:
    """Fast emulated time, the alternatives, and two items a page, so lists span pages."""
    return EmulatorOptions(time_scale=FAST, plays=frozenset(plays), azure_max_page_size=2)


def per_voice(emu: Emulator, batch: str) -> tuple[dict[str, int], dict[str, int]]:
    """Consents and personal voices of ``batch`` at the emulator, counted per voice key."""
    consents: dict[str, int] = {}
    voices: dict[str, int] = {}
    for consent in emu.azure.consents():
        if (consent.description or "").startswith(f"{batch}/"):
            key = (consent.description or "").partition("/")[2]
            consents[key] = consents.get(key, 0) + 1
    for voice in emu.azure.personal_voices():
        if (voice.description or "").startswith(f"{batch}/"):
            key = (voice.description or "").partition("/")[2]
            voices[key] = voices.get(key, 0) + 1
    return consents, voices


def one_each(emu: Emulator, batch: str) -> None:
    """The emulator holds exactly one consent and one personal voice per voice of ``batch``."""
    consents, voices = per_voice(emu, batch)
    expected = {f"voice-{i:03d}": 1 for i in range(1, VOICES + 1)}
    assert consents == expected
    assert voices == expected


def start_run(job: Path, log: Path) -> subprocess.Popen[bytes]:
    """`voice-onboard run JOB` as a separate process, its log in ``log``."""
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", str(job)],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


async def put_project(base_url: str, project: str = "onboarding") -> None:
    """Create the job's project first, so that the run's own PUT meets an existing one."""
    async with (
        aiohttp.ClientSession() as http,
        http.put(
            f"{base_url}/customvoice/projects/{project}?api-version=2026-01-01",
            json={"kind": "PersonalVoice"},
            headers=KEY,
        ) as resp,
    ):
        assert resp.status == 201, await resp.text()


@pytest.mark.parametrize(
    "alternative", ["azure-foreign-host-links", "azure-project-put-refused", None]
)
async def test_batch_rerun_and_sigkill_resume_under_each_alternative(
    alternative: str | None, inbox: Path, tmp_path: Path
) -> None:
    """Every voice succeeds with one consent and one voice, a re-run sends nothing, and a run
    killed after its first create resumes without creating anything twice."""
    plays = (alternative,) if alternative else ()
    opened = Opened()
    async with Emulator(options(*plays)) as emu:
        await put_project(emu.base_url)
        config = make_job(tmp_path / "a", endpoint=emu.base_url, inbox=inbox, batch="alt")
        report = await run_batch(config, CREDS, open_provider=opened.opener(), detach=False)
        assert report.exit_code == 0, [r.last_error for r in report.results]
        assert {r.status for r in report.results} == {VoiceStatus.SUCCEEDED}
        one_each(emu, "alt")
        before = emu.azure.counters()

        again = await run_batch(config, CREDS, open_provider=opened.opener(), detach=False)
        assert again.exit_code == 0
        assert emu.azure.counters().creates == before.creates
        one_each(emu, "alt")

        # SIGKILL once the first consent of a second batch exists, then resume in-process.
        killed = make_job(tmp_path / "b", endpoint=emu.base_url, inbox=inbox, batch="kill")
        proc = start_run(killed.path, tmp_path / "kill.log")
        try:
            with anyio.fail_after(120):
                while emu.azure.counters().creates.get("consent", 0) <= before.creates["consent"]:
                    assert proc.poll() is None, (tmp_path / "kill.log").read_text()[-2000:]
                    await anyio.sleep(0.01)
        finally:
            proc.kill()
            proc.wait()
        resumed = await run_batch(killed, CREDS, open_provider=opened.opener(), detach=False)
        assert resumed.exit_code == 0, [r.last_error for r in resumed.results]
        assert {r.status for r in resumed.results} == {VoiceStatus.SUCCEEDED}
        one_each(emu, "kill")
        one_each(emu, "alt")

        counters = emu.azure.counters()
        assert counters.creates["project"] == 1
        assert (counters.misdirected, counters.keys_sent_elsewhere) == (0, 0)
        if alternative == "azure-project-put-refused":
            # every run's PUT met the existing project, was refused, and adopted it by GET
            assert counters.by_route["GET projects"] >= 2
        assert counters.by_route["GET consents"] + counters.by_route["GET personalvoices"] > 0


async def test_key_never_goes_to_the_foreign_host(tmp_path: Path) -> None:
    """Under azure-foreign-host-links the client pages and reads Operation-Location on its own
    endpoint; a client that followed the links blindly is seen by the emulator (the check
    would catch it)."""
    consent_wav = tmp_path / "consent.wav"
    make_inbox(tmp_path, 1, seed=3)
    consent_wav.write_bytes(next((tmp_path / "inbox").glob("*/consent.wav")).read_bytes())
    async with Emulator(options("azure-foreign-host-links")) as emu, HttpClient() as http:
        client = AzureClient(Connection(http, emu.base_url), key=DEFAULT_AZURE_KEY, page_size=1)
        await client.put_project("proj")
        created = []
        for i in range(3):
            created.append(
                await client.create_consent(
                    f"consent-{i}",
                    operation_id=f"op-consent-{i}",
                    project_id="proj",
                    voice_talent_name="Alex Morgan",
                    company_name="Contoso",
                    locale="en-US",
                    audio=AudioFile("consent.wav", consent_wav),
                )
            )
        assert all("//localhost:" in (c.operation_location or "") for c in created)
        listed = [c.id async for c in client.iter_consents("proj")]
        assert sorted(listed) == ["consent-0", "consent-1", "consent-2"]
        operation = await client.operation_of(created[0])
        assert operation.id == "op-consent-0"
        assert operation.status in ("NotStarted", "Running", "Succeeded")
        assert (emu.azure.counters().misdirected, emu.azure.counters().keys_sent_elsewhere) == (
            0,
            0,
        )

        # The same links followed blindly reach the foreign host, with the key.
        async with aiohttp.ClientSession() as blind:
            link = created[0].operation_location or ""
            async with blind.get(link, headers=KEY) as resp:
                assert resp.status == 421
        assert emu.azure.counters().keys_sent_elsewhere == 1


async def test_deleted_after_success_shows_in_status_and_retry_force_makes_new_ones(
    inbox: Path, tmp_path: Path
) -> None:
    """A personal voice deleted, and a consent deleted, after success: `status --verify` shows
    both as needs_attention (remote.deleted); `retry --force` then creates new resources under
    new ids and keeps the old ids in history; untouched voices stay succeeded."""
    from tests.cli.test_status_retry import cli

    small = link_tree(inbox, tmp_path / "inbox")
    async with Emulator(options("azure-consent-delete-allowed")) as emu:
        config = make_job(tmp_path / "job", endpoint=emu.base_url, inbox=small, batch="del")
        first = await run_batch(config, CREDS, open_provider=Opened().opener(), detach=False)
        assert first.exit_code == 0
        old = {r.voice: dict(r.remote) for r in first.results}
        async with aiohttp.ClientSession() as http:
            base = f"{emu.base_url}/customvoice"
            for path in (
                f"personalvoices/{old['voice-001']['personal_voice_id']}",
                f"consents/{old['voice-002']['consent_id']}",
            ):
                async with http.delete(f"{base}/{path}?api-version=2026-01-01", headers=KEY) as r:
                    assert r.status == 204

        def status_env(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "pipeline", "status", str(config.path), *args],
                capture_output=True,
                text=True,
                env=ENV,
                timeout=120,
                check=False,
            )

        plain = await anyio.to_thread.run_sync(status_env, "--json")
        assert plain.returncode == 0, plain.stderr
        assert '"needs_attention": 0' in plain.stdout  # the ledger alone cannot know
        verified = await anyio.to_thread.run_sync(status_env, "--verify")
        assert verified.returncode == 0, verified.stderr
        rows = {line.split()[0]: line for line in verified.stdout.splitlines()[1:-1]}
        assert rows["voice-001"].split()[1:4] == ["done", "needs_attention", "Deleted"]
        assert rows["voice-002"].split()[1:4] == ["done", "needs_attention", "Deleted"]
        assert rows["voice-003"].split()[1:4] == ["done", "succeeded", "Succeeded"]
        assert "remote.deleted" in rows["voice-001"]
        assert verified.stdout.splitlines()[-1] == "3 voices: 1 succeeded, 2 needs_attention"
        again = await anyio.to_thread.run_sync(status_env, "--verify", "--json")
        assert '"needs_attention": 2' in again.stdout  # found once, not stacked

        retry = await anyio.to_thread.run_sync(
            cli, "retry", str(config.path), "--voices", "voice-001", "voice-002"
        )
        assert retry.returncode == 1  # unchanged files: refused without --force
        retry = await anyio.to_thread.run_sync(
            cli, "retry", str(config.path), "--voices", "voice-001", "voice-002", "--force"
        )
        assert retry.returncode == 0, retry.stdout + retry.stderr
        assert retry.stdout.count("re-queued") == 2

        second = await run_batch(config, CREDS, open_provider=Opened().opener(), detach=False)
        assert second.exit_code == 0, [r.last_error for r in second.results]
        new = {r.voice: dict(r.remote) for r in second.results}
        for key in ("voice-001", "voice-002"):
            assert new[key]["personal_voice_id"] != old[key]["personal_voice_id"]
            assert new[key]["consent_id"] != old[key]["consent_id"]
        assert new["voice-003"] == old["voice-003"]
        async with SqliteLedger(config.ledger_path, config.batch) as ledger:
            states = {s.key: s for s in await ledger.all()}
        for key in ("voice-001", "voice-002"):
            assert set(states[key].history) == {
                old[key]["consent_id"],
                old[key]["personal_voice_id"],
            }
        # what was not deleted stays: voice-001's old consent, voice-002's old personal voice
        consents, voices = per_voice(emu, "del")
        assert consents == {"voice-001": 2, "voice-002": 1, "voice-003": 1}
        assert voices == {"voice-001": 1, "voice-002": 2, "voice-003": 1}


async def test_refused_put_of_a_project_of_another_kind_is_a_config_error() -> None:
    """A refused PUT adopts the existing project only if it is a PersonalVoice project."""
    async with Emulator(options("azure-project-put-refused")) as emu, HttpClient() as http:
        client = AzureClient(Connection(http, emu.base_url), key=DEFAULT_AZURE_KEY)
        await client.put_project("pro", kind="ProfessionalVoice")
        with pytest.raises(ConfigError, match="ProfessionalVoice project"):
            await client.put_project("pro")
        adopted = await client.put_project("personal")
        assert (await client.put_project("personal")) == adopted
        assert emu.azure.counters().by_route["GET projects"] == 2
