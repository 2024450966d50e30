"""Writing a generation whose vectors and BM25 postings go to Milvus (see milvus.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from index.stores.layout import DEAD_SHARE_REBUILD, UNIT_SLOTS, IndexFolders, WriterOptions
from index.stores.milvus import MilvusConnection, MilvusGeneration
from index.stores.writer import GenerationWriter

log = logging.getLogger(__name__)

# Removed ids are left out of searches by a filter expression; past this many a build starts
# a new lineage instead of making the expression longer.
MAX_DEAD_UNITS = 20_000


class MilvusGenerationWriter(GenerationWriter):
    """The SQLite of a generation as GenerationWriter writes it; the vectors and search text
    into the parent's Milvus lineage (new rows only) or into a new one."""

    store_kind = "milvus"

    def __init__(
        self,
        store: IndexFolders,
        options: WriterOptions,
        *,
        conn: MilvusConnection,
        parent: Any = None,
    ) -> None:
        super().__init__(store, options, parent=parent)
        self.conn = conn
        self.resolved_faiss_index = f"milvus:{self.conn.config.resolved_index}"

    def _continues(self, n_units: int) -> bool:
        """Whether this generation can add to the parent's lineage."""
        parent = self.parent
        if (
            not isinstance(parent, MilvusGeneration)
            or self._cleared
            or parent.manifest.model != self.model
            or parent.conn.config.uri != self.conn.config.uri
        ):
            return False
        dead = len(parent.dead_unit_ids()) + len(self._removed_uids)
        if dead > MAX_DEAD_UNITS or dead > DEAD_SHARE_REBUILD * max(n_units + dead, 1):
            return False
        try:
            info = self.conn.describe(parent.manifest.collection)
        except Exception:
            return False
        return info.get("model") == self.model

    def write_search_indexes(self, n_units: int, n_passages: int) -> int:
        if self._continues(n_units):
            assert self.parent is not None
            self.collection = self.parent.manifest.collection
            # rows newer than the parent: a build that crashed before it switched, or a
            # generation abandoned by a rollback; no reader of the parent sees them
            self.conn.delete_from(self.collection, self.parent.number + 1)
            self.db.executemany(
                "INSERT OR IGNORE INTO dead_units VALUES (?)", [(u,) for u in self._removed_uids]
            )
            where, params = self._added_where()
        else:
            self.collection = self.conn.lineage_name(self.number)
            self.conn.create_lineage(self.collection, model=self.model, dim=self.dim)
            self.db.execute("DELETE FROM dead_units")
            where, params = "", ()
        passages, units = self.conn.names(self.collection)
        for batch in self._passage_rows(where, params):
            self.conn.insert(passages, batch)
        for batch in self._unit_rows(where, params):
            self.conn.insert(units, batch)
        log.info("Milvus lineage %s: generation %s written", self.collection, self.number)
        return n_units

    def _added_where(self) -> tuple[str, tuple[int, ...]]:
        if not self._added_pids:
            return "WHERE 0", ()
        return "WHERE p.pid >= ? AND p.pid <= ?", (min(self._added_pids), max(self._added_pids))

    def _passage_rows(self, where: str, params: tuple[int, ...]) -> Iterator[list[dict[str, Any]]]:
        cursor = self.db.execute(
            "SELECT p.pid, p.article_id, p.section_path, p.paragraph, p.spans, p.search_text, "
            "u.embedding, t.tokens FROM passages p "
            f"JOIN units u ON u.uid = p.pid * {UNIT_SLOTS} "
            "LEFT JOIN lexical_tokens t ON t.pid = p.pid AND t.tokenizer = ? "
            f"{where} ORDER BY p.pid",
            (self.lexical_tokenizer, *params),
        )
        while rows := cursor.fetchmany(2000):
            yield [
                {
                    "pid": r[0],
                    "article_id": r[1],
                    "section_path": r[2],
                    "paragraph": r[3],
                    "spans": r[4],
                    "text": r[5],
                    "tokens": " ".join(t for t in json.loads(r[7] or "[]") if t.strip()),
                    "dense": np.frombuffer(r[6], dtype=np.float32).tolist(),
                    "added": self.number,
                }
                for r in rows
            ]

    def _unit_rows(self, where: str, params: tuple[int, ...]) -> Iterator[list[dict[str, Any]]]:
        cursor = self.db.execute(
            "SELECT u.uid, u.pid, u.embedding FROM units u JOIN passages p ON p.pid = u.pid "
            f"{where} ORDER BY u.uid",
            params,
        )
        while rows := cursor.fetchmany(2000):
            yield [
                {
                    "uid": r[0],
                    "pid": r[1],
                    "dense": np.frombuffer(r[2], dtype=np.float32).tolist(),
                    "added": self.number,
                }
                for r in rows
            ]
