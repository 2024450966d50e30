"""Followed feeds: RSS/Atom read on a schedule, each new item fetched and indexed once.

State lives in DATA_DIR/feeds.sqlite: the feeds (with their failures and when to try again)
and every item seen (by link, and by the content hash of its article, so that the same story
under two links is indexed once).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.ingest import FeedItem, IngestError, IngestLimits, read_link
from corpus import Article

MAX_BACKOFF_S = 24 * 3600

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', chat_id INTEGER, added_at REAL,
    failures INTEGER NOT NULL DEFAULT 0, next_check REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '', last_ok REAL
);
CREATE TABLE IF NOT EXISTS feed_items (
    link TEXT PRIMARY KEY, feed_url TEXT NOT NULL, content_hash TEXT, article_id TEXT,
    title TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feed_items_hash ON feed_items(content_hash);
"""


@dataclass(frozen=True, slots=True)
class Feed:
    url: str
    title: str
    failures: int
    next_check: float
    last_error: str


class FeedStore:
    """The followed feeds and the items seen; safe to use from the event loop's thread and
    from worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def follow(self, url: str, title: str, chat_id: int | None) -> bool:
        """False when the feed was followed already."""
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO feeds (url, title, chat_id, added_at) VALUES (?,?,?,?)",
                (url, title, chat_id, time.time()),
            )
            return cur.rowcount > 0

    def unfollow(self, url: str) -> bool:
        with self._lock, self._db:
            return self._db.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount > 0

    def feeds(self) -> list[Feed]:
        with self._lock:
            rows = self._db.execute(
                "SELECT url, title, failures, next_check, last_error FROM feeds ORDER BY added_at"
            ).fetchall()
        return [Feed(*r) for r in rows]

    def due(self, now: float) -> list[Feed]:
        return [f for f in self.feeds() if f.next_check <= now]

    def succeeded(self, url: str, title: str, every_s: float) -> None:
        now = time.time()
        with self._lock, self._db:
            self._db.execute(
                "UPDATE feeds SET failures = 0, last_error = '', last_ok = ?, next_check = ?, "
                "title = CASE WHEN ? != '' THEN ? ELSE title END WHERE url = ?",
                (now, now + every_s, title, title, url),
            )

    def failed(self, url: str, error: str, every_s: float) -> tuple[int, float]:
        """Count a failure; the next try waits twice as long each time (up to a day).
        Returns (failures in a row, seconds until the next try)."""
        with self._lock, self._db:
            row = self._db.execute("SELECT failures FROM feeds WHERE url = ?", (url,)).fetchone()
            failures = (row[0] if row else 0) + 1
            wait = min(every_s * 2 ** (failures - 1), MAX_BACKOFF_S)
            self._db.execute(
                "UPDATE feeds SET failures = ?, last_error = ?, next_check = ? WHERE url = ?",
                (failures, error[:500], time.time() + wait, url),
            )
        return failures, wait

    def seen(self, link: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM feed_items WHERE link = ?", (link,)).fetchone()
        return row is not None

    def known_hash(self, content_hash: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM feed_items WHERE content_hash = ? AND status = 'added'",
                (content_hash,),
            ).fetchone()
        return row is not None

    def record(
        self, feed_url: str, link: str, article: Article | None, title: str, status: str
    ) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO feed_items VALUES (?,?,?,?,?,?,?)",
                (
                    link,
                    feed_url,
                    article.content_hash if article else None,
                    article.id if article else None,
                    title,
                    status,
                    time.time(),
                ),
            )

    def added_since(self, since: float) -> list[tuple[str, str, str]]:
        """(feed, title, link) of the items indexed since then."""
        with self._lock:
            return self._db.execute(
                "SELECT feed_url, title, link FROM feed_items WHERE status = 'added' "
                "AND added_at >= ? ORDER BY added_at",
                (since,),
            ).fetchall()

    def close(self) -> None:
        self._db.close()


async def new_articles(
    limits: IngestLimits,
    store: FeedStore,
    feed_url: str,
    items: Sequence[FeedItem],
    cancel: threading.Event | None = None,
) -> tuple[list[tuple[FeedItem, Article, bytes]], list[str]]:
    """The items not seen before, each fetched and read in the worker process (duplicates by
    content recorded and skipped), and the problems met on the way (an item that cannot be
    fetched is tried again next time)."""
    found: list[tuple[FeedItem, Article, bytes]] = []
    problems: list[str] = []
    hashes: set[str] = set()
    for item in items:
        if store.seen(item.link):
            continue
        try:
            article, raw = await read_link(item.link, limits=limits, cancel=cancel)
        except IngestError as exc:
            if cancel is not None and cancel.is_set():
                raise
            problems.append(f"{item.link[:200]}: {exc}")
            continue
        if store.known_hash(article.content_hash) or article.content_hash in hashes:
            store.record(feed_url, item.link, article, item.title, "duplicate")
            continue
        hashes.add(article.content_hash)
        found.append((item, article, raw))
    return found, problems
