"""Generations whose vectors and BM25 postings live in Milvus (SHUZI_STORE=milvus).

What goes where, and why:
- Milvus holds what grows with the archive and must scale past one machine: the dense
  vectors and the BM25 postings. Per lineage (a full build and the adds and removes on top of
  it) two collections:
    {prefix}_g000007_passages  one row per passage: pid, article id, section path, paragraph,
                               spans, the search text (jieba analyzer), its BM25 sparse vector
                               (filled by Milvus's own BM25 function) and the passage's vector
    {prefix}_g000007_units     one row per dense unit (a passage and its sentences): uid, pid,
                               vector; the engine's dense search runs here
  Every row carries `added`, the generation that wrote it.
- The generation folder beside it keeps what is small and relational: articles, passages
  (for display: read by id many times per answer), figures (queried by metric), the document
  frequencies behind term weights, the lexicon and the manifest. It is the same SQLite as a
  local generation, vectors included, which is what makes `shuzi index migrate` a copy
  without re-embedding, in both directions.

Generations: a reader of generation N filters `added <= N` and leaves out the units its own
SQLite lists as removed (`dead_units`), so an add writes only the new rows into the serving
collections, a crash mid-add leaves rows no reader asks for (the next writer deletes them),
and a rollback to N-1 sees the collections as they were. Milvus Lite has no aliases: the
serving pointer is the index folder's CURRENT file, as for local generations. When removed
units pass DEAD_SHARE_REBUILD of a lineage, or the model changes, a build starts a new
lineage; collections no kept generation reads are dropped.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from index.stores.layout import (
    REBUILD_HINT,
    UNIT_SLOTS,
    IndexCorruptError,
    IndexMismatchError,
    IndexStoreError,
    Manifest,
    generation_name,
)
from index.stores.segment_reader import SegmentReader
from index.text.tokens import TOKENIZERS

if TYPE_CHECKING:
    from pymilvus import MilvusClient

log = logging.getLogger(__name__)

T = TypeVar("T")

# Milvus Lite (a file path) runs FLAT and IVF_FLAT; servers get HNSW (bench/milvus.py).
LITE_INDEX = "FLAT"
SERVER_INDEX = "HNSW"
SERVER_INDEX_PARAMS = {"M": 32, "efConstruction": 200}
SERVER_SEARCH_PARAMS = {"ef": 128}
INSERT_BATCH = 2000
# The local BM25's parameters (index/stores/bm25.py). Milvus scores carry Lucene's older
# (k1 + 1) factor, which the local engine drops: divided out, the two give the same numbers.
BM25_K1, BM25_B = 1.2, 0.75
MAX_TEXT = 65535  # VARCHAR bytes


class MilvusUnavailableError(IndexStoreError):
    """Milvus cannot be reached (or answered with an error) at the configured URI."""


@dataclass(frozen=True, slots=True)
class MilvusConfig:
    uri: str  # a file path (Milvus Lite, embedded) or http(s)://host:19530
    token: str = ""  # secret: never logged, never in a message
    prefix: str = "shuzi"
    index_type: str = "auto"  # auto: FLAT on Lite, HNSW on servers
    timeout: float = 30.0
    # which BM25 the engine asks: "jieba" (Milvus's jieba analyzer over the search text) or
    # "shuzi" (the index's own lexical tokens, whitespace-joined: the local engine's BM25)
    bm25: str = "shuzi"

    @property
    def is_lite(self) -> bool:
        return not self.uri.startswith(("http://", "https://", "tcp://", "grpc://"))

    @property
    def call_timeout(self) -> int:
        """Seconds a call may take, retries included: pymilvus bounds its retries by a timeout
        only when it is an int (a float falls back to 75 retries with backoff: minutes)."""
        return max(1, math.ceil(self.timeout))

    @property
    def resolved_index(self) -> str:
        if self.index_type != "auto":
            return self.index_type
        return LITE_INDEX if self.is_lite else SERVER_INDEX


# Milvus Lite's own log files go here, beside its database file (GLOG_log_dir set before the
# process started wins)
LITE_LOG_DIR = "milvus-logs"
GLOG_DIR_VARIABLE = "GLOG_log_dir"  # glog's flags by name: lower case is its spelling
OPERATOR_GLOG_DIR = os.environ.get(GLOG_DIR_VARIABLE, "")


class MilvusConnection:
    """One client per URI, made on first use and made again after a failure: a question that
    meets a lost connection fails with MilvusUnavailableError (the bot apologises), the next
    one reconnects."""

    def __init__(self, config: MilvusConfig) -> None:
        self.config = config
        self._client: MilvusClient | None = None
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        return self._client is not None

    def _connect(self) -> MilvusClient:
        from pymilvus import MilvusClient

        # pymilvus logs each failed call with a traceback of its own; ours says the same in
        # one line with the URI (MilvusUnavailableError), and the bot's error handler logs it
        for name in ("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer"):
            logging.getLogger(name).setLevel(logging.CRITICAL)  # each has its own (dictConfig)

        if self.config.is_lite:
            folder = Path(self.config.uri).parent
            folder.mkdir(parents=True, exist_ok=True)
            # the embedded engine's search library logs every commit at INFO on stderr
            os.environ.setdefault("RUST_LOG", "warn")
            # and the engine writes a set of log files (glog) at every start, into /tmp
            # unless told where: beside its database, unless the operator said otherwise
            if not OPERATOR_GLOG_DIR:
                logs = folder / LITE_LOG_DIR
                logs.mkdir(exist_ok=True)
                os.environ[GLOG_DIR_VARIABLE] = str(logs)  # read when the engine process starts
        try:
            return MilvusClient(
                uri=self.config.uri, token=self.config.token, timeout=self.config.call_timeout
            )
        except Exception as exc:
            raise MilvusUnavailableError(
                f"Milvus at {self.config.uri} cannot be reached ({_reason(exc)}); check "
                "SHUZI_MILVUS_URI and that the server is running"
            ) from None

    @property
    def client(self) -> MilvusClient:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def reset(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:
                log.debug("closing a failed Milvus client", exc_info=True)
        if self.config.is_lite:
            # the embedded server may be what died: the next connection starts a new one
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.config.uri)

    def call(self, action: Callable[[MilvusClient], T]) -> T:
        """Run an action on the client; a failure drops the client (the next call
        reconnects) and is raised as MilvusUnavailableError naming the URI."""
        client = self.client
        try:
            return action(client)
        except Exception as exc:
            self.reset()
            raise MilvusUnavailableError(
                f"Milvus at {self.config.uri} failed ({_reason(exc)}); it will be asked again "
                "on the next request"
            ) from None

    # -- collections ---------------------------------------------------------------------
    def names(self, lineage: str) -> tuple[str, str]:
        """(passages collection, units collection) of a lineage."""
        return f"{lineage}_passages", f"{lineage}_units"

    def lineage_name(self, number: int) -> str:
        return f"{self.config.prefix}_{generation_name(number)}"

    def create_lineage(self, lineage: str, *, model: str, dim: int) -> None:
        """The two collections of a new lineage, indexed and loaded (an old pair of the same
        name, left by a crashed build, is dropped first)."""
        passages, units = self.names(lineage)
        description = json.dumps({"shuzi": 1, "model": model, "dim": dim})
        index_type = self.config.resolved_index

        def create(client: MilvusClient) -> None:
            for name in (passages, units):
                if client.has_collection(name):
                    client.drop_collection(name)
            for name, schema, index in (
                (passages, *_passage_collection(client, description, dim, index_type)),
                (units, *_unit_collection(client, description, dim, index_type)),
            ):
                client.create_collection(
                    name, schema=schema, index_params=index, consistency_level="Strong"
                )

        self.call(create)

    def describe(self, lineage: str) -> dict[str, Any]:
        """The model and dimension a lineage was written with; raises IndexCorruptError when
        its collections are gone."""
        passages, units = self.names(lineage)

        def read(client: MilvusClient) -> dict[str, Any] | None:
            if not (client.has_collection(passages) and client.has_collection(units)):
                return None
            return client.describe_collection(units)

        info = self.call(read)
        if info is None:
            raise IndexCorruptError(
                f"the Milvus collections {passages} and {units} are missing at "
                f"{self.config.uri}; {REBUILD_HINT}, or `shuzi index rollback`"
            )
        try:
            return dict(json.loads(info.get("description") or "{}"))
        except ValueError:
            return {}

    def insert(self, collection: str, rows: list[dict[str, Any]]) -> None:
        for i in range(0, len(rows), INSERT_BATCH):
            batch = rows[i : i + INSERT_BATCH]
            self.call(lambda c, b=batch: c.insert(collection, b, timeout=self.config.call_timeout))  # type: ignore[misc]

    def delete_from(self, lineage: str, number: int) -> None:
        """Take out the rows generation `number` and later wrote (a crashed build's)."""
        for name in self.names(lineage):
            self.call(
                lambda c, n=name: c.delete(  # type: ignore[misc]
                    n, filter=f"added >= {number}", timeout=self.config.call_timeout
                )
            )

    def count(self, collection: str, expr: str) -> int:
        rows = self.call(
            lambda c: c.query(
                collection,
                filter=expr,
                output_fields=["count(*)"],
                timeout=self.config.call_timeout,
            )
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def drop_unused(self, keep: set[str]) -> None:
        """Drop this prefix's lineages that no kept generation reads."""
        start = f"{self.config.prefix}_g"
        keep_names = {n for lineage in keep for n in self.names(lineage)}
        for name in self.call(lambda c: c.list_collections()):
            if name.startswith(start) and name not in keep_names:
                log.info("dropping unused Milvus collection %s", name)
                self.call(lambda c, n=name: c.drop_collection(n))  # type: ignore[misc]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class MilvusDense:
    """DenseIndex over a lineage's units collection, as generation `number` sees it."""

    def __init__(self, conn: MilvusConnection, collection: str, expr: str, size: int) -> None:
        self.conn, self.collection, self.expr, self._size = conn, collection, expr, size

    @property
    def size(self) -> int:
        return self._size

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self._size, 16384)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = {"metric_type": "IP", "params": {}}
        if self.conn.config.resolved_index == "HNSW":
            params["params"] = {**SERVER_SEARCH_PARAMS, "ef": max(SERVER_SEARCH_PARAMS["ef"], k)}
        vector = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        result = self.conn.call(
            lambda c: c.search(
                self.collection,
                data=[vector],
                anns_field="dense",
                limit=k,
                filter=self.expr,
                search_params=params,
                timeout=self.conn.config.call_timeout,
            )
        )
        hits = result[0] if result else []
        ids = np.array([h["id"] for h in hits], dtype=np.int64)
        scores = np.array([h["distance"] for h in hits], dtype=np.float32)
        return ids, scores


class MilvusLexical:
    """LexicalSearch: Milvus's BM25 over a lineage's passages, on the search text through its
    jieba analyzer or on the index's own lexical tokens (MilvusConfig.bm25)."""

    def __init__(self, conn: MilvusConnection, collection: str, expr: str, tokenizer: str) -> None:
        self.conn, self.collection, self.expr = conn, collection, expr
        self.own_tokens = conn.config.bm25 == "shuzi"
        self.tokenize = TOKENIZERS[tokenizer]

    def _search(self, query: str, limit: int, expr: str) -> dict[int, float]:
        result = self.conn.call(
            lambda c: c.search(
                self.collection,
                data=[query],
                anns_field="tokens_sparse" if self.own_tokens else "sparse",
                limit=limit,
                filter=expr,
                search_params={"metric_type": "BM25"},
                timeout=self.conn.config.call_timeout,
            )
        )
        scale = 1.0 / (1.0 + BM25_K1)
        return {int(h["id"]): float(h["distance"]) * scale for h in (result[0] if result else [])}

    def search(self, query: str, *, k: int, include: Sequence[int] = ()) -> dict[int, float]:
        query = query.strip()[: MAX_TEXT // 4]
        if self.own_tokens:
            query = " ".join(t for t in self.tokenize(query) if t.strip())
        if not query or k <= 0:
            return {}
        scores = self._search(query, min(k, 16384), self.expr)
        wanted = [int(p) for p in include if int(p) not in scores]
        if wanted:
            expr = f"({self.expr}) and pid in {wanted}"
            found = self._search(query, min(len(wanted), 16384), expr)
            scores.update({p: found.get(p, 0.0) for p in wanted})
        return scores


class MilvusGeneration(SegmentReader):
    """A generation whose vectors and BM25 postings are in Milvus; passages, figures and
    the rest in its folder's SQLite, as for a local generation."""

    def __init__(self, folder: Path, manifest: Manifest, conn: MilvusConnection) -> None:
        self.conn = conn
        super().__init__(folder, manifest)

    def _load_search(self) -> None:
        lineage = self.manifest.collection
        info = self.conn.describe(lineage)
        if info.get("model") != self.manifest.model or info.get("dim") != self.manifest.dim:
            raise IndexMismatchError(
                f"the Milvus collections {lineage}_* at {self.conn.config.uri} hold vectors of "
                f"{info.get('model')!r} ({info.get('dim')} dimensions), the generation says "
                f"{self.manifest.model!r} ({self.manifest.dim}); {REBUILD_HINT}"
            )

    def _expr(self, id_field: str, dead: np.ndarray) -> str:
        expr = f"added <= {self.number}"
        if len(dead):
            expr += f" and {id_field} not in {sorted(set(dead.tolist()))}"
        return expr

    @functools.cached_property
    def unit_filter(self) -> str:
        """What this generation sees of its lineage's units (built once, not per question)."""
        return self._expr("uid", self._dead)

    @functools.cached_property
    def passage_filter(self) -> str:
        return self._expr("pid", self._dead // UNIT_SLOTS)

    @property
    def dense(self) -> MilvusDense:
        _, units = self.conn.names(self.manifest.collection)
        return MilvusDense(
            self.conn,
            units,
            self.unit_filter,
            int(self.manifest.counts.get("units", 0)),
        )

    @property
    def lexical_search(self) -> MilvusLexical:
        passages, _ = self.conn.names(self.manifest.collection)
        return MilvusLexical(
            self.conn,
            passages,
            self.passage_filter,
            self.manifest.lexical_tokenizer,
        )

    def check_counts(self) -> None:
        passages, units = self.conn.names(self.manifest.collection)
        counts = self.manifest.counts
        n_passages = self.conn.count(passages, self.passage_filter)
        n_units = self.conn.count(units, self.unit_filter)
        if (len(self.pids), n_passages, n_units) != (
            counts.get("passages"),
            counts.get("passages"),
            counts.get("units"),
        ):
            raise IndexCorruptError(
                f"{self.folder}: {len(self.pids)} passages in SQLite, {n_passages} passages and "
                f"{n_units} units in Milvus ({passages}), manifest says "
                f"{counts.get('passages')} and {counts.get('units')}; {REBUILD_HINT}"
            )


def _dense_index(client: MilvusClient, index_type: str) -> Any:
    index = client.prepare_index_params()
    params: dict[str, Any] = SERVER_INDEX_PARAMS if index_type == "HNSW" else {}
    index.add_index("dense", index_type=index_type, metric_type="IP", params=params)
    return index


def _passage_collection(
    client: MilvusClient, description: str, dim: int, index_type: str
) -> tuple[Any, Any]:
    """The passages' schema and index parameters: ids, text with two BM25 analyzers (Milvus's
    jieba, and the index's own tokens whitespace-joined), the passage vector."""
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, description=description)
    schema.add_field("pid", DataType.INT64, is_primary=True)
    schema.add_field("article_id", DataType.VARCHAR, max_length=512)
    schema.add_field("section_path", DataType.VARCHAR, max_length=4096)
    schema.add_field("paragraph", DataType.INT64)
    schema.add_field("spans", DataType.VARCHAR, max_length=16384)
    # each text field with the BM25 sparse vector Milvus fills from it
    for field, sparse_field, tokenizer in (
        ("text", "sparse", "jieba"),
        ("tokens", "tokens_sparse", "whitespace"),
    ):
        schema.add_field(
            field,
            DataType.VARCHAR,
            max_length=MAX_TEXT,
            enable_analyzer=True,
            analyzer_params={"tokenizer": tokenizer},
        )
        schema.add_field(sparse_field, DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25" if field == "text" else "bm25_tokens",
                function_type=FunctionType.BM25,
                input_field_names=[field],
                output_field_names=[sparse_field],
            )
        )
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("added", DataType.INT64)
    index = _dense_index(client, index_type)
    for field in ("sparse", "tokens_sparse"):
        index.add_index(
            field,
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
        )
    return schema, index


def _unit_collection(
    client: MilvusClient, description: str, dim: int, index_type: str
) -> tuple[Any, Any]:
    """The units' (sentences') schema and index parameters: ids and vectors."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, description=description)
    schema.add_field("uid", DataType.INT64, is_primary=True)
    schema.add_field("pid", DataType.INT64)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("added", DataType.INT64)
    return schema, _dense_index(client, index_type)
