"""Choosing how the reader reads, and where it abstains, on DRCD's held-out articles only.

`make reader-calibration` (python -m bench.reader_calibration) writes the held-out sets
(index/reader/train.py: answerable questions on indexed paragraphs; questions whose paragraph
is held back from the index, asked where their article's other paragraphs are), indexes them
in a throwaway data directory with the real model, and asks every question with every
setting tried (windows read, window size, weight of the retrieval prior), never abstaining.
Per setting it prints: how often a window held a gold answer, span EM/F1 of the answerable,
answer latency, and the threshold under which 1% of the answerable would be refused, with
the share of unanswerable questions it refuses. CMRC 2018 is never read here.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bot.settings import Settings
from bot.wiring import build_engine, configure_serving_threads
from index import ReaderSettings, load_reader
from index.evaluation import percentile
from index.reader.train import write_heldout_sets
from index.reading import contains_gold, load_reading_sets, prediction_of, span_exact, span_f1

ROOT = Path(__file__).resolve().parents[1]


def threshold_at(scores: list[float], refused: float) -> float:
    """The score below which `refused` of these scores fall."""
    ordered = sorted(scores)
    return ordered[min(len(ordered) - 1, int(refused * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", default="1,2,3,4")
    parser.add_argument("--chars", default="120")
    parser.add_argument("--prior-weights", default="0,1,2,4")
    parser.add_argument("--no-quantize", action="store_true")
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="shuzi-calibrate-") as tmp:
        files = write_heldout_sets(Path(tmp) / "sets")
        reading = load_reading_sets(list(files))
        throwaway = settings.model_copy(
            update={"data_dir": Path(tmp) / "data", "model_cache": settings.model_cache_dir}
        )
        engine = build_engine(throwaway, batch_job=True)
        engine.build(list(reading.articles))
        configure_serving_threads(throwaway)
        kwargs = {"weights": args.weights} if args.weights else {}
        engine.reader = load_reader(
            throwaway.model_cache_dir,
            embedder=engine.embedder,
            quantize=not args.no_quantize,
            **kwargs,
        )
        engine.warm_up()
        rows = []
        for windows in map(int, args.windows.split(",")):
            for chars in map(int, args.chars.split(",")):
                for weight in map(float, args.prior_weights.split(",")):
                    engine.reader_settings = ReaderSettings(
                        windows=windows, chars=chars, prior_weight=weight, threshold=-1e9
                    )
                    rows.append(_measure(engine, reading, windows, chars, weight))
                    print(json.dumps(rows[-1]), flush=True)
    best = max(rows, key=lambda r: (r["f1"], -r["ask_p50_ms"]))
    print(json.dumps({"best_by_f1": best}))


def _measure(engine, reading, windows: int, chars: int, weight: float) -> dict:  # type: ignore[no-untyped-def]
    answerable, unanswerable, latencies = [], [], []
    em = f1 = held = 0.0
    for q in reading.questions:
        answer = engine.ask(q.question)
        latencies.append(answer.latency_ms)
        score = answer.confidence if answer.confidence is not None else -1e9
        if q.answerable:
            answerable.append(score)
            prediction = prediction_of(answer)
            em += span_exact(prediction, q.answers)
            f1 += span_f1(prediction, q.answers)
            quoted = " ".join(s.text for s in answer.sentences)
            held += contains_gold(quoted, q.answers)
        else:
            unanswerable.append(score)
    n = max(1, len(answerable))
    at_1pct = threshold_at(answerable, 0.01)
    return {
        "windows": windows,
        "chars": chars,
        "prior_weight": weight,
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "sentence_holds_answer": round(held / n, 4),
        "em": round(em / n, 4),
        "f1": round(f1 / n, 4),
        "threshold_at_1pct": round(at_1pct, 3),
        "unanswerable_refused_at_1pct": round(
            sum(s < at_1pct for s in unanswerable) / max(1, len(unanswerable)), 4
        ),
        "threshold_at_3pct": round(threshold_at(answerable, 0.03), 3),
        "unanswerable_refused_at_3pct": round(
            sum(s < threshold_at(answerable, 0.03) for s in unanswerable)
            / max(1, len(unanswerable)),
            4,
        ),
        "ask_p50_ms": round(percentile(latencies, 50), 1),
        "ask_p95_ms": round(percentile(latencies, 95), 1),
    }


if __name__ == "__main__":
    main()
