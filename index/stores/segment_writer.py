"""Writing the next generation of the local store: one new segment with the articles added,
the parent's segments kept, removed ids marked deleted, small segments merged past
MAX_SEGMENTS (see served.py for how a generation of segments is read). The writer leaves its
work in temporary folders and hands back a Draft; IndexFolder.publish serves it.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from corpus import CHUNKER_VERSION, Article, Figure, Passage
from index.stores.layout import (
    DEAD_SHARE_REBUILD,
    DELETED_ARTICLES,
    DELETED_PIDS,
    DELETED_UIDS,
    MANIFEST_NAME,
    MAX_SEGMENTS,
    SQLITE_NAME,
    UNIT_SLOTS,
    Draft,
    IndexFolders,
    Manifest,
    WriterOptions,
    generation_name,
    segment_name,
    sha256_file,
    write_manifest,
)
from index.stores.lexicon import TermLexicon
from index.stores.segment_reader import SegmentReader
from index.stores.served import SEGMENT_KEY, ServedGeneration
from index.stores.writer import GenerationWriter, copy_live_rows
from index.text.tokens import jieba_words

log = logging.getLogger(__name__)


# An add to an archive bigger than this keeps the parent's cross-lingual lexicon (the most
# common words of a million passages do not change with one article): summing the document
# frequencies of every word would cost the add seconds. Full builds and merges refresh it.
LEXICON_REFRESH_MAX = 100_000


class SegmentedWriter:
    """Writes the next generation of the local store: one new segment with the articles
    added, the parent's segments kept, removed ids marked deleted (see the module's text)."""

    store_kind = "local"
    compacts = True

    def __init__(
        self,
        store: IndexFolders,
        options: WriterOptions,
        *,
        parent: Any = None,
    ) -> None:
        self.store, self.options, self.parent = store, options, parent
        model, dim = options.model, options.dim
        self.model, self.dim, self.lexical_tokenizer = model, dim, options.lexical_tokenizer
        existing = store.generation_numbers()
        self.number = (max(existing) if existing else 0) + 1
        store.generations.mkdir(parents=True, exist_ok=True)
        store.segments.mkdir(parents=True, exist_ok=True)
        self._tmp: list[Path] = []
        self._new: dict[str, Path] = {}  # segments written here: name -> temporary folder
        self.base: list[SegmentReader] = []
        self.deleted_pids: set[int] = set()
        self.deleted_uids: set[int] = set()
        self.deleted_articles: set[tuple[str, str]] = set()  # (segment, article id)
        self._removed: set[str] = set()  # articles of the base removed by this writer
        continues = (
            isinstance(parent, ServedGeneration)
            and bool(parent.manifest.segments)  # not a generation from before segments
            and parent.manifest.model == model
            and parent.manifest.dim == dim
            and parent.manifest.lexical_tokenizer == options.lexical_tokenizer
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
        self.resolved_faiss_index = options.faiss_index

    def _segment_writer(self, *, parent: Any = None) -> GenerationWriter:
        number = self.store.next_segment_number()
        folder = self.store.segments / f".tmp-{segment_name(number)}-{os.getpid()}"
        self._tmp.append(folder)
        return GenerationWriter(
            self.store, self.options, parent=parent, folder=folder, number=number
        )

    # -- content, as GenerationWriter ---------------------------------------------------------
    def _base_home(self, article_id: str) -> SegmentReader | None:
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
        for seg in self.parent.segments if isinstance(self.parent, ServedGeneration) else ():
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
