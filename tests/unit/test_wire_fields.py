"""The one JSON reader of provider answers: typed fields, camelCase keys, refusals by name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pipeline.errors import ProviderProtocolError
from pipeline.providers.azure.records import consent
from pipeline.providers.http.fields import record
from pipeline.providers.huawei.records import job_info


@dataclass(frozen=True, slots=True, kw_only=True)
class _Wire:
    voice_talent_name: str
    speaker_id: str | None = None
    count: int | None = None
    retries: int
    ok: bool
    names: tuple[str, ...] = ()


def test_record_reads_each_field_by_its_declared_type() -> None:
    """Required and optional fields, camelCase keys, a renamed key and a given value."""
    got = record(
        _Wire,
        {"voiceTalentName": "Ana", "spk": "s1", "count": 3.0, "ok": False, "names": ["a"]},
        camel=True,
        keys={"speaker_id": "spk"},
        retries=2,
    )
    assert got == _Wire(
        voice_talent_name="Ana", speaker_id="s1", count=3, retries=2, ok=False, names=("a",)
    )


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"ok": True}, "'voice_talent_name' is missing"),
        ({"voice_talent_name": 5, "ok": True}, "'voice_talent_name' is missing or not"),
        ({"voice_talent_name": "a", "ok": "yes"}, "'ok' is missing or not a boolean"),
        ({"voice_talent_name": "a", "ok": True, "count": True}, "'count' is not an integer"),
        ({"voice_talent_name": "a", "ok": True, "names": [1]}, "'names' is not an array of"),
    ],
)
def test_record_refuses_a_wrong_answer_naming_the_field(
    payload: dict[str, object], named: str
) -> None:
    """A missing or mistyped field is a ProviderProtocolError naming the key, not its value."""
    with pytest.raises(ProviderProtocolError, match=named):
        record(_Wire, payload, retries=0)


def test_record_refuses_a_type_it_has_no_reader_for() -> None:
    """A record declaring a type without a reader is a programming error that names the field."""

    @dataclass(frozen=True)
    class Odd:
        when: float

    with pytest.raises(TypeError, match=r"Odd\.when: no JSON reader for float"):
        record(Odd, {"when": 1.0})


def test_provider_parsers_read_through_it() -> None:
    """Azure's camelCase consent and Huawei's snake_case job parse to the records they name."""
    c = consent(
        {
            "id": "c1",
            "projectId": "p",
            "voiceTalentName": "Ana",
            "companyName": "Co",
            "locale": "en-US",
            "status": "Failed",
            "properties": {"failureReason": "AudioAndScriptNotMatch"},
            "lastActionDateTime": "2026-01-01T00:00:00Z",
        }
    )
    assert (c.voice_talent_name, c.failure_reason, c.last_action) == (
        "Ana",
        "AudioAndScriptNotMatch",
        "2026-01-01T00:00:00Z",
    )
    j = job_info({"job_id": "j", "state": "SUCCEED", "reject_times": None, "create_time": 7})
    assert (j.job_id, j.reject_times, j.create_time, j.voice_name) == ("j", 0, 7, None)
