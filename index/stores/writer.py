"""Writing one new generation: copy the parent, change articles, commit and switch."""

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

import faiss
import numpy as np

from corpus import CHUNKER_VERSION, Article, Figure, Passage
from index.stores.bm25 import LexicalIndex
from index.stores.generation import Generation
from index.stores.layout import (
    DEAD_SHARE_REBUILD,
    FAISS_NAME,
    LEXICAL_DIR,
    MANIFEST_NAME,
    SCHEMA,
    SQLITE_NAME,
    UNIT_SLOTS,
    IndexMismatchError,
    Manifest,
    connect,
    fsync_dir,
    generation_name,
    resolve_faiss_index,
    sha256_file,
)
from index.stores.lexicon import TermLexicon
from index.stores.store import IndexStore
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


class GenerationWriter:
    """Writes one new generation from an optional parent; commit() makes it current."""

    store_kind = "local"
    collection = ""

    def __init__(
        self,
        store: IndexStore,
        *,
        model: str,
        dim: int,
        lexical_tokenizer: str,
        faiss_index: str = "Flat",
        parent: Generation | None = None,
    ) -> None:
        self.store = store
        self.model, self.dim = model, dim
        self.lexical_tokenizer = lexical_tokenizer
        self.faiss_index = faiss_index
        self.resolved_faiss_index = faiss_index
        # what changed against the parent: the dense index is updated, not rebuilt, when it can
        self._cleared = False
        self._removed_uids: list[int] = []
        self._removed_pids: list[int] = []
        self._added_pids: list[int] = []
        self.parent = parent
        existing = store.generation_numbers()
        self.number = (max(existing) if existing else 0) + 1
        store.generations.mkdir(parents=True, exist_ok=True)
        store.clean_partial()
        self.folder = store.generations / f".tmp-{generation_name(self.number)}-{os.getpid()}"
        self.folder.mkdir()
        self.db = connect(self.folder / SQLITE_NAME)
        if parent is not None:
            with connect(parent.folder / SQLITE_NAME, readonly=True) as src:
                src.backup(self.db)
        self.db.executescript(SCHEMA)
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
        self._count_words([(r[0], json.loads(r[1])) for r in rows], +1)

    def _count_words(self, passages: Sequence[tuple[str, Sequence[str]]], sign: int) -> None:
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
        self._count_words([(r[0], json.loads(r[1])) for r in removed], -1)
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

    def _next_pid(self) -> int:
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
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                article.id,
                article.title,
                article.subtitle,
                json.dumps(list(article.authors), ensure_ascii=False),
                article.source,
                article.date,
                article.language,
                article.origin,
                json.dumps(article.extra, ensure_ascii=False, default=str),
                article.body,
                article.content_hash,
                time.strftime("%Y-%m-%dT%H:%M:%S"),
            ),
        )
        first = self._next_pid()
        pids = list(range(first, first + len(passages)))
        self._added_pids += pids
        self.db.executemany(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?)",
            [
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
            ],
        )
        rows: list[tuple[int, int, str, bytes]] = []
        for pid, (texts, vectors) in zip(pids, units, strict=True):
            if len(texts) != len(vectors) or not 0 < len(texts) < UNIT_SLOTS:
                raise ValueError(f"passage {pid}: {len(texts)} unit texts, {len(vectors)} vectors")
            rows.extend(
                (pid * UNIT_SLOTS + j, pid, t, np.asarray(v, dtype=np.float32).tobytes())
                for j, (t, v) in enumerate(zip(texts, vectors, strict=True))
            )
        self.db.executemany("INSERT INTO units VALUES (?,?,?,?)", rows)
        self.db.executemany(
            "INSERT INTO figures (pid, article_id, start, end, text, number, value, unit, kind, "
            "qualifier, metric, subject, period, change, sentence, modifier) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    pid,
                    article.id,
                    f.start,
                    f.end,
                    f.text,
                    f.number,
                    f.value,
                    f.unit,
                    f.kind,
                    f.qualifier,
                    f.metric,
                    f.subject,
                    f.period,
                    f.change,
                    f.sentence,
                    f.modifier,
                )
                for pid, figs in zip(pids, figures, strict=False)
                for f in figs
            ],
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
            self._count_words(
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

    def term_frequencies(self) -> dict[str, int]:
        """Every jieba word of the passages and the number of passages holding it."""
        return {r[0]: r[1] for r in self.db.execute("SELECT term, df FROM term_df")}

    # -- finishing -----------------------------------------------------------------------
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

    def _updated_faiss(self, n_units: int) -> faiss.Index | None:
        """The parent's dense index with this change applied (removed units taken out, new
        ones added), when that gives the same index as a rebuild would: same kind for this
        size, and removal only where the index supports it (exact search). An add to an
        archive then costs its own units, not a rebuild over all (12 of 23 s at 50,000
        passages, bench/scale.py). None: rebuild."""
        parent = self.parent
        if (
            parent is None
            or self._cleared
            or parent.manifest.model != self.model
            or parent.manifest.store != "local"
        ):
            return None
        factory = resolve_faiss_index(self.faiss_index, n_units)
        if parent.manifest.faiss_index != factory:
            return None
        index = faiss.read_index(str(parent.folder / FAISS_NAME))
        if self._removed_uids and factory == "Flat":
            index.remove_ids(np.array(self._removed_uids, dtype=np.int64))  # type: ignore[arg-type]
        elif self._removed_uids:
            # HNSW cannot take vectors out: they stay, marked dead, until a rebuild
            self.db.executemany(
                "INSERT OR IGNORE INTO dead_units VALUES (?)", [(u,) for u in self._removed_uids]
            )
        dead = int(self.db.execute("SELECT COUNT(*) FROM dead_units").fetchone()[0])
        if dead > DEAD_SHARE_REBUILD * max(n_units + dead, 1):
            return None
        if self._added_pids:
            lo, hi = min(self._added_pids) * UNIT_SLOTS, (max(self._added_pids) + 1) * UNIT_SLOTS
            uids, vectors = self._unit_vectors(
                "SELECT uid, embedding FROM units WHERE uid >= ? AND uid < ? ORDER BY uid",
                (lo, hi),
            )
            if len(uids):
                index.add_with_ids(vectors, uids)
        if index.ntotal != n_units + dead:
            return None  # not what a rebuild would hold: rebuild
        self.resolved_faiss_index = factory
        return index

    def _tokens(self, where: str, params: Sequence[object] = ()) -> Iterator[list[str]]:
        """The stored lexical tokens of passages, one passage at a time."""
        cursor = self.db.execute(
            "SELECT t.tokens FROM passages p JOIN lexical_tokens t ON t.pid = p.pid " + where,
            params,
        )
        while rows := cursor.fetchmany(10_000):
            for r in rows:
                yield json.loads(r[0])

    def _updated_lexical(self, n_passages: int) -> LexicalIndex | None:
        """The parent's BM25 postings with this change applied: removed passages' rows taken
        out, new passages' rows appended (their ids are above every older one). None:
        rebuild from the stored tokens."""
        parent = self.parent
        if (
            parent is None
            or self._cleared
            or parent.manifest.store != "local"
            or parent.manifest.lexical_tokenizer != self.lexical_tokenizer
        ):
            return None
        lexical = LexicalIndex.load(parent.folder / LEXICAL_DIR)
        if not lexical.updatable or lexical.size != len(parent.pids):
            return None
        removed = np.intersect1d(np.asarray(self._removed_pids, dtype=np.int64), parent.pids)
        lexical.remove_rows(np.searchsorted(parent.pids, removed).tolist())
        if self._added_pids:
            lexical.append(
                self._tokens(
                    "WHERE p.pid >= ? AND p.pid <= ? ORDER BY p.pid",
                    (min(self._added_pids), max(self._added_pids)),
                )
            )
        return lexical if lexical.size == n_passages else None

    def _build_faiss(self, n_units: int) -> faiss.Index:
        """The dense index over every stored unit, streamed from SQLite in chunks: trained on
        a sample where the index needs training, so that a build holds the index and one
        chunk, not every vector twice (bench/scale.py)."""
        factory = resolve_faiss_index(self.faiss_index, n_units)
        self.resolved_faiss_index = factory
        base = faiss.index_factory(self.dim, factory, faiss.METRIC_INNER_PRODUCT)
        if not base.is_trained:
            if n_units < 64:
                log.warning("too few passages to train %s; using an exact index", factory)
                base = faiss.IndexFlatIP(self.dim)
                self.resolved_faiss_index = "Flat"
            else:
                _, sample = self._unit_vectors(
                    "SELECT uid, embedding FROM units ORDER BY RANDOM() LIMIT ?",
                    (TRAIN_SAMPLE,),
                )
                base.train(sample)
        index = faiss.IndexIDMap2(base)
        last = -1
        while True:
            uids, vectors = self._unit_vectors(
                "SELECT uid, embedding FROM units WHERE uid > ? ORDER BY uid LIMIT ?",
                (last, ADD_CHUNK),
            )
            if not len(uids):
                return index
            index.add_with_ids(vectors, uids)
            last = int(uids[-1])

    def write_search_indexes(self, n_units: int, n_passages: int) -> int:
        """Write the dense and lexical indexes for the stored passages; returns the number of
        dense entries. Here: the FAISS file and the BM25 postings in the folder."""
        index = self._updated_faiss(n_units)
        if index is None:
            self.db.execute("DELETE FROM dead_units")
            index = self._build_faiss(n_units)
        faiss.write_index(index, str(self.folder / FAISS_NAME))
        lexical = self._updated_lexical(n_passages)
        if lexical is None:
            lexical = LexicalIndex(tokenizer=self.lexical_tokenizer)
            lexical.build_from_tokens(self._tokens("ORDER BY p.pid"))
        lexical.save(self.folder / LEXICAL_DIR)
        return int(index.ntotal)

    def commit(
        self, *, extra_counts: dict[str, int] | None = None, lexicon: TermLexicon | None = None
    ) -> Manifest:
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
        with (self.folder / MANIFEST_NAME).open("w") as f:
            f.write(manifest.to_json())
            f.flush()
            os.fsync(f.fileno())
        final = self.store.generations / generation_name(self.number)
        os.replace(self.folder, final)
        fsync_dir(self.store.generations)
        self.store.switch(self.number)
        self.store.prune()
        return manifest

    def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        shutil.rmtree(self.folder, ignore_errors=True)
