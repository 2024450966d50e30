"""Lexical search: BM25 over a generation's passages, for exact names and figures."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np
from scipy import sparse

from index.text.tokens import TOKENIZERS

logging.getLogger("bm25s").setLevel(logging.WARNING)

META = "shuzi-lexical.json"
VOCAB = "vocab.json"  # before vocab.sqlite: read, no longer written
VOCAB_DB = "vocab.sqlite"
POSTINGS = "postings.npz"  # before the three arrays below: read, no longer written
POSTING_ARRAYS = ("data", "indices", "indptr")
LENGTHS = "lengths.npy"


class MappedPostings:
    """Saved CSC postings, memory-mapped: what scoring reads (indptr, indices, data) without
    loading it; tocsc() gives an in-memory matrix to change."""

    def __init__(self, folder: Path, shape: tuple[int, int]) -> None:
        self.data, self.indices, self.indptr = (
            np.load(folder / f"postings-{name}.npy", mmap_mode="r") for name in POSTING_ARRAYS
        )
        self.shape = shape

    def tocsc(self) -> sparse.csc_matrix:
        return sparse.csc_matrix(
            (np.array(self.data), np.array(self.indices), np.array(self.indptr)),
            shape=self.shape,
        )


class DiskVocabulary:
    """Term -> column, in a read-only SQLite file beside the postings: a serving index looks
    up a question's few tokens there instead of holding every corpus token in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def columns(self, tokens: Iterable[str]) -> dict[str, int]:
        wanted = list(set(tokens))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self._lock:
            rows = self._db.execute(
                f"SELECT term, col FROM vocab WHERE term IN ({marks})", wanted
            ).fetchall()
        return dict(rows)

    def load_all(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT term, col FROM vocab ORDER BY col").fetchall()
        return dict(rows)

    @staticmethod
    def write(path: Path, vocab: dict[str, int]) -> None:
        path.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(
                "CREATE TABLE vocab (term TEXT PRIMARY KEY, col INTEGER NOT NULL) WITHOUT ROWID"
            )
            db.executemany("INSERT INTO vocab VALUES (?, ?)", vocab.items())
            db.commit()


_BLOCK = 1 << 20  # postings gathered per numpy block while building


class LexicalIndex:
    """BM25 (the Lucene variant bm25s computes) over one tokenizer; scores every document.

    The postings are a term-frequency matrix (documents x terms, CSC) with the documents'
    lengths, so the statistics (document frequencies, average length) are computed when a
    query is scored, and an add or remove changes rows instead of rebuilding the index.
    Scores equal bm25s's own (tests/index/test_bm25.py); generations written by bm25s are
    still read.
    """

    def __init__(self, *, tokenizer: str = "bigram", k1: float = 1.2, b: float = 0.75) -> None:
        if tokenizer not in TOKENIZERS:
            raise ValueError(
                f"unknown lexical tokenizer {tokenizer!r}: one of {sorted(TOKENIZERS)}"
            )
        self.tokenizer = tokenizer
        self._tokenize = TOKENIZERS[tokenizer]
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        self._disk_vocab: DiskVocabulary | None = None  # a loaded index's, until it changes
        self.tf: sparse.csc_matrix | MappedPostings = sparse.csc_matrix((0, 0), dtype=np.float32)
        self.lengths = np.zeros(0, dtype=np.float32)
        self._df = np.zeros(0, dtype=np.float32)
        self._norm = np.zeros(0, dtype=np.float32)
        self._legacy: bm25s.BM25 | None = None  # a generation written by bm25s
        self._legacy_size = 0

    @property
    def size(self) -> int:
        return int(self.tf.shape[0]) if self._legacy is None else self._legacy_size

    def build(self, texts: Sequence[str]) -> None:
        self.build_from_tokens([self._tokenize(t) for t in texts])

    def build_from_tokens(self, documents: Iterable[Sequence[str]]) -> None:
        """BM25 over documents already tokenized with this index's tokenizer."""
        self.vocab = {}
        self._disk_vocab = None
        self.tf = sparse.csc_matrix((0, 0), dtype=np.float32)
        self.lengths = np.zeros(0, dtype=np.float32)
        self._legacy = None
        self.append(documents)

    def _load_vocab(self) -> None:
        """The whole vocabulary in memory, to change it (writers only)."""
        if self._disk_vocab is not None:
            self.vocab = self._disk_vocab.load_all()
            self._disk_vocab = None

    def append(self, documents: Iterable[Sequence[str]]) -> None:
        """New documents after the present ones (passages are added in id order). The
        documents are read once, as they come: the postings are gathered in numpy blocks,
        not Python lists, so that a million passages fit in memory (bench/scale.py)."""
        self._load_vocab()
        blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        lengths: list[int] = []

        def flush() -> None:
            blocks.append(
                (
                    np.asarray(rows, dtype=np.int32),
                    np.asarray(cols, dtype=np.int32),
                    np.asarray(counts, dtype=np.float32),
                )
            )
            rows.clear()
            cols.clear()
            counts.clear()

        for row, tokens in enumerate(documents):
            tokens = list(tokens) or [""]  # as bm25s counts an empty document
            lengths.append(len(tokens))
            for token, n in Counter(tokens).items():
                rows.append(row)
                cols.append(self.vocab.setdefault(token, len(self.vocab)))
                counts.append(n)
            if len(rows) >= _BLOCK:
                flush()
        flush()
        new = sparse.csc_matrix(
            (
                np.concatenate([b[2] for b in blocks]),
                (np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])),
            ),
            shape=(len(lengths), len(self.vocab)),
        )
        blocks.clear()
        old = self.tf.tocsc()
        old.resize((old.shape[0], len(self.vocab)))
        self.tf = sparse.vstack([old, new], format="csc") if old.shape[0] else new
        self.lengths = np.concatenate([self.lengths, np.asarray(lengths, dtype=np.float32)])
        self._refresh_statistics()

    def remove_rows(self, rows: Sequence[int]) -> None:
        """Take documents out (their terms stay in the vocabulary, with fewer documents)."""
        if not len(rows):
            return
        keep = np.ones(self.tf.shape[0], dtype=bool)
        keep[np.asarray(rows, dtype=np.int64)] = False
        self.tf = self.tf.tocsc()[keep].tocsc()
        self.lengths = self.lengths[keep]
        self._refresh_statistics()

    def _refresh_statistics(self) -> None:
        """Document frequencies and length norms, derived once per change of the postings,
        not per query."""
        self._df = np.diff(self.tf.indptr).astype(np.float32)
        mean = float(self.lengths.mean()) if len(self.lengths) else 1.0
        self._norm = (self.k1 * ((1 - self.b) + self.b * self.lengths / mean)).astype(np.float32)

    def scores(self, query: str) -> np.ndarray:
        if self._legacy is not None:
            ids = self._legacy.get_tokens_ids(self._tokenize(query))
            if not ids:
                return np.zeros(self.size, dtype=np.float32)
            return np.asarray(self._legacy.get_scores(ids), dtype=np.float32)
        tokens = self._tokenize(query)
        columns = self.columns(tokens)
        df = {t: self._df[c] for t, c in columns.items()}
        return self.scores_of(tokens, columns, n=self.size, df=df, norm=self._norm)

    def columns(self, tokens: Iterable[str]) -> dict[str, int]:
        """The postings column of each of these tokens that the index knows."""
        if self._disk_vocab is not None:
            return self._disk_vocab.columns(tokens)
        return {t: self.vocab[t] for t in set(tokens) if t in self.vocab}

    def document_frequencies(self, columns: dict[str, int]) -> dict[str, np.float32]:
        return {t: self._df[c] for t, c in columns.items()}

    def length_norms(self, mean_length: float) -> np.ndarray:
        """The documents' length norms for an average length over a larger collection."""
        return (self.k1 * ((1 - self.b) + self.b * self.lengths / mean_length)).astype(np.float32)

    def scores_of(
        self,
        tokens: Sequence[str],
        columns: dict[str, int],
        *,
        n: int,
        df: dict[str, np.float32],
        norm: np.ndarray,
    ) -> np.ndarray:
        """BM25 of every document for these query tokens, with collection statistics given:
        this index's own, or those of all segments of a generation (SegmentedBm25)."""
        out = np.zeros(self.size, dtype=np.float32)
        if not columns or not n:
            return out
        indptr, indices, data = self.tf.indptr, self.tf.indices, self.tf.data
        for token in tokens:  # a token twice in the query counts twice, as in bm25s
            col = columns.get(token)
            if col is None:
                continue
            lo, hi = indptr[col], indptr[col + 1]
            if lo == hi:
                continue
            d = df[token]
            idf = np.log(1 + (n - d + 0.5) / (d + 0.5))
            rows, tf = indices[lo:hi], data[lo:hi]
            out[rows] += (idf * tf / (norm[rows] + tf)).astype(np.float32)
        return out

    def save(self, folder: Path) -> None:
        if self._legacy is not None:
            raise RuntimeError("a bm25s index is read only: rebuild it from its tokens")
        folder.mkdir(parents=True, exist_ok=True)
        self._load_vocab()
        meta = {
            "tokenizer": self.tokenizer,
            "k1": self.k1,
            "b": self.b,
            "size": self.size,
            "shape": list(self.tf.shape),
        }
        (folder / META).write_text(json.dumps(meta))
        DiskVocabulary.write(folder / VOCAB_DB, self.vocab)
        tf = self.tf.tocsc()
        for name in POSTING_ARRAYS:
            np.save(folder / f"postings-{name}.npy", getattr(tf, name))
        np.save(folder / LENGTHS, self.lengths)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """A saved index for serving: postings memory-mapped (the OS pages in the columns a
        question touches), the vocabulary looked up in SQLite."""
        meta = json.loads((folder / META).read_text())
        index = cls(tokenizer=meta["tokenizer"], k1=meta["k1"], b=meta["b"])
        if (folder / VOCAB_DB).exists():
            index._disk_vocab = DiskVocabulary(folder / VOCAB_DB)
            index.tf = MappedPostings(folder, (int(meta["shape"][0]), int(meta["shape"][1])))
            index.lengths = np.load(folder / LENGTHS)
            index._refresh_statistics()
        elif (folder / POSTINGS).exists():
            index.vocab = {t: i for i, t in enumerate(json.loads((folder / VOCAB).read_text()))}
            index.tf = sparse.load_npz(folder / POSTINGS).tocsc().astype(np.float32)
            index.lengths = np.load(folder / LENGTHS)
            index._refresh_statistics()
        elif int(meta["size"]):
            index._legacy = bm25s.BM25.load(str(folder), show_progress=False)
            index._legacy_size = int(meta["size"])
        return index

    @property
    def updatable(self) -> bool:
        return self._legacy is None


class Bm25Search:
    """LexicalSearch over a LexicalIndex whose rows are these passage ids (ascending)."""

    def __init__(self, index: LexicalIndex | None, pids: np.ndarray) -> None:
        self.index = index
        self.pids = pids

    def search(self, query: str, *, k: int, include: Sequence[int] = ()) -> dict[int, float]:
        if len(self.pids) == 0 or self.index is None:
            return {}
        return self.top(self.index.scores(query), k=k, include=include)

    def top(self, scores: np.ndarray, *, k: int, include: Sequence[int] = ()) -> dict[int, float]:
        """The k best of these scores (one per passage id, ascending) and those of `include`."""
        n = len(self.pids)
        if n == 0:
            return {}
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        found = {int(self.pids[i]): float(scores[i]) for i in top if scores[i] > 0}
        if len(include):
            wanted = np.asarray(include, dtype=np.int64)
            rows = np.searchsorted(self.pids, wanted)
            for pid, row in zip(wanted.tolist(), rows.tolist(), strict=True):
                ok = row < n and self.pids[row] == pid
                found.setdefault(pid, float(scores[row]) if ok else 0.0)
        return found


class SegmentedBm25:
    """LexicalSearch over the BM25 postings of a generation's segments, scored as one
    collection: the document count, the average length and each term's document frequency
    are summed over the segments, less the passages deleted since they were written. With one
    segment and nothing deleted, the scores are that segment's own (tested)."""

    def __init__(
        self,
        parts: Sequence[tuple[LexicalIndex, np.ndarray]],
        *,
        deleted_pids: np.ndarray,
        deleted_tokens: Iterable[Sequence[str]] = (),
    ) -> None:
        """parts: each segment's postings and the passage id of each of its rows;
        deleted_tokens: the lexical tokens of each deleted passage."""
        self.parts = [(index, pids) for index, pids in parts if index.size]
        self.tokenizer = TOKENIZERS[self.parts[0][0].tokenizer] if self.parts else None
        self._deleted_df: Counter[str] = Counter()
        deleted_length = n_deleted = 0
        for tokens in deleted_tokens:
            tokens = list(tokens) or [""]
            n_deleted += 1
            deleted_length += len(tokens)
            self._deleted_df.update(set(tokens))
        total = sum(float(index.lengths.sum()) for index, _ in self.parts) - deleted_length
        self.n = sum(index.size for index, _ in self.parts) - n_deleted
        mean = total / self.n if self.n > 0 else 1.0
        self._norms = [index.length_norms(mean) for index, _ in self.parts]
        self._gone_rows = [
            np.flatnonzero(np.isin(pids, deleted_pids)) if len(deleted_pids) else np.zeros(0, int)
            for _, pids in self.parts
        ]

    def search(self, query: str, *, k: int, include: Sequence[int] = ()) -> dict[int, float]:
        if self.n <= 0 or self.tokenizer is None:
            return {}
        tokens = self.tokenizer(query)
        columns = [index.columns(tokens) for index, _ in self.parts]
        df: dict[str, np.float32] = {}
        for (index, _), cols in zip(self.parts, columns, strict=True):
            for token, d in index.document_frequencies(cols).items():
                df[token] = np.float32(df.get(token, 0) + d)
        for token in df:
            df[token] = np.float32(df[token] - self._deleted_df.get(token, 0))
        found: dict[int, float] = {}
        for (index, pids), cols, norm, gone in zip(
            self.parts, columns, self._norms, self._gone_rows, strict=True
        ):
            scores = index.scores_of(tokens, cols, n=self.n, df=df, norm=norm)
            scores[gone] = 0.0  # deleted: never found (and 0.0 when included)
            # each part's best k, then the best k of those: no copy of a million scores
            for pid, score in Bm25Search(None, pids).top(scores, k=k, include=include).items():
                if score > found.get(pid, -1.0):
                    found[pid] = score
        if len(found) > k:
            wanted = {int(p) for p in include}
            best = sorted(found.items(), key=lambda kv: -kv[1])
            keep = {pid for pid, _ in best[:k]} | wanted
            found = {pid: score for pid, score in found.items() if pid in keep}
        return found
