"""Chinese text as tokens: jieba words, character bigrams, part-of-speech tags, and the
Chinese-character pattern that tells Chinese text from English."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Sequence
from functools import cache

from corpus import normalize_for_search

log = logging.getLogger(__name__)

# A Chinese character (the CJK Unified Ideographs block): tells Chinese text from English.
CJK = re.compile(r"[\u4e00-\u9fff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")
_TOKEN_CHAR = re.compile(r"[\w\u3400-\u9fff]")


def bigram_tokens(text: str) -> list[str]:
    """CJK character bigrams (a lone character stays a unigram), ASCII words and numbers."""
    text = normalize_for_search(text)
    tokens: list[str] = []
    for run in _CJK_RUN.findall(text):
        tokens.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    tokens.extend(_WORD.findall(text))
    return tokens


# jieba 0.42 and milvus-lite 2.5 import pkg_resources (setuptools < 81 is pinned for them),
# which warns on every start; the warning is theirs to fix, not the reader's to see.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)


@cache
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def jieba_tokens(text: str) -> list[str]:
    """jieba's search-engine mode: words and the shorter words inside long ones."""
    return [
        t
        for t in _jieba().lcut_for_search(normalize_for_search(text))
        if t.strip() and _TOKEN_CHAR.search(t)
    ]


def jieba_words_with_tags(text: str) -> list[tuple[str, str]]:
    """jieba's words with part-of-speech tags (ns: place names)."""
    import jieba.posseg

    _jieba()
    return [(p.word, p.flag) for p in jieba.posseg.lcut(text)]


@cache
def dictionary_tags() -> dict[str, str]:
    """jieba's dictionary: word -> part-of-speech tag (n noun, v verb, d adverb, ...)."""
    import jieba.posseg

    _jieba()
    return dict(jieba.posseg.dt.word_tag_tab)


def jieba_frequencies() -> dict[str, int]:
    """jieba's dictionary word frequencies."""
    return _jieba().dt.FREQ  # type: ignore[no-any-return]


def jieba_words(text: str, tokens: Sequence[str], tokenizer: str) -> list[str]:
    """A passage's jieba words: read off its lexical tokens when the tokenizer is jieba's
    (so a build segments each passage once), segmented here otherwise."""
    if tokenizer.startswith("jieba"):
        return [t for t in tokens if not t.startswith("#")]
    return jieba_tokens(text)


def jieba_bigram_tokens(text: str) -> list[str]:
    return jieba_tokens(text) + [f"#{t}" for t in bigram_tokens(text)]


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "bigram": bigram_tokens,
    "jieba": jieba_tokens,
    "jieba+bigram": jieba_bigram_tokens,
}
