"""An archive on one machine: SCALE_N passages built, served, added to and removed from.

Run: make bench-scale SCALE_N=100000   (or .venv/bin/python -m bench.scale --n 100000)
The last line printed is one JSON object: n, build_s, rss_mb, cold_start_s, ask_p50_ms,
ask_p95_ms, recall_at_10, add_article_s, remove_article_s, dev_hit_at_1 (and details).

Volume is synthesised, because embedding a million passages on this CPU takes hours:
- text: clauses of the CMRC 2018 trial paragraphs (real Chinese text, other topics than the
  dev questions) recombined: a sentence is two clauses joined, a passage two to four such
  sentences, an article one to four passages;
- vectors: each clause is embedded once with the real model (cached under data/); a
  synthetic sentence's vector is the normalized sum of its clauses' vectors plus a little
  noise (bench/ann.py shows that recall measured on such derived vectors agrees with recall
  on real ones for HNSW, within 0.01 at 20,000 vectors).
The seed article (corpus/) is indexed among them with real vectors, and the dev questions are
asked against the whole archive with the real model. The article added and removed is 5,000
characters of real text, embedded for real.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import faiss
import numpy as np
import psutil

from bench.ann import CACHE, TRIAL
from bot.settings import Settings
from bot.wiring import build_engine
from corpus import Article, discover_articles, load_article, split_sentences
from index import Judged, evaluate, load_embedder, load_fixtures
from index.comprehension import load_comprehension_sets
from index.evaluation import percentile
from index.search.embedder import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "tests" / "fixtures" / "qa-dev.jsonl"


def clauses() -> list[str]:
    bodies = [a.body for a in load_comprehension_sets([TRIAL]).articles]
    out = []
    for body in bodies:
        for s, e in split_sentences(body):
            for clause in body[s:e].strip().rstrip("。！？；!?;").split("，"):
                if 6 <= len(clause) <= 60:
                    out.append(clause)
    return list(dict.fromkeys(out))


def clause_vectors(embedder: SentenceTransformerEmbedder, texts: list[str]) -> np.ndarray:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"scale-clauses-{len(texts)}.npy"
    if path.exists():
        return np.load(path)
    vectors = embedder.embed_passages(texts)
    np.save(path, vectors)
    return vectors


class DerivedEmbedder:
    """The real model for questions and real articles; derived vectors for the synthetic
    sentences it was given."""

    def __init__(self, real: SentenceTransformerEmbedder, derived: dict[str, np.ndarray]) -> None:
        self.real, self.derived = real, derived
        self.name, self.dim = real.name, real.dim

    def embed_queries(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        return self.real.embed_queries(texts, batch_size=batch_size)

    def embed_passages(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        unknown = [i for i, t in enumerate(texts) if t not in self.derived]
        for i, t in enumerate(texts):
            if t in self.derived:
                out[i] = self.derived[t]
        if unknown:
            out[unknown] = self.real.embed_passages([texts[i] for i in unknown])
        if progress:
            progress(len(texts))
        return out


def synthesise(
    n: int, parts: list[str], vectors: np.ndarray, seed: int = 7
) -> tuple[list[Article], dict[str, np.ndarray]]:
    """Articles with about n passages in all, and the vectors of their sentences."""
    rng = np.random.default_rng(seed)
    derived: dict[str, np.ndarray] = {}
    articles: list[Article] = []
    passages = 0
    while passages < n:
        paragraphs = []
        for _ in range(min(int(rng.integers(1, 5)), n - passages)):
            sentences = []
            for _ in range(int(rng.integers(2, 5))):
                a, b = (int(x) for x in rng.integers(0, len(parts), 2))
                text = f"{parts[a]}，{parts[b]}。"
                if text not in derived:
                    v = vectors[a] + vectors[b] + 0.02 * rng.standard_normal(vectors.shape[1])
                    derived[text] = (v / np.linalg.norm(v)).astype(np.float32)
                sentences.append(text)
            paragraphs.append("".join(sentences))
            passages += 1
        k = len(articles)
        articles.append(Article(id=f"arc-{k}", title=f"档案{k}", body="\n\n".join(paragraphs)))
    return articles, derived


def new_article() -> Article:
    """5,000 characters of real text the archive does not hold."""
    bodies = [a.body for a in load_comprehension_sets([TRIAL]).articles][-20:]
    text = ""
    for body in bodies:
        if len(text) >= 5000:
            break
        text += body + "\n\n"
    return Article(id="added-5000", title="新增文章", body=text[:5000])


def _rss_child(data_dir: str) -> None:
    """A fresh serving process: cold start to the first answer, then the dev questions."""
    t0 = time.perf_counter()
    settings = Settings(data_dir=Path(data_dir), model_cache=Settings().model_cache_dir)
    engine = build_engine(settings)
    fixtures = load_fixtures(DEV)
    engine.ask(fixtures[0].question)
    cold = time.perf_counter() - t0
    samples = []
    for _ in range(3):
        for f in fixtures:
            samples.append(engine.ask(f.question).latency_ms)

    def run(question: str) -> Judged:
        return Judged.of_answer(engine.ask(question))

    report = evaluate(fixtures, run)
    memory = psutil.Process().memory_info()
    print(
        json.dumps(
            {
                "cold_start_s": round(cold, 2),
                "rss_mb": round(memory.rss / 2**20, 1),
                # of which pages of mapped files (the FAISS files, BM25 postings, libraries):
                # clean page cache the kernel can take back, and the rest, the process's own
                "rss_file_mb": round(memory.shared / 2**20, 1),
                "rss_anon_mb": round((memory.rss - memory.shared) / 2**20, 1),
                "ask_p50_ms": round(statistics.median(samples), 2),
                "ask_p95_ms": round(percentile(samples, 95), 2),
                "dev_hit_at_1": round(report.hit_at_1, 3),
                "dev_misses": [
                    f"{r.id} rank {r.rank} top {r.top}"
                    for r in report.rows
                    if not r.no_answer_expected and r.rank != 1
                ],
            }
        )
    )


def _cgroup(limit_mb: int) -> Path | None:
    """A cgroup (v1 memory controller) capped at limit_mb, charging page cache too; None
    where none can be made (not root, no controller)."""
    group = Path("/sys/fs/cgroup/memory") / f"shuzi-bench-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        (group / "memory.limit_in_bytes").write_text(str(limit_mb * 2**20))
    except OSError:
        return None
    return group


def _serve(data: Path, *, limit_mb: int = 0) -> dict:
    """Cold start, memory, latency and dev hit@1 of a fresh serving process; with limit_mb,
    in a memory cgroup of that size: the mapped index files' clean pages count in RSS, and
    under a limit the kernel takes them back instead of the process failing."""
    group = _cgroup(limit_mb) if limit_mb else None
    if limit_mb and group is None:
        return {"skipped": "no memory cgroup could be made here"}
    if group is not None:
        # pages cached by the build are charged to the build's group: drop them, so that
        # every page the server maps is read again and charged to the server's group
        with contextlib.suppress(OSError):
            Path("/proc/sys/vm/drop_caches").write_text("1")

    def join() -> None:
        if group is not None:
            (group / "cgroup.procs").write_text(str(os.getpid()))

    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.scale", "--serve-child", str(data)],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=join if group is not None else None,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if group is not None:
            peak = int((group / "memory.max_usage_in_bytes").read_text())
            result |= {"limit_mb": limit_mb, "cgroup_peak_mb": round(peak / 2**20, 1)}
        return result
    finally:
        if group is not None:
            with contextlib.suppress(OSError):
                group.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=int(os.environ.get("SCALE_N", "1000000")))
    parser.add_argument("--serve-child", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--memory-limit-mb",
        type=int,
        default=int(os.environ.get("SCALE_MEMORY_LIMIT_MB", "3000")),
        help="also serve in a memory cgroup of this many MB, where one can be made (0: not)",
    )
    parser.add_argument(
        "--keep",
        default="",
        help="build into this folder and keep it; when it already holds an index, measure "
        "that one (serving, recall, add and remove) without building again",
    )
    args = parser.parse_args()
    if args.serve_child:
        return _rss_child(args.serve_child)
    settings = Settings()
    real = load_embedder(
        settings.model, cache_dir=settings.model_cache_dir, threads=settings.index_threads
    )
    kept = Path(args.keep) if args.keep else None
    built = kept is not None and (kept / "index" / "CURRENT").exists()
    parts = [] if built else clauses()
    vectors = np.zeros((0, 0), dtype=np.float32) if built else clause_vectors(real, parts)
    t0 = time.perf_counter()
    archive, derived = synthesise(args.n, parts, vectors) if not built else ([], {})
    seed = [load_article(p) for p in discover_articles(ROOT / "corpus" / "articles")]
    synth_s = time.perf_counter() - t0
    with contextlib.ExitStack() as stack:
        if kept is None:
            data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shuzi-scale-")))
        else:
            data = kept
        local = settings.model_copy(
            update={"data_dir": data, "model_cache": settings.model_cache_dir}
        )
        engine = build_engine(local, embedder=DerivedEmbedder(real, derived), batch_job=True)
        stages: dict[str, float] = {}
        t0 = time.perf_counter()

        def mark(stage: str, done: int, total: int) -> None:
            stages.setdefault(stage, time.perf_counter())
            if stage != "embedding":
                derived.clear()  # the bench's own vectors, gigabytes at 1M: not the engine's

        documents = [*seed, *archive]
        del archive
        if built:
            passages_total = engine._generation.passage_count
        else:
            passages_total = engine.build(documents, progress=mark).passages_total
        del documents
        build_end = time.perf_counter()
        build_s = build_end - t0 if not built else 0.0
        gen = engine._generation
        # dense recall@10 of the serving index against exact search on the same vectors
        rows = gen.query("SELECT uid, embedding FROM units ORDER BY uid")
        uids = np.array([r[0] for r in rows], dtype=np.int64)
        unit_vecs = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        del rows
        exact = faiss.IndexFlatIP(unit_vecs.shape[1])
        exact.add(unit_vecs)
        questions = [f.question for f in load_fixtures(DEV)]
        questions += [q.question for q in load_comprehension_sets([TRIAL]).questions][:300]
        qv = real.embed_queries(questions)
        truth = uids[exact.search(qv, 10)[1]]
        found = np.stack([gen.dense.search(q, 10)[0] for q in qv])
        recall = float(
            np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
        )
        del exact, unit_vecs
        article = new_article()
        t0 = time.perf_counter()
        engine.add([article])
        add_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine.remove([article.id])
        remove_s = time.perf_counter() - t0
        units, faiss_index = int(gen.dense.size), gen.manifest.faiss_index
        # let go of the index before serving: pages this process still maps cannot be
        # dropped from the cache nor charged to the server's memory group
        del gen, engine
        gc.collect()
        serving = _serve(data)
        if args.memory_limit_mb:
            limited = _serve(data, limit_mb=args.memory_limit_mb)
            serving["under_memory_limit"] = limited
        marks = sorted(stages.items(), key=lambda kv: kv[1])
        by_stage = {
            name: round((marks[i + 1][1] if i + 1 < len(marks) else build_end) - at, 2)
            for i, (name, at) in enumerate(marks)
        }
        result = {
            "n": passages_total,
            "build_s": round(build_s, 1),
            **serving,
            "recall_at_10": round(recall, 4),
            "add_article_s": round(add_s, 2),
            "remove_article_s": round(remove_s, 2),
            "units": units,
            "faiss_index": faiss_index,
            "build_stages_s": by_stage,
            "synthesis_s": round(synth_s, 1),
            "note": "build_s embeds only the seed article for real; "
            "synthetic sentence vectors are derived",
        }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
