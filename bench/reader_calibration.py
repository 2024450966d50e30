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
import dataclasses
import itertools
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from bot.settings import Settings
from bot.wiring import build_engine, configure_serving_threads
from index import ReaderSettings, load_reader
from index.answering.spans import answer_type
from index.comprehension import (
    contains_gold,
    load_comprehension_sets,
    prediction_of,
    span_exact,
    span_f1,
)
from index.evaluation import percentile
from index.reader.train import write_heldout_sets
from index.text.tokens import CJK

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = (
    ROOT / "tests" / "fixtures" / "english" / "drcd_heldout_english.json",
    ROOT / "tests" / "fixtures" / "english" / "drcd_heldout_english_unanswerable.json",
)


class RecordingReader:
    """The reader, remembering the windows it was given (to measure their recall)."""

    def __init__(self, reader) -> None:  # type: ignore[no-untyped-def]
        self.reader, self.contexts = reader, []

    def read(self, question, contexts, per_context=1):  # type: ignore[no-untyped-def]
        self.contexts = list(contexts)
        return self.reader.read(question, contexts, per_context=per_context)


def threshold_at(scores: list[float], refused: float) -> float:
    """The score below which `refused` of these scores fall."""
    ordered = sorted(scores)
    return ordered[min(len(ordered) - 1, int(refused * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", default="2,3,4", help="Chinese windows")
    parser.add_argument("--chars", default="110", help="Chinese window characters")
    serving = ReaderSettings()
    parser.add_argument("--english-windows", type=int, default=serving.english_windows)
    parser.add_argument("--english-chars", type=int, default=serving.english_chars)
    parser.add_argument("--prior-weights", default="0,1,2,4")
    parser.add_argument("--rules-weights", default="0,1,2")
    parser.add_argument("--no-quantize", action="store_true")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=0, help="ask only this many (a smoke test)")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="shuzi-calibrate-") as tmp:
        files = write_heldout_sets(Path(tmp) / "sets")
        reading = load_comprehension_sets([*files, *ENGLISH])
        if args.limit:
            reading = dataclasses.replace(
                reading,
                questions=reading.questions[:: max(1, len(reading.questions) // args.limit)],
            )
        throwaway = settings.model_copy(
            update={"data_dir": Path(tmp) / "data", "model_cache": settings.model_cache_dir}
        )
        engine = build_engine(throwaway, batch_job=True)
        engine.build(list(reading.articles))
        configure_serving_threads(throwaway)
        kwargs = {"weights": args.weights} if args.weights else {}
        engine.reader = RecordingReader(
            load_reader(
                throwaway.model_cache_dir,
                embedder=engine.embedder,
                quantize=not args.no_quantize,
                **kwargs,
            )
        )
        engine.warm_up()
        rows = []
        for windows in map(int, args.windows.split(",")):
            for chars in map(int, args.chars.split(",")):
                for weight, rules in itertools.product(
                    map(float, args.prior_weights.split(",")),
                    map(float, args.rules_weights.split(",")),
                ):
                    engine.reader_settings = ReaderSettings(
                        windows=windows,
                        chars=chars,
                        english_windows=args.english_windows,
                        english_chars=args.english_chars,
                        prior_weight=weight,
                        rules_weight=rules,
                        threshold=-1e9,
                        english_threshold=-1e9,
                        threshold_rules_refuse=-1e9,
                        english_threshold_rules_refuse=-1e9,
                    )
                    row, per_question = _measure(engine, reading, windows, chars, weight)
                    row["rules_weight"] = rules
                    rows.append((row, per_question))
                    print(json.dumps(row), flush=True)
        best, read = max(rows, key=lambda r: (r[0]["zh"]["f1"], -r[0]["zh"]["ask_p50_ms"]))  # type: ignore[index]
        print(json.dumps({"best_by_chinese_f1": best}))
        engine.reader = None  # the rules alone, on the same questions
        _, ruled = _measure(engine, reading, 0, 0, 0.0)
    print("by kind: n, [EM, F1, sentence holds the answer] of the reader, of the rules")
    for name, row in by_kind(read, ruled).items():
        print(json.dumps({name: row}))
    for lang, most in (("zh", 0.01), ("en", 0.03)):
        print(json.dumps({f"{lang}_thresholds": joint_thresholds(read, ruled, lang, most)}))


def joint_thresholds(
    read: dict[str, tuple],  # type: ignore[type-arg]
    ruled: dict[str, tuple],  # type: ignore[type-arg]
    lang: str,
    most: float,
) -> dict[str, float]:
    """The two thresholds (where the rules answer, where they refuse) that refuse the most
    unanswerable questions while refusing at most `most` of the answerable ones."""
    rows = [(r[6], r[7], ruled[q][8]) for q, r in read.items() if r[0] == lang and q in ruled]
    if not rows:
        return {}
    score = np.array([r[0] for r in rows])
    answerable = np.array([r[1] for r in rows], dtype=bool)
    refuse = np.array([r[2] for r in rows], dtype=bool)
    finite = score[score > -1e8]
    # refused for a reason of the rules' (another year, another place), whatever the reader:
    # the thresholds may add `most` to these
    floor = float((score[answerable] <= -1e8).mean()) if answerable.any() else 0.0
    grid = np.unique(np.quantile(finite, np.linspace(0, 1, 201))) if len(finite) else [0.0]
    best = (-1.0, 0.0, 0.0, 0.0)
    for t in grid:
        for t_refuse in grid[grid >= t]:
            below = score < np.where(refuse, t_refuse, t)
            false = below[answerable].mean() if answerable.any() else 0.0
            caught = below[~answerable].mean() if (~answerable).any() else 0.0
            if false - floor <= most and (caught, -false) > (best[0], -best[3]):
                best = (float(caught), float(t), float(t_refuse), float(false))
    return {
        "unanswerable_refused": round(best[0], 4),
        "threshold": round(best[1], 3),
        "threshold_rules_refuse": round(best[2], 3),
        "answerable_refused": round(best[3], 4),
        "answerable_refused_for_a_reason": round(floor, 4),
        "answerable": int(answerable.sum()),
        "unanswerable": int((~answerable).sum()),
    }


def by_kind(read: dict[str, tuple], ruled: dict[str, tuple]) -> dict[str, dict]:  # type: ignore[type-arg]
    """Per language and answer type (index/answering/spans.py), and per gold length (short:
    at most 8 characters): EM, F1 and sentence accuracy of the reader and of the rules."""
    groups: dict[str, list[str]] = {}
    for qid, (lang, kind, short, *rest) in read.items():
        if not rest[-2]:  # unanswerable
            continue
        for name in (f"{lang} {kind}", f"{lang} {'short' if short else 'long'}"):
            groups.setdefault(name, []).append(qid)
    out = {}
    for name, ids in sorted(groups.items()):
        row: dict[str, object] = {"n": len(ids)}
        for label, results in (("reader", read), ("rules", ruled)):
            have = [results[q] for q in ids if q in results]
            n = max(1, len(have))
            row[label] = [round(sum(r[k] for r in have) / n, 3) for k in (3, 4, 5)]
        out[name] = row  # [EM, F1, sentence holds the answer]
    return out


def _measure(engine, reading, windows: int, chars: int, weight: float) -> tuple[dict, dict]:  # type: ignore[no-untyped-def,type-arg]
    out: dict[str, object] = {"windows": windows, "chars": chars, "prior_weight": weight}
    groups: dict[str, dict[str, list]] = {}  # type: ignore[type-arg]
    per_question: dict[str, tuple] = {}  # type: ignore[type-arg]
    for q in reading.questions:
        if engine.reader is not None:
            engine.reader.contexts = []
        answer = engine.ask(q.question)
        lang = "zh" if CJK.search(q.question) else "en"
        g = groups.setdefault(
            lang, {"scores": [], "unans": [], "em": [], "f1": [], "held": [], "seen": [], "ms": []}
        )
        g["ms"].append(answer.latency_ms)
        score = answer.confidence if answer.confidence is not None else -1e9
        lang_kind = (lang, answer_type(q.question))
        if not q.answerable:
            g["unans"].append(score)
            per_question[q.id] = (*lang_kind, False, 0, 0.0, False, score, False, answer.abstained)
            continue
        if answer.abstained and answer.notices:
            g.setdefault("reasons", []).append(answer.notices[0][:30])
        prediction = prediction_of(answer)
        g["scores"].append(score)
        g["em"].append(span_exact(prediction, q.answers))
        g["f1"].append(span_f1(prediction, q.answers))
        g["held"].append(contains_gold(" ".join(s.text for s in answer.sentences), q.answers))
        contexts = engine.reader.contexts if engine.reader is not None else []
        g["seen"].append(any(contains_gold(c, q.answers) for c in contexts))
        short = min(len(a) for a in q.answers) <= 8
        per_question[q.id] = (
            *lang_kind,
            short,
            g["em"][-1],
            g["f1"][-1],
            g["held"][-1],
            score,
            True,
            answer.abstained,
        )
    for lang, g in groups.items():
        n = max(1, len(g["scores"]))
        row: dict[str, object] = {
            "answerable": len(g["scores"]),
            "window_holds_answer": round(sum(g["seen"]) / n, 4),
            "sentence_holds_answer": round(sum(g["held"]) / n, 4),
            "em": round(sum(g["em"]) / n, 4),
            "f1": round(sum(g["f1"]) / n, 4),
            "ask_p50_ms": round(percentile(g["ms"], 50), 1),
            "ask_p95_ms": round(percentile(g["ms"], 95), 1),
            "refused_for_a_reason": Counter(g.get("reasons", [])).most_common(4),
        }
        for refused in (0.01, 0.03):
            t = threshold_at(g["scores"], refused)
            row[f"threshold_at_{refused:.0%}"] = round(t, 3)
            if g["unans"]:
                row[f"unanswerable_refused_at_{refused:.0%}"] = round(
                    sum(s < t for s in g["unans"]) / len(g["unans"]), 4
                )
        out[lang] = row
    return out, per_question


if __name__ == "__main__":
    main()
