"""Embedding a build's sentence units: vectors known before are re-used, new ones are embedded
in chunks that reach the embedding cache as soon as they are done (an interrupted build
resumes from there), and the units of a passage are its sentences."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from corpus import split_sentences
from index.search.embedder import Embedder
from index.stores.embed_cache import EmbeddingCache

# Units embedded between two writes to the embedding cache.
CACHE_CHUNK = 512


def embed_units(
    embedder: Embedder,
    texts: list[str],
    *,
    reusable: dict[str, np.ndarray],
    cache_path: Path,
    tick: Callable[[int], None],
) -> tuple[np.ndarray, int]:
    """Vectors for unit texts, re-using known ones (the parent's, and those an interrupted
    build left in the embedding cache); returns (vectors, newly embedded). New vectors reach
    the cache chunk by chunk, so an interrupted build loses at most one chunk."""
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    cache = EmbeddingCache(cache_path, model=embedder.name, dim=embedder.dim)
    try:
        cached = cache.get_many([t for t in texts if t not in reusable])
        missing = []
        for i, t in enumerate(texts):
            known = reusable.get(t)
            if known is None:
                known = cached.get(t)
            if known is not None and len(known) == embedder.dim:
                vectors[i] = known
            else:
                missing.append(i)
        done = [len(texts) - len(missing)]
        tick(done[0])

        def step(n: int) -> None:  # after every batch: a cancel lands within one batch
            done[0] += n
            tick(done[0])

        # longest last, like the embedder's own batches: little padding in each
        missing.sort(key=lambda i: len(texts[i]))
        for lo in range(0, len(missing), CACHE_CHUNK):
            chunk = missing[lo : lo + CACHE_CHUNK]
            chunk_texts = [texts[i] for i in chunk]
            expected = done[0] + len(chunk)
            fresh = embedder.embed_passages(chunk_texts, progress=step)
            vectors[chunk] = fresh
            cache.put_many(chunk_texts, fresh)
            if done[0] != expected:  # an embedder that does not count its batches
                done[0] = expected
                tick(expected)
    finally:
        cache.close()
    return vectors, len(missing)


def clear_embedding_cache(cache_path: Path, embedder: Embedder) -> None:
    """Once a generation is committed, its vectors live in it: the cache is emptied."""
    if cache_path.exists():
        cache = EmbeddingCache(cache_path, model=embedder.name, dim=embedder.dim)
        try:
            cache.clear()
        finally:
            cache.close()


def dense_units(text: str) -> list[str]:
    """What gets a vector: each sentence of the passage (the passage itself when it is one).

    A question usually matches one sentence, and a passage scores by its best unit. Measured
    on the QA fixtures (bench/tune_fusion.py), sentence units beat one vector per passage,
    and adding the passage vector beside its sentences gained nothing while it doubled the
    embedding work.
    """
    sentences = [text[s:e].strip() for s, e in split_sentences(text)]
    sentences = [s for s in sentences if s]
    return sentences if len(sentences) > 1 else [text]
