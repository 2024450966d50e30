"""The served generation of the local store: its immutable segments read as one index.

A segment is a folder in the format generation.py reads: some articles with their passages,
unit vectors, figures, FAISS index and BM25 postings, checksummed by its manifest. A
generation lists the segments it reads and the passages deleted from them since they were
written. A full build writes one segment; an add writes one small segment with only the new
articles (its passage ids continue the archive's) and a generation naming the parent's
segments and it; a remove only marks ids deleted. Nothing an older generation reads is
changed, so rollback, crash safety and stable ids hold as before, and an add costs its own
articles, not the archive (BENCHMARKS.md, issue 9).

Writing the next generation is segment_writer.py's. Searching a generation searches each
segment and merges: dense results by score; BM25 with
statistics summed over the segments less the deleted passages (SegmentedBm25), so the scores
are those one index over the live passages would give. When a generation would read more
than MAX_SEGMENTS segments, the newest run of small ones is merged into one; `shuzi index
merge` merges them all. Merges read the stored vectors and tokens: nothing is re-embedded.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from corpus import Article, Figure, Passage
from index.records import ArticleInfo
from index.stores.bm25 import SegmentedBm25
from index.stores.layout import (
    DELETED_ARTICLES,
    DELETED_PIDS,
    DELETED_UIDS,
    REBUILD_HINT,
    SQLITE_NAME,
    UNIT_SLOTS,
    IndexCorruptError,
    Manifest,
)
from index.stores.lexicon import TermLexicon
from index.stores.protocols import DenseIndex
from index.stores.segment_reader import SegmentReader
from index.text.questions import TermWeights
from index.text.tokens import jieba_words

log = logging.getLogger(__name__)

SEGMENT_KEY = "segment:"  # a generation manifest's checksum of a segment's manifest


def _merge_dense(
    parts: Sequence[tuple[np.ndarray, np.ndarray]], k: int
) -> tuple[np.ndarray, np.ndarray]:
    ids = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    order = np.argsort(-scores, kind="stable")[:k]
    return ids[order], scores[order]


class SegmentedDense:
    """DenseIndex over the segments' FAISS indexes: each searched, the best k kept."""

    def __init__(self, parts: Sequence[DenseIndex]) -> None:
        self.parts = [p for p in parts if p.size > 0]

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if len(self.parts) == 1:
            return self.parts[0].search(query, k)
        return _merge_dense([p.search(query, k) for p in self.parts], k)


class SegmentFrequencies(Mapping[str, int]):
    """Document frequencies of jieba words over a generation: looked up in the segments'
    stored tables, less the deleted passages' words; a big archive's vocabulary (millions of
    words) is never held in memory. Looked-up terms are cached."""

    CACHE = 100_000

    def __init__(self, segments: Sequence[SegmentReader], deleted: Counter[str]) -> None:
        self.segments = segments
        self.deleted = deleted
        self._cache: dict[str, int] = {}
        # a vocabulary that fits the cache is read whole, once: no query per new term
        self._complete = sum(s.vocabulary_size() for s in segments) <= self.CACHE
        if self._complete:
            self._cache = dict(self._all())

    def __getitem__(self, term: str) -> int:
        df = self._cache.get(term)
        if df is None and self._complete:
            df = 0
        elif df is None:
            df = sum(s.document_frequency(term) for s in self.segments) - self.deleted[term]
            if len(self._cache) >= self.CACHE:
                self._cache.clear()
            self._cache[term] = df
        if df <= 0:
            raise KeyError(term)
        return df

    def _all(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for s in self.segments:
            counts.update(s.all_document_frequencies())
        counts.subtract(self.deleted)
        return Counter({t: n for t, n in counts.items() if n > 0})

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class ServedGeneration:
    """One generation of the local store: its segments read as one, less what is deleted.
    Read-only and thread-safe like the segments it is made of (PassageStore)."""

    def __init__(self, folder: Path, manifest: Manifest, segments: Sequence[SegmentReader]) -> None:
        self.folder = folder
        self.manifest = manifest
        self.segments = list(segments)
        self.lexicon = TermLexicon.load(folder)
        self.deleted_pids = _load_ids(folder / DELETED_PIDS)
        self.deleted_uids = _load_ids(folder / DELETED_UIDS)
        path = folder / DELETED_ARTICLES
        # (segment, article id): an article removed and added again lives in a newer segment
        self.deleted_articles: frozenset[tuple[str, str]] = frozenset(
            (name, aid)
            for name, ids in (json.loads(path.read_text()) if path.exists() else {}).items()
            for aid in ids
        )
        self._gone = set(self.deleted_pids.tolist())
        self._home: dict[str, SegmentReader] = {}
        self.articles: dict[str, ArticleInfo] = {}
        for seg in self.segments:
            gone = {aid for name, aid in self.deleted_articles if name == seg.folder.name}
            live = (
                seg.articles
                if not gone
                else {aid: info for aid, info in seg.articles.items() if aid not in gone}
            )
            self.articles.update(live)
            self._home.update(dict.fromkeys(live, seg))
        self._ranges = [
            (int(s.pids[0]), int(s.pids[-1])) if len(s.pids) else (1, 0) for s in self.segments
        ]
        tokens: list[list[str]] = []
        words: Counter[str] = Counter()
        tokenizer = manifest.lexical_tokenizer
        for seg, pids in self._by_segment(self.deleted_pids.tolist()):
            for text, toks in seg.lexical_rows(pids):
                tokens.append(toks)
                words.update(set(jieba_words(text, toks, tokenizer)))
        self._deleted_words = words
        self.lexical_search = SegmentedBm25(
            [(s.lexical, s.pids) for s in self.segments],
            deleted_pids=self.deleted_pids,
            deleted_tokens=tokens,
        )
        self.dense = SegmentedDense(
            [
                s.dense_index(self._dead_in(s, lo, hi))
                for s, (lo, hi) in zip(self.segments, self._ranges, strict=True)
            ]
        )
        self._pids: np.ndarray | None = None

    def _dead_in(self, seg: SegmentReader, lo: int, hi: int) -> np.ndarray:
        uids = self.deleted_uids
        mine = uids[(uids >= lo * UNIT_SLOTS) & (uids < (hi + 1) * UNIT_SLOTS)]
        dead = seg.dead_unit_ids()
        return np.union1d(dead, mine) if len(mine) else dead

    def _by_segment(self, pids: Sequence[int]) -> Iterator[tuple[SegmentReader, list[int]]]:
        """The segments holding these passage ids, each with its own."""
        if not pids:
            return
        for seg, (lo, hi) in zip(self.segments, self._ranges, strict=True):
            mine = [p for p in pids if lo <= p <= hi]
            if mine:
                yield seg, mine

    def _live(self, pids: Sequence[int]) -> list[int]:
        return [int(p) for p in pids if int(p) not in self._gone]

    # -- PassageStore ---------------------------------------------------------------------
    @property
    def number(self) -> int:
        return self.manifest.generation

    @property
    def pids(self) -> np.ndarray:
        """Every live passage id, ascending."""
        if self._pids is None:
            pids = np.concatenate([s.pids for s in self.segments]) if self.segments else None
            if pids is None:
                pids = np.zeros(0, dtype=np.int64)
            if len(self.deleted_pids):
                pids = pids[~np.isin(pids, self.deleted_pids)]
            self._pids = pids
        return self._pids

    @property
    def passage_count(self) -> int:
        return sum(len(s.pids) for s in self.segments) - len(self.deleted_pids)

    @property
    def faiss(self) -> Any:
        """The FAISS index of a generation of one segment (tests and benchmarks)."""
        if len(self.segments) != 1:
            raise AttributeError(f"generation {self.number} has {len(self.segments)} segments")
        return self.segments[0].faiss

    @property
    def dense_entries(self) -> int:
        """Vectors in the segments' dense indexes, deleted ones included."""
        return sum(int(s.faiss.ntotal) for s in self.segments)

    def passages(self, pids: Sequence[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for seg, mine in self._by_segment(self._live(pids)):
            out.update(seg.passages(mine))
        return out

    def figures(self, pids: Sequence[int]) -> dict[int, list[Figure]]:
        out: dict[int, list[Figure]] = {int(p): [] for p in pids}
        for seg, mine in self._by_segment(self._live(pids)):
            out.update(seg.figures(mine))
        return out

    def figures_with_metric(self, metric: str) -> list[tuple[int, Figure]]:
        return [
            (pid, f)
            for seg in self.segments
            for pid, f in seg.figures_with_metric(metric)
            if pid not in self._gone
        ]

    def find_figures(self, keyword: str, *, limit: int = 200) -> list[tuple[int, Figure]]:
        found = [
            (pid, f)
            for seg in self.segments
            for pid, f in seg.find_figures(keyword, limit=limit + len(self._gone))
            if pid not in self._gone
        ]
        return found[:limit]

    def home(self, article_id: str) -> SegmentReader | None:
        """The segment holding a live article."""
        return self._home.get(article_id)

    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        seg = self._home.get(article_id)
        return seg.article_passages(article_id) if seg else []

    def paragraph_passages(self, article_id: str, paragraph: int) -> list[tuple[int, Passage]]:
        seg = self._home.get(article_id)
        return seg.paragraph_passages(article_id, paragraph) if seg else []

    def article_body(self, article_id: str) -> str:
        seg = self._home.get(article_id)
        return seg.article_body(article_id) if seg else ""

    def unit_vectors(self, pids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        parts = [seg.unit_vectors(mine) for seg, mine in self._by_segment(self._live(pids))]
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.manifest.dim), np.float32)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def term_weights(self) -> TermWeights:
        return TermWeights.from_frequencies(
            SegmentFrequencies(self.segments, self._deleted_words), self.passage_count
        )

    def passage_words(self) -> Iterator[list[str]]:
        for seg in self.segments:
            for pid, words in zip(seg.pids.tolist(), seg.passage_words(), strict=True):
                if pid not in self._gone:
                    yield words

    def stored_articles(self) -> list[Article]:
        return [
            a
            for seg in self.segments
            for a in seg.stored_articles()
            if (seg.folder.name, a.id) not in self.deleted_articles
        ]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """The rows of a read-only query in every segment, deleted passages' rows included."""
        return [r for seg in self.segments for r in seg.query(sql, params)]

    def dead_unit_ids(self) -> np.ndarray:
        parts = [s.dead_unit_ids() for s in self.segments] + [self.deleted_uids]
        return np.unique(np.concatenate(parts)).astype(np.int64)

    def check_counts(self) -> None:
        for seg in self.segments:
            seg.check_counts()
        expected = self.manifest.counts.get("passages")
        if self.passage_count != expected:
            raise IndexCorruptError(
                f"{self.folder}: its segments hold {self.passage_count} live passages, the "
                f"manifest says {expected}; {REBUILD_HINT}"
            )

    def sqlite_sources(self) -> list[tuple[Path, list[str]]]:
        """Each segment's SQLite and the articles deleted from it: what a writer copies the
        live rows from (copy_live_rows)."""
        return [
            (
                seg.folder / SQLITE_NAME,
                sorted(aid for name, aid in self.deleted_articles if name == seg.folder.name),
            )
            for seg in self.segments
        ]

    def close(self) -> None:
        """Segments are shared with other generations (IndexFolder keeps them open)."""


def _load_ids(path: Path) -> np.ndarray:
    return np.load(path) if path.exists() else np.zeros(0, dtype=np.int64)
