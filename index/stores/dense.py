"""The local dense index: a FAISS index of the units' vectors, ids passage id * UNIT_SLOTS + j."""

from __future__ import annotations

import faiss
import numpy as np

from index.stores.layout import REFINE_MIN_CANDIDATES


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

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # dead units take places in the result: ask for more, then drop them
        wanted = min(int(self.index.ntotal), k * 2 if self.dead is not None else k)
        params = None
        if self._k_factor:
            k_factor = max(self._k_factor, REFINE_MIN_CANDIDATES / wanted)
            k_factor = max(1.0, min(k_factor, int(self.index.ntotal) / wanted))
            params = faiss.IndexRefineSearchParameters()
            params.k_factor = k_factor
        scores, ids = self.index.search(
            np.asarray(query, dtype=np.float32).reshape(1, -1), wanted, params=params
        )
        keep = ids[0] >= 0
        if self.dead is not None:
            keep &= ~np.isin(ids[0], self.dead)
        return ids[0][keep][:k], scores[0][keep][:k]
