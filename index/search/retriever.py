"""Hybrid ranking: dense (FAISS) and lexical (BM25) candidates, fused into one ranked list."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from index.records import Hit
from index.search.embedder import Embedder
from index.stores.layout import unit_pid
from index.stores.protocols import PassageStore
from index.text.english import english_words
from index.text.glossary import chinese_words
from index.text.questions import english_place_readings


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """How the two rankings are combined. Tuned on the dev questions: see bench/tune_fusion.py.

    convex: score = w * dense' + (1 - w) * lexical', where dense' is the cosine min-max
    scaled over the candidates and lexical' is BM25 divided by the best BM25 score.
    rrf: reciprocal rank fusion, sum of 1 / (rrf_k + rank).
    """

    method: Literal["convex", "rrf"] = "convex"
    dense_weight: float = 0.3
    # English questions: BM25 only sees the words the cross-lingual lexicon brings, so the
    # dense side leads (bench/tune_fusion.py; see index/crosslingual.py).
    cross_lingual_dense_weight: float = 0.7
    candidates: int = 50
    rrf_k: int = 60


@dataclass(frozen=True, slots=True)
class Signals:
    """Raw scores of one question against the candidates, kept for abstention and tuning."""

    pids: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    units: dict[int, float] = field(default_factory=dict)  # dense score of each unit seen
    cross_lingual: bool = False  # an English question, BM25 over its expansion
    translations: tuple[str, ...] = ()  # an English question's words, rendered in Chinese
    query: np.ndarray | None = None  # the question's vector


# English words whose vectors are kept (384 floats each: 6 MB at most)
WORD_CACHE = 4096


class HybridRetriever:
    def __init__(self, *, embedder: Embedder, fusion: FusionConfig | None = None) -> None:
        self.embedder = embedder
        self.fusion = fusion or FusionConfig()
        self._words: dict[str, np.ndarray] = {}
        self._words_lock = threading.Lock()

    def _word_vectors(self, words: list[str]) -> np.ndarray:
        """The query vectors of an English question's words: embedded apart from the
        question (a batch pads every word to the longest sequence in it), and kept, as the
        same words come back question after question."""
        with self._words_lock:
            known = {w: self._words[w] for w in words if w in self._words}
        missing = [w for w in dict.fromkeys(words) if w not in known]
        if missing:
            fresh = self.embedder.embed_queries(missing).astype(np.float32)
            known.update(zip(missing, fresh, strict=True))
            with self._words_lock:
                if len(self._words) + len(missing) > WORD_CACHE:
                    self._words.clear()
                self._words.update(zip(missing, fresh, strict=True))
        return np.stack([known[w] for w in words])

    def signals(self, store: PassageStore, question: str) -> Signals:
        n = store.passage_count
        if n == 0:
            empty = np.zeros(0)
            return Signals(empty.astype(np.int64), empty, empty)
        k = min(self.fusion.candidates, n)
        lexicon = store.lexicon
        words = english_words(question) if lexicon else []
        qvec = self.embedder.embed_queries([question]).astype(np.float32)[0]
        # Several units (sentences) per passage: fetch more, keep each passage's best.
        unit_ids, unit_scores = store.dense.search(qvec, k * 4)
        units = {int(u): float(sc) for u, sc in zip(unit_ids, unit_scores, strict=True)}
        dense: dict[int, float] = {}
        for pid, score in zip(unit_pid(unit_ids), unit_scores, strict=True):
            if float(score) > dense.get(int(pid), -2.0):
                dense[int(pid)] = float(score)
        expansion, translations = (
            lexicon.read(self._word_vectors(words), words) if lexicon and words else ("", ())
        )
        if words:  # CC-CEDICT's words for the English question's names and terms
            # places are read by their pinyin (株洲, in most passages of a city's articles)
            places = {w for w, _ in english_place_readings(question)}
            found = chinese_words(
                question, names_only=True, known=set(expansion.split()), skip=places
            )
            expansion = " ".join([expansion, *found]).strip()
        lexical = store.lexical_search.search(expansion or question, k=k, include=list(dense))
        pids = np.array(sorted(set(dense) | set(lexical)), dtype=np.int64)
        floor = min(dense.values()) if dense else 0.0
        return Signals(
            pids,
            np.array([dense.get(int(p), floor) for p in pids], dtype=np.float32),
            np.array([lexical.get(int(p), 0.0) for p in pids], dtype=np.float32),
            units,
            bool(expansion),
            translations,
            qvec,
        )

    def fuse(self, sig: Signals) -> np.ndarray:
        if len(sig.pids) == 0:
            return np.zeros(0, dtype=np.float32)
        f = self.fusion
        if f.method == "rrf":
            dense_rank = np.argsort(np.argsort(-sig.dense))
            lex_rank = np.argsort(np.argsort(-sig.lexical))
            lex_part = np.where(sig.lexical > 0, 1.0 / (f.rrf_k + lex_rank + 1), 0.0)
            return (1.0 / (f.rrf_k + dense_rank + 1) + lex_part).astype(np.float32)
        span = float(sig.dense.max() - sig.dense.min())
        dense_n = (sig.dense - sig.dense.min()) / span if span > 0 else np.ones_like(sig.dense)
        top = float(sig.lexical.max())
        lex_n = sig.lexical / top if top > 0 else np.zeros_like(sig.lexical)
        w = f.cross_lingual_dense_weight if sig.cross_lingual else f.dense_weight
        return (w * dense_n + (1 - w) * lex_n).astype(np.float32)

    def search(self, store: PassageStore, question: str, *, k: int = 5) -> list[Hit]:
        return self.rank(store, self.signals(store, question), k=k)

    def rank(self, store: PassageStore, sig: Signals, *, k: int) -> list[Hit]:
        fused = self.fuse(sig)
        order = np.argsort(-fused, kind="stable")[:k]
        chosen = [int(sig.pids[i]) for i in order]
        passages = store.passages(chosen)
        hits = []
        for rank, i in enumerate(order, start=1):
            pid = int(sig.pids[i])
            passage = passages[pid]
            hits.append(
                Hit(
                    pid=pid,
                    passage=passage,
                    article=store.articles[passage.article_id],
                    score=float(fused[i]),
                    dense=float(sig.dense[i]),
                    lexical=float(sig.lexical[i]),
                    rank=rank,
                )
            )
        return hits
