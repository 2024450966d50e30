"""Reading-comprehension sets in the SQuAD layout (CMRC 2018): paragraphs as articles, and the
span metrics CMRC defines (character-level F1 and exact match, punctuation removed, the best
over the gold answers).

A file is `{"data": [{"title", "paragraphs": [{"context", "qas": [{"question", "answers":
[{"text"}], "is_impossible"?}]}]}]}`. Each paragraph becomes one article (title from the file);
the same context in two files is one article, so a file of unanswerable questions can reuse
the paragraphs of another.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from corpus import Article
from index.answering.answers import Answer
from index.evaluation import percentile

# CMRC 2018's evaluation script: these characters are dropped before comparing.
_PUNCTUATION = frozenset("-:_*^/\\~`+=，。：？！“”；’《》……·、「」（）－～『』")
_CJK_CHAR = re.compile(r"[\u4e00-\u9fa5]")
_LATIN_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class ComprehensionQuestion:
    """One question of a reading-comprehension file, tied to the article of its paragraph."""

    id: str
    question: str
    article_id: str
    answers: tuple[str, ...]  # empty: the paragraph does not answer it

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True, slots=True)
class ComprehensionSet:
    articles: tuple[Article, ...]
    questions: tuple[ComprehensionQuestion, ...]


def is_squad_file(path: Path) -> bool:
    """True for a JSON file with a top-level "data" list (not a JSONL fixture file)."""
    if path.suffix.lower() != ".json":
        return False
    try:
        with path.open(encoding="utf-8") as f:
            head = f.read(4096).lstrip()
    except (OSError, UnicodeDecodeError):
        return False
    return head.startswith("{") and '"data"' in head


def _article_id(context: str) -> str:
    return "rc-" + hashlib.sha256(context.encode("utf-8")).hexdigest()[:12]


def load_comprehension_sets(paths: list[Path]) -> ComprehensionSet:
    """Articles and questions of one or more SQuAD-style files."""
    articles: dict[str, Article] = {}
    questions: list[ComprehensionQuestion] = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))["data"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a SQuAD-style file ({exc})") from exc
        if not isinstance(data, list):
            raise ValueError(f'{path} is not a SQuAD-style file: "data" is not a list')
        for entry in data:
            title = str(entry.get("title") or path.stem)
            for para in entry.get("paragraphs", []):
                context = str(para["context"])
                aid = _article_id(context)
                articles.setdefault(
                    aid, Article(id=aid, title=title, body=context, origin=str(path))
                )
                for qa in para.get("qas", []):
                    if not str(qa.get("question", "")).strip():
                        continue  # the trial set has one empty question: nothing to ask
                    golds = () if qa.get("is_impossible") else qa.get("answers", [])
                    answers = tuple(dict.fromkeys(str(a["text"]) for a in golds if a["text"]))
                    questions.append(
                        ComprehensionQuestion(str(qa["id"]), str(qa["question"]), aid, answers)
                    )
    return ComprehensionSet(tuple(articles.values()), tuple(questions))


# -- CMRC 2018's metrics -------------------------------------------------------------------
def _segments(text: str) -> list[str]:
    """CMRC's mixed segmentation: each Chinese character alone, other runs as words,
    punctuation removed."""
    out: list[str] = []
    run = ""
    for ch in text.lower().strip():
        if ch in _PUNCTUATION:
            continue
        if _CJK_CHAR.match(ch):
            if run:
                out.extend(_LATIN_TOKEN.findall(run))
                run = ""
            out.append(ch)
        else:
            run += ch
    if run:
        out.extend(_LATIN_TOKEN.findall(run))
    return out


def _longest_common_run(a: list[str], b: list[str]) -> int:
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        row = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                row[j] = prev[j - 1] + 1
                best = max(best, row[j])
        prev = row
    return best


def span_f1(prediction: str, golds: tuple[str, ...] | list[str]) -> float:
    """CMRC's F1: longest common run of segments, best over the gold answers."""
    pred = _segments(prediction)
    best = 0.0
    for gold in golds:
        ref = _segments(gold)
        common = _longest_common_run(ref, pred)
        if common and pred and ref:
            p, r = common / len(pred), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def _strip_punctuation(text: str) -> str:
    return "".join(ch for ch in text.lower().strip() if ch not in _PUNCTUATION)


def span_exact(prediction: str, golds: tuple[str, ...] | list[str]) -> float:
    """CMRC's exact match: equal once punctuation is removed, against any gold answer."""
    pred = _strip_punctuation(prediction)
    return 1.0 if any(_strip_punctuation(g) == pred for g in golds) else 0.0


def contains_gold(text: str, golds: tuple[str, ...] | list[str]) -> bool:
    """A quoted text holds a gold answer (punctuation and spacing aside)."""
    plain = _strip_punctuation(text).replace(" ", "")
    return any(_strip_punctuation(g).replace(" ", "") in plain for g in golds if g.strip())


# -- replaying a set -----------------------------------------------------------------------
class ComprehensionRow(BaseModel):
    id: str
    question: str
    answerable: bool
    rank: int | None  # first hit from the right article that holds a gold answer
    abstained: bool
    sentence_ok: bool
    prediction: str
    em: float
    f1: float
    gold_chars: int
    latency_ms: float
    confidence: float | None = None  # the reader's, when it answered


class ComprehensionReport(BaseModel):
    n: int
    answerable: int
    unanswerable: int
    hit_at_1: float = Field(serialization_alias="hit@1")
    hit_at_5: float = Field(serialization_alias="hit@5")
    sentence_accuracy: float
    span_em: float
    span_f1: float
    span_short: dict[str, float]  # gold answers of at most 8 characters
    span_long: dict[str, float]
    false_abstention_rate: float
    unanswerable_abstain_rate: float | None
    latency_ms_p50: float
    latency_ms_p95: float
    rows: list[ComprehensionRow]


def prediction_of(answer: Answer) -> str:
    """What an answer names as the answer: its span, its first figure, else its sentence."""
    if answer.abstained:
        return ""
    return answer.named or (answer.sentences[0].text if answer.sentences else "")


def _rank(answer: Answer, q: ComprehensionQuestion) -> int | None:
    for hit in answer.hits:
        if hit.article.id == q.article_id and contains_gold(hit.passage.text, q.answers):
            return hit.rank
    return None


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _span_scores(rows: list[ComprehensionRow]) -> dict[str, float]:
    return {"n": len(rows), "em": _mean([r.em for r in rows]), "f1": _mean([r.f1 for r in rows])}


def evaluate_comprehension(
    questions: tuple[ComprehensionQuestion, ...] | list[ComprehensionQuestion],
    ask: Callable[[str], Answer],
    *,
    short_chars: int = 8,
) -> ComprehensionReport:
    """Ask every question and score passages, the quoted sentence and the named span."""
    rows: list[ComprehensionRow] = []
    for q in questions:
        answer = ask(q.question)
        prediction = prediction_of(answer)
        quoted = " ".join(s.text for s in answer.sentences if s.citation == 1)
        golds = q.answers
        rows.append(
            ComprehensionRow(
                id=q.id,
                question=q.question,
                answerable=q.answerable,
                rank=_rank(answer, q) if q.answerable else None,
                abstained=answer.abstained,
                sentence_ok=bool(golds) and not answer.abstained and contains_gold(quoted, golds),
                prediction=prediction,
                em=span_exact(prediction, golds) if golds and prediction else 0.0,
                f1=span_f1(prediction, golds) if golds and prediction else 0.0,
                gold_chars=min((len(_strip_punctuation(g)) for g in golds), default=0),
                latency_ms=round(answer.latency_ms, 2),
                confidence=answer.confidence,
            )
        )
    ans = [r for r in rows if r.answerable]
    unans = [r for r in rows if not r.answerable]
    short = [r for r in ans if r.gold_chars <= short_chars]
    long_ = [r for r in ans if r.gold_chars > short_chars]
    latencies = [r.latency_ms for r in rows]
    return ComprehensionReport(
        n=len(rows),
        answerable=len(ans),
        unanswerable=len(unans),
        hit_at_1=_mean([1.0 if r.rank == 1 else 0.0 for r in ans]),
        hit_at_5=_mean([1.0 if r.rank is not None and r.rank <= 5 else 0.0 for r in ans]),
        sentence_accuracy=_mean([1.0 if r.sentence_ok else 0.0 for r in ans]),
        span_em=_mean([r.em for r in ans]),
        span_f1=_mean([r.f1 for r in ans]),
        span_short={
            "n": len(short),
            "em": _mean([r.em for r in short]),
            "f1": _mean([r.f1 for r in short]),
        },
        span_long={
            "n": len(long_),
            "em": _mean([r.em for r in long_]),
            "f1": _mean([r.f1 for r in long_]),
        },
        false_abstention_rate=_mean([1.0 if r.abstained else 0.0 for r in ans]),
        unanswerable_abstain_rate=_mean([1.0 if r.abstained else 0.0 for r in unans])
        if unans
        else None,
        latency_ms_p50=round(percentile(latencies, 50), 2),
        latency_ms_p95=round(percentile(latencies, 95), 2),
        rows=rows,
    )
