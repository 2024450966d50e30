"""Crash-safe index generations: SQLite (articles, passages, manifest), FAISS and BM25 files.

Layout under the index folder:

    CURRENT                 name of the serving generation, replaced atomically
    generations/g000007/    one complete, immutable generation
        shuzi.sqlite        articles, passages (with their vectors), manifest copy
        vectors.faiss       the passage vectors, ids = passage ids
        lexical/            the BM25 index
        manifest.json       written last: model, dim, versions, counts, checksums

A build writes a new generation in a temporary folder, renames it into place and only
then switches CURRENT. A crash at any point leaves the previous generation serving.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from corpus import CHUNKER_VERSION, Article, Figure, Passage
from index.crosslingual import TermLexicon
from index.lexical import LexicalIndex
from index.records import ArticleInfo

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
KEEP_GENERATIONS = 5
SQLITE_NAME = "shuzi.sqlite"
FAISS_NAME = "vectors.faiss"
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
"""


class IndexError_(RuntimeError):
    """Base for index problems that a person must act on."""


class IndexMissingError(IndexError_):
    pass


class IndexCorruptError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


class BuildLockedError(IndexError_):
    pass


REBUILD_HINT = "run `shuzi index build` to rebuild it from corpus/"
# Dense units: a passage and its sentences each have a vector; FAISS id = pid * UNIT_SLOTS + j.
UNIT_SLOTS = 1024


def unit_pid(uid: np.ndarray) -> np.ndarray:
    return uid // UNIT_SLOTS


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

    def to_json(self) -> str:
        return json.dumps(
            {k: getattr(self, k) for k in self.__slots__}, ensure_ascii=False, indent=2
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        return cls(**{k: data[k] for k in cls.__slots__ if k in data})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _generation_name(n: int) -> str:
    return f"g{n:06d}"


def _passage_from_row(row: sqlite3.Row) -> Passage:
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


def _figure_from_row(row: sqlite3.Row) -> Figure:
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


class Generation:
    """One loaded, verified generation: what readers search. Read-only and thread-safe."""

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        self.folder = folder
        self.manifest = manifest
        self._db = connect(folder / SQLITE_NAME, readonly=True)
        self._lock = threading.Lock()
        self.faiss = faiss.read_index(str(folder / FAISS_NAME))
        self.lexical = LexicalIndex.load(folder / LEXICAL_DIR)
        self.lexicon = TermLexicon.load(folder)
        self.pids = np.array(
            [r[0] for r in self._db.execute("SELECT pid FROM passages ORDER BY pid")],
            dtype=np.int64,
        )
        self.articles: dict[str, ArticleInfo] = {info.id: info for info in self._article_infos()}

    @property
    def number(self) -> int:
        return self.manifest.generation

    def _article_infos(self) -> Iterator[ArticleInfo]:
        rows = self._db.execute(
            "SELECT a.*, (SELECT COUNT(*) FROM passages p WHERE p.article_id = a.id) AS n "
            "FROM articles a ORDER BY a.added_at, a.id"
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
            )

    def passages(self, pids: Sequence[int]) -> dict[int, Passage]:
        if not pids:
            return {}
        marks = ",".join("?" * len(pids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM passages WHERE pid IN ({marks})", [int(p) for p in pids]
            ).fetchall()
        return {r["pid"]: _passage_from_row(r) for r in rows}

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
            out[r["pid"]].append(_figure_from_row(r))
        return out

    def find_figures(self, keyword: str, *, limit: int = 200) -> list[tuple[int, Figure]]:
        """Figures whose metric, subject or unit mentions the keyword."""
        like = f"%{keyword}%"
        rows = self.query(
            "SELECT * FROM figures WHERE metric LIKE ? OR subject LIKE ? OR text LIKE ? "
            "ORDER BY article_id, pid, start LIMIT ?",
            (like, like, like, limit),
        )
        return [(r["pid"], _figure_from_row(r)) for r in rows]

    def figures_with_metric(self, metric: str) -> list[tuple[int, Figure]]:
        rows = self.query("SELECT * FROM figures WHERE metric = ? ORDER BY pid, start", (metric,))
        return [(r["pid"], _figure_from_row(r)) for r in rows]

    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM passages WHERE article_id = ? ORDER BY seq", (article_id,)
            ).fetchall()
        return [(r["pid"], _passage_from_row(r)) for r in rows]

    def article_body(self, article_id: str) -> str:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
        return row["body"] if row else ""

    def stored_articles(self) -> list[Article]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM articles ORDER BY added_at, id").fetchall()
        return [
            Article(
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
            for r in rows
        ]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read-only SQL for the layers above (figures, stats)."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        self._db.close()


class IndexStore:
    """The index folder: finds, verifies, writes and switches generations."""

    def __init__(self, root: Path, *, keep: int = KEEP_GENERATIONS) -> None:
        self.root = root
        self.generations = root / "generations"
        self.keep = keep

    # -- reading -------------------------------------------------------------------------
    def current_number(self) -> int | None:
        pointer = self.root / "CURRENT"
        if not pointer.exists():
            return None
        name = pointer.read_text().strip()
        if not (name.startswith("g") and name[1:].isdigit()):
            raise IndexCorruptError(
                f"{pointer} does not name a generation ({name!r}); {REBUILD_HINT}"
            )
        return int(name[1:])

    def generation_numbers(self) -> list[int]:
        if not self.generations.exists():
            return []
        return sorted(
            int(p.name[1:])
            for p in self.generations.iterdir()
            if p.is_dir() and p.name.startswith("g") and p.name[1:].isdigit()
        )

    def read_manifest(self, number: int) -> Manifest:
        path = self.generations / _generation_name(number) / MANIFEST_NAME
        try:
            return Manifest.from_json(path.read_text())
        except FileNotFoundError:
            raise IndexCorruptError(f"{path} is missing; {REBUILD_HINT}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise IndexCorruptError(f"{path} cannot be read ({exc}); {REBUILD_HINT}") from exc

    def verify(self, number: int) -> Manifest:
        """Check a generation's files against its manifest; raise naming the bad file."""
        manifest = self.read_manifest(number)
        folder = self.generations / _generation_name(number)
        if manifest.format != FORMAT_VERSION:
            raise IndexMismatchError(
                f"{folder} has index format {manifest.format}, this Shuzi reads "
                f"{FORMAT_VERSION}; {REBUILD_HINT}"
            )
        for rel, digest in manifest.files.items():
            path = folder / rel
            if not path.exists():
                raise IndexCorruptError(f"{path} is missing; {REBUILD_HINT}")
            if _sha256(path) != digest:
                raise IndexCorruptError(
                    f"{path} does not match its checksum in {MANIFEST_NAME} (corrupt or "
                    f"changed by hand); {REBUILD_HINT}, or `shuzi index rollback`"
                )
        return manifest

    def open(self, number: int | None = None, *, model: str | None = None) -> Generation:
        """Load and verify a generation (default: the current one) for serving."""
        number = self.current_number() if number is None else number
        if number is None:
            raise IndexMissingError(f"no index in {self.root}; {REBUILD_HINT}")
        manifest = self.verify(number)
        if model is not None and manifest.model != model:
            raise IndexMismatchError(
                f"the index in {self.root} was built with model {manifest.model!r}, but "
                f"{model!r} is configured: run `shuzi index build` to rebuild it with the "
                f"configured model, or set SHUZI_MODEL={manifest.model}"
            )
        if manifest.chunker_version != CHUNKER_VERSION:
            raise IndexMismatchError(
                f"the index in {self.root} was split by chunker version "
                f"{manifest.chunker_version}, this Shuzi uses {CHUNKER_VERSION}; {REBUILD_HINT}"
            )
        gen = Generation(self.generations / _generation_name(number), manifest)
        try:
            n = len(gen.pids)
            units = manifest.counts.get("units")
            if n != manifest.counts.get("passages") or gen.faiss.ntotal != units:
                raise IndexCorruptError(
                    f"{gen.folder}: {n} passages in {SQLITE_NAME} and {gen.faiss.ntotal} vectors "
                    f"in {FAISS_NAME}, manifest says {manifest.counts.get('passages')} and "
                    f"{units}; {REBUILD_HINT}"
                )
            if gen.faiss.d != manifest.dim:
                raise IndexCorruptError(
                    f"{gen.folder}: vector dimension {gen.faiss.d} != {manifest.dim}"
                )
        except IndexError_:
            gen.close()
            raise
        return gen

    # -- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def build_lock(self) -> Iterator[None]:
        """One build at a time, across threads and processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".build.lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BuildLockedError(
                    "another build is running on this index; try again when it has finished"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def clean_partial(self) -> None:
        """Remove folders left by builds that crashed before their rename."""
        if self.generations.exists():
            for p in self.generations.iterdir():
                if p.name.startswith(".tmp-"):
                    shutil.rmtree(p, ignore_errors=True)

    def switch(self, number: int) -> None:
        """Point CURRENT at a generation, atomically."""
        pointer = self.root / "CURRENT"
        tmp = self.root / f"CURRENT.tmp-{os.getpid()}-{threading.get_ident()}"
        with tmp.open("w") as f:
            f.write(_generation_name(number) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, pointer)
        _fsync_dir(self.root)

    def prune(self) -> None:
        current = self.current_number()
        numbers = self.generation_numbers()
        for n in numbers[: max(0, len(numbers) - self.keep)]:
            if n != current:
                shutil.rmtree(self.generations / _generation_name(n), ignore_errors=True)


class GenerationWriter:
    """Writes one new generation from an optional parent; commit() makes it current."""

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
        self.parent = parent
        existing = store.generation_numbers()
        self.number = (max(existing) if existing else 0) + 1
        store.generations.mkdir(parents=True, exist_ok=True)
        store.clean_partial()
        self.folder = store.generations / f".tmp-{_generation_name(self.number)}-{os.getpid()}"
        self.folder.mkdir()
        self.db = connect(self.folder / SQLITE_NAME)
        if parent is not None:
            with connect(parent.folder / SQLITE_NAME, readonly=True) as src:
                src.backup(self.db)
        self.db.executescript(SCHEMA)

    # -- content -------------------------------------------------------------------------
    def article_hashes(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.execute("SELECT id, content_hash FROM articles")}

    def remove_article(self, article_id: str) -> int:
        self.db.execute(
            "DELETE FROM units WHERE pid IN (SELECT pid FROM passages WHERE article_id = ?)",
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
        self.db.execute("DELETE FROM figures")
        self.db.execute("DELETE FROM units")
        self.db.execute("DELETE FROM passages")
        self.db.execute("DELETE FROM articles")

    # -- finishing -----------------------------------------------------------------------
    def _build_faiss(self, ids: np.ndarray, vectors: np.ndarray) -> faiss.Index:
        base = faiss.index_factory(self.dim, self.faiss_index, faiss.METRIC_INNER_PRODUCT)
        if not base.is_trained:
            if len(vectors) < 64:
                log.warning("too few passages to train %s; using an exact index", self.faiss_index)
                base = faiss.IndexFlatIP(self.dim)
            else:
                base.train(vectors)
        index = faiss.IndexIDMap2(base)
        if len(vectors):
            index.add_with_ids(vectors, ids)
        return index

    def passage_texts(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT search_text FROM passages ORDER BY pid")]

    def commit(
        self, *, extra_counts: dict[str, int] | None = None, lexicon: TermLexicon | None = None
    ) -> Manifest:
        units = self.db.execute("SELECT uid, embedding FROM units ORDER BY uid").fetchall()
        uids = np.array([r[0] for r in units], dtype=np.int64)
        vectors = (
            np.stack([np.frombuffer(r[1], dtype=np.float32) for r in units])
            if units
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        if vectors.shape[1] != self.dim:
            raise IndexMismatchError(
                f"stored vectors have dimension {vectors.shape[1]}, the model gives {self.dim}; "
                "run `shuzi index build --fresh`"
            )
        faiss.write_index(self._build_faiss(uids, vectors), str(self.folder / FAISS_NAME))
        rows = self.db.execute("SELECT search_text FROM passages ORDER BY pid").fetchall()
        lexical = LexicalIndex(tokenizer=self.lexical_tokenizer)
        lexical.build([r[0] for r in rows])
        lexical.save(self.folder / LEXICAL_DIR)
        if lexicon is not None:
            lexicon.save(self.folder)
        n_articles = self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        counts = {
            "articles": n_articles,
            "passages": len(rows),
            "units": len(units),
            **(extra_counts or {}),
        }
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(self.number),))
        self.db.commit()
        self.db.close()
        files = {
            str(p.relative_to(self.folder)): _sha256(p)
            for p in sorted(self.folder.rglob("*"))
            if p.is_file()
        }
        manifest = Manifest(
            generation=self.number,
            model=self.model,
            dim=self.dim,
            chunker_version=CHUNKER_VERSION,
            lexical_tokenizer=self.lexical_tokenizer,
            faiss_index=self.faiss_index,
            counts=counts,
            files=files,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
            parent=self.parent.number if self.parent else None,
        )
        with (self.folder / MANIFEST_NAME).open("w") as f:
            f.write(manifest.to_json())
            f.flush()
            os.fsync(f.fileno())
        final = self.store.generations / _generation_name(self.number)
        os.replace(self.folder, final)
        _fsync_dir(self.store.generations)
        self.store.switch(self.number)
        self.store.prune()
        return manifest

    def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        shutil.rmtree(self.folder, ignore_errors=True)
