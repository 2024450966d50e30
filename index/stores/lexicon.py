"""The cross-lingual lexicon a generation stores: corpus words and their vectors, and how an
English question's words are read against them (index/search/crosslingual.py builds it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TERMS_JSON = "terms.json"
TERMS_NPY = "terms.npy"
SIMILARITY_FLOOR = 0.88
PER_WORD = 2
TRANSLATION_FLOOR = 0.85
NEIGHBOURS = 8  # the corpus words an English keyword may stand for, when looking up figures


class TermLexicon:
    """Corpus words and their vectors (float16 on disk, float32 in memory for the products)."""

    def __init__(self, terms: list[str], vectors: np.ndarray) -> None:
        self.terms = terms
        self.vectors = np.asarray(vectors, dtype=np.float32)

    def read(self, word_vectors: np.ndarray, words: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        """What an English question's words (and their vectors, embedded with the question
        in one call) bring, from one product with the lexicon:

        - the BM25 query: each word's PER_WORD nearest corpus words at SIMILARITY_FLOOR or
          above, and the words themselves (the Chinese text writes 5G, GDP, APP or IGBT as
          they are; BM25 ignores words it has never seen);
        - the translations, for reading figures' labels: the PER_WORD nearest corpus words of
          each word whose nearest is at TRANSLATION_FLOOR or above (live-streaming: 视频 0.87,
          直播 0.85), and the words in lower case (5g, gdp), as the text is searched. Looser
          than the BM25 query: a wrong word there only weighs a label, not what is found.
        """
        chosen: list[str] = []
        translated: list[str] = [w.lower() for w in words if w.isascii()]
        if len(word_vectors) and self.terms:
            sims = np.asarray(word_vectors, dtype=np.float32) @ self.vectors.T
            for row in sims:
                top = np.argsort(-row)[:PER_WORD]
                chosen.extend(self.terms[i] for i in top if row[i] >= SIMILARITY_FLOOR)
                if row[top[0]] >= TRANSLATION_FLOOR:
                    translated.extend(self.terms[i] for i in top)
        expansion = " ".join(dict.fromkeys([*chosen, *words])) if chosen or words else ""
        return expansion, tuple(dict.fromkeys(translated))

    def nearest(self, word_vectors: np.ndarray) -> list[str]:
        """The NEIGHBOURS nearest corpus words of each word at TRANSLATION_FLOOR or above:
        candidates for a figure lookup, to be sorted out by what they find."""
        if not len(word_vectors) or not self.terms:
            return []
        sims = np.asarray(word_vectors, dtype=np.float32) @ self.vectors.T
        found: list[str] = []
        for row in sims:
            top = np.argsort(-row)[:NEIGHBOURS]
            found.extend(self.terms[i] for i in top if row[i] >= TRANSLATION_FLOOR)
        return list(dict.fromkeys(found))

    def save(self, folder: Path) -> None:
        (folder / TERMS_JSON).write_text(json.dumps(self.terms, ensure_ascii=False))
        np.save(folder / TERMS_NPY, self.vectors.astype(np.float16))

    @classmethod
    def load(cls, folder: Path) -> TermLexicon | None:
        if not (folder / TERMS_JSON).exists():
            return None
        return cls(json.loads((folder / TERMS_JSON).read_text()), np.load(folder / TERMS_NPY))

    def known(self) -> dict[str, np.ndarray]:
        return dict(zip(self.terms, self.vectors, strict=True))
