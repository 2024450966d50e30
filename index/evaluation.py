"""Replay question-answer fixtures through the engine and measure quality and latency."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from index.answering.answers import Answer
from index.records import Hit
from index.text.tokens import CJK


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passage_contains: list[str] = Field(default_factory=list)
    figures: list[str] = Field(default_factory=list)
    no_answer: bool = False
    article: str | None = None  # the hit must come from this article id


class Fixture(BaseModel):
    """One line of a fixture file."""

    model_config = ConfigDict(extra="allow")

    id: str
    question: str
    expect: Expect

    @property
    def language(self) -> str:
        return "zh" if CJK.search(self.question) else "en"


M = TypeVar("M", bound=BaseModel)


def _load_lines(path: Path, model: type[M], what: str) -> list[M]:
    """One model per non-empty JSONL line; a bad line is named with its number."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append(model.model_validate_json(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: not a {what} line ({exc})") from exc
    return out


def load_fixtures(path: Path) -> list[Fixture]:
    return _load_lines(path, Fixture, "fixture")


class Judged(BaseModel):
    """What a front end produced for one question, in the terms the fixtures judge."""

    hits: list[Hit]
    latency_ms: float
    answer_text: str | None = None
    abstained: bool | None = None
    question: str | None = None  # the question as it was read (a follow-up: with the one before)
    figures: list[str] = Field(default_factory=list)  # the figures the answer gives

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @classmethod
    def of_answer(cls, answer: Answer) -> Judged:
        """What an answer shows, in the terms the fixtures judge."""
        return cls(
            hits=list(answer.hits),
            latency_ms=answer.latency_ms,
            answer_text=answer.text,
            abstained=answer.abstained,
            question=answer.question,
            figures=[text for part in (answer, *answer.parts) for text in _figures_given(part)],
        )


def _figures_given(answer: Answer) -> list[str]:
    """The figures an answer gives: its figures, and its span where it is a number."""
    span = [answer.span.text] if answer.span and any(c.isdigit() for c in answer.span.text) else []
    derived = [answer.derived[0]] if answer.derived else []  # another year's, worked out
    return [f.figure.text for f in answer.figures] + span + derived


class Row(BaseModel):
    id: str
    language: str
    question: str
    rank: int | None
    latency_ms: float
    top: str = ""
    figures_ok: bool | None = None
    no_answer_expected: bool = False
    abstained: bool | None = None
    figures_shown: bool = False  # the answer gives a figure


class Report(BaseModel):
    n: int
    answerable: int
    hit_at_1: float = Field(serialization_alias="hit@1")
    hit_at_3: float = Field(serialization_alias="hit@3")
    hit_at_5: float = Field(serialization_alias="hit@5")
    mrr: float
    figure_accuracy: float | None
    abstain_precision: float | None
    abstain_recall: float | None
    latency_ms_p50: float
    latency_ms_p95: float
    by_language: dict[str, dict[str, float]]
    rows: list[Row]


def first_right_rank(
    hits: Sequence[Hit], wanted: Sequence[str], article: str | None = None
) -> int | None:
    for hit in hits:
        if article is not None and hit.article.id != article:
            continue
        if any(w in hit.passage.text for w in wanted):
            return hit.rank
    return None


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1])


def _rates(rows: Sequence[Row]) -> dict[str, float]:
    ranked = [r for r in rows if not r.no_answer_expected]
    if not ranked:
        return {"n": 0}
    n = len(ranked)
    return {
        "n": n,
        "hit@1": sum(1 for r in ranked if r.rank is not None and r.rank <= 1) / n,
        "hit@3": sum(1 for r in ranked if r.rank is not None and r.rank <= 3) / n,
        "hit@5": sum(1 for r in ranked if r.rank is not None and r.rank <= 5) / n,
        "mrr": sum(1 / r.rank for r in ranked if r.rank) / n,
    }


def evaluate(fixtures: Sequence[Fixture], run: Callable[[str], Judged]) -> Report:
    """Replay each fixture through `run` and score it."""
    rows: list[Row] = []
    for fx in fixtures:
        judged = run(fx.question)
        rank = first_right_rank(judged.hits, fx.expect.passage_contains, fx.expect.article)
        figures_ok = None
        if fx.expect.figures and judged.answer_text is not None:
            figures_ok = all(f in judged.answer_text for f in fx.expect.figures)
        rows.append(
            Row(
                id=fx.id,
                language=fx.language,
                question=fx.question,
                rank=rank if fx.expect.passage_contains else None,
                latency_ms=round(judged.latency_ms, 2),
                top=judged.hits[0].passage.key if judged.hits else "",
                figures_ok=figures_ok,
                no_answer_expected=fx.expect.no_answer,
                abstained=judged.abstained,
                figures_shown=bool(judged.figures) and not judged.abstained,
            )
        )
    overall = _rates(rows)
    judged_figs = [r.figures_ok for r in rows if r.figures_ok is not None]
    abst = [r for r in rows if r.abstained is not None]
    abstained = [r for r in abst if r.abstained]
    expected = [r for r in abst if r.no_answer_expected]
    latencies = [r.latency_ms for r in rows]
    return Report(
        n=len(rows),
        answerable=int(overall.get("n", 0)),
        hit_at_1=overall.get("hit@1", 0.0),
        hit_at_3=overall.get("hit@3", 0.0),
        hit_at_5=overall.get("hit@5", 0.0),
        mrr=overall.get("mrr", 0.0),
        figure_accuracy=sum(judged_figs) / len(judged_figs) if judged_figs else None,
        abstain_precision=(
            sum(1 for r in abstained if r.no_answer_expected) / len(abstained)
            if abstained
            else (None if not abst else 1.0)
        ),
        abstain_recall=(
            sum(1 for r in expected if r.abstained) / len(expected) if expected else None
        ),
        latency_ms_p50=round(percentile(latencies, 50), 2),
        latency_ms_p95=round(percentile(latencies, 95), 2),
        by_language={
            lang: _rates([r for r in rows if r.language == lang])
            for lang in sorted({r.language for r in rows})
        },
        rows=rows,
    )


class Conversation(BaseModel):
    """A conversation fixture: questions asked in turn by one reader in one chat; `expect`
    judges the last turn."""

    model_config = ConfigDict(extra="allow")

    id: str
    turns: list[str] = Field(min_length=2)
    expect: Expect

    def last_turn(self) -> Fixture:
        return Fixture(id=self.id, question=self.turns[-1], expect=self.expect)


def load_conversations(path: Path) -> list[Conversation]:
    return _load_lines(path, Conversation, "conversation")


def answered_right(row: Row) -> bool:
    """Abstained where the articles do not say; else the first passage is a right one and
    every expected figure is in the answer."""
    if row.no_answer_expected:
        return bool(row.abstained)
    return row.rank == 1 and row.figures_ok is not False and not row.abstained


def wrong_with_a_figure(row: Row) -> bool:
    """Answered with a figure that is not the one asked for (or where the articles do not
    say): the confidently wrong answer a follow-up must never give."""
    if row.abstained or not row.figures_shown:
        return False
    return row.no_answer_expected or row.figures_ok is False


class ConversationReport(BaseModel):
    n: int
    right_in_conversation: float
    right_alone: float
    wrong_with_a_figure_in_conversation: int
    wrong_with_a_figure_alone: int
    rows_in_conversation: list[Row]
    rows_alone: list[Row]


def evaluate_conversations(
    conversations: Sequence[Conversation],
    ask: Callable[[str, Any], tuple[Judged, Any]],
) -> ConversationReport:
    """Each conversation's last turn asked after its earlier turns and asked alone.
    `ask(question, previous)` answers a question given what the previous turn left (None for
    the first) and returns the judged answer and what this turn leaves for the next, as the
    bot keeps it per reader and chat."""
    last = [c.last_turn() for c in conversations]
    order = iter(conversations)  # evaluate() asks the last turns in this order

    def in_context(question: str) -> Judged:
        conversation = next(order)
        previous: Any = None
        for turn in conversation.turns[:-1]:
            _, previous = ask(turn, previous)
        return ask(question, previous)[0]

    context = evaluate(last, in_context)
    alone = evaluate(last, lambda q: ask(q, None)[0])

    def share(rows: Sequence[Row]) -> float:
        return round(sum(map(answered_right, rows)) / len(rows), 4) if rows else 0.0

    return ConversationReport(
        n=len(last),
        right_in_conversation=share(context.rows),
        right_alone=share(alone.rows),
        wrong_with_a_figure_in_conversation=sum(map(wrong_with_a_figure, context.rows)),
        wrong_with_a_figure_alone=sum(map(wrong_with_a_figure, alone.rows)),
        rows_in_conversation=context.rows,
        rows_alone=alone.rows,
    )
