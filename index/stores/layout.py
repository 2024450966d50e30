"""The on-disk layout of an index: file names, SQLite schema, manifest, errors, helpers.

Under the index folder:

    CURRENT                 name of the serving generation, replaced atomically
    segments/s000003/       one immutable segment: some articles with everything searched
        shuzi.sqlite        articles, passages, dense units with their vectors, figures
        vectors.faiss       the unit vectors, ids = passage id * UNIT_SLOTS + unit
        vectors.f16         (index "...+fp16") the vectors re-scored, read with pread,
        vector-ids.npy      and their unit ids, both in the order of the FAISS index
        lexical/            the BM25 postings of its passages
        manifest.json       written last: counts and checksums of the files above
    generations/g000007/    one generation: which segments it reads, and what is deleted
        deleted-*.npy       passages and units removed from older segments
        deleted.json        the articles they belonged to
        terms.json/.npy     the cross-lingual lexicon
        manifest.json       written last: model, dim, versions, segments, counts, checksums

A full build writes one segment; adding articles writes one small segment and a new
generation that lists the parent's segments and it; removing marks ids deleted; when a
generation would read more than MAX_SEGMENTS segments the smallest are merged into one, and
`shuzi index merge` compacts them all, off the serving path. Everything is written in
temporary folders, renamed into place, and only then is CURRENT switched: a crash at any
point leaves the previous generation serving. A generation of format 2 (before segments) is
its own single segment. A generation on Milvus keeps its SQLite in its own folder
(index/stores/milvus.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import faiss
import numpy as np

from corpus import Article, Figure, Passage

FORMAT_VERSION = 3
READABLE_FORMATS = (2, 3)
KEEP_GENERATIONS = 5
SEGMENTS_DIR = "segments"
DELETED_PIDS = "deleted-pids.npy"
DELETED_UIDS = "deleted-uids.npy"
DELETED_ARTICLES = "deleted.json"
# A generation reads at most this many segments: past it, an add merges the smallest ones
# (each segment costs every question one more dense and lexical search).
MAX_SEGMENTS = 8
SQLITE_NAME = "shuzi.sqlite"
FAISS_NAME = "vectors.faiss"
RESCORE_VECTORS = "vectors.f16"
RESCORE_IDS = "vector-ids.npy"
LEXICAL_DIR = "lexical"
MANIFEST_NAME = "manifest.json"

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, subtitle TEXT, authors TEXT, source TEXT,
    date TEXT, language TEXT, origin TEXT, extra TEXT, body TEXT NOT NULL,
    content_hash TEXT NOT NULL, added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    pid INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
    seq INTEGER NOT NULL, paragraph INTEGER NOT NULL, piece INTEGER NOT NULL,
    section_path TEXT NOT NULL, spans TEXT NOT NULL, text TEXT NOT NULL,
    search_text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id, seq);
CREATE TABLE IF NOT EXISTS units (
    uid INTEGER PRIMARY KEY, pid INTEGER NOT NULL REFERENCES passages(pid),
    text TEXT NOT NULL, embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS units_pid ON units(pid);
CREATE TABLE IF NOT EXISTS figures (
    fid INTEGER PRIMARY KEY, pid INTEGER NOT NULL REFERENCES passages(pid),
    article_id TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL,
    number TEXT NOT NULL, value REAL, unit TEXT NOT NULL, kind TEXT NOT NULL,
    qualifier TEXT NOT NULL, metric TEXT NOT NULL, subject TEXT NOT NULL, period TEXT NOT NULL,
    change TEXT NOT NULL, sentence INTEGER NOT NULL, modifier INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS figures_pid ON figures(pid);
CREATE INDEX IF NOT EXISTS figures_metric ON figures(metric);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lexical_tokens (
    pid INTEGER PRIMARY KEY REFERENCES passages(pid), tokenizer TEXT NOT NULL, tokens TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_units (uid INTEGER PRIMARY KEY);
"""


class IndexStoreError(RuntimeError):
    """Base for index problems that a person must act on."""


class IndexMissingError(IndexStoreError):
    pass


class IndexCorruptError(IndexStoreError):
    pass


class IndexMismatchError(IndexStoreError):
    pass


class BuildLockedError(IndexStoreError):
    pass


class BuildCancelledError(IndexStoreError):
    """A build stopped on request (a progress callback raised it): nothing was changed."""


class IndexWriteError(IndexStoreError):
    """A build could not write (the disk is full): nothing was changed."""


REBUILD_HINT = "run `shuzi index build` to rebuild it from corpus/"


@dataclass(frozen=True, slots=True)
class Draft:
    """A generation written but not yet served: its temporary folder and manifest, and the
    new segments it reads (temporary folder, name when published). A writer hands one back;
    only the index folder publishes it (IndexFolder.publish), as tantivy's segment updater
    does: renames, switches CURRENT, prunes."""

    folder: Path
    manifest: Manifest
    segments: tuple[tuple[Path, str], ...] = ()


@runtime_checkable
class IndexFolders(Protocol):
    """What a writer may know of the index folder: where things go and the next free
    numbers. It reads; it never renames, switches or deletes (the store publishes)."""

    generations: Path
    segments: Path

    def generation_numbers(self) -> list[int]: ...

    def next_segment_number(self) -> int: ...


# Dense units: a passage and its sentences each have a vector; FAISS id = pid * UNIT_SLOTS + j.
UNIT_SLOTS = 1024


# The dense index, when SHUZI_FAISS_INDEX is "auto": exact search while it is fast, binary
# codes with an exact re-scoring beyond. Measured by bench/ann.py and on the million-passage
# archive of bench/scale.py (BENCHMARKS.md): exact search costs 0.5 ms per question at 20,000
# units and 4.5 ms at 100,000. HNSW32 (fp16, efSearch 128) kept recall@10 at 0.99 on 20,000
# real vectors but fell to 0.71 on a million archive units and 0.88 at efSearch 2048 (6.7 ms):
# an archive has many passages almost as close to a question as its tenth (median gap 0.0002)
# and the graph walk misses them. 512 bits per vector (LSH after a random rotation, each bit
# thresholded at its median) scanned whole, then the best 2,000 re-scored by inner product on
# fp16 vectors, finds them: recall@10 0.971 on 2.9 million units in 7.7 ms on one thread,
# built in 13 s instead of minutes (256 bits without rotation: 0.965 at 4,000 candidates in
# 10.4 ms; 768: 0.985 in 11.9 ms). The codes are memory-mapped; the fp16 vectors are a file
# of their own read with pread, 2,000 rows a question (faiss's IndexRefine over a mapped
# store had every page it touched, and on this kernel the whole cached folio around it,
# counted in the server's memory: 2.5 GB at a million passages).
AUTO_EXACT_MAX = 50_000
# "<faiss factory>+fp16": that index finds candidates, exact inner products on fp16 vectors
# read from RESCORE_VECTORS rank them (index/stores/dense.py)
RESCORE_SUFFIX = "+fp16"
AUTO_APPROXIMATE = "LSH512rt" + RESCORE_SUFFIX
# An approximate index cannot give vectors back: removed units stay in it, marked dead and
# filtered out of searches, until they are this share of it and it is rebuilt.
DEAD_SHARE_REBUILD = 0.2
# A re-scoring index re-scores at least this many candidates whatever k it is asked for, so
# that its recall does not depend on the caller's k (the engine asks 200 units).
REFINE_MIN_CANDIDATES = 2000
REFINE_K_FACTOR = 10  # and at least this many times k
# Search parameters by index family (faiss.ParameterSpace names), first match wins.
SEARCH_PARAMETERS = {
    "Refine": f"k_factor_rf={REFINE_K_FACTOR}",
    "RFlat": f"k_factor_rf={REFINE_K_FACTOR}",
    "HNSW": "efSearch=128",
    "IVF": "nprobe=64",
}


def resolve_faiss_index(configured: str, units: int) -> str:
    """The faiss.index_factory string for an index of this many units."""
    if configured != "auto":
        return configured
    return "Flat" if units <= AUTO_EXACT_MAX else AUTO_APPROXIMATE


def rescored_base(factory: str) -> str | None:
    """The FAISS part of an index re-scored from a vector file, or None."""
    return factory.removesuffix(RESCORE_SUFFIX) if factory.endswith(RESCORE_SUFFIX) else None


def new_faiss_index(dim: int, factory: str) -> faiss.Index:
    """An empty index that scores by inner product. faiss builds LSH for L2 only; LSH's
    stage ranks by Hamming distance whatever the metric, so the index and its re-scoring
    stage are switched to inner product before anything is added (on our vectors, whose
    norms are 1 +- 0.004, an L2 re-scoring lost 0.07 of recall@10 to exact inner product)."""
    if "LSH" not in factory:
        return faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    index = faiss.index_factory(dim, factory, faiss.METRIC_L2)
    index.metric_type = faiss.METRIC_INNER_PRODUCT
    if isinstance(index, faiss.IndexRefine):
        for part in (index.base_index, index.refine_index):
            faiss.downcast_index(part).metric_type = faiss.METRIC_INNER_PRODUCT
    return index


def search_parameters(factory: str) -> str:
    return next((p for family, p in SEARCH_PARAMETERS.items() if family in factory), "")


def split_unit_id(uid: int) -> tuple[int, int]:
    """(passage id, unit number) of a dense unit's id."""
    return uid // UNIT_SLOTS, uid % UNIT_SLOTS


def unit_pid(uid: np.ndarray) -> np.ndarray:
    return uid // UNIT_SLOTS


def article_columns(article: Article) -> tuple[object, ...]:
    """An article's columns as both the segments' and the article store's `articles` tables
    begin: id, title, subtitle, authors, source, date, language, origin, extra, body, hash."""
    return (
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
    )


@dataclass(frozen=True, slots=True)
class WriterOptions:
    """What every writer of a generation is given: the model and dimension of its vectors,
    its lexical tokenizer, its FAISS index ("auto": chosen by size)."""

    model: str
    dim: int
    lexical_tokenizer: str
    faiss_index: str = "auto"


@dataclass(frozen=True, slots=True)
class Manifest:
    generation: int
    model: str
    dim: int
    chunker_version: str
    lexical_tokenizer: str
    faiss_index: str
    counts: dict[str, int]
    files: dict[str, str]
    created_at: str
    parent: int | None = None
    format: int = FORMAT_VERSION
    # where the vectors and BM25 postings live: "local" (files in the folder) or "milvus"
    # (the collections named by `collection`, see index/stores/milvus.py)
    store: str = "local"
    collection: str = ""
    # a local generation of format 3: the segments it reads, oldest first (names under
    # segments/); empty for a segment's own manifest and for generations before segments
    segments: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {k: getattr(self, k) for k in self.__slots__}, ensure_ascii=False, indent=2
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if "segments" in data:
            data["segments"] = tuple(data["segments"])
        return cls(**{k: data[k] for k in cls.__slots__ if k in data})


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(folder: Path, manifest: Manifest) -> None:
    with (folder / MANIFEST_NAME).open("w") as f:
        f.write(manifest.to_json())
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def generation_name(n: int) -> str:
    return f"g{n:06d}"


def segment_name(n: int) -> str:
    return f"s{n:06d}"


def passage_from_row(row: sqlite3.Row) -> Passage:
    return Passage(
        article_id=row["article_id"],
        seq=row["seq"],
        paragraph=row["paragraph"],
        piece=row["piece"],
        section_path=tuple(json.loads(row["section_path"])),
        spans=tuple(tuple(s) for s in json.loads(row["spans"])),  # type: ignore[misc]
        text=row["text"],
        search_text=row["search_text"],
    )


def figure_from_row(row: sqlite3.Row) -> Figure:
    return Figure(
        text=row["text"],
        start=row["start"],
        end=row["end"],
        number=row["number"],
        value=row["value"],
        unit=row["unit"],
        kind=row["kind"],
        qualifier=row["qualifier"],
        metric=row["metric"],
        subject=row["subject"],
        period=row["period"],
        change=row["change"],
        sentence=row["sentence"],
        modifier=bool(row["modifier"]),
    )


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn
