"""The emulator's undocumented alternatives: chosen by flag or job-file key, names checked."""

from __future__ import annotations

from pathlib import Path

from pipeline.commands.emulator import ALTERNATIVE_HELP
from pipeline.emulator.alternatives import ALTERNATIVES
from tests.cli.test_honest_outcomes import EMULATOR, cli, job, one_line


def test_help_lists_every_alternative_the_emulator_plays() -> None:
    """The help's copy of the names (kept to spare --help the emulator import) is complete."""
    assert ALTERNATIVE_HELP.keys() == ALTERNATIVES.keys()
    out = cli("emulator", "--help").stdout
    for name in ALTERNATIVES:
        assert name in out


def test_unknown_play_flag_exits_2_naming_the_known_ones() -> None:
    """`emulator --play nope` is one line naming the flag and the known alternatives."""
    line = one_line(cli("emulator", "--port", "0", "--play", "nope"), 2, "--play", "'nope'")
    assert "huawei-batch-name-dropped" in line


def test_nan_clock_skew_exits_2() -> None:
    """`--clock-skew nan` is refused before anything is served."""
    one_line(cli("emulator", "--port", "0", "--clock-skew", "nan"), 2, "--clock-skew")


def test_unknown_plays_key_value_exits_2(tmp_path: Path) -> None:
    """`[emulator] plays` with an unknown name stops `run` with exit 2 naming the key."""
    (tmp_path / "inbox").mkdir()
    path = job(tmp_path, "emulator", EMULATOR + 'plays = ["nope"]\n')
    one_line(cli("run", str(path)), 2, "[emulator] plays", "'nope'")


def test_plays_must_be_a_list_of_names(tmp_path: Path) -> None:
    """`[emulator] plays = "x"` (not a list) is a config error naming the file and key."""
    (tmp_path / "inbox").mkdir()
    path = job(tmp_path, "emulator", EMULATOR + 'plays = "huawei-zero-quota"\n')
    one_line(cli("check", str(path)), 2, "job.toml", "plays")
