"""Blob-SAS mode against the standalone emulator, with only the commands the README shows."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from pipeline.commands.sample_data import write_inbox
from pipeline.emulator.context import DEFAULT_AZURE_KEY
from tests.cli.test_honest_outcomes import cli, manifest_of


def test_three_voices_onboard_in_blob_sas_mode_on_the_standalone_emulator(
    tmp_path: Path,
) -> None:
    """`emulator --sas-file F` prints and writes a container SAS URL; exported, a blob-sas
    run of 3 Azure voices succeeds against it."""
    sas_file = tmp_path / "sas.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "emulator", "--port", "0", "--time-scale", "1000000",
         "--sas-file", str(sas_file)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip().rpartition(" ")[2]
        printed = proc.stdout.readline().strip().rpartition(" ")[2]
        assert base.startswith("http://127.0.0.1:")
        assert sas_file.read_text().strip() == printed
        assert "sp=racwl" in printed
        assert stat.S_IMODE(sas_file.stat().st_mode) == 0o600
        write_inbox(tmp_path / "inbox", voices=3, profile="azure-personal", seed=5)
        job = tmp_path / "job.toml"
        job.write_text(
            '[batch]\nname = "blob"\ninbox = "inbox"\nstate_dir = "var"\n\n'
            f'[provider]\nkind = "azure-personal-voice"\nendpoint = "{base}"\n'
            'upload_mode = "blob-sas"\n\n[await]\npoll_interval = "0.2s"\ndeadline = "2m"\n'
        )
        env = {"AZURE_SPEECH_KEY": DEFAULT_AZURE_KEY, "AZURE_BLOB_CONTAINER_SAS_URL": printed}
        run = cli("run", str(job), env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert {v["status"] for v in manifest_of(run)["voices"]} == {"succeeded"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
