"""The local dense index: a FAISS index of the units' vectors, ids passage id * UNIT_SLOTS + j."""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

from index.stores.layout import REFINE_K_FACTOR, REFINE_MIN_CANDIDATES


def configure_faiss_threads(threads: int) -> None:
    """OpenMP threads FAISS searches with. One query at a time on a busy 2-core machine is
    fastest with 1: with 2 the LSH scan of 300,000 codes took 1.4 ms, every third one 5 ms
    and some 25 ms, against 1.35 ms every time with 1 (bench/results, issue 9)."""
    if threads > 0:
        faiss.omp_set_num_threads(threads)


class FaissDense:
    """DenseIndex over a loaded FAISS index."""

    def __init__(self, index: faiss.Index, dead: np.ndarray | None = None) -> None:
        self.index = index
        self.dead = dead if dead is not None and len(dead) else None  # removed units
        inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
        # a re-scoring index asks its first stage for k_factor x k, at least
        # REFINE_MIN_CANDIDATES, never more than it holds (faiss's IndexRefine then returns
        # nothing at all)
        self._k_factor = float(inner.k_factor) if isinstance(inner, faiss.IndexRefine) else 0.0

    @property
    def size(self) -> int:
        return int(self.index.ntotal) - (len(self.dead) if self.dead is not None else 0)

    def _wanted(self, k: int) -> int:
        # dead units take places in the result: ask for more, then drop them
        return min(int(self.index.ntotal), k * 2 if self.dead is not None else k)

    def _alive(self, ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        keep = ids >= 0
        if self.dead is not None:
            keep &= ~np.isin(ids, self.dead)
        return ids[keep][:k], scores[keep][:k]

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        wanted = self._wanted(k)
        params = None
        if self._k_factor:
            k_factor = max(self._k_factor, REFINE_MIN_CANDIDATES / wanted)
            k_factor = max(1.0, min(k_factor, int(self.index.ntotal) / wanted))
            params = faiss.IndexRefineSearchParameters()
            params.k_factor = k_factor
        scores, ids = self.index.search(
            np.asarray(query, dtype=np.float32).reshape(1, -1), wanted, params=params
        )
        return self._alive(ids[0], scores[0], k)


class VectorFile:
    """fp16 vectors, one row each, in a file read with pread, and the unit id of each row
    (a .npy file, memory-mapped): a question reads the rows it re-scores into its own
    buffer, so they stay in the page cache and out of the server's resident memory (a
    memory map counts every page touched, and on this kernel the whole cached folio around
    it: BENCHMARKS.md, issue 9)."""

    def __init__(self, path: Path, ids_path: Path, dim: int) -> None:
        self.dim = dim
        self._row = dim * 2
        self.ids: np.ndarray = np.load(ids_path, mmap_mode="r")
        self._fd = os.open(path, os.O_RDONLY)
        self.rows = os.fstat(self._fd).st_size // self._row

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of these rows, as float32, in the order given."""
        size, fd = self._row, self._fd
        data = b"".join([os.pread(fd, size, r * size) for r in rows.tolist()])
        return np.frombuffer(data, dtype=np.float16).reshape(-1, self.dim).astype(np.float32)

    def close(self) -> None:
        os.close(self._fd)


class RescoredDense(FaissDense):
    """DenseIndex of a FAISS index that finds candidates (rows of `vectors`, numbered in the
    order they were added) and exact inner products on their fp16 vectors that rank them:
    at least REFINE_MIN_CANDIDATES are re-scored, whatever k is asked."""

    def __init__(
        self, index: faiss.Index, vectors: VectorFile, dead: np.ndarray | None = None
    ) -> None:
        super().__init__(index, dead)
        self.vectors = vectors

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        wanted = self._wanted(k)
        ntotal = int(self.index.ntotal)
        candidates = min(ntotal, max(REFINE_MIN_CANDIDATES, REFINE_K_FACTOR * wanted))
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        _, rows = self.index.search(q, candidates)
        rows = np.sort(rows[0][rows[0] >= 0])  # file order: the reads go forward
        scores = self.vectors.read(rows) @ q[0]
        best = np.argsort(-scores, kind="stable")[:wanted]
        ids = np.asarray(self.vectors.ids[rows[best]], dtype=np.int64)
        return self._alive(ids, scores[best], k)
