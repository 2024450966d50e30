"""What the reader costs: `python -m bench.reader_speed`.

One index of the first article and the DRCD held-out paragraphs, served with one torch thread
as the bot serves (SHUZI_TORCH_THREADS=1). In one run, question by question, alternating:
retrieval alone (Engine.search), the rules' answer (reader off) and the reader's answer; p50
and p95 of each, for Chinese questions and for English ones, and the process's RSS before and
after the reader is loaded (the reader shares the embedder's word embeddings). The last line
printed is one JSON object.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import psutil

from bot.settings import Settings
from bot.wiring import build_engine, configure_serving_threads, serving_reader
from corpus import load_article
from index.comprehension import load_comprehension_sets
from index.evaluation import load_fixtures, percentile
from index.reader.train import write_heldout_sets

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = ROOT / "tests" / "fixtures" / "english" / "drcd_heldout_english.json"


def main() -> None:
    settings = Settings()
    proc = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="shuzi-reader-speed-") as tmp:
        files = write_heldout_sets(Path(tmp) / "sets")
        reading = load_comprehension_sets(list(files))
        article = load_article(ROOT / "corpus" / "articles" / "zhuzhou-digital-economy.md")
        throwaway = settings.model_copy(
            update={"data_dir": Path(tmp) / "data", "model_cache": settings.model_cache_dir}
        )
        engine = build_engine(throwaway, batch_job=True)
        engine.build([article, *reading.articles])
        configure_serving_threads(throwaway)
        engine.warm_up()
        rss_before = proc.memory_info().rss / 2**20
        reader = serving_reader(throwaway, engine.embedder)
        assert reader is not None, "the reader could not be loaded"
        rss_after = proc.memory_info().rss / 2**20
        questions = [
            f.question for f in load_fixtures(ROOT / "tests" / "fixtures" / "qa-dev.jsonl")
        ]
        questions += [q.question for q in reading.questions[:200]]
        # English: our questions on held-out DRCD paragraphs and on the first article
        english = [q.question for q in load_comprehension_sets([ENGLISH]).questions]
        english += [
            f.question for f in load_fixtures(ROOT / "tests" / "fixtures" / "qa-dev-english.jsonl")
        ]
        engine.reader = reader
        engine.ask(questions[0])  # the reader's first-call costs
        times: dict[str, list[float]] = {}
        for lang, asked in (("", questions), ("english_", english)):
            for question in asked:
                for name, mode in (("retrieval", None), ("rules", None), ("reader", reader)):
                    engine.reader = mode
                    t0 = time.perf_counter()
                    engine.search(question) if name == "retrieval" else engine.ask(question)
                    times.setdefault(f"{lang}{name}", []).append((time.perf_counter() - t0) * 1000)
        rss_serving = proc.memory_info().rss / 2**20
    summary = {
        "questions": len(questions),
        "english_questions": len(english),
        "windows": engine.reader_settings.windows,
        "reader": reader.name,
        **{
            f"{name}_ms": {"p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1)}
            for name, v in times.items()
        },
        "rss_mb_before_reader": round(rss_before, 1),
        "rss_mb_after_reader": round(rss_after, 1),
        "rss_mb_after_asking": round(rss_serving, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
