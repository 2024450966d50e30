"""English questions against Chinese text: a lexicon induced from the embedding model itself.

Every Chinese word of the corpus (jieba, two characters or more) is embedded once at index
time. An English question's content words are embedded at query time and each brings its
nearest corpus words above a similarity floor (software -> 软件, companies -> 企业/公司,
located -> 位于) into the BM25 query, so BM25 takes part for English questions too. Measured on
the English questions of tests/fixtures: with dense retrieval alone 6 of 8 had the right
passage in the top 3 (two at ranks 7 and 9); with the expansion all 8 were in the top 2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embedder import Embedder
from index.lexical import CJK, dictionary_tags

TERMS_JSON = "terms.json"
TERMS_NPY = "terms.npy"
MAX_TERMS = 20_000  # SHUZI_LEXICON_MAX_TERMS
MIN_TERMS = 1_000
TERMS_PER_PASSAGE = 2
SIMILARITY_FLOOR = 0.88
PER_WORD = 2
TRANSLATION_FLOOR = 0.85
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9&]*(?:-[A-Za-z]+)*|\d+[A-Za-z]+|\d+(?:\.\d+)?")
# jieba's tags of words an English question does not ask for: adverbs, conjunctions,
# prepositions, pronouns, numerals and quantities, time and direction words, particles.
_FUNCTION_TAGS = frozenset("cdpmqrtfuyeo")
_EN_STOP = {
    "how",
    "many",
    "much",
    "what",
    "which",
    "who",
    "whom",
    "where",
    "when",
    "why",
    "does",
    "do",
    "did",
    "is",
    "are",
    "was",
    "were",
    "the",
    "a",
    "an",
    "of",
    "in",
    "on",
    "to",
    "for",
    "from",
    "and",
    "or",
    "by",
    "with",
    "it",
    "its",
    "there",
    "have",
    "has",
    "had",
    "be",
    "been",
    "that",
    "this",
    "these",
    "those",
    "per",
    "s",
    "comes",
    "come",
    "get",
    "got",
    "about",
    "into",
}


def is_content_word(word: str, tags: dict[str, str]) -> bool:
    """Two characters or more, Chinese, and not a function word by jieba's dictionary
    (adverbs, conjunctions, prepositions, pronouns, numerals, measure and time words). Words
    outside the dictionary (names, new terms such as 智造 or 株机) are content words."""
    return (
        len(word) >= 2 and bool(CJK.search(word)) and tags.get(word, "x")[:1] not in _FUNCTION_TAGS
    )


def lexicon_size(passages: int, *, max_terms: int = MAX_TERMS) -> int:
    """How many corpus words the lexicon holds: all of a small corpus's (up to MIN_TERMS),
    TERMS_PER_PASSAGE per passage beyond that, never more than max_terms. Embedding a word
    costs about a third of a passage's sentence units, so the lexicon stays a small part of
    a build at any size (measured in bench/run.py)."""
    return min(max_terms, max(MIN_TERMS, TERMS_PER_PASSAGE * passages))


def vocabulary(frequencies: dict[str, int], *, size: int) -> list[str]:
    """The `size` content words in most passages (ties by the word), sorted.

    Dropping the function words took the lexicon of the first article from 910 words to 800
    with the same ranks for every English question of the fixtures.
    """
    tags = dictionary_tags()
    content = [(df, w) for w, df in frequencies.items() if is_content_word(w, tags)]
    content.sort(key=lambda x: (-x[0], x[1]))
    return sorted(w for _, w in content[:size])


def english_words(question: str) -> list[str]:
    if CJK.search(question):
        return []
    return [w for w in dict.fromkeys(_EN_WORD.findall(question)) if w.lower() not in _EN_STOP]


class TermLexicon:
    """Corpus words and their vectors (float16 on disk, float32 in memory for the products)."""

    def __init__(self, terms: list[str], vectors: np.ndarray) -> None:
        self.terms = terms
        self.vectors = np.asarray(vectors, dtype=np.float32)

    def expand(self, embedder: Embedder, question: str) -> str:
        """The corpus words nearest to the question's English words, as a BM25 query."""
        words = english_words(question)
        if not words or not self.terms:
            return ""
        return self.read(embedder.embed_queries(words), words)[0]

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


def build_lexicon(
    embedder: Embedder,
    frequencies: dict[str, int],
    *,
    size: int,
    reuse: dict[str, np.ndarray] | None = None,
) -> TermLexicon:
    """The lexicon of a corpus from its words' document frequencies: the `size` most common
    content words; vectors of words known before (`reuse`, the parent's lexicon) are kept,
    only new words are embedded."""
    reuse = reuse or {}
    terms = vocabulary(frequencies, size=size)
    vectors = np.zeros((len(terms), embedder.dim), dtype=np.float32)
    missing = []
    for i, t in enumerate(terms):
        known = reuse.get(t)
        if known is not None and len(known) == embedder.dim:
            vectors[i] = known
        else:
            missing.append(i)
    if missing:
        # words are a few tokens long: large batches cost little padding
        vectors[missing] = embedder.embed_queries([terms[i] for i in missing], batch_size=256)
    return TermLexicon(terms, vectors)
