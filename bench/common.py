"""What the benchmarks share: results, machine description, measured subprocesses, the emulator.

Peak memory is measured as the largest *sum* of the resident set sizes of a process and all
its descendants, sampled from /proc every 20 ms: the pipeline's audio workers are separate
processes, and ``ru_maxrss`` (also reported) only gives the largest single process. The RSS
sum counts pages the workers share with their fork server once per process, so it overstates;
the PSS sum (shared pages split between their users) is reported beside it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

from pipeline.emulator.context import DEFAULT_HUAWEI_AK, DEFAULT_HUAWEI_SK

ROOT: Final = Path(__file__).resolve().parent.parent
VAR: Final = ROOT / "var" / "bench"
PYTHON: Final = sys.executable
CLI: Final = str(Path(sys.executable).with_name("voice-onboard"))
PROJECT_ID: Final = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
_PAGE: Final = os.sysconf("SC_PAGE_SIZE")
_TICKS: Final = os.sysconf("SC_CLK_TCK")


@dataclass(slots=True, kw_only=True)
class Result:
    """One benchmark's outcome: ours against the anchor, measured in the same run."""

    name: str
    title: str
    metric: str  #: what ``ours`` and ``anchor`` measure, with the unit
    ours: float | None
    anchor: float | None
    anchor_name: str
    ratio: float | None  #: the figure the target is about (see ``target``)
    target: str
    passed: bool | None  #: None: not measured (skipped)
    details: dict[str, object] = field(default_factory=dict)
    note: str = ""

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def _unmeasured(name: str, title: str, *, passed: bool | None, note: str) -> Result:
    return Result(
        name=name,
        title=title,
        metric="",
        ours=None,
        anchor=None,
        anchor_name="",
        ratio=None,
        target="",
        passed=passed,
        note=note,
    )


def skipped(name: str, title: str, why: str) -> Result:
    """A benchmark that could not run here, and why."""
    print(f"bench: {name}: skipped: {why}", flush=True)
    return _unmeasured(name, title, passed=None, note=f"skipped: {why}")


def failed(name: str, exc: BaseException) -> Result:
    """A benchmark that broke while running: recorded as a failure, with the error's first line."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return _unmeasured(name, name, passed=False, note=f"error: {type(exc).__name__}: {first}")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _tool_version(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def machine_info() -> dict[str, object]:
    """nproc, CPU model, memory, Python and library versions, the anchors' versions."""
    import numpy
    import soundfile

    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = os.sysconf("SC_PHYS_PAGES") * _PAGE / 1e9
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(mem_gb, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "libraries": {
            "numpy": numpy.__version__,
            "soxr": _version("soxr"),
            "soundfile": _version("soundfile"),
            "libsndfile": str(soundfile.__libsndfile_version__),
            "aiohttp": _version("aiohttp"),
            "anyio": _version("anyio"),
        },
        "anchors": {
            "sox": _tool_version(["sox", "--version"]),
            "curl": _tool_version(["curl", "--version"]),
        },
    }


def cli_env() -> dict[str, str]:
    """The environment for ``voice-onboard`` runs against the emulator (its test credentials)."""
    env = dict(os.environ)
    env.pop("METASTUDIO_AUTH_TOKEN", None)
    env["HUAWEICLOUD_SDK_AK"] = DEFAULT_HUAWEI_AK
    env["HUAWEICLOUD_SDK_SK"] = DEFAULT_HUAWEI_SK
    return env


# --- measured subprocesses ---------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _rss(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/statm").read_text(encoding="ascii").split()
    except OSError:
        return 0
    return int(fields[1]) * _PAGE


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and every descendant, now."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss(current)
        todo.extend(_children(current))
    return total


def _cpu_s(pid: int) -> float:
    """User + system seconds ``pid`` itself has used so far (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii").splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


@dataclass(frozen=True, slots=True)
class Measured:
    """What one measured command took."""

    wall_s: float
    #: user + system of the whole process tree: the larger of what wait4 reports (the
    #: command and the descendants it waited for) and the sum of every descendant's own
    #: time sampled from /proc (covers processes it did not wait for, like a fork server)
    cpu_s: float
    peak_tree_rss_mb: float  #: largest sum of RSS over the tree (shared pages counted twice)
    peak_tree_pss_mb: float  #: largest sum of PSS (shared pages split), sampled every 0.2 s
    #: the largest RSS of one process of the tree, sampled (not wait4's ru_maxrss: Linux
    #: carries a process's high-water mark across exec, so a command forked from this
    #: benchmark runner would report the runner's own RSS)
    max_single_rss_mb: float
    returncode: int


def run_measured(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, log: Path | None = None
) -> Measured:
    """Run ``cmd`` to completion, sampling its process tree's memory and CPU every 20 ms."""
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=dict(env) if env else None, stdout=out, stderr=out)
        peak = peak_pss = single = 0
        cpu: dict[int, float] = {}
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak, peak_pss, single
            rounds = 0
            while not stop.is_set():
                pids, todo = [], [proc.pid]
                while todo:
                    current = todo.pop()
                    pids.append(current)
                    todo.extend(_children(current))
                rss = [_rss(p) for p in pids]
                peak = max(peak, sum(rss))
                single = max(single, *rss)
                if rounds % 10 == 0:
                    peak_pss = max(peak_pss, sum(_pss(p) for p in pids))
                for p in pids:
                    cpu[p] = max(cpu.get(p, 0.0), _cpu_s(p))
                rounds += 1
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log is not None and not isinstance(out, int):
            out.close()
    return Measured(
        wall_s=wall,
        cpu_s=max(usage.ru_utime + usage.ru_stime, sum(cpu.values())),
        peak_tree_rss_mb=peak / 1e6,
        peak_tree_pss_mb=peak_pss / 1e6,
        max_single_rss_mb=single / 1e6,
        returncode=proc.returncode,
    )


def require_ok(what: str, measured: Measured, log: Path | None) -> None:
    """Stop the benchmark when a measured command failed (its numbers would mean nothing)."""
    if measured.returncode != 0:
        tail = ""
        if log is not None and log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{what} exited {measured.returncode}\n{tail}")


# --- the emulator in its own process ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmulatorProcess:
    """A running ``bench.emulator_proc``."""

    base_url: str
    urls: tuple[str, ...]
    pid: int

    def cpu_s(self) -> float:
        """User + system seconds the emulator has used so far (it runs on the same cores)."""
        return _cpu_s(self.pid)


@contextlib.contextmanager
def emulator(folder: Path, *, urls: int = 0, time_scale: float = 1.0) -> Iterator[EmulatorProcess]:
    """Start the emulator in its own process; stop it (and remove its storage) on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    info = folder / "emulator.json"
    info.unlink(missing_ok=True)
    cmd = [PYTHON, "-m", "bench.emulator_proc", "--info", str(info), "--urls", str(urls)]
    cmd += ["--time-scale", str(time_scale)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not info.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the benchmark emulator did not start")
            time.sleep(0.05)
        data = json.loads(info.read_text(encoding="utf-8"))
        yield EmulatorProcess(base_url=data["base_url"], urls=tuple(data["urls"]), pid=proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def huawei_job(
    folder: Path, *, inbox: Path, endpoint: str, edition: str = "basic", extra: str = ""
) -> Path:
    """A fresh state folder and a Huawei job file in it; returns the job file."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    job = folder / "job.toml"
    job.write_text(
        f'[batch]\nname = "bench"\ninbox = "{inbox}"\nstate_dir = "{folder / "var"}"\n'
        f'[provider]\nkind = "huawei-metastudio"\nendpoint = "{endpoint}"\n'
        f'project_id = "{PROJECT_ID}"\nedition = "{edition}"\nupload_mode = "package"\n'
        f"{extra}\n",
        encoding="utf-8",
    )
    return job


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
