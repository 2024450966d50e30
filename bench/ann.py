"""Approximate dense indexes compared on real e5 vectors with real questions.

Run: .venv/bin/python -m bench.ann [--sizes 20000 100000 1000000] [--threads 1]

Vectors: every sentence of the CMRC 2018 trial paragraphs and of corpus/ (real text), and
pairs of those sentences joined (real text recombined), embedded with the configured model:
at least 20,000 real vectors. Questions: the trial set's questions, embedded as queries.
Larger sizes are derived from the real vectors: each derived vector is the normalized sum of
two real ones plus a little noise (what embedding two joined sentences gives, roughly). The
recall measured on 20,000 derived vectors is printed beside the recall on the 20,000 real
ones, so the derived sizes can be trusted as far as the two agree.

For each index (exact, HNSW, IVF, with and without SQ8/fp16) and size: recall@10 against
exact search, query latency p50/p95 (one question at a time, as the bot asks), memory (the
serialized index) and build time. Results go to bench/results/ann.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import faiss
import numpy as np

from bot.settings import Settings
from corpus import discover_articles, load_article, split_sentences
from index import load_embedder
from index.comprehension import load_comprehension_sets
from index.evaluation import percentile
from index.stores.layout import new_faiss_index

ROOT = Path(__file__).resolve().parents[1]
TRIAL = ROOT / "tests" / "fixtures" / "cmrc2018" / "cmrc2018_trial.json"
CACHE = ROOT / "data" / "bench-cache"
REAL = 20_000


def real_texts() -> tuple[list[str], list[str]]:
    """Sentences of real text, then pairs of them, until there are REAL; and questions."""
    reading = load_comprehension_sets([TRIAL])
    bodies = [a.body for a in reading.articles]
    bodies += [load_article(p).body for p in discover_articles(ROOT / "corpus" / "articles")]
    sentences = list(
        dict.fromkeys(
            b[s:e].strip() for b in bodies for s, e in split_sentences(b) if b[s:e].strip()
        )
    )
    rng = np.random.default_rng(0)
    texts = list(sentences)
    while len(texts) < REAL:
        i, j = rng.integers(0, len(sentences), size=2)
        texts.append(sentences[i] + sentences[j])
    return texts[:REAL], [q.question for q in reading.questions]


def embedded(threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Real vectors and question vectors, cached under data/ (they take a minute or two)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    vec_path, q_path = CACHE / "ann-real.npy", CACHE / "ann-questions.npy"
    if vec_path.exists() and q_path.exists():
        return np.load(vec_path), np.load(q_path)
    settings = Settings()
    embedder = load_embedder(settings.model, cache_dir=settings.model_cache_dir, threads=threads)
    texts, questions = real_texts()
    vectors = embedder.embed_passages(texts)
    queries = embedder.embed_queries(questions)
    np.save(vec_path, vectors)
    np.save(q_path, queries)
    return vectors, queries


def derive(real: np.ndarray, n: int, *, seed: int = 1, noise: float = 0.02) -> np.ndarray:
    """n vectors, each the normalized sum of two real ones plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    step = 100_000
    for lo in range(0, n, step):
        m = min(step, n - lo)
        a = real[rng.integers(0, len(real), m)]
        b = real[rng.integers(0, len(real), m)]
        v = a + b + noise * rng.standard_normal(a.shape).astype(np.float32)
        out[lo : lo + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def candidates(n: int) -> list[tuple[str, str]]:
    """(factory string, search parameters) to compare at size n."""
    nlist = max(64, int(4 * np.sqrt(n)))
    return [
        ("Flat", ""),
        ("HNSW32,Flat", "efSearch=64"),
        ("HNSW32,Flat", "efSearch=128"),
        ("HNSW32,SQ8", "efSearch=128"),
        ("HNSW32,SQfp16", "efSearch=128"),
        ("HNSW32,SQfp16", "efSearch=256"),
        ("HNSW64,SQfp16", "efSearch=256"),
        ("HNSW64,SQfp16", "efSearch=512"),
        (f"IVF{nlist},Flat", "nprobe=16"),
        (f"IVF{nlist},Flat", "nprobe=64"),
        (f"IVF{nlist},SQ8", "nprobe=64"),
        (f"IVF{nlist},SQfp16", "nprobe=64"),
        ("LSHt,RFlat", "k_factor_rf=20"),
        ("LSHt,Refine(SQfp16)", "k_factor_rf=20"),
        ("LSH512rt,Refine(SQfp16)", "k_factor_rf=10"),
        ("LSH768rt,Refine(SQfp16)", "k_factor_rf=10"),
    ]


# The engine asks the dense index for 4 x 50 units and fuses them: a re-ranking index
# re-scores k_factor times that many, so it is measured asking as many (its top 10 compared).
ENGINE_K = 200


def measure(
    factory: str, params: str, base: np.ndarray, queries: np.ndarray, truth: np.ndarray
) -> dict:
    t0 = time.perf_counter()
    index = new_faiss_index(base.shape[1], factory)
    if not index.is_trained:
        sample = base[np.random.default_rng(2).choice(len(base), min(len(base), 100_000), False)]
        index.train(sample)
    index.add(base)
    build_s = time.perf_counter() - t0
    if params:
        faiss.ParameterSpace().set_index_parameters(index, params)  # type: ignore[arg-type]
    ask = ENGINE_K if "k_factor" in params else 10
    found = index.search(queries, ask)[1][:, :10]
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
    samples = []
    for q in queries[:300]:
        t = time.perf_counter()
        index.search(q[None, :], max(ask, 40))
        samples.append(time.perf_counter() - t)
    size = len(faiss.serialize_index(index))
    return {
        "index": factory,
        "params": params,
        "recall_at_10": round(recall, 4),
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p95_ms": round(percentile(samples, 95) * 1000, 3),
        "memory_mb": round(size / 2**20, 1),
        "build_s": round(build_s, 2),
    }


def run_size(name: str, base: np.ndarray, queries: np.ndarray, only: str = "") -> list[dict]:
    exact = faiss.IndexFlatIP(base.shape[1])
    exact.add(base)
    truth = exact.search(queries, 10)[1]
    rows = []
    for factory, params in candidates(len(base)):
        if only and only not in factory:
            continue
        row = {"set": name, "n": len(base), **measure(factory, params, base, queries, truth)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=1, help="faiss threads while searching")
    parser.add_argument("--embed-threads", type=int, default=2)
    parser.add_argument("--only", default="", help="only indexes whose factory string has this")
    parser.add_argument("--skip-real", action="store_true", help="only the --sizes")
    args = parser.parse_args()
    real, queries = embedded(args.embed_threads)
    faiss.omp_set_num_threads(args.threads)
    rows = []
    if not args.skip_real:
        rows += run_size("real", real, queries, args.only)
        rows += run_size("derived", derive(real, len(real)), queries, args.only)
    for n in args.sizes:
        rows += run_size("derived", derive(real, n), queries, args.only)
    out = ROOT / "bench" / "results" / ("ann.json" if not args.only else f"ann-{args.only}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
