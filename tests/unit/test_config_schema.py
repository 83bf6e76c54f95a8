"""The job-file schema, the loader and the README reference agree, because one table makes them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs shipped; used by tests only
import pytest

from pipeline.commands.emulator import ALTERNATIVE_HELP
from pipeline.config import load_job
from pipeline.config.keys import AUDIO_MEANINGS, TABLES, audio_keys
from pipeline.config.schema import dumps, job_schema, reference_markdown, voice_schema
from pipeline.errors import ConfigError
from pipeline.stages.discover import discover

ROOT = Path(__file__).resolve().parents[2]
JOBS = ROOT / "jobs"
SCHEMA = job_schema(tuple(ALTERNATIVE_HELP))
BASE = {
    "huawei-metastudio": '[batch]\nname = "b"\ninbox = "in"\nstate_dir = "var"\n\n'
    '[provider]\nkind = "huawei-metastudio"\nendpoint = "emulator"\n',
    "azure-personal-voice": '[batch]\nname = "b"\ninbox = "in"\nstate_dir = "var"\n\n'
    '[provider]\nkind = "azure-personal-voice"\nendpoint = "emulator"\n',
}


def schema_errors(text: str) -> list[str]:
    """What the job schema says of a job file's text (empty: valid)."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [e.message for e in validator.iter_errors(tomllib.loads(text))]


def loads(tmp_path: Path, text: str) -> None:
    """Load ``text`` as a job file through the real loader (raises ConfigError)."""
    path = tmp_path / "job.toml"
    path.write_text(text, encoding="utf-8")
    load_job(path, {})


def test_shipped_schemas_are_the_generated_ones() -> None:
    """jobs/*.schema.json are what `voice-onboard schema job|voice` prints (regenerate them)."""
    assert (JOBS / "job.schema.json").read_text() == dumps(SCHEMA)
    assert (JOBS / "voice.schema.json").read_text() == dumps(voice_schema())
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator.check_schema(voice_schema())


def test_readme_reference_is_the_generated_one() -> None:
    """The README's key reference is `voice-onboard schema job --markdown`, every key in it."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- reference:start -->\n", 1)[1].split("<!-- reference:end -->")[0]
    assert section == reference_markdown()
    for table, keys in [*TABLES.items(), ("audio", audio_keys())]:
        for k in keys:
            assert f"| `{k.name}`" in section, (table, k.name)


def test_every_audio_profile_field_has_a_meaning() -> None:
    """An audio profile field added without words for the reference fails here."""
    assert {k.name for k in audio_keys()} == set(AUDIO_MEANINGS)


@pytest.mark.parametrize("path", sorted(JOBS.glob("*.toml")), ids=lambda p: p.name)
def test_every_example_passes_loader_and_schema(path: Path) -> None:
    """Each file in jobs/ loads and validates, and points editors at the schema."""
    text = path.read_text()
    assert text.startswith("#:schema ./job.schema.json\n")
    load_job(path, {})
    assert schema_errors(text) == []


def _readme_snippets() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```toml\n(.*?)```", readme, flags=re.DOTALL)


@pytest.mark.parametrize("snippet", _readme_snippets())
def test_every_readme_snippet_passes_loader_and_schema(snippet: str, tmp_path: Path) -> None:
    """Each README TOML snippet, over a minimal job of its provider, loads and validates."""
    data = tomllib.loads(snippet)
    kind = data.get("provider", {}).get("kind", "huawei-metastudio")
    base = tomllib.loads(BASE[kind])
    merged: dict[str, Any] = {**base, **{k: {**base.get(k, {}), **v} for k, v in data.items()}}
    if merged["provider"]["endpoint"].startswith("https://<"):  # a placeholder to fill in
        merged["provider"]["endpoint"] = "https://westeurope.api.cognitive.microsoft.com"
    text = _dump(merged)
    loads(tmp_path, text)
    assert schema_errors(text) == []


def _dump(data: dict[str, Any]) -> str:
    lines = []
    for table, values in data.items():
        lines.append(f"[{table}]")
        for k, v in values.items():
            value = ("true" if v else "false") if isinstance(v, bool) else repr(v)
            lines.append(f"{k} = {value}".replace("'", '"'))
    return "\n".join(lines) + "\n"


REJECTED = [
    ("[limits]\nuploads = 0\n", "uploads"),
    ("[limits]\nuploads = 2.5\n", "uploads"),
    ('[limits]\nuploads = "8"\n', "uploads"),
    ("[limits]\nbogus = 1\n", "bogus"),
    ('[await]\nmode = "later"\n', "mode"),
    ('[await]\ndeadline = "soon"\n', "deadline"),
    ("[await]\ndeadline = 0\n", "deadline"),
    ('[report]\nhtml = "yes"\n', "html"),
    ("[emulator]\nfault_rate = 1.5\n", "fault_rate"),
    ('[emulator]\nplays = ["nope"]\n', "plays"),
    ('[emulator]\nplays = "huawei-zero-quota"\n', "plays"),
    ('[audio]\nsample_rate = "fast"\n', "sample_rate"),
    ("[audio]\nloudness = 3\n", "loudness"),
    ("[surprise]\nx = 1\n", "surprise"),
]


@pytest.mark.parametrize(("extra", "named"), REJECTED, ids=[r[1] for r in REJECTED])
def test_rejected_cases_are_rejected_by_both(extra: str, named: str, tmp_path: Path) -> None:
    """A bad key or value is refused by the loader and by the schema alike."""
    text = BASE["huawei-metastudio"] + extra
    assert schema_errors(text), f"the schema accepts {extra!r}"
    if "plays" in extra and "[" in extra.split("=", 1)[1]:
        return  # the names are checked where the emulator is started (tests/cli)
    with pytest.raises(ConfigError, match=named):
        loads(tmp_path, text)


PROVIDER_REJECTED = [
    'kind = "huawei-metastudio"\nendpoint = "emulator"\napi_version = "2026-01-01"\n',
    'kind = "huawei-metastudio"\nendpoint = "emulator"\nedition = "gold"\n',
    (
        'kind = "huawei-metastudio"\nendpoint = "emulator"\nedition = "advance"\n'
        'upload_mode = "segment"\n'
    ),
    'kind = "huawei-metastudio"\nendpoint = "emulator"\nproject_id = "a b"\n',
    'kind = "azure-personal-voice"\nendpoint = "emulator"\nedition = "basic"\n',
    'kind = "azure-personal-voice"\nendpoint = "emulator"\nproject = "x"\n',
    'kind = "azure-personal-voice"\nendpoint = "emulator"\nupload_mode = "package"\n',
    'kind = "google"\nendpoint = "emulator"\n',
    'kind = "huawei-metastudio"\n',
]


@pytest.mark.parametrize("provider", PROVIDER_REJECTED)
def test_rejected_provider_tables_are_rejected_by_both(provider: str, tmp_path: Path) -> None:
    """Keys of the other provider, bad choices and the segment/edition rule: both refuse."""
    text = '[batch]\nname = "b"\ninbox = "in"\nstate_dir = "var"\n\n[provider]\n' + provider
    assert schema_errors(text), f"the schema accepts {provider!r}"
    with pytest.raises(ConfigError):
        loads(tmp_path, text)


def test_voice_schema_agrees_with_discovery(tmp_path: Path) -> None:
    """voice.toml values the schema refuses are the ones discovery rejects, and vice versa."""
    validator = jsonschema.Draft202012Validator(voice_schema())
    cases = {
        'voice_name = "a"\nsex = "FEMALE"\ntag = "NEWS"\n': True,
        'voice_name = "a"\nsex = "female"\n': False,
        'voice_name = "a"\ntag = "SPORTS"\n': False,
        'voice_name = "a"\ncolour = "red"\n': False,
        'sex = "MALE"\n': False,
        f'voice_name = "{"x" * 300}"\n': False,
    }
    for index, (text, good) in enumerate(cases.items()):
        inbox = tmp_path / f"in{index}"
        (inbox / "v").mkdir(parents=True)
        (inbox / "v" / "voice.toml").write_text(text)
        found = discover(inbox)
        rejected = any(f.code.startswith("voice.") for f in found[0].findings)
        assert validator.is_valid(tomllib.loads(text)) is good, text
        assert rejected is not good, (text, found[0].findings)


def test_a_reader_asking_for_an_undeclared_key_fails() -> None:
    """A key read without a declaration in pipeline.config.keys (so without docs) is a bug."""
    from pipeline.config.tables import Source, Table

    table = Table(Source(Path("job.toml"), ""), "limits", {"new_knob": 1})
    with pytest.raises(KeyError, match="not declared"):
        table.integer("new_knob", 1)
