"""What the search and answer layers need from a store, as protocols.

The generation folder (index/stores/segment_reader.py: SQLite, FAISS, BM25 files) is one
implementation; a server-backed store (a vector database holding passages, vectors and BM25
postings) is another. The engine and the retriever are written against these, never against
files, so a second backend passes the same tests by implementing them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from corpus import Article, Figure, Passage
from index.records import ArticleInfo
from index.stores.layout import Draft
from index.stores.lexicon import TermLexicon
from index.text.questions import TermWeights


@runtime_checkable
class DenseIndex(Protocol):
    """The dense units (a passage's sentences) nearest to a question's vector."""

    @property
    def size(self) -> int:
        """How many units the index holds."""
        ...

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(unit ids, inner products) of the k nearest units, best first; ids are
        passage id * UNIT_SLOTS + unit number."""
        ...


@runtime_checkable
class LexicalSearch(Protocol):
    """BM25 over the passages' tokens."""

    def search(self, query: str, *, k: int, include: Sequence[int] = ()) -> dict[int, float]:
        """BM25 scores of the k best-matching passages (those that match at all), and of the
        passages in `include` (0.0 where they do not match), by passage id."""
        ...


@runtime_checkable
class PassageStore(Protocol):
    """One serving state of the index: its articles, passages, figures and searches."""

    @property
    def number(self) -> int:
        """The generation: answers say which one they came from."""
        ...

    @property
    def articles(self) -> dict[str, ArticleInfo]: ...

    @property
    def lexicon(self) -> TermLexicon | None:
        """The cross-lingual lexicon, when the index has one."""
        ...

    @property
    def dense(self) -> DenseIndex: ...

    @property
    def lexical_search(self) -> LexicalSearch: ...

    @property
    def passage_count(self) -> int: ...

    def passages(self, pids: Sequence[int]) -> dict[int, Passage]: ...

    def paragraph_passages(self, article_id: str, paragraph: int) -> list[tuple[int, Passage]]: ...

    def figures(self, pids: Sequence[int]) -> dict[int, list[Figure]]: ...

    def figures_with_metric(self, metric: str) -> list[tuple[int, Figure]]: ...

    def unit_vectors(self, pids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]: ...

    def term_weights(self) -> TermWeights: ...


@runtime_checkable
class IndexWriter(Protocol):
    """Writes the next generation of a backend from an optional parent. It leaves its work
    in temporary folders and hands back a Draft; it never publishes (IndexFolder.publish)."""

    compacts: bool  # can rewrite its parent's parts into one (`shuzi index merge`)

    def article_hashes(self) -> dict[str, str]:
        """{article id: content hash} of what the generation being written holds."""
        ...

    def remove_article(self, article_id: str) -> int: ...

    def add_article(
        self,
        article: Article,
        passages: Sequence[Passage],
        units: Sequence[tuple[Sequence[str], np.ndarray]],
        figures: Sequence[Sequence[Figure]] = (),
    ) -> list[int]: ...

    def vectors_by_text(self) -> dict[str, np.ndarray]:
        """The parent's unit vectors by unit text: a build afresh embeds only new text."""
        ...

    def clear(self) -> None:
        """Start from nothing (a build afresh)."""
        ...

    def tokenize_pending(self) -> int: ...

    def passage_count(self) -> int: ...

    def term_frequencies(self, *, refresh: bool = False) -> dict[str, int] | None:
        """Document frequency of every word of the live passages; None: keep the parent's
        lexicon (an add to a big archive, unless `refresh`)."""
        ...

    def draft(self, *, lexicon: TermLexicon | None = None, merge_all: bool = False) -> Draft:
        """The finished generation, in temporary folders; `merge_all`: its parts rewritten
        into one (writers that compact)."""
        ...

    def abort(self) -> None:
        """Remove everything written: nothing was published."""
        ...
