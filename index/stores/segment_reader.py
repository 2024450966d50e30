"""A loaded, verified generation: what readers search (FAISS, BM25, SQLite, lexicon)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from corpus import Article, Figure, Passage
from index.records import ArticleInfo
from index.stores.bm25 import Bm25Search, LexicalIndex
from index.stores.dense import FaissDense, RescoredDense, VectorFile
from index.stores.layout import (
    FAISS_NAME,
    LEXICAL_DIR,
    REBUILD_HINT,
    RESCORE_IDS,
    RESCORE_VECTORS,
    SQLITE_NAME,
    IndexCorruptError,
    Manifest,
    connect,
    figure_from_row,
    passage_from_row,
    rescored_base,
    search_parameters,
)
from index.stores.lexicon import TermLexicon
from index.stores.protocols import DenseIndex, LexicalSearch
from index.text.questions import TermWeights
from index.text.tokens import jieba_tokens, jieba_words


class SegmentReader:
    """One loaded, verified generation: what readers search. Read-only and thread-safe."""

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        self.folder = folder
        self.manifest = manifest
        self._db = connect(folder / SQLITE_NAME, readonly=True)
        self._lock = threading.Lock()
        self._vectors: VectorFile | None = None  # an index re-scored from a vector file
        self._load_search()
        self.lexicon = TermLexicon.load(folder)
        self.pids = np.array(
            [r[0] for r in self._db.execute("SELECT pid FROM passages ORDER BY pid")],
            dtype=np.int64,
        )
        self.articles: dict[str, ArticleInfo] = {info.id: info for info in self._article_infos()}
        try:
            dead = [r[0] for r in self._db.execute("SELECT uid FROM dead_units")]
        except sqlite3.OperationalError:  # built before removed units were kept
            dead = []
        self._dead = np.array(sorted(dead), dtype=np.int64)
        self._legacy_df: Counter[str] | None = None

    def _load_search(self) -> None:
        """The dense and lexical indexes: here files in the folder."""
        # memory-mapped: the vectors stay in the page cache and only the pages a question
        # touches are read, so a start does not read gigabytes and serving memory does not
        # grow with the archive (BENCHMARKS.md, issue 9); the index is never changed in place
        self.faiss = faiss.read_index(
            str(self.folder / FAISS_NAME), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
        )
        if params := search_parameters(self.manifest.faiss_index):
            faiss.ParameterSpace().set_index_parameters(self.faiss, params)  # type: ignore[arg-type]
        if rescored_base(self.manifest.faiss_index) is not None:
            self._vectors = VectorFile(
                self.folder / RESCORE_VECTORS, self.folder / RESCORE_IDS, self.manifest.dim
            )
        self.lexical = LexicalIndex.load(self.folder / LEXICAL_DIR)

    def check_counts(self) -> None:
        """Raise IndexCorruptError unless the passages and vectors are what the manifest says."""
        n = len(self.pids)
        counts = self.manifest.counts
        units = counts.get("dense_entries", counts.get("units"))
        if n != counts.get("passages") or self.faiss.ntotal != units:
            raise IndexCorruptError(
                f"{self.folder}: {n} passages in {SQLITE_NAME} and {self.faiss.ntotal} vectors "
                f"in {FAISS_NAME}, manifest says {counts.get('passages')} and {units}; "
                f"{REBUILD_HINT}"
            )
        if self.faiss.d != self.manifest.dim:
            raise IndexCorruptError(
                f"{self.folder}: vector dimension {self.faiss.d} != {self.manifest.dim}"
            )
        if self._vectors is not None:
            rows, ids = self._vectors.rows, len(self._vectors.ids)
            if not rows == ids == self.faiss.ntotal:
                raise IndexCorruptError(
                    f"{self.folder}: {rows} vectors in {RESCORE_VECTORS} and {ids} ids in "
                    f"{RESCORE_IDS} for {self.faiss.ntotal} in {FAISS_NAME}; {REBUILD_HINT}"
                )

    @property
    def number(self) -> int:
        return self.manifest.generation

    @property
    def dense(self) -> DenseIndex:
        return self.dense_index(self._dead)

    def dense_index(self, dead: np.ndarray) -> FaissDense:
        """The dense index with these units left out of its results."""
        if self._vectors is not None:
            return RescoredDense(self.faiss, self._vectors, dead)
        return FaissDense(self.faiss, dead)

    @property
    def lexical_search(self) -> LexicalSearch:
        return Bm25Search(self.lexical, self.pids)

    @property
    def passage_count(self) -> int:
        return len(self.pids)

    def _article_infos(self) -> Iterator[ArticleInfo]:
        rows = self._db.execute(
            "SELECT a.id, a.title, a.date, a.source, a.subtitle, a.authors, a.content_hash, "
            "a.origin, (SELECT COUNT(*) FROM passages p WHERE p.article_id = a.id) AS n "
            "FROM articles a ORDER BY a.added_at, a.id"  # not the bodies: an archive's are GBs
        )
        for r in rows:
            yield ArticleInfo(
                id=r["id"],
                title=r["title"],
                date=r["date"] or "",
                source=r["source"] or "",
                subtitle=r["subtitle"] or "",
                authors=tuple(json.loads(r["authors"] or "[]")),
                content_hash=r["content_hash"],
                passages=r["n"],
                url=r["origin"] if (r["origin"] or "").startswith(("http://", "https://")) else "",
            )

    def term_weights(self) -> TermWeights:
        """Term weights from the stored document frequencies (a vocabulary-sized table, read
        once), or from every passage's words for a generation built before they were stored."""
        with self._lock:
            try:
                rows = self._db.execute("SELECT term, df FROM term_df").fetchall()
            except sqlite3.OperationalError:
                rows = []
        if rows or not len(self.pids):
            return TermWeights.from_frequencies({r[0]: r[1] for r in rows}, len(self.pids))
        return TermWeights(words=self.passage_words())

    def passage_words(self) -> Iterator[list[str]]:
        """Each passage's jieba words: read off the stored lexical tokens when the index was
        built with a jieba tokenizer (no segmenting at load, which matters for big archives),
        segmented from the search text otherwise."""
        tokenizer = self.manifest.lexical_tokenizer
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT p.search_text, t.tokens FROM passages p LEFT JOIN lexical_tokens t "
                    "ON t.pid = p.pid AND t.tokenizer = ? ORDER BY p.pid",
                    (tokenizer,),
                ).fetchall()
            except sqlite3.OperationalError:  # built before tokens were stored
                rows = self._db.execute(
                    "SELECT search_text, NULL FROM passages ORDER BY pid"
                ).fetchall()
        for text, tokens in rows:
            if tokens is None:
                yield jieba_tokens(text)
            else:
                yield jieba_words(text, json.loads(tokens), tokenizer)

    def passages(self, pids: Sequence[int]) -> dict[int, Passage]:
        if not pids:
            return {}
        marks = ",".join("?" * len(pids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM passages WHERE pid IN ({marks})", [int(p) for p in pids]
            ).fetchall()
        return {r["pid"]: passage_from_row(r) for r in rows}

    def figures(self, pids: Sequence[int]) -> dict[int, list[Figure]]:
        """The figures of these passages, in reading order."""
        out: dict[int, list[Figure]] = {int(p): [] for p in pids}
        if not pids:
            return out
        marks = ",".join("?" * len(pids))
        for r in self.query(
            f"SELECT * FROM figures WHERE pid IN ({marks}) ORDER BY pid, start",
            [int(p) for p in pids],
        ):
            out[r["pid"]].append(figure_from_row(r))
        return out

    def find_figures(self, keyword: str, *, limit: int = 200) -> list[tuple[int, Figure]]:
        """Figures whose metric, subject, change words (同比增长, 提升) or text mention the
        keyword."""
        like = f"%{keyword}%"
        rows = self.query(
            "SELECT * FROM figures WHERE metric LIKE ? OR subject LIKE ? OR change LIKE ? "
            "OR text LIKE ? ORDER BY article_id, pid, start LIMIT ?",
            (like, like, like, like, limit),
        )
        return [(r["pid"], figure_from_row(r)) for r in rows]

    def figures_with_metric(self, metric: str) -> list[tuple[int, Figure]]:
        rows = self.query("SELECT * FROM figures WHERE metric = ? ORDER BY pid, start", (metric,))
        return [(r["pid"], figure_from_row(r)) for r in rows]

    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM passages WHERE article_id = ? ORDER BY seq", (article_id,)
            ).fetchall()
        return [(r["pid"], passage_from_row(r)) for r in rows]

    def unit_vectors(self, pids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The dense units of these passages: (unit ids, vectors)."""
        if not pids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.manifest.dim), np.float32)
        marks = ",".join("?" * len(pids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT uid, embedding FROM units WHERE pid IN ({marks})", [int(p) for p in pids]
            ).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.manifest.dim), np.float32)
        uids = np.array([r[0] for r in rows], dtype=np.int64)
        return uids, np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    def paragraph_passages(self, article_id: str, paragraph: int) -> list[tuple[int, Passage]]:
        """The passages a paragraph was cut into, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM passages WHERE article_id = ? AND paragraph = ? ORDER BY seq",
                (article_id, paragraph),
            ).fetchall()
        return [(r["pid"], passage_from_row(r)) for r in rows]

    def article_body(self, article_id: str) -> str:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
        return row["body"] if row else ""

    def stored_articles(self) -> list[Article]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM articles ORDER BY added_at, id").fetchall()
        return [article_from_row(r) for r in rows]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read-only SQL for the layers above (figures, stats)."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        self._db.close()
        if self._vectors is not None:
            self._vectors.close()

    # -- as a segment of a generation (segments.py) ---------------------------------------
    def holds(self, pid: int) -> bool:
        i = int(np.searchsorted(self.pids, pid))
        return i < len(self.pids) and int(self.pids[i]) == pid

    def next_pid(self) -> int:
        """The passage id after every one this folder has used (removed ones included)."""
        rows = self.query("SELECT value FROM meta WHERE key = 'next_pid'")
        top = int(self.pids[-1]) + 1 if len(self.pids) else 1
        return max(int(rows[0][0]) if rows else 1, top)

    def document_frequency(self, term: str) -> int:
        try:
            rows = self.query("SELECT df FROM term_df WHERE term = ?", (term,))
        except sqlite3.OperationalError:  # built before document frequencies were stored
            return self._legacy_frequencies().get(term, 0)
        return int(rows[0][0]) if rows else 0

    def vocabulary_size(self) -> int:
        """How many words have stored document frequencies."""
        try:
            return int(self.query("SELECT COUNT(*) FROM term_df")[0][0])
        except sqlite3.OperationalError:
            return len(self._legacy_frequencies())

    def all_document_frequencies(self) -> dict[str, int]:
        try:
            return {r[0]: r[1] for r in self.query("SELECT term, df FROM term_df")}
        except sqlite3.OperationalError:
            return dict(self._legacy_frequencies())

    def _legacy_frequencies(self) -> Counter[str]:
        if self._legacy_df is None:
            counts: Counter[str] = Counter()
            for words in self.passage_words():
                counts.update(set(words))
            self._legacy_df = counts
        return self._legacy_df

    def lexical_rows(self, pids: Sequence[int]) -> list[tuple[str, list[str]]]:
        """(search text, lexical tokens) of these passages, for the index's tokenizer."""
        out: list[tuple[str, list[str]]] = []
        for lo in range(0, len(pids), 10_000):  # under SQLite's limit of bound parameters
            chunk = [int(p) for p in pids[lo : lo + 10_000]]
            marks = ",".join("?" * len(chunk))
            rows = self.query(
                f"SELECT p.search_text, t.tokens FROM passages p JOIN lexical_tokens t "
                f"ON t.pid = p.pid WHERE t.tokenizer = ? AND p.pid IN ({marks})",
                [self.manifest.lexical_tokenizer, *chunk],
            )
            out += [(r[0], json.loads(r[1])) for r in rows]
        return out

    def dead_unit_ids(self) -> np.ndarray:
        return self._dead


def article_from_row(r: sqlite3.Row) -> Article:
    """An article as a generation's SQLite stores it."""
    return Article(
        id=r["id"],
        title=r["title"],
        body=r["body"],
        subtitle=r["subtitle"] or "",
        authors=tuple(json.loads(r["authors"] or "[]")),
        source=r["source"] or "",
        date=r["date"] or "",
        language=r["language"] or "zh",
        origin=r["origin"] or "",
        extra=json.loads(r["extra"] or "{}"),
    )


def read_articles_unchecked(path: Path) -> list[Article]:
    """The articles of a SQLite file opened read-only, trusting nothing else about it: what
    a rebuild salvages from a generation that can no longer be served."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [article_from_row(r) for r in db.execute("SELECT * FROM articles ORDER BY id")]
    finally:
        db.close()
