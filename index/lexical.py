"""Lexical search: BM25 (bm25s) over Chinese tokens, for exact names and figures."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import bm25s
import numpy as np

from corpus import normalize_for_search

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)

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


class LexicalIndex:
    """BM25 over one tokenizer; scores every document for a query."""

    def __init__(self, *, tokenizer: str = "bigram", k1: float = 1.2, b: float = 0.75) -> None:
        if tokenizer not in TOKENIZERS:
            raise ValueError(
                f"unknown lexical tokenizer {tokenizer!r}: one of {sorted(TOKENIZERS)}"
            )
        self.tokenizer = tokenizer
        self._tokenize = TOKENIZERS[tokenizer]
        self.k1, self.b = k1, b
        self._bm25: bm25s.BM25 | None = None
        self.size = 0

    def build(self, texts: Sequence[str]) -> None:
        self.build_from_tokens([self._tokenize(t) for t in texts])

    def build_from_tokens(self, documents: Sequence[Sequence[str]]) -> None:
        """BM25 over documents already tokenized with this index's tokenizer."""
        self.size = len(documents)
        if not documents:
            self._bm25 = None
            return
        corpus = [list(tokens) or [""] for tokens in documents]
        bm25 = bm25s.BM25(k1=self.k1, b=self.b)
        bm25.index(corpus, show_progress=False)
        self._bm25 = bm25

    def scores(self, query: str) -> np.ndarray:
        if self._bm25 is None:
            return np.zeros(self.size, dtype=np.float32)
        ids = self._bm25.get_tokens_ids(self._tokenize(query))
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(ids), dtype=np.float32)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "shuzi-lexical.json").write_text(
            json.dumps(
                {
                    "tokenizer": self.tokenizer,
                    "k1": self.k1,
                    "b": self.b,
                    "size": self.size,
                }
            )
        )
        if self._bm25 is not None:
            self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        meta = json.loads((folder / "shuzi-lexical.json").read_text())
        index = cls(tokenizer=meta["tokenizer"], k1=meta["k1"], b=meta["b"])
        index.size = int(meta["size"])
        if index.size:
            index._bm25 = bm25s.BM25.load(str(folder), show_progress=False)
        return index
