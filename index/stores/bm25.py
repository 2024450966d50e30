"""Lexical search: BM25 (bm25s) over a generation's passages, for exact names and figures."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from index.text.tokens import TOKENIZERS

logging.getLogger("bm25s").setLevel(logging.WARNING)


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


class Bm25Search:
    """LexicalSearch over a LexicalIndex whose rows are these passage ids (ascending)."""

    def __init__(self, index: LexicalIndex, pids: np.ndarray) -> None:
        self.index = index
        self.pids = pids

    def search(self, query: str, *, k: int, include: Sequence[int] = ()) -> dict[int, float]:
        n = len(self.pids)
        if n == 0:
            return {}
        scores = self.index.scores(query)
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        found = {int(self.pids[i]): float(scores[i]) for i in top if scores[i] > 0}
        if len(include):
            wanted = np.asarray(include, dtype=np.int64)
            rows = np.searchsorted(self.pids, wanted)
            for pid, row in zip(wanted.tolist(), rows.tolist(), strict=True):
                ok = row < n and self.pids[row] == pid
                found.setdefault(pid, float(scores[row]) if ok else 0.0)
        return found
