"""Generations made of immutable segments (the local store).

A segment is a folder in the format generation.py reads: some articles with their passages,
unit vectors, figures, FAISS index and BM25 postings, checksummed by its manifest. A
generation lists the segments it reads and the passages deleted from them since they were
written. A full build writes one segment; an add writes one small segment with only the new
articles (its passage ids continue the archive's) and a generation naming the parent's
segments and it; a remove only marks ids deleted. Nothing an older generation reads is
changed, so rollback, crash safety and stable ids hold as before, and an add costs its own
articles, not the archive (BENCHMARKS.md, issue 9).

Searching a generation searches each segment and merges: dense results by score; BM25 with
statistics summed over the segments less the deleted passages (SegmentedBm25), so the scores
are those one index over the live passages would give. When a generation would read more
than MAX_SEGMENTS segments, the newest run of small ones is merged into one; `shuzi index
merge` merges them all. Merges read the stored vectors and tokens: nothing is re-embedded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from corpus import CHUNKER_VERSION, Article, Figure, Passage
from index.records import ArticleInfo
from index.stores.bm25 import SegmentedBm25
from index.stores.dense import FaissDense
from index.stores.generation import Generation
from index.stores.layout import (
    DEAD_SHARE_REBUILD,
    DELETED_ARTICLES,
    DELETED_PIDS,
    DELETED_UIDS,
    MANIFEST_NAME,
    MAX_SEGMENTS,
    REBUILD_HINT,
    SQLITE_NAME,
    UNIT_SLOTS,
    Draft,
    IndexCorruptError,
    IndexFolders,
    Manifest,
    generation_name,
    segment_name,
    sha256_file,
    write_manifest,
)
from index.stores.lexicon import TermLexicon
from index.stores.writer import GenerationWriter, copy_live_rows
from index.text.questions import TermWeights
from index.text.tokens import jieba_words

log = logging.getLogger(__name__)

# An add to an archive bigger than this keeps the parent's cross-lingual lexicon (the most
# common words of a million passages do not change with one article): summing the document
# frequencies of every word would cost the add seconds. Full builds and merges refresh it.
LEXICON_REFRESH_MAX = 100_000
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

    def __init__(self, parts: Sequence[FaissDense]) -> None:
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

    def __init__(self, segments: Sequence[Generation], deleted: Counter[str]) -> None:
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


class SegmentedGeneration:
    """One generation of the local store: its segments read as one, less what is deleted.
    Read-only and thread-safe like the segments it is made of (PassageStore)."""

    def __init__(self, folder: Path, manifest: Manifest, segments: Sequence[Generation]) -> None:
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
        self._home: dict[str, Generation] = {}
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

    def _dead_in(self, seg: Generation, lo: int, hi: int) -> np.ndarray:
        uids = self.deleted_uids
        mine = uids[(uids >= lo * UNIT_SLOTS) & (uids < (hi + 1) * UNIT_SLOTS)]
        dead = seg.dead_unit_ids()
        return np.union1d(dead, mine) if len(mine) else dead

    def _by_segment(self, pids: Sequence[int]) -> Iterator[tuple[Generation, list[int]]]:
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

    def home(self, article_id: str) -> Generation | None:
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
        """Segments are shared with other generations (IndexStore keeps them open)."""


def _load_ids(path: Path) -> np.ndarray:
    return np.load(path) if path.exists() else np.zeros(0, dtype=np.int64)


class SegmentedWriter:
    """Writes the next generation of the local store: one new segment with the articles
    added, the parent's segments kept, removed ids marked deleted (see the module's text)."""

    store_kind = "local"

    def __init__(
        self,
        store: IndexFolders,
        *,
        model: str,
        dim: int,
        lexical_tokenizer: str,
        faiss_index: str = "Flat",
        parent: Any = None,
    ) -> None:
        self.store = store
        self.model, self.dim = model, dim
        self.lexical_tokenizer = lexical_tokenizer
        self.faiss_index = faiss_index
        self.parent = parent
        existing = store.generation_numbers()
        self.number = (max(existing) if existing else 0) + 1
        store.generations.mkdir(parents=True, exist_ok=True)
        store.segments.mkdir(parents=True, exist_ok=True)
        self._tmp: list[Path] = []
        self._new: dict[str, Path] = {}  # segments written here: name -> temporary folder
        self.base: list[Generation] = []
        self.deleted_pids: set[int] = set()
        self.deleted_uids: set[int] = set()
        self.deleted_articles: set[tuple[str, str]] = set()  # (segment, article id)
        self._removed: set[str] = set()  # articles of the base removed by this writer
        continues = (
            isinstance(parent, SegmentedGeneration)
            and bool(parent.manifest.segments)  # not a generation from before segments
            and parent.manifest.model == model
            and parent.manifest.dim == dim
            and parent.manifest.lexical_tokenizer == lexical_tokenizer
        )
        if continues:
            self.base = list(parent.segments)
            self.deleted_pids = set(parent.deleted_pids.tolist())
            self.deleted_uids = set(parent.deleted_uids.tolist())
            self.deleted_articles = set(parent.deleted_articles)
        # the new segment; a parent that cannot be continued (another tokenizer, a generation
        # of Milvus or of the format before segments) is copied into it
        self.seg = self._segment_writer(parent=None if continues else parent)
        if self.base:
            self.seg.set_next_pid(max(s.next_pid() for s in self.base))
        self.resolved_faiss_index = faiss_index

    def _segment_writer(self, *, parent: Any = None) -> GenerationWriter:
        number = self.store.next_segment_number()
        folder = self.store.segments / f".tmp-{segment_name(number)}-{os.getpid()}"
        self._tmp.append(folder)
        return GenerationWriter(
            self.store,
            model=self.model,
            dim=self.dim,
            lexical_tokenizer=self.lexical_tokenizer,
            faiss_index=self.faiss_index,
            parent=parent,
            folder=folder,
            number=number,
        )

    # -- content, as GenerationWriter ---------------------------------------------------------
    def _base_home(self, article_id: str) -> Generation | None:
        """The base segment holding a live article of the parent, if any."""
        if not self.base or article_id in self._removed:
            return None
        return self.parent.home(article_id)

    def article_hashes(self) -> dict[str, str]:
        hashes = {}
        if self.base:
            hashes = {
                aid: info.content_hash
                for aid, info in self.parent.articles.items()
                if aid not in self._removed
            }
        hashes.update(self.seg.article_hashes())
        return hashes

    def remove_article(self, article_id: str) -> int:
        if article_id in self.seg.article_hashes():
            return self.seg.remove_article(article_id)
        seg = self._base_home(article_id)
        if seg is None:
            return 0
        pids = [pid for pid, _ in seg.article_passages(article_id)]
        uids, _ = seg.unit_vectors(pids)
        self.deleted_pids.update(pids)
        self.deleted_uids.update(uids.tolist())
        self.deleted_articles.add((seg.folder.name, article_id))
        self._removed.add(article_id)
        return len(pids)

    def add_article(
        self,
        article: Article,
        passages: Sequence[Passage],
        units: Sequence[tuple[Sequence[str], np.ndarray]],
        figures: Sequence[Sequence[Figure]] = (),
    ) -> list[int]:
        return self.seg.add_article(article, passages, units, figures)

    def _segment_path(self, name: str) -> Path:
        """A segment's folder: still temporary when this writer wrote it."""
        return self._new.get(name) or self.store.segments / name

    def vectors_by_text(self) -> dict[str, np.ndarray]:
        found = self.seg.vectors_by_text()
        for seg in self.parent.segments if isinstance(self.parent, SegmentedGeneration) else ():
            for text, blob in seg.query("SELECT text, embedding FROM units"):
                found.setdefault(text, np.frombuffer(blob, dtype=np.float32))
        return found

    def clear(self) -> None:
        self.base = []
        self.deleted_pids.clear()
        self.deleted_uids.clear()
        self.deleted_articles.clear()
        self.seg.clear()

    def tokenize_pending(self) -> int:
        return self.seg.tokenize_pending()

    def _base_passages(self) -> int:
        return sum(len(s.pids) for s in self.base) - len(self.deleted_pids)

    def passage_count(self) -> int:
        return self._base_passages() + self.seg.passage_count()

    def term_frequencies(self, *, refresh: bool = False) -> dict[str, int] | None:
        """Every jieba word of the live passages and the number of passages holding it; None
        when an add to a big archive keeps the parent's lexicon (LEXICON_REFRESH_MAX)."""
        if not refresh and self.base and self._base_passages() > LEXICON_REFRESH_MAX:
            return None
        counts: Counter[str] = Counter(self.seg.term_frequencies())
        deleted: Counter[str] = Counter()
        for seg in self.base:
            counts.update(seg.all_document_frequencies())
            mine = [p for p in self.deleted_pids if seg.holds(p)]
            for text, tokens in seg.lexical_rows(mine):
                deleted.update(set(jieba_words(text, tokens, self.lexical_tokenizer)))
        counts.subtract(deleted)
        return {t: n for t, n in counts.items() if n > 0}

    # -- finishing ------------------------------------------------------------------------
    def _finish_segment(self, writer: GenerationWriter) -> tuple[str, Manifest]:
        """A segment written whole in its temporary folder (published with the generation)."""
        manifest = writer.finish()
        name = segment_name(writer.number)
        self._new[name] = writer.folder
        return name, manifest

    def _merge(self, names: list[str]) -> tuple[str, Manifest]:
        """One segment with the live rows of these (FAISS and BM25 rebuilt from the stored
        vectors and tokens)."""
        writer = self._segment_writer()
        try:
            copy_live_rows(
                writer,
                [
                    (
                        self._segment_path(n) / SQLITE_NAME,
                        sorted(a for s, a in self.deleted_articles if s == n),
                    )
                    for n in names
                ],
                deleted_pids=sorted(self.deleted_pids),
            )
            merged = self._finish_segment(writer)
        except BaseException:
            writer.abort()
            raise
        for n in names:  # a segment this writer wrote and merged away is never published
            folder = self._new.pop(n, None)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        return merged

    def _merge_plan(self, sizes: list[int]) -> int:
        """Where the run of segments to merge starts (len(sizes): none). The newest segments
        are merged while the one before them is no bigger than they are together, so that
        segments grow geometrically and a big one is rarely rewritten."""
        if len(sizes) <= MAX_SEGMENTS:
            return len(sizes)
        start = len(sizes) - 2
        while start > 1 and sizes[start - 1] <= sum(sizes[start:]):
            start -= 1
        return min(start, MAX_SEGMENTS - 1)

    def draft(
        self,
        *,
        extra_counts: dict[str, int] | None = None,
        lexicon: TermLexicon | None = None,
        merge_all: bool = False,
    ) -> Draft:
        names = [s.folder.name for s in self.base]
        sizes = [len(s.pids) for s in self.base]
        manifests = {s.folder.name: s.manifest for s in self.base}
        if self.seg.passage_count() or not names:
            name, manifest = self._finish_segment(self.seg)
            names.append(name)
            sizes.append(manifest.counts["passages"])
            manifests[name] = manifest
        else:
            self.seg.abort()
        live = sum(sizes) - len(self.deleted_pids)
        if merge_all or len(self.deleted_pids) > DEAD_SHARE_REBUILD * max(live, 1):
            start = 0 if len(names) > 1 or self.deleted_pids else len(names)
        else:
            start = self._merge_plan(sizes)
        if start < len(names):
            merged, manifest = self._merge(names[start:])
            self._forget_deleted_in(set(names[start:]))
            names = [*names[:start], merged]
            manifests[merged] = manifest
        return self._write_generation(names, manifests, lexicon, extra_counts)

    def _forget_deleted_in(self, names: set[str]) -> None:
        """Deleted ids of merged segments are gone from them: no longer listed."""
        merged = [s for s in self.base if s.folder.name in names]
        self.deleted_pids = {p for p in self.deleted_pids if not any(s.holds(p) for s in merged)}
        self.deleted_uids = {
            u for u in self.deleted_uids if not any(s.holds(u // UNIT_SLOTS) for s in merged)
        }
        self.deleted_articles = {(s, a) for s, a in self.deleted_articles if s not in names}

    def _write_generation(
        self,
        names: list[str],
        manifests: dict[str, Manifest],
        lexicon: TermLexicon | None,
        extra_counts: dict[str, int] | None,
    ) -> Draft:
        folder = self.store.generations / f".tmp-{generation_name(self.number)}-{os.getpid()}"
        self._tmp.append(folder)
        folder.mkdir()
        if self.deleted_pids:
            np.save(folder / DELETED_PIDS, np.array(sorted(self.deleted_pids), dtype=np.int64))
            np.save(folder / DELETED_UIDS, np.array(sorted(self.deleted_uids), dtype=np.int64))
            by_segment: dict[str, list[str]] = {}
            for name, aid in sorted(self.deleted_articles):
                by_segment.setdefault(name, []).append(aid)
            (folder / DELETED_ARTICLES).write_text(json.dumps(by_segment, ensure_ascii=False))
        if lexicon is not None:
            lexicon.save(folder)
        seg_counts = [manifests[n].counts for n in names]
        units = sum(c["units"] for c in seg_counts) - len(self.deleted_uids)
        counts = {
            "articles": sum(c["articles"] for c in seg_counts) - len(self.deleted_articles),
            "passages": sum(c["passages"] for c in seg_counts) - len(self.deleted_pids),
            "units": units,
            "dense_entries": sum(c.get("dense_entries", c["units"]) for c in seg_counts),
            "segments": len(names),
            **(extra_counts or {}),
        }
        files = {
            str(p.relative_to(folder)): sha256_file(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        for n in names:
            files[SEGMENT_KEY + n] = sha256_file(self._segment_path(n) / MANIFEST_NAME)
        biggest = max(names, key=lambda n: manifests[n].counts["passages"])
        manifest = Manifest(
            generation=self.number,
            model=self.model,
            dim=self.dim,
            chunker_version=CHUNKER_VERSION,
            lexical_tokenizer=self.lexical_tokenizer,
            faiss_index=manifests[biggest].faiss_index,
            counts=counts,
            files=files,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
            parent=self.parent.number if self.parent else None,
            store="local",
            segments=tuple(names),
        )
        self.resolved_faiss_index = manifest.faiss_index
        write_manifest(folder, manifest)
        new = tuple((self._new[n], n) for n in names if n in self._new)
        return Draft(folder, manifest, new)

    def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.seg.db.close()
        for folder in self._tmp:
            shutil.rmtree(folder, ignore_errors=True)
