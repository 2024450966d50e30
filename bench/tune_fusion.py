"""Grid over lexical tokenizer, passage size and fusion on the QA fixtures (real model).

Run: .venv/bin/python bench/tune_fusion.py [fixture.jsonl ...]
Prints one line per setting: hit@1 / hit@3 / hit@5 / mrr per fixture file, Chinese only and
English only. Embeddings are computed once per distinct passage text and cached in memory.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.settings import Settings
from corpus import discover_articles, load_article
from index import Engine, EngineOptions, FusionConfig, IndexFolder, Judged, evaluate, load_fixtures
from index.search.embedder import load_embedder
from index.search.retriever import HybridRetriever

ROOT = Path(__file__).resolve().parents[1]


class CachingEmbedder:
    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.cache: dict[tuple[bool, str], np.ndarray] = {}

    def _get(self, texts: Sequence[str], query: bool) -> np.ndarray:
        todo = [t for t in texts if (query, t) not in self.cache]
        if todo:
            vecs = self.inner.embed_queries(todo) if query else self.inner.embed_passages(todo)
            self.cache.update({(query, t): v for t, v in zip(todo, vecs, strict=True)})
        return np.stack([self.cache[(query, t)] for t in texts])

    def embed_queries(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        return self._get(texts, True)

    def embed_passages(self, texts: Sequence[str], *, progress=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        return self._get(texts, False)


def main(files: list[Path]) -> None:
    settings = Settings()
    embedder = CachingEmbedder(load_embedder(settings.model, cache_dir=settings.model_cache_dir))
    articles = [load_article(p) for p in discover_articles(settings.corpus_dir)]
    fixtures = {f.name: [x for x in load_fixtures(f) if not x.expect.no_answer] for f in files}
    fusions = [FusionConfig(method="rrf")] + [
        FusionConfig(method="convex", dense_weight=w)
        for w in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
    ]
    for tokenizer in ("bigram", "jieba", "jieba+bigram"):
        for max_chars in (120, 300):
            with tempfile.TemporaryDirectory() as tmp:
                engine = Engine(
                    store=IndexFolder(Path(tmp)),
                    embedder=embedder,  # type: ignore[arg-type]
                    options=EngineOptions(max_passage_chars=max_chars, lexical_tokenizer=tokenizer),
                )
                engine.build(articles)
                gen = engine._generation
                for fusion in fusions:
                    retriever = HybridRetriever(embedder=embedder, fusion=fusion)  # type: ignore[arg-type]

                    def run(q: str, r: HybridRetriever = retriever) -> Judged:
                        return Judged(hits=r.search(gen, q, k=5), latency_ms=0.0)  # noqa: B023

                    cells = []
                    for name, fx in fixtures.items():
                        rep = evaluate(fx, run)
                        zh, en = rep.by_language.get("zh", {}), rep.by_language.get("en", {})
                        cells.append(
                            f"{name[:8]} zh {zh.get('hit@1', 0):.3f}/{zh.get('hit@3', 0):.3f}/"
                            f"{zh.get('hit@5', 0):.3f} mrr {zh.get('mrr', 0):.3f} "
                            f"en@3 {en.get('hit@3', 0):.2f}"
                        )
                    weight = "" if fusion.method == "rrf" else f" w={fusion.dense_weight}"
                    label = f"{fusion.method}{weight}"
                    print(
                        f"{tokenizer:13s} {max_chars:4d} {label:12s} | " + " | ".join(cells),
                        flush=True,
                    )


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]] or [
        ROOT.parent / "shared" / "qa-dev.jsonl",
        ROOT / "tests" / "fixtures" / "qa.jsonl",
    ]
    main([a for a in args if a.exists()])
