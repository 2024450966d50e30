"""Dense indexes on the vectors of the synthetic archive (bench/scale.py), as the engine asks.

Run: .venv/bin/python -m bench.archive_ann --n 1000000 --index "LSH512rt,Refine(SQfp16)" \
         --k-factors 5,10,20
     .venv/bin/python -m bench.archive_ann --n 330000 --index HNSW32,SQfp16 --ef 128,512,2048

The archive's sentence vectors are derived as in bench/scale.py (about three per passage); the
questions are the dev set and 300 trial questions, embedded for real. Recall@10 is against
exact inner-product search; a re-scoring index is asked for the 200 units the engine asks for
(its top 10 compared); latency is one question at a time on one thread; rss is this process's
growth after loading the index memory-mapped and asking every question (pages of the index
files it touched). Results in bench/results/archive-*.log.
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np
import psutil

from bench.ann import ENGINE_K, TRIAL
from bench.scale import DEV, clause_vectors, clauses, synthesise
from bot.settings import Settings
from index import load_embedder, load_fixtures
from index.comprehension import load_comprehension_sets
from index.stores.layout import new_faiss_index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000, help="passages of the archive")
    parser.add_argument("--index", required=True, help="faiss.index_factory strings, ; between")
    parser.add_argument("--k-factors", default="10", help="re-scoring k_factor values")
    parser.add_argument("--ef", default="128", help="HNSW efSearch values")
    args = parser.parse_args()
    settings = Settings()
    real = load_embedder(settings.model, cache_dir=settings.model_cache_dir, threads=2)
    parts = clauses()
    _, derived = synthesise(args.n, parts, clause_vectors(real, parts))
    base = np.stack(list(derived.values()))
    del derived
    questions = [f.question for f in load_fixtures(DEV)]
    questions += [q.question for q in load_comprehension_sets([TRIAL]).questions][:300]
    queries = real.embed_queries(questions)
    print("units", len(base), flush=True)
    faiss.omp_set_num_threads(2)
    exact = faiss.IndexFlatIP(base.shape[1])
    exact.add(base)
    scores, truth = exact.search(queries, 50)
    del exact
    gap = np.median(scores[:, 9] - scores[:, 10]), np.median(scores[:, 9] - scores[:, 49])
    print(f"median score gap 10th-11th {gap[0]:.5f}, 10th-50th {gap[1]:.5f}", flush=True)
    truth = truth[:, :10]
    path = "/tmp/shuzi-archive-ann.faiss"
    for factory in args.index.split(";"):
        faiss.omp_set_num_threads(2)
        t0 = time.perf_counter()
        built = faiss.IndexIDMap(new_faiss_index(base.shape[1], factory))
        if not built.is_trained:
            sample = np.random.default_rng(0).choice(len(base), min(len(base), 200_000), False)
            built.train(base[sample])
        built.add_with_ids(base, np.arange(len(base), dtype=np.int64))
        build_s = time.perf_counter() - t0
        faiss.write_index(built, path)
        del built
        rss0 = psutil.Process().memory_info().rss
        index: faiss.Index = faiss.read_index(
            path, faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
        )
        faiss.omp_set_num_threads(1)
        print(factory, f"build {build_s:.1f} s", flush=True)
        refine = "Refine" in factory or "RFlat" in factory
        settings_ = (
            [f"k_factor_rf={k}" for k in args.k_factors.split(",")]
            if refine
            else [f"efSearch={ef}" for ef in args.ef.split(",")]
        )
        for params in settings_:
            faiss.ParameterSpace().set_index_parameters(index, params)  # type: ignore[arg-type]
            ask = ENGINE_K if refine else 10
            latencies, found = [], []
            for q in queries:
                t = time.perf_counter()
                ids = index.search(q[None, :], ask)[1][0][:10]
                latencies.append(time.perf_counter() - t)
                found.append(ids)
            recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
            rss = (psutil.Process().memory_info().rss - rss0) / 2**20
            print(
                f"{factory} {params} recall@10 {recall:.3f} p50 {1000 * np.median(latencies):.2f} "
                f"ms p95 {1000 * np.percentile(latencies, 95):.2f} ms rss +{rss:.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
