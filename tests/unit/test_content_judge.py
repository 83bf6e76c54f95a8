"""The content pre-flight's parts: recognizer choice, verdicts, cache, messages, model folders,
and the recognizer itself on real espeak-ng speech."""

from __future__ import annotations

from pathlib import Path

import pocketsphinx
import pytest

from pipeline.audio.content import judge, store
from pipeline.audio.content.base import Fit, RecognizerSpec
from pipeline.audio.content.select import recognizer_for, voice_language
from pipeline.audio.content.sphinx import ModelError, SphinxRecognizer, check_model, model_files
from pipeline.records import VoiceMeta
from pipeline.report.heard import mismatch_message, split_mismatch
from tests.espeak import SENTENCES, speak

WHEEL = Path(pocketsphinx.get_model_path()) / "en-us"


def test_english_voices_get_the_wheel_model_and_others_none() -> None:
    """Any English tag hears with the wheel's en-US model; Chinese only with a folder."""
    assert recognizer_for("en-GB", {}) == RecognizerSpec(language="en-US")
    assert recognizer_for("zh-CN", {}) is None
    assert recognizer_for(None, {}) is None
    folder = Path("/models/zh")
    assert recognizer_for("zh-CN", {"zh": folder}) == RecognizerSpec("zh", folder)
    assert recognizer_for("ZH-cn", {"zh-CN": folder}) == RecognizerSpec("zh-CN", folder)


def test_voice_language_from_huawei_and_azure_metadata() -> None:
    """Huawei's CN/EN become BCP-47 tags; Azure's locale is used as it is."""
    assert voice_language(VoiceMeta(voice_name="a", language="CN")) == "zh-CN"
    assert voice_language(VoiceMeta(voice_name="a", language="EN")) == "en-US"
    assert voice_language(VoiceMeta(voice_name="a", locale="en-GB")) == "en-GB"
    assert voice_language(VoiceMeta(voice_name="a")) is None


def test_verdicts_follow_the_calibrated_lines() -> None:
    """No alignment or a far-off score is wrong; a weak stretch is a doubt; else ok."""
    words = (("the", 10, -2.0), ("birch", 30, -2.5), ("canoe", 30, -2.0))
    assert judge.verdict(Fit(aligned=False)) == "wrong"
    assert judge.verdict(Fit(aligned=True, score=-2.0, frames=70, words=words)) == "ok"
    assert judge.verdict(Fit(aligned=True, score=-3.4, frames=70, words=words)) == "doubt"
    assert judge.verdict(Fit(aligned=True, score=-4.6, frames=70, words=words)) == "wrong"
    bad = (("the", 10, -2.0), ("birch", 30, -6.5), ("canoe", 30, -2.0))
    assert judge.verdict(Fit(aligned=True, score=-2.0, frames=70, words=bad)) == "doubt"


def test_a_short_word_alone_is_not_the_worst_stretch() -> None:
    """A 10-frame word is judged with its neighbours (30 frames at least)."""
    fit = Fit(aligned=True, score=-2.0, words=(("of", 10, -11.0), ("lemons", 40, -2.0)))
    assert fit.worst == "of lemons"
    assert fit.worst_word == pytest.approx((10 * -11.0 + 40 * -2.0) / 50)


def test_another_clips_text_must_fit_clearly_better() -> None:
    """The closed set names a clip only when its text fits well and better than the own."""
    own = Fit(aligned=True, score=-3.6)
    close = Fit(aligned=True, score=-3.4)
    better = Fit(aligned=True, score=-1.5)
    assert judge.best_other(own, [(1, close), (2, better)]) == 2
    assert judge.best_other(own, [(1, close)]) is None
    assert judge.best_other(Fit(aligned=False), [(3, Fit(aligned=False))]) is None


def test_cache_round_trip(tmp_path: Path) -> None:
    """A fit and a free decode come back from the cache as they went in."""
    spec = RecognizerSpec(language="en-US")
    fit = Fit(aligned=True, score=-2.5, frames=40, words=(("hello", 40, -2.5),))
    k = store.key(spec, "sha", "hello")
    assert store.load_fit(tmp_path, k) is None
    store.store(tmp_path, k, fit)
    assert store.load_fit(tmp_path, k) == fit
    h = store.key(spec, "sha", None)
    store.store(tmp_path, h, "hello there")
    assert store.load_heard(tmp_path, h) == "hello there"
    assert store.key(spec, "sha", "hello") != store.key(spec, "sha2", "hello")


def test_mismatch_messages_split_back() -> None:
    """The report recovers heard and written from a finding's one-line message."""
    message = mismatch_message("the speech does not say it", "fit -5.0", "a b", 'say "hi"')
    assert split_mismatch(message) == ("the speech does not say it (fit -5.0)", "a b", 'say "hi"')
    assert split_mismatch("estimated SNR 28 dB") is None


def test_model_folders(tmp_path: Path) -> None:
    """The wheel's model loads from its folder; an empty or broken folder says what lacks."""
    files = model_files(WHEEL)
    assert files.dict.name == "cmudict-en-us.dict"
    assert files.lm.name == "en-us.lm.bin"
    check_model(WHEEL)
    with pytest.raises(ModelError, match="acoustic model"):
        check_model(tmp_path)
    broken = tmp_path / "broken"
    (broken / "am").mkdir(parents=True)
    (broken / "am" / "mdef").write_text("not a model", encoding="utf-8")
    (broken / "x.dict").write_text("hello HH AH L OW\n", encoding="utf-8")
    (broken / "x.lm.bin").write_bytes(b"junk")
    with pytest.raises(ModelError, match="cannot load"):
        check_model(broken)


def test_recognizer_hears_the_right_text_on_espeak_speech() -> None:
    """Its own sentence fits each espeak voice; another sentence is flagged for every one."""
    rec = SphinxRecognizer(RecognizerSpec(language="en-US"))
    for voice in ("en-us", "en-gb", "en-us+f3", "en-gb+m3"):
        samples, _ = speak(SENTENCES[0], voice=voice, rate=16000)
        assert judge.verdict(rec.fit(samples, SENTENCES[0])) != "wrong", voice
        assert judge.verdict(rec.fit(samples, SENTENCES[3])) != "ok", voice


def test_unknown_words_get_a_pronunciation() -> None:
    """A name the dictionary lacks is spelled out (with variants), not dropped."""
    rec = SphinxRecognizer(RecognizerSpec(language="en-US"))
    assert rec.words("Contoso, Zyxwar's 42!") == ["contoso", "zyxwar's", "four", "two"]
