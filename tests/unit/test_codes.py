"""Finding codes stay listed: every code the package uses is in pipeline.codes and the README."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.codes import CODES

ROOT = Path(__file__).resolve().parents[2]
_CODE = re.compile(r"""["']((?:audio|transcript|voice|remote)\.[a-z_]+)["']""")
# Log event names share the dotted style ("voice.stage"); they are the first argument of a
# logger call, which is how they are told apart from finding codes here.
_EVENT = re.compile(
    r"""\.(?:debug|info|warning|error|exception|critical)\(\s*["']([a-z_]+\.[a-z_.]+)["']"""
)


def _used_codes() -> set[str]:
    used: set[str] = set()
    for path in (ROOT / "pipeline").rglob("*.py"):
        if path.name == "codes.py":
            continue
        text = path.read_text(encoding="utf-8")
        used.update(set(_CODE.findall(text)) - set(_EVENT.findall(text)) - {"voice.toml"})
    return used


def test_every_used_code_is_listed() -> None:
    """A finding code used anywhere in the package is defined in pipeline/codes.py."""
    assert _used_codes() - set(CODES) == set()


def test_readme_lists_every_code() -> None:
    """The README's finding-code table names every code with its meaning."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [code for code, meaning in CODES.items() if f"| `{code}` | {meaning} |" not in readme]
    assert missing == []
