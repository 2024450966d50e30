"""Milvus (Lite, embedded) against the local store, in one run on the same machine.

Run: .venv/bin/python -m bench.milvus   (make bench-milvus)

For the dev set (the seed article) and the CMRC 2018 trial set (one article per paragraph):
1. build locally with the real model, evaluate;
2. `migrate --to milvus` (no embedding), evaluate with the engine's fusion over Milvus's
   dense search and its BM25 on the index's own tokens ("shuzi") and on the jieba analyzer;
3. rank the same questions with one Milvus hybrid_search (passage vectors + jieba BM25, RRF
   and weighted rankers) and report its passage hit@1/@5 beside the engine's search;
4. migrate back to local and compare every dev answer with step 1.
Then the memory of the embedded Milvus engine per million 384-dimension vectors (FLAT, the
one index Lite serves besides IVF_FLAT), from the server process's RSS.
Writes bench/results/milvus.json and prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.ann import TRIAL
from bot.settings import Settings
from bot.wiring import build_engine
from corpus import Article, discover_articles, load_article
from index import Engine, Judged, evaluate, load_fixtures
from index.comprehension import (
    ComprehensionQuestion,
    contains_gold,
    evaluate_comprehension,
    load_comprehension_sets,
)
from index.records import Hit
from index.stores.milvus import MilvusConfig, MilvusConnection, MilvusGeneration

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "tests" / "fixtures" / "qa-dev.jsonl"
UNANSWERABLE = ROOT / "tests" / "fixtures" / "cmrc2018" / "unanswerable.json"


def _engine(data: Path, *, bm25: str = "shuzi") -> Engine:
    base = Settings()
    settings = base.model_copy(
        update={"data_dir": data, "model_cache": base.model_cache_dir, "milvus_bm25": bm25}
    )
    return build_engine(settings, batch_job=True)


def _use_bm25(engine: Engine, bm25: str) -> None:
    """The same Milvus collections, asked through the other BM25 field."""
    old = engine.store.milvus
    engine.store.milvus = MilvusConnection(
        MilvusConfig(uri=old.config.uri, prefix=old.config.prefix, bm25=bm25)
    )
    engine.load()


def _dev(engine: Engine) -> tuple[dict[str, Any], list[str]]:
    fixtures = load_fixtures(DEV)
    texts: list[str] = []
    latencies: list[float] = []

    def run(question: str) -> Judged:
        answer = engine.ask(question)
        texts.append(answer.text)
        latencies.append(answer.latency_ms)
        return Judged.of_answer(answer)

    report = evaluate(fixtures, run)
    latencies.clear()
    for fx in fixtures:  # timed again, warm
        latencies.append(engine.ask(fx.question).latency_ms)
    return {
        "hit@1": report.hit_at_1,
        "hit@5": report.hit_at_5,
        "figure_accuracy": report.figure_accuracy,
        "abstain_recall": report.abstain_recall,
        "ask_p50_ms": round(statistics.median(latencies), 2),
    }, texts


def _reading(
    engine: Engine, questions: list[ComprehensionQuestion] | tuple[ComprehensionQuestion, ...]
) -> dict[str, Any]:
    report = evaluate_comprehension(questions, lambda q: engine.ask(q))
    return {
        "hit@1": report.hit_at_1,
        "hit@5": report.hit_at_5,
        "sentence_accuracy": report.sentence_accuracy,
        "span_f1": report.span_f1,
        "false_abstention_rate": report.false_abstention_rate,
        "ask_p50_ms": report.latency_ms_p50,
    }


def _hybrid_hits(engine: Engine, question: str, ranker: Any, k: int = 5) -> list[Hit]:
    """One hybrid_search over the passages collection: passage vector + jieba BM25."""
    from pymilvus import AnnSearchRequest

    gen = engine._generation
    assert isinstance(gen, MilvusGeneration)
    passages, _ = gen.conn.names(gen.manifest.collection)
    vector = engine.embedder.embed_queries([question])[0].tolist()
    expr = f"added <= {gen.number}"
    requests = [
        AnnSearchRequest(data=[vector], anns_field="dense", param={}, limit=50, expr=expr),
        AnnSearchRequest(data=[question], anns_field="sparse", param={}, limit=50, expr=expr),
    ]
    result = gen.conn.call(lambda c: c.hybrid_search(passages, requests, ranker=ranker, limit=k))
    pids = [int(h["id"]) for h in result[0]]
    found = gen.passages(pids)
    return [
        Hit(pid, found[pid], gen.articles[found[pid].article_id], float(h["distance"]), rank=r)
        for r, (pid, h) in enumerate(zip(pids, result[0], strict=True), start=1)
    ]


def _rankers() -> dict[str, Any]:
    from pymilvus import RRFRanker, WeightedRanker

    return {"hybrid_rrf": RRFRanker(60), "hybrid_weighted": WeightedRanker(0.3, 0.7)}


def _search_hits(engine: Engine) -> Callable[[str], list[Hit]]:
    return lambda q: engine.search(q).hits


def _passage_hits_dev(hits_of: Callable[[str], list[Hit]]) -> dict[str, float]:
    fixtures = load_fixtures(DEV)
    report = evaluate(fixtures, lambda q: Judged(hits=hits_of(q), latency_ms=0.0))
    return {"hit@1": report.hit_at_1, "hit@5": report.hit_at_5}


def _passage_hits_reading(
    hits_of: Callable[[str], list[Hit]], questions: Sequence[ComprehensionQuestion]
) -> dict[str, float]:
    at1 = at5 = n = 0
    for q in questions:
        if not q.answers:
            continue
        n += 1
        for hit in hits_of(q.question):
            if hit.article.id == q.article_id and contains_gold(hit.passage.text, q.answers):
                at1 += hit.rank == 1
                at5 += hit.rank <= 5
                break
    return {"hit@1": round(at1 / n, 4), "hit@5": round(at5 / n, 4)}


def _compare(
    name: str,
    articles: list[Article],
    score: Callable[[Engine], dict[str, Any]],
    hits: Callable[[Callable[[str], list[Hit]]], dict[str, float]],
) -> tuple[dict[str, Any], Engine]:
    out: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix=f"shuzi-milvus-{name}-"))
    engine = _engine(tmp)
    t0 = time.perf_counter()
    engine.build(articles)
    out["build_local_s"] = round(time.perf_counter() - t0, 2)
    engine.warm_up()
    out["local"] = score(engine)
    out["local_search"] = hits(_search_hits(engine))
    t0 = time.perf_counter()
    engine.migrate("milvus")
    out["migrate_to_milvus_s"] = round(time.perf_counter() - t0, 2)
    engine.warm_up()
    for bm25 in ("shuzi", "jieba"):
        _use_bm25(engine, bm25)
        out[f"milvus_{bm25}"] = score(engine)
        out[f"milvus_{bm25}_search"] = hits(_search_hits(engine))
    for label, ranker in _rankers().items():

        def hybrid(question: str, ranker: Any = ranker) -> list[Hit]:
            return _hybrid_hits(engine, question, ranker)

        out[label] = hits(hybrid)
    _use_bm25(engine, "shuzi")
    return out, engine


def lite_memory(n: int, dim: int = 384) -> dict[str, float]:
    """RSS of the embedded Milvus server holding n random unit vectors (FLAT, loaded)."""
    tmp = Path(tempfile.mkdtemp(prefix="shuzi-milvus-mem-"))
    conn = MilvusConnection(MilvusConfig(uri=str(tmp / "mem.db")))
    client = conn.client
    server = next(
        p
        for p in psutil.Process().children(recursive=True)
        if str(tmp / "mem.db") in " ".join(p.cmdline())
    )
    before = server.memory_info().rss
    conn.create_lineage("mem_g000001", model="random", dim=dim)
    _, units = conn.names("mem_g000001")
    rng = np.random.default_rng(0)
    for start in range(0, n, 20_000):
        block = rng.standard_normal((min(20_000, n - start), dim)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        rows = [
            {"uid": start + i, "pid": start + i, "dense": v.tolist(), "added": 1}
            for i, v in enumerate(block)
        ]
        conn.insert(units, rows)
    client.flush(units)
    client.release_collection(units)
    client.load_collection(units)
    query = rng.standard_normal(dim).astype(np.float32)
    t0 = time.perf_counter()
    for _ in range(20):
        client.search(units, data=[query.tolist()], anns_field="dense", limit=10)
    search_ms = (time.perf_counter() - t0) / 20 * 1000
    after = server.memory_info().rss
    disk = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    conn.reset()
    return {
        "vectors": n,
        "rss_mb": round((after - before) / 2**20, 1),
        "rss_mb_per_million": round((after - before) / 2**20 * 1e6 / n, 1),
        "disk_mb_per_million": round(disk / 2**20 * 1e6 / n, 1),
        "flat_search_ms": round(search_ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory-vectors", type=int, default=200_000)
    parser.add_argument("--only-memory", action="store_true")
    args = parser.parse_args()
    out = ROOT / "bench" / "results" / "milvus.json"
    results: dict[str, Any] = {}
    if args.only_memory:
        results = json.loads(out.read_text()) if out.exists() else {}
        results["lite_memory"] = lite_memory(args.memory_vectors)
        out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
        print(json.dumps(results["lite_memory"]))
        return

    seed = [load_article(p) for p in discover_articles(Settings().corpus_dir)]
    runs: list[list[str]] = []  # answer texts: local, milvus (shuzi BM25), milvus (jieba)

    def dev_score(engine: Engine) -> dict[str, Any]:
        metrics, texts = _dev(engine)
        runs.append(texts)
        return metrics

    dev, engine = _compare("dev", seed, dev_score, _passage_hits_dev)
    t0 = time.perf_counter()
    engine.migrate("local")
    dev["migrate_to_local_s"] = round(time.perf_counter() - t0, 2)
    _, back = _dev(engine)
    same = sum(a == b for a, b in zip(runs[0], back, strict=True))
    dev["round_trip_identical_answers"] = f"{same}/{len(back)}"
    same = sum(a == b for a, b in zip(runs[0], runs[1], strict=True))
    dev["milvus_vs_local_identical_answers"] = f"{same}/{len(back)}"
    results["dev"] = dev
    print(json.dumps({"dev": dev}, ensure_ascii=False), flush=True)

    reading = load_comprehension_sets([TRIAL, UNANSWERABLE])
    results["trial"], _ = _compare(
        "trial",
        list(reading.articles),
        lambda e: _reading(e, reading.questions),
        lambda hits_of: _passage_hits_reading(hits_of, reading.questions),
    )
    print(json.dumps({"trial": results["trial"]}, ensure_ascii=False), flush=True)
    results["lite_memory"] = lite_memory(args.memory_vectors)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
