"""Fitting the rules' sentence weights (index/answering/sentences.py, _WEIGHTS_ZH) on DRCD's
held-out articles: `python -m bench.sentence_weights`.

The weights were first fitted on the CMRC 2018 trial set, which is for measurement only; this
refits them on DRCD (the held-out split index/reader/train.py keeps out of the reader's
training, simplified). Every answerable Chinese question is asked once with the rules alone;
each candidate sentence's features are recorded with whether it holds a gold answer; then a
coordinate search over a grid of weights maximises the share of questions whose best-scored
candidate holds the answer. Prints the weights before and after and the accuracy of each on
the questions fitted and on a fifth kept back (split by article). CMRC 2018 is never read.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from bot.settings import Settings
from bot.wiring import build_engine, configure_serving_threads
from index.answering import sentences
from index.comprehension import contains_gold, load_comprehension_sets
from index.reader.train import write_heldout_sets

GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.2)


def record(engine: Any, questions: list[Any]) -> list[dict[str, Any]]:
    """Per question: its article and, per candidate, the features, the score's part the
    weights do not set, and whether the sentence holds a gold answer."""
    ranker_cls = sentences.SentenceRanker
    original = ranker_cls.candidates
    seen: list[list[Any]] = []

    def recording(self, profile, hits, figures, units, kind):  # type: ignore[no-untyped-def]
        out = original(self, profile, hits, figures, units, kind)
        seen.append(out)
        return out

    ranker_cls.candidates = recording  # type: ignore[method-assign]
    rows = []
    try:
        for q in questions:
            seen.clear()
            engine.ask(q.question)
            if not seen or not seen[-1]:
                continue
            cands = []
            for c in seen[-1]:
                if not c.features:
                    continue
                weighted = sum(sentences._WEIGHTS_ZH[k] * c.features[k] for k in c.features)
                text = c.hit.passage.text[c.start : c.end]
                cands.append(
                    {
                        "f": dict(c.features),
                        "rest": c.score - weighted,
                        "gold": contains_gold(text, q.answers),
                    }
                )
            if cands and any(c["gold"] for c in cands):
                rows.append({"article": q.article_id, "cands": cands})
    finally:
        ranker_cls.candidates = original  # type: ignore[method-assign]
    return rows


def accuracy(rows: list[dict[str, Any]], weights: dict[str, float]) -> float:
    right = 0
    for row in rows:
        best = max(
            row["cands"], key=lambda c: c["rest"] + sum(weights[k] * v for k, v in c["f"].items())
        )
        right += best["gold"]
    return right / max(1, len(rows))


def fit(rows: list[dict[str, Any]], start: dict[str, float]) -> dict[str, float]:
    weights = dict(start)
    best = accuracy(rows, weights)
    for _ in range(4):  # rounds of coordinate search
        improved = False
        for key in weights:
            for value in GRID:
                trial = {**weights, key: value}
                score = accuracy(rows, trial)
                if score > best + 1e-9:
                    best, weights, improved = score, trial, True
        if not improved:
            break
    return weights


def main() -> None:
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="shuzi-sentence-weights-") as tmp:
        files = write_heldout_sets(Path(tmp) / "sets")
        reading = load_comprehension_sets([files[0]])
        throwaway = settings.model_copy(
            update={"data_dir": Path(tmp) / "data", "model_cache": settings.model_cache_dir}
        )
        engine = build_engine(throwaway, batch_job=True)
        engine.build(list(reading.articles))
        configure_serving_threads(throwaway)
        engine.reader = None
        engine.warm_up()
        rows = record(engine, [q for q in reading.questions if q.answerable])

    def kept_back(row: dict[str, Any]) -> bool:
        return hashlib.sha256(row["article"].encode()).digest()[0] < 52  # about a fifth

    fitting = [r for r in rows if not kept_back(r)]
    held = [r for r in rows if kept_back(r)]
    before = dict(sentences._WEIGHTS_ZH)
    after = fit(fitting, before)
    print(
        json.dumps(
            {
                "questions": {"fitted": len(fitting), "kept_back": len(held)},
                "before": {
                    "weights": before,
                    "fitted": round(accuracy(fitting, before), 4),
                    "kept_back": round(accuracy(held, before), 4),
                },
                "after": {
                    "weights": after,
                    "fitted": round(accuracy(fitting, after), 4),
                    "kept_back": round(accuracy(held, after), 4),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
