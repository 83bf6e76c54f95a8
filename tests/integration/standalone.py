"""The standalone emulator as a process that can be killed and restarted from its state file.

``StandaloneEmulator`` starts ``python -m pipeline emulator --state FILE`` (first on a free
port, then always on that same port, as the ledger remembers the endpoint), reads its URL from
the ``listening`` line, and reads ``GET /_emulator/state``. Counting helpers turn that state
into the figures the scenarios assert: remote jobs per voice, uploads stored, creates made.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any, Self

from pipeline.emulator.context import DEFAULT_AZURE_KEY, DEFAULT_HUAWEI_AK, DEFAULT_HUAWEI_SK

#: What the CLI needs in its environment to talk to the standalone emulator.
HUAWEI_ENV = {"HUAWEICLOUD_SDK_AK": DEFAULT_HUAWEI_AK, "HUAWEICLOUD_SDK_SK": DEFAULT_HUAWEI_SK}
AZURE_ENV = {"AZURE_SPEECH_KEY": DEFAULT_AZURE_KEY}


class StandaloneEmulator:
    """``voice-onboard emulator --state FILE`` as a restartable subprocess."""

    def __init__(self, state: Path, *flags: str) -> None:
        self.state_file = state
        self.flags = flags
        self.port = 0
        self.base_url = ""
        self._proc: subprocess.Popen[str] | None = None
        self.starts = 0

    def start(self, *extra: str) -> str:
        """Start (again, on the same port) with the base flags plus ``extra``; its URL."""
        if self._proc is not None:
            raise RuntimeError("already running")
        args = [sys.executable, "-m", "pipeline", "emulator", "--port", str(self.port)]
        args += ["--state", str(self.state_file), *self.flags, *extra]
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("emulator listening on "):
            proc.kill()
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"the emulator did not start: {line!r} {err}")
        self._proc = proc
        self.base_url = line.strip().rpartition(" ")[2]
        self.port = int(self.base_url.rpartition(":")[2])
        self.starts += 1
        return self.base_url

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it with ``sig`` (SIGKILL: no goodbye write) and wait until it is gone."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.send_signal(sig)
        proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def restart(self, sig: int = signal.SIGKILL, *extra: str) -> str:
        """Stop with ``sig`` and start again from the state file."""
        self.stop(sig)
        return self.start(*extra)

    def state(self) -> dict[str, Any]:
        """``GET /_emulator/state``."""
        with urllib.request.urlopen(f"{self.base_url}/_emulator/state", timeout=30) as answer:
            doc: dict[str, Any] = json.load(answer)
        return doc

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(signal.SIGTERM)


def free_port() -> int:
    """A port nothing listens on now (the emulator binds it next)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def huawei_jobs(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Huawei job the emulator holds."""
    tenants: dict[str, Any] = state["huawei"]["tenants"]
    return [job for tenant in tenants.values() for job in tenant["jobs"]]


def huawei_jobs_per_voice(state: dict[str, Any]) -> Counter[str]:
    """How many remote jobs exist per voice name."""
    return Counter(job["voice_name"] for job in huawei_jobs(state))


def azure_per_talent(state: dict[str, Any], kind: str) -> Counter[str]:
    """How many consents (``kind`` "consents") or personal voices exist per resource id."""
    return Counter(item["id"] for item in state["azure"][kind])


def job_file(root: Path, provider: str, endpoint: str, extra: str = "") -> Path:
    """A job file for ``provider`` ("huawei" or "azure") pointed at ``endpoint``."""
    if provider == "huawei":
        table = (
            f'kind = "huawei-metastudio"\nendpoint = "{endpoint}"\nproject_id = "p-outage"\n'
            'edition = "basic"\n'
        )
    else:
        table = f'kind = "azure-personal-voice"\nendpoint = "{endpoint}"\n'
    path = root / "job.toml"
    path.write_text(
        '[batch]\nname = "outage"\ninbox = "inbox"\nstate_dir = "var"\n\n'
        f"[provider]\n{table}\n"
        '[await]\npoll_interval = "0.2s"\ndeadline = "5m"\n' + extra
    )
    return path
