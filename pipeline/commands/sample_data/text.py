"""Sample scripts: sentences in English and Chinese, written as transcripts in varied forms."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np

_FORMS: Final = ("txt", "tsv", "csv")
_ENCODINGS_EN: Final = ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be")
_ENCODINGS_CN: Final = (*_ENCODINGS_EN, "gbk", "gbk")  # GBK is what Chinese Windows writes

_EN_SUBJECTS: Final = (
    "The morning train", "Our new teacher", "The little bakery", "My younger sister",
    "The city library", "Every customer", "The weather report", "This old bridge",
    "The delivery driver", "Our football team", "The museum guide", "A friendly neighbour",
)  # fmt: skip
_EN_PREDICATES: Final = (
    "opens at nine on weekdays", "was painted bright blue last spring",
    "always remembers my name", "needs a few more minutes", "answered every question calmly",
    "sells fresh bread before sunrise", "will be closed for repairs", "called to say thank you",
    "moved to a larger building", "kept the children laughing", "arrived a little early today",
    "recommends the window seat",
)  # fmt: skip
_EN_ENDINGS: Final = (
    ".", " this week.", " according to the notice.", ", as far as I know.", " again.",
    " before the holidays.",
)  # fmt: skip
_CN_SUBJECTS: Final = (
    "今天的天气", "我们的老师", "楼下的面包店", "我的妹妹", "城市图书馆", "每位顾客",
    "这趟早班车", "那座老桥", "新来的同事", "博物馆的讲解员", "我们的球队", "隔壁的邻居",
)  # fmt: skip
_CN_PREDICATES: Final = (
    "比昨天暖和了许多", "每天早上九点开门", "总是记得我的名字", "还需要几分钟",
    "耐心地回答了每一个问题", "天亮前就开始卖新鲜面包", "下个月要关门维修", "打电话来表示感谢",
    "搬到了更大的地方", "让孩子们笑个不停", "今天来得比平时早", "推荐大家坐在窗边",
)  # fmt: skip
_CN_ENDINGS: Final = (
    "。",
    "，大家都很满意。",
    "，请提前做好准备。",
    "，我们都知道。",
    "！",
    "，真不错。",
)


def _sentences(rng: np.random.Generator, language: str, count: int) -> list[str]:
    """``count`` different sentences (up to 864 per language)."""
    subjects, predicates, endings = (
        (_CN_SUBJECTS, _CN_PREDICATES, _CN_ENDINGS)
        if language == "CN"
        else (_EN_SUBJECTS, _EN_PREDICATES, _EN_ENDINGS)
    )
    total = len(subjects) * len(predicates) * len(endings)
    out: list[str] = []
    for flat in rng.choice(total, size=min(count, total), replace=False):
        s, rest = divmod(int(flat), len(predicates) * len(endings))
        p, e = divmod(rest, len(endings))
        out.append(f"{subjects[s]}{'' if language == 'CN' else ' '}{predicates[p]}{endings[e]}")
    return out


def _normalized(text: str, language: str) -> str:
    """A stand-in for LJSpeech's third column, deliberately unlike the second."""
    if language == "CN":
        return "".join(ch for ch in text if ch not in "。，！")
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch == " ")


def _encode(text: str, encoding: str) -> bytes:
    # Explicit BOMs: Python's "utf-16" writes the machine's byte order, which is not portable.
    if encoding == "utf-16-le":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if encoding == "utf-16-be":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding)


def _write_transcripts(
    folder: Path,
    entries: list[tuple[str, str]],
    *,
    form: str,
    encoding: str,
    language: str,
    eol: str,
    third_column: bool,
) -> None:
    if form == "txt":
        for stem, text in entries:
            (folder / f"{stem}.txt").write_bytes(_encode(text + eol, encoding))
        return
    if form == "tsv":
        lines = [f"{stem}\t{text}" for stem, text in entries]
        name = "transcripts.tsv"
    else:
        lines = [
            f"{stem}|{text}|{_normalized(text, language)}" if third_column else f"{stem}|{text}"
            for stem, text in entries
        ]
        name = "metadata.csv"
    (folder / name).write_bytes(_encode(eol.join(lines) + eol, encoding))
