"""The bot's own records in SQLite: questions asked (for stats and buttons) and feedback."""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    qid INTEGER PRIMARY KEY, user_id INTEGER, chat_id INTEGER, question TEXT NOT NULL,
    answered INTEGER NOT NULL, latency_ms REAL NOT NULL, generation INTEGER, asked_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    qid INTEGER NOT NULL, user_id INTEGER NOT NULL, vote INTEGER NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (qid, user_id)
);
"""


PRUNE_EVERY = 1000  # questions recorded between two prunings


@dataclass(frozen=True, slots=True)
class Asked:
    question: str
    user_id: int | None
    chat_id: int | None


class ActivityLog:
    """Thread-safe; `path=None` keeps everything in memory (tests).

    Questions older than `keep_days` (and their feedback) are deleted when the log opens and
    every PRUNE_EVERY questions after, so the file and the stats stay bounded.
    """

    def __init__(self, path: Path | None = None, *, keep_days: float | None = None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.keep_days = keep_days
        self._since_prune = 0
        self.prune()

    def prune(self, *, now: float | None = None) -> int:
        """Delete questions older than keep_days and their feedback; returns how many."""
        if self.keep_days is None:
            return 0
        cutoff = (now or time.time()) - self.keep_days * 86400
        with self._lock, self._db:
            self._db.execute(
                "DELETE FROM feedback WHERE qid IN (SELECT qid FROM questions WHERE asked_at < ?)",
                (cutoff,),
            )
            n = self._db.execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount
            self._since_prune = 0
        return n

    def record_question(
        self,
        *,
        user_id: int | None,
        chat_id: int | None,
        question: str,
        answered: bool,
        latency_ms: float,
        generation: int,
    ) -> int:
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO questions (user_id, chat_id, question, answered, latency_ms, "
                "generation, asked_at) VALUES (?,?,?,?,?,?,?)",
                (user_id, chat_id, question, int(answered), latency_ms, generation, time.time()),
            )
            qid = int(cur.lastrowid or 0)
            self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY:
            self.prune()
        return qid

    def question(self, qid: int) -> str | None:
        asked = self.asked(qid)
        return asked.question if asked else None

    def asked(self, qid: int) -> Asked | None:
        """The question behind a button: its text, who asked it and in which chat."""
        with self._lock:
            row = self._db.execute(
                "SELECT question, user_id, chat_id FROM questions WHERE qid = ?", (qid,)
            ).fetchone()
        return Asked(*row) if row else None

    def record_feedback(self, qid: int, user_id: int, vote: int) -> None:
        if vote not in (-1, 1):
            raise ValueError(f"a vote is 1 or -1, not {vote}")
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO feedback VALUES (?,?,?,?)",
                (qid, user_id, vote, time.time()),
            )

    def stats(self) -> dict[str, float]:
        with self._lock:
            n, answered = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions"
            ).fetchone()
            latencies = [r[0] for r in self._db.execute("SELECT latency_ms FROM questions")]
            up, down = self._db.execute(
                "SELECT COALESCE(SUM(vote > 0), 0), COALESCE(SUM(vote < 0), 0) FROM feedback"
            ).fetchone()
        p50 = statistics.median(latencies) if latencies else 0.0
        p95 = (
            statistics.quantiles(latencies, n=20)[-1]
            if len(latencies) > 1
            else (latencies[0] if latencies else 0.0)
        )
        return {
            "questions": n,
            "answered": answered,
            "answer_rate": answered / n if n else 0.0,
            "thumbs_up": up,
            "thumbs_down": down,
            "latency_p50_ms": p50,
            "latency_p95_ms": p95,
        }
