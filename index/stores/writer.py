"""Writing one generation folder: copy the parent's SQLite, change articles, write the search
indexes and the manifest. Local generations use it for their segments (segments.py); a Milvus
generation is one such folder (milvus_writer.py)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from corpus import CHUNKER_VERSION, Article, Figure, Passage
from index.stores.bm25 import LexicalIndex
from index.stores.layout import (
    FAISS_NAME,
    LEXICAL_DIR,
    RESCORE_IDS,
    RESCORE_VECTORS,
    SCHEMA,
    SQLITE_NAME,
    UNIT_SLOTS,
    Draft,
    IndexFolders,
    IndexMismatchError,
    Manifest,
    WriterOptions,
    article_columns,
    connect,
    generation_name,
    new_faiss_index,
    rescored_base,
    resolve_faiss_index,
    sha256_file,
    write_manifest,
)
from index.stores.lexicon import TermLexicon
from index.text.tokens import TOKENIZERS, jieba_words

log = logging.getLogger(__name__)

# A full build adds vectors to the dense index this many at a time (1.5 GB of float32), and
# trains an index that needs training (IVF, scalar quantizers) on a random sample of this
# many. HNSW built in one add is better than in pieces on our vectors: at 100k passages
# (303k units) one add gave recall@10 0.869 and dev hit@1 0.973, adds of 50,000 gave 0.842
# and 0.919 (bench/scale.py, BENCHMARKS.md); so chunks only bound memory past a million units.
ADD_CHUNK = 1_000_000
TOKENIZE_BLOCK = 20_000  # passages tokenized per block
TRAIN_SAMPLE = 200_000


def _columns(db: sqlite3.Connection, table: str) -> str:
    return ",".join(r[1] for r in db.execute(f"PRAGMA main.table_info({table})"))


def copy_live_rows(
    writer: GenerationWriter,
    sources: Sequence[tuple[Path, Sequence[str]]],
    *,
    deleted_pids: Sequence[int],
) -> None:
    """Copy the rows of these SQLite files into a writer's, leaving out deleted passages and
    articles (each source: its SQLite file and the article ids deleted from it): what a merge
    (or a switch of tokenizer) starts from. Vectors and tokens are
    copied, not recomputed; document frequencies are summed less the deleted passages'."""
    db = writer.db
    db.execute("CREATE TEMP TABLE IF NOT EXISTS gone (pid INTEGER PRIMARY KEY)")
    db.execute("CREATE TEMP TABLE IF NOT EXISTS gone_articles (id TEXT PRIMARY KEY)")
    db.executemany("INSERT OR IGNORE INTO gone VALUES (?)", [(int(p),) for p in deleted_pids])
    next_pid = 1
    for path, deleted_articles in sources:
        db.execute("DELETE FROM gone_articles")
        db.executemany("INSERT INTO gone_articles VALUES (?)", [(a,) for a in deleted_articles])
        db.execute("ATTACH DATABASE ? AS src", (f"file:{path}?mode=ro",))
        try:
            removed = db.execute(
                "SELECT p.search_text, t.tokens FROM src.lexical_tokens t JOIN src.passages p "
                "ON p.pid = t.pid WHERE t.pid IN (SELECT pid FROM gone) AND t.tokenizer = ?",
                (writer.lexical_tokenizer,),
            ).fetchall()
            cols = _columns(db, "articles")
            db.execute(
                f"INSERT INTO main.articles ({cols}) SELECT {cols} FROM src.articles "
                "WHERE id NOT IN (SELECT id FROM gone_articles)"
            )
            for table in ("passages", "units", "lexical_tokens"):
                cols = _columns(db, table)
                db.execute(
                    f"INSERT INTO main.{table} ({cols}) SELECT {cols} FROM src.{table} "
                    "WHERE pid NOT IN (SELECT pid FROM gone)"
                )
            cols = ",".join(c for c in _columns(db, "figures").split(",") if c != "fid")
            db.execute(
                f"INSERT INTO main.figures ({cols}) SELECT {cols} FROM src.figures "
                "WHERE pid NOT IN (SELECT pid FROM gone)"
            )
            db.execute(
                "INSERT INTO main.term_df SELECT term, df FROM src.term_df WHERE true "
                "ON CONFLICT(term) DO UPDATE SET df = df + excluded.df"
            )
            row = db.execute("SELECT value FROM src.meta WHERE key = 'next_pid'").fetchone()
            top = db.execute("SELECT COALESCE(MAX(pid), 0) FROM src.passages").fetchone()[0]
            next_pid = max(next_pid, int(row[0]) if row else 1, top + 1)
            db.commit()
        finally:
            db.execute("DETACH DATABASE src")
        writer.count_words([(r[0], json.loads(r[1])) for r in removed], -1)
    writer.set_next_pid(max(next_pid, writer.next_pid()))


class GenerationWriter:
    """Writes one new generation from an optional parent; commit() makes it current."""

    store_kind = "local"
    collection = ""
    compacts = False

    def __init__(
        self,
        store: IndexFolders,
        options: WriterOptions,
        *,
        parent: Any = None,
        folder: Path | None = None,
        number: int | None = None,
    ) -> None:
        """A new generation from `parent` (its SQLite copied), or, given `folder` and
        `number`, a segment written there (see index/stores/segment_writer.py)."""
        self.store, self.options = store, options
        self.model, self.dim = options.model, options.dim
        self.lexical_tokenizer = options.lexical_tokenizer
        self.faiss_index = self.resolved_faiss_index = options.faiss_index
        # what changed against the parent: the dense index is updated, not rebuilt, when it can
        self._cleared = False
        self._removed_uids: list[int] = []
        self._removed_pids: list[int] = []
        self._added_pids: list[int] = []
        self.parent = parent
        if folder is None or number is None:
            existing = store.generation_numbers()
            number = (max(existing) if existing else 0) + 1
            store.generations.mkdir(parents=True, exist_ok=True)
            folder = store.generations / f".tmp-{generation_name(number)}-{os.getpid()}"
        self.number = number
        self.folder = folder
        self.folder.mkdir(parents=True)
        self.db = connect(self.folder / SQLITE_NAME)
        sources = getattr(parent, "sqlite_sources", None)  # a generation made of segments
        if parent is not None and sources is None:
            with connect(parent.folder / SQLITE_NAME, readonly=True) as src:
                src.backup(self.db)
        self.db.executescript(SCHEMA)
        if sources is not None:
            deleted = getattr(parent, "deleted_pids", ())
            copy_live_rows(self, sources(), deleted_pids=[int(p) for p in deleted])
        self._ensure_term_df()

    # -- content -------------------------------------------------------------------------
    def article_hashes(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.execute("SELECT id, content_hash FROM articles")}

    def _ensure_term_df(self) -> None:
        """Document frequencies of jieba words, kept as passages come and go; a parent built
        before they were stored gets them from its stored tokens once."""
        has_df = self.db.execute("SELECT 1 FROM term_df LIMIT 1").fetchone()
        has_tokens = self.db.execute("SELECT 1 FROM lexical_tokens LIMIT 1").fetchone()
        if has_df or not has_tokens:
            return
        rows = self.db.execute(
            "SELECT p.search_text, t.tokens FROM lexical_tokens t JOIN passages p "
            "ON p.pid = t.pid WHERE t.tokenizer = ?",
            (self.lexical_tokenizer,),
        ).fetchall()
        self.count_words([(r[0], json.loads(r[1])) for r in rows], +1)

    def count_words(self, passages: Sequence[tuple[str, Sequence[str]]], sign: int) -> None:
        """Add (or, sign -1, take away) passages' words to the document frequencies; each
        passage is its search text and lexical tokens."""
        counts: Counter[str] = Counter()
        for text, tokens in passages:
            counts.update(set(jieba_words(text, tokens, self.lexical_tokenizer)))
        self.db.executemany(
            "INSERT INTO term_df VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + ?",
            [(t, sign * n, sign * n) for t, n in counts.items()],
        )
        if sign < 0:
            self.db.execute("DELETE FROM term_df WHERE df <= 0")

    def remove_article(self, article_id: str) -> int:
        removed = self.db.execute(
            "SELECT p.search_text, t.tokens FROM lexical_tokens t JOIN passages p "
            "ON p.pid = t.pid WHERE p.article_id = ? AND t.tokenizer = ?",
            (article_id, self.lexical_tokenizer),
        ).fetchall()
        self.count_words([(r[0], json.loads(r[1])) for r in removed], -1)
        self._removed_pids += [
            r[0]
            for r in self.db.execute("SELECT pid FROM passages WHERE article_id = ?", (article_id,))
        ]
        self._removed_uids += [
            r[0]
            for r in self.db.execute(
                "SELECT uid FROM units "
                "WHERE pid IN (SELECT pid FROM passages WHERE article_id = ?)",
                (article_id,),
            )
        ]
        for table in ("units", "lexical_tokens"):
            self.db.execute(
                f"DELETE FROM {table} WHERE pid IN (SELECT pid FROM passages WHERE article_id = ?)",
                (article_id,),
            )
        self.db.execute("DELETE FROM figures WHERE article_id = ?", (article_id,))
        n = self.db.execute("DELETE FROM passages WHERE article_id = ?", (article_id,)).rowcount
        self.db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return n

    def next_pid(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'next_pid'").fetchone()
        top = self.db.execute("SELECT COALESCE(MAX(pid), 0) FROM passages").fetchone()[0]
        return max(int(row[0]) if row else 1, top + 1)

    def add_article(
        self,
        article: Article,
        passages: Sequence[Passage],
        units: Sequence[tuple[Sequence[str], np.ndarray]],
        figures: Sequence[Sequence[Figure]] = (),
    ) -> list[int]:
        """Store an article, its passages, and per passage its dense units (texts, vectors)
        and its figures."""
        if len(passages) != len(units):
            raise ValueError("one list of units per passage")
        self.db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", _article_row(article)
        )
        first = self.next_pid()
        pids = list(range(first, first + len(passages)))
        self._added_pids += pids
        self.db.executemany(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?)", _passage_rows(pids, passages)
        )
        self.db.executemany("INSERT INTO units VALUES (?,?,?,?)", _unit_rows(pids, units))
        self.db.executemany(
            f"INSERT INTO figures ({', '.join(_FIGURE_COLUMNS)}) "
            f"VALUES ({','.join('?' * len(_FIGURE_COLUMNS))})",
            _figure_rows(article.id, pids, figures),
        )
        self.db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('next_pid', ?)", (str(first + len(passages)),)
        )
        return pids

    def vectors_by_text(self) -> dict[str, np.ndarray]:
        """Existing vectors keyed by unit text, to re-use on a rebuild with the same model."""
        return {
            r[0]: np.frombuffer(r[1], dtype=np.float32)
            for r in self.db.execute("SELECT text, embedding FROM units")
        }

    def clear(self) -> None:
        self._cleared = True
        self.db.execute("DELETE FROM term_df")
        self.db.execute("DELETE FROM lexical_tokens")
        self.db.execute("DELETE FROM figures")
        self.db.execute("DELETE FROM units")
        self.db.execute("DELETE FROM passages")
        self.db.execute("DELETE FROM articles")

    def tokenize_pending(self) -> int:
        """Lexical tokens for the passages that have none for this tokenizer yet, stored so
        that later builds never tokenize them again, a block of passages at a time; returns
        how many passages were tokenized."""
        tokenize = TOKENIZERS[self.lexical_tokenizer]
        done = 0
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT p.pid, p.search_text FROM passages p LEFT JOIN lexical_tokens t "
                "ON t.pid = p.pid AND t.tokenizer = ? WHERE t.pid IS NULL AND p.pid > ? "
                "ORDER BY p.pid LIMIT ?",
                (self.lexical_tokenizer, last, TOKENIZE_BLOCK),
            ).fetchall()
            if not rows:
                return done
            tokens = [tokenize(text) for _, text in rows]
            self.count_words(
                [(text, toks) for (_, text), toks in zip(rows, tokens, strict=True)], +1
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO lexical_tokens VALUES (?,?,?)",
                [
                    (pid, self.lexical_tokenizer, json.dumps(toks, ensure_ascii=False))
                    for (pid, _), toks in zip(rows, tokens, strict=True)
                ],
            )
            done += len(rows)
            last = rows[-1][0]

    def passage_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0])

    def term_frequencies(self, *, refresh: bool = False) -> dict[str, int]:
        """Every jieba word of the passages and the number of passages holding it."""
        return {r[0]: r[1] for r in self.db.execute("SELECT term, df FROM term_df")}

    # -- finishing -----------------------------------------------------------------------
    def set_next_pid(self, pid: int) -> None:
        """Number this writer's passages from `pid` on (a segment continues its archive's)."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('next_pid', ?)", (str(pid),))

    def _unit_vectors(
        self, sql: str, params: Sequence[object] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        rows = self.db.execute(sql, params).fetchall()
        uids = np.array([r[0] for r in rows], dtype=np.int64)
        vectors = (
            np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            if rows
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        if vectors.shape[1] != self.dim:
            raise IndexMismatchError(
                f"stored vectors have dimension {vectors.shape[1]}, the model gives {self.dim}; "
                "run `shuzi index build`"
            )
        return uids, vectors

    def _tokens(self, where: str, params: Sequence[object] = ()) -> Iterator[list[str]]:
        """The stored lexical tokens of passages, one passage at a time."""
        cursor = self.db.execute(
            "SELECT t.tokens FROM passages p JOIN lexical_tokens t ON t.pid = p.pid " + where,
            params,
        )
        while rows := cursor.fetchmany(10_000):
            for r in rows:
                yield json.loads(r[0])

    def _build_faiss(self, n_units: int) -> faiss.Index:
        """The dense index over every stored unit, streamed from SQLite in chunks: trained on
        a sample where the index needs training, so that a build holds the index and one
        chunk, not every vector twice (bench/scale.py). An index re-scored from a vector
        file ("...+fp16") is the bare FAISS index (rows numbered as added), and the vectors
        and their unit ids are written beside it."""
        factory = resolve_faiss_index(self.faiss_index, n_units)
        self.resolved_faiss_index = factory
        for stale in (RESCORE_VECTORS, RESCORE_IDS):  # from an interrupted finish
            (self.folder / stale).unlink(missing_ok=True)
        rescored = rescored_base(factory)
        base = new_faiss_index(self.dim, rescored or factory)
        if not base.is_trained:
            if n_units < 64:
                log.warning("too few passages to train %s; using an exact index", factory)
                base = faiss.IndexFlatIP(self.dim)
                self.resolved_faiss_index = "Flat"
                rescored = None
            else:
                _, sample = self._unit_vectors(
                    "SELECT uid, embedding FROM units ORDER BY RANDOM() LIMIT ?",
                    (TRAIN_SAMPLE,),
                )
                base.train(sample)
        # IndexIDMap, not IDMap2: nothing reconstructs vectors (they are in SQLite), and
        # IDMap2's reverse map costs tens of bytes per vector of serving memory
        if not rescored:
            index = faiss.IndexIDMap(base)
            for uids, vectors in self._unit_chunks():
                index.add_with_ids(vectors, uids)
            return index
        ids: list[np.ndarray] = []
        with open(self.folder / RESCORE_VECTORS, "wb") as out:
            for uids, vectors in self._unit_chunks():
                base.add(vectors)
                out.write(vectors.astype(np.float16).tobytes())
                ids.append(uids)
        np.save(self.folder / RESCORE_IDS, np.concatenate(ids) if ids else np.zeros(0, np.int64))
        return base

    def _unit_chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored unit's id and vector, in id order, ADD_CHUNK at a time."""
        last = -1
        while True:
            uids, vectors = self._unit_vectors(
                "SELECT uid, embedding FROM units WHERE uid > ? ORDER BY uid LIMIT ?",
                (last, ADD_CHUNK),
            )
            if not len(uids):
                return
            yield uids, vectors
            last = int(uids[-1])

    def write_search_indexes(self, n_units: int, n_passages: int) -> int:
        """Write the dense and lexical indexes for the stored passages; returns the number of
        dense entries. Here: the FAISS file and the BM25 postings in the folder."""
        self.db.execute("DELETE FROM dead_units")
        index = self._build_faiss(n_units)
        faiss.write_index(index, str(self.folder / FAISS_NAME))
        del index
        lexical = LexicalIndex(tokenizer=self.lexical_tokenizer)
        lexical.build_from_tokens(self._tokens("ORDER BY p.pid"))
        lexical.save(self.folder / LEXICAL_DIR)
        return n_units

    def draft(
        self,
        *,
        extra_counts: dict[str, int] | None = None,
        lexicon: TermLexicon | None = None,
        merge_all: bool = False,
    ) -> Draft:
        """Finish the generation in its temporary folder (one part: `merge_all` changes
        nothing); the index folder publishes it."""
        return Draft(self.folder, self.finish(extra_counts=extra_counts, lexicon=lexicon))

    def finish(
        self, *, extra_counts: dict[str, int] | None = None, lexicon: TermLexicon | None = None
    ) -> Manifest:
        """Write the search indexes, the lexicon and, last, the manifest with every file's
        checksum into the (temporary) folder."""
        n_units = int(self.db.execute("SELECT COUNT(*) FROM units").fetchone()[0])
        self.tokenize_pending()
        n_passages = self.passage_count()
        dense_entries = self.write_search_indexes(n_units, n_passages)
        if lexicon is not None:
            lexicon.save(self.folder)
        n_articles = self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        counts = {
            "articles": n_articles,
            "passages": n_passages,
            "units": n_units,
            "dense_entries": dense_entries,
            **(extra_counts or {}),
        }
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(self.number),))
        self.db.commit()
        self.db.close()
        files = {
            str(p.relative_to(self.folder)): sha256_file(p)
            for p in sorted(self.folder.rglob("*"))
            if p.is_file()
        }
        manifest = Manifest(
            generation=self.number,
            model=self.model,
            dim=self.dim,
            chunker_version=CHUNKER_VERSION,
            lexical_tokenizer=self.lexical_tokenizer,
            faiss_index=self.resolved_faiss_index,
            counts=counts,
            files=files,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
            parent=self.parent.number if self.parent else None,
            store=self.store_kind,
            collection=self.collection,
        )
        write_manifest(self.folder, manifest)
        return manifest

    def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        shutil.rmtree(self.folder, ignore_errors=True)


# -- rows of the segment's tables ----------------------------------------------------------
_FIGURE_COLUMNS = (
    "pid", "article_id", "start", "end", "text", "number", "value", "unit", "kind",
    "qualifier", "metric", "subject", "period", "change", "sentence", "modifier",
)  # fmt: skip


def _article_row(article: Article) -> tuple[object, ...]:
    return (*article_columns(article), time.strftime("%Y-%m-%dT%H:%M:%S"))


def _passage_rows(pids: Sequence[int], passages: Sequence[Passage]) -> list[tuple[object, ...]]:
    return [
        (
            pid,
            p.article_id,
            p.seq,
            p.paragraph,
            p.piece,
            json.dumps(list(p.section_path), ensure_ascii=False),
            json.dumps(p.spans),
            p.text,
            p.search_text,
        )
        for pid, p in zip(pids, passages, strict=True)
    ]


def _unit_rows(
    pids: Sequence[int], units: Sequence[tuple[Sequence[str], np.ndarray]]
) -> list[tuple[int, int, str, bytes]]:
    """A passage's dense units: (unit id, pid, text, float32 vector bytes)."""
    rows: list[tuple[int, int, str, bytes]] = []
    for pid, (texts, vectors) in zip(pids, units, strict=True):
        if len(texts) != len(vectors) or not 0 < len(texts) < UNIT_SLOTS:
            raise ValueError(f"passage {pid}: {len(texts)} unit texts, {len(vectors)} vectors")
        rows.extend(
            (pid * UNIT_SLOTS + j, pid, t, np.asarray(v, dtype=np.float32).tobytes())
            for j, (t, v) in enumerate(zip(texts, vectors, strict=True))
        )
    return rows


def _figure_rows(
    article_id: str, pids: Sequence[int], figures: Sequence[Sequence[Figure]]
) -> list[tuple[object, ...]]:
    return [
        (pid, article_id, *(getattr(f, c) for c in _FIGURE_COLUMNS[2:]))
        for pid, figs in zip(pids, figures, strict=False)
        for f in figs
    ]
