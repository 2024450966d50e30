"""The article store: every article an editor adds, kept as it came, with its normalised text
and where it came from. The index is derived from this store and corpus/; a rebuild, a restart
or a lost index folder loses nothing an editor added.

Under DATA_DIR/articles/:

    articles.sqlite     one row per article id: the normalised article (what is indexed), its
                        provenance (kind, source, who, when), the checksum of its original
                        bytes, and whether it is live or was removed (and by whom)
    raw/ab/abcdef…      the original bytes (an upload, a fetched page), named by SHA-256

Raw bytes are written, flushed and renamed into place before the row that names them is
committed, and SQLite runs with synchronous=FULL: once `put` returns, the article survives a
crash or a power cut.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus import Article, extract_figures, split_article
from index.stores.layout import article_columns

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, subtitle TEXT NOT NULL, authors TEXT NOT NULL,
    source TEXT NOT NULL, date TEXT NOT NULL, language TEXT NOT NULL, origin TEXT NOT NULL,
    extra TEXT NOT NULL, body TEXT NOT NULL, content_hash TEXT NOT NULL,
    kind TEXT NOT NULL, source_ref TEXT NOT NULL, added_by TEXT NOT NULL, added_at REAL NOT NULL,
    raw_sha256 TEXT, raw_name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'live', changed_by TEXT NOT NULL DEFAULT '',
    changed_at REAL
);
CREATE TABLE IF NOT EXISTS events (
    at REAL NOT NULL, action TEXT NOT NULL, id TEXT NOT NULL, content_hash TEXT NOT NULL,
    by TEXT NOT NULL
);
"""
LIVE, REMOVED = "live", "removed"
# How an article came: an editor's upload, a link, a feed item, the command line, an import
# from another machine, or adopted from an index that held it before this store existed.
KINDS = ("upload", "link", "feed", "cli", "import", "index", "api")


class ArticleStoreError(RuntimeError):
    """The store cannot be read or written (disk full, a damaged file): nothing was changed."""


class ArticleClashError(LookupError):
    """An article's id is held by an article from another source: refused unless replaced."""


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an article came from and who brought it."""

    kind: str  # one of KINDS
    source: str  # the file name, the URL, the path
    by: str = ""  # a Telegram user id, the OS user, the feed's URL
    at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown provenance kind {self.kind!r}: {', '.join(KINDS)}")


@dataclass(frozen=True, slots=True)
class Submission:
    """An article to keep and index, with its provenance and (when there are any) the bytes
    it was made from."""

    article: Article
    provenance: Provenance
    raw: bytes | None = None
    raw_name: str = ""


@dataclass(frozen=True, slots=True)
class StoredArticle:
    article: Article
    provenance: Provenance
    raw_sha256: str | None
    raw_name: str
    state: str
    changed_by: str = ""
    changed_at: float | None = None

    @property
    def live(self) -> bool:
        return self.state == LIVE


class ArticleStore:
    """The articles editors added; safe to use from several threads of one process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._db: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @property
    def path(self) -> Path:
        return self.root / "articles.sqlite"

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                db.executescript(SCHEMA)
                db.execute("PRAGMA quick_check").fetchone()
            except (OSError, sqlite3.Error) as exc:
                raise ArticleStoreError(
                    f"the article store {self.path} cannot be opened ({exc})"
                ) from exc
            self._db = db
        return self._db

    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise ArticleStoreError(
                        f"the article store {self.path} could not be written ({exc}); nothing "
                        "was changed"
                    ) from exc
                raise

    # -- reading -------------------------------------------------------------------------
    def get(self, article_id: str) -> StoredArticle | None:
        with self._lock:
            row = self._conn().execute("SELECT * FROM articles WHERE id = ?", (article_id,))
            found = row.fetchone()
        return _stored(found) if found else None

    def all(self) -> list[StoredArticle]:
        """Every article, live or removed, in the order they were added."""
        with self._lock:
            rows = self._conn().execute("SELECT * FROM articles ORDER BY added_at, id").fetchall()
        return [_stored(r) for r in rows]

    def live(self) -> list[StoredArticle]:
        return [s for s in self.all() if s.live]

    def removed_ids(self) -> set[str]:
        with self._lock:
            rows = self._conn().execute("SELECT id FROM articles WHERE state = ?", (REMOVED,))
            return {r[0] for r in rows.fetchall()}

    def raw(self, sha256: str) -> bytes:
        return self._raw_path(sha256).read_bytes()

    def count(self) -> int:
        with self._lock:
            return int(self._conn().execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    # -- writing -------------------------------------------------------------------------
    def put(self, submissions: Iterable[Submission], *, action: str = "put") -> None:
        """Keep these articles (live), replacing what the store held under their ids; the raw
        bytes reach the disk before the rows that name them."""
        items = list(submissions)
        raws = {s.article.id: self._write_raw(s.raw) if s.raw is not None else None for s in items}
        if not items:
            return
        with self._transaction() as db:
            for sub in items:
                _insert(db, sub, raw_sha256=raws[sub.article.id], state=LIVE)
                _event(db, f"{action}:{sub.provenance.kind}", sub.article, sub.provenance.by)

    def restore(self, rows: dict[str, StoredArticle | None]) -> None:
        """Put rows back as they were (None: the id was not held): a change undone."""
        with self._transaction() as db:
            for article_id, old in rows.items():
                db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
                if old is not None:
                    sub = Submission(old.article, old.provenance, None, old.raw_name)
                    _insert(db, sub, raw_sha256=old.raw_sha256, state=old.state)
                    db.execute(
                        "UPDATE articles SET changed_by = ?, changed_at = ? WHERE id = ?",
                        (old.changed_by, old.changed_at, article_id),
                    )
                db.execute(
                    "INSERT INTO events VALUES (?,?,?,?,?)",
                    (time.time(), "undo", article_id, "", ""),
                )

    def mark_removed(self, articles: Iterable[Article], *, by: str) -> None:
        """Record that these articles were removed on purpose, so that no later build or
        start brings them back (an article the store never held gets a row, for the record)."""
        now = time.time()
        with self._transaction() as db:
            for a in articles:
                held = db.execute("SELECT 1 FROM articles WHERE id = ?", (a.id,)).fetchone()
                if held is None:
                    sub = Submission(a, Provenance("index", a.origin or a.id, "", now))
                    _insert(db, sub, raw_sha256=None, state=REMOVED)
                db.execute(
                    "UPDATE articles SET state = ?, changed_by = ?, changed_at = ? WHERE id = ?",
                    (REMOVED, by, now, a.id),
                )
                _event(db, "remove", a, by)

    def _raw_path(self, sha256: str) -> Path:
        return self.root / "raw" / sha256[:2] / sha256

    def _write_raw(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._raw_path(digest)
        if path.exists() and path.stat().st_size == len(data):
            return digest
        tmp = path.with_name(f".tmp-{digest}-{os.getpid()}-{threading.get_ident()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise ArticleStoreError(
                f"the original bytes could not be kept in {self.root} ({exc.strerror or exc}); "
                "nothing was changed"
            ) from exc
        return digest

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _insert(db: sqlite3.Connection, sub: Submission, *, raw_sha256: str | None, state: str) -> None:
    a, p = sub.article, sub.provenance
    db.execute(
        "INSERT OR REPLACE INTO articles (id, title, subtitle, authors, source, date, language, "
        "origin, extra, body, content_hash, kind, source_ref, added_by, added_at, raw_sha256, "
        "raw_name, state, changed_by, changed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            *article_columns(a),
            p.kind,
            p.source,
            p.by,
            p.at,
            raw_sha256,
            sub.raw_name,
            state,
            "",
            None,
        ),
    )


def _event(db: sqlite3.Connection, action: str, article: Article, by: str) -> None:
    db.execute(
        "INSERT INTO events VALUES (?,?,?,?,?)",
        (time.time(), action, article.id, article.content_hash, by),
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stored(r: sqlite3.Row) -> StoredArticle:
    extra: dict[str, Any] = json.loads(r["extra"] or "{}")
    article = Article(
        id=r["id"],
        title=r["title"],
        body=r["body"],
        subtitle=r["subtitle"],
        authors=tuple(json.loads(r["authors"] or "[]")),
        source=r["source"],
        date=r["date"],
        language=r["language"],
        origin=r["origin"],
        extra=extra,
    )
    return StoredArticle(
        article=article,
        provenance=Provenance(r["kind"], r["source_ref"], r["added_by"], r["added_at"]),
        raw_sha256=r["raw_sha256"],
        raw_name=r["raw_name"],
        state=r["state"],
        changed_by=r["changed_by"],
        changed_at=r["changed_at"],
    )


# -- moving the store between machines and backends ---------------------------------------
EXPORT_FORMAT = "shuzi-articles"
EXPORT_VERSION = 1


def export_article_store(store: ArticleStore, path: Path, *, max_passage_chars: int) -> int:
    """Write the whole store (live and removed articles) to a JSON Lines file (gzip when the
    name ends in .gz): a header line, then one line per article with its text, provenance,
    state, original bytes (base64) and the figures extracted from it, passage by passage.
    Returns how many were written."""
    items = store.all()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(tmp, "wt", encoding="utf-8") as f:
        header = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "count": len(items)}
        f.write(json.dumps({**header, "exported_at": time.time()}) + "\n")
        for s in items:
            a, p = s.article, s.provenance
            data = store.raw(s.raw_sha256) if s.raw_sha256 else None
            record = {
                "id": a.id,
                "title": a.title,
                "subtitle": a.subtitle,
                "authors": list(a.authors),
                "source": a.source,
                "date": a.date,
                "language": a.language,
                "origin": a.origin,
                "extra": a.extra,
                "body": a.body,
                "content_hash": a.content_hash,
                "provenance": {"kind": p.kind, "source": p.source, "by": p.by, "at": p.at},
                "state": s.state,
                "changed_by": s.changed_by,
                "changed_at": s.changed_at,
                "raw": None
                if data is None
                else {
                    "name": s.raw_name,
                    "sha256": s.raw_sha256,
                    "base64": base64.b64encode(data).decode("ascii"),
                },
                "figures": figure_records(a, max_chars=max_passage_chars),
            }
            f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)
    return len(items)


def figure_records(article: Article, *, max_chars: int) -> list[dict[str, Any]]:
    """The figures of an article as plain records, passage by passage."""
    return [
        {
            "passage": p.key,
            "text": f.text,
            "value": f.value,
            "unit": f.unit,
            "kind": f.kind,
            "metric": f.metric,
            "period": f.period,
            "change": f.change,
        }
        for p in split_article(article, max_chars=max_chars)
        for f in extract_figures(p.text)
    ]


def read_export(path: Path) -> list[tuple[Submission, str]]:
    """The (submission, state) pairs of an export file, every checksum checked; ValueError
    naming the line of anything that does not match."""
    opener = gzip.open if path.suffix == ".gz" else open
    out: list[tuple[Submission, str]] = []
    with opener(path, "rt", encoding="utf-8") as f:
        try:
            header = json.loads(f.readline())
        except ValueError:
            header = {}
        if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
            raise ValueError(f"{path} is not a Shuzi article export (`shuzi articles export`)")
        if header.get("version") != EXPORT_VERSION:
            raise ValueError(f"{path} has export version {header.get('version')}, not 1")
        for n, line in enumerate(f, start=2):
            try:
                r = json.loads(line)
                article = Article(
                    id=str(r["id"]),
                    title=str(r["title"]),
                    body=str(r["body"]),
                    subtitle=str(r.get("subtitle", "")),
                    authors=tuple(str(x) for x in r.get("authors", ())),
                    source=str(r.get("source", "")),
                    date=str(r.get("date", "")),
                    language=str(r.get("language", "zh")),
                    origin=str(r.get("origin", "")),
                    extra=dict(r.get("extra") or {}),
                )
                prov = r["provenance"]
                provenance = Provenance(
                    str(prov["kind"]), str(prov["source"]), str(prov["by"]), float(prov["at"])
                )
                data = None
                raw_name = ""
                if r.get("raw"):
                    data = base64.b64decode(r["raw"]["base64"], validate=True)
                    raw_name = str(r["raw"].get("name", ""))
                    if hashlib.sha256(data).hexdigest() != r["raw"]["sha256"]:
                        raise ValueError("its original bytes do not match their checksum")
                if article.content_hash != r["content_hash"]:
                    raise ValueError("its text does not match its checksum")
                state = str(r.get("state", LIVE))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}, line {n}: not a valid article ({exc})") from exc
            out.append((Submission(article, provenance, data, raw_name), state))
    if len(out) != header.get("count"):
        raise ValueError(
            f"{path} holds {len(out)} articles, its header says {header.get('count')}: "
            "the file is incomplete"
        )
    return out
