"""Answers extracted by the trained reader (index/reader): which short windows of the ranked
passages it reads, and how its best span becomes a cited Answer.

The windows are the best sentences of the top passages (each sentence's own dense score and
its passage's fused score), widened with their neighbours to about WINDOW_CHARS characters,
never across a passage's end: a span is always a substring of the passage it cites. The
reader's span competes across windows by its margin over "not here" plus the window's
retrieval prior; below the calibrated threshold the answer is "not in the articles".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from corpus import split_sentences
from index.answering.answers import Answer, AnswerSentence, AnswerSpan, Citation, verify_answer
from index.answering.sentences import is_debris
from index.records import Hit

WINDOW_CHARS = 110


@dataclass(frozen=True, slots=True)
class Window:
    """A piece of a ranked passage the reader reads: characters [start, end) of its text."""

    hit: Hit
    start: int
    end: int
    prior: float  # how the retriever ranks it, 0..1
    rules: bool = False  # it holds the sentence the rules chose

    @property
    def text(self) -> str:
        return self.hit.passage.text[self.start : self.end]


@dataclass(frozen=True, slots=True)
class Read:
    """The reader's best span in one window, in the window's passage's offsets."""

    window: Window
    start: int
    end: int
    margin: float  # span score less the reader's no-answer score
    words: float = 0.0  # weighted share of the question's words in the span's sentence

    @property
    def text(self) -> str:
        return self.window.hit.passage.text[self.start : self.end]

    @property
    def after(self) -> str:
        """A few characters of the passage after the span (its unit, if it is cut off)."""
        return self.window.hit.passage.text[self.end : self.end + 4]


@dataclass(frozen=True, slots=True)
class ReaderSettings:
    """How many windows the reader reads and how long, and where it abstains: measured on
    DRCD's held-out articles with the shipped weights (bench/reader_calibration.py, 2026-12-06,
    503 answerable and 160 unanswerable Chinese questions, 46 English; docs/design.md)."""

    # Chinese: the rules' sentence and the best sentences anywhere in the top passages,
    # 3 x 110 characters. DRCD held-out through the engine, 100 / 110 / 120 / 130 / 140 / 170
    # characters: sentence 0.885 / 0.889 / 0.881 / 0.877 / 0.881 / 0.871, F1 0.686 / 0.701 /
    # 0.709 / 0.683 / 0.692 / 0.691 (a window's edges move with its length: the curve is
    # jagged); qa-dev passage hit@1 0.973 -> 1.0 at 110 and 120 (2026-12-07)
    windows: int = 3
    chars: int = WINDOW_CHARS
    # English: the best sentence of each of the top passages, wider (cross-lingual sentence
    # scores are weak). 4 x 160: a window and an English question fit the reader's 160
    # tokens, where 200 characters took two pieces: p50 180 -> 147 ms; on DRCD held-out
    # English (46) sentence 0.413 -> 0.500, EM 0.239 -> 0.261, F1 0.404 -> 0.375, figures
    # of qa-dev-english 0.72 -> 0.76 (3 x 160: 130 ms, fewer first-article figures)
    english_windows: int = 4
    english_chars: int = 160
    # an English window's sentence: its score gains this times the share of the question's
    # phrases whose CC-CEDICT Chinese word it holds (index/text/glossary.py). DRCD held-out
    # English (46 + 30 unanswerable), 0 / 0.02 / 0.05 / 0.1 / 0.2 / 0.4 / 1.0: windows holding
    # the answer 0.76 / - / - / 0.85 / 0.85 / 0.85 / -, sentence 0.500 / 0.500 / 0.500 /
    # 0.522 / 0.522 / 0.522 / 0.500, F1 0.381 / 0.382 / 0.377 / 0.411 / 0.411 / 0.411 /
    # 0.401, hit@1 0.739 / 0.761 / 0.717 / 0.717 / 0.717 / 0.717 / 0.696
    english_glossed_weight: float = 0.2
    prior_weight: float = 2.0  # a window's retrieval prior, in units of reader margin
    # spans of each window weighed, the best first: a span that cannot answer the question
    # (its own words, another kind of quantity) gives way to the next (index/answering/fit.py)
    candidates: int = 4
    # the same for the window of the rules' sentence (1.0: sentence 0.867 and F1 0.681,
    # against 0.859 and 0.675 at 0)
    rules_weight: float = 1.0
    # the question's words in the span's sentence (Read.words), for choosing among the reads
    # only: the reader's margin favours an answer-like span anywhere over the sentence that
    # says what was asked (长柄艾纳香的上部叶有什么特点: 菊科艾纳香属的植物). DRCD held-out
    # (490 Chinese questions read, never abstaining), 0 / 1 / 2 / 2.5 / 3 / 4: sentence
    # 0.892 / 0.896 / 0.898 / 0.900 / 0.898 / 0.894, F1 0.703 / 0.705 / 0.704 / 0.706 /
    # 0.704 / 0.702
    words_weight: float = 2.5
    # below it (margin + weighted priors): not in the articles. Chosen jointly with the next
    # so that the most unanswerable questions are refused while the thresholds refuse at most
    # 1% of the answerable; again with 110-character windows (2026-12-07): -9.54 (-11.817 at
    # 100). Through the engine with the next at inf: DRCD held-out zh answerable refused 0.026
    # -> 0.028, unanswerable 0.750 -> 0.763; the first article's fixtures unchanged
    threshold: float = -9.54
    # where the rules found the question's words missing from the passages (two signals of
    # "not here": the reader needs to be surer to answer)
    # (on DRCD -1.001 was best, but on the first article's fixtures the reader then answered
    # 5 of 18 questions the articles do not answer, 株洲的人口有多少: the rules' refusal stands;
    # calibrated again with 110-character windows it is 0.173, and answers 株洲有多少家上市公司)
    threshold_rules_refuse: float = math.inf
    # English: no held-out unanswerable English questions; the lowest confidence of an
    # answerable one, so the threshold refuses none of them
    english_threshold: float = -4.749
    # where the English rules refuse (they cannot find the slot of an English question in
    # Chinese text, and refuse answerable ones): the Chinese held-out value, the only one
    # calibrated where the rules refuse
    english_threshold_rules_refuse: float = -1.001

    def threshold_for(self, english: bool, rules_refuse: bool) -> float:
        if rules_refuse:
            return self.english_threshold_rules_refuse if english else self.threshold_rules_refuse
        return self.english_threshold if english else self.threshold


def reading_windows(
    hits: Sequence[Hit],
    units: dict[tuple[int, int], float],
    *,
    count: int,
    chars: int = WINDOW_CHARS,
    per_passage: bool = False,
    first: tuple[int, int] | None = None,
    lexical: Callable[[str], float] | None = None,
) -> list[Window]:
    """The `count` best sentences of the hits, each widened to about `chars` characters with
    the sentences around it in its passage; overlapping windows of one passage are merged.
    `per_passage`: at most one window a passage, passages in their ranked order (an English
    question's passages are ranked less surely than its sentences within them). `first`:
    (pid, character) of a sentence read whatever its rank, in the first window (the sentence
    the rules chose: the two ways of ranking sentences miss different ones). `lexical`: what
    a sentence's text adds to its score (an English question's glossed words in it)."""
    if not hits:
        return []
    top = hits[0].score or 1.0
    scored: list[tuple[float, int, Hit, int, list[tuple[int, int]]]] = []
    for rank, hit in enumerate(hits):
        spans = split_sentences(hit.passage.text) or [(0, len(hit.passage.text))]
        prior = max(hit.score, 0.0) / top
        for i, (s, e) in enumerate(spans):
            if is_debris(hit.passage.text[s:e]):
                continue
            dense = units.get((hit.pid, i if len(spans) > 1 else 0), hit.dense)
            score = 0.55 * dense + 0.45 * prior
            if lexical is not None:
                score += lexical(hit.passage.text[s:e])
            scored.append((score, rank, hit, i, spans))

    def chosen(item: tuple[float, int, Hit, int, list[tuple[int, int]]]) -> bool:
        _, _, hit, i, spans = item
        return first is not None and hit.pid == first[0] and spans[i][0] <= first[1] < spans[i][1]

    if per_passage:  # each passage's best sentence, in the passages' order
        best: dict[int, tuple[float, int, Hit, int, list[tuple[int, int]]]] = {}
        for item in scored:
            pid = item[2].pid
            if (
                pid not in best
                or (item[0] > best[pid][0] and not chosen(best[pid]))
                or chosen(item)
            ):
                best[pid] = item
        scored = sorted(best.values(), key=lambda x: x[1])
    else:
        scored.sort(key=lambda x: -x[0])
    scored.sort(key=lambda x: not chosen(x))  # stable: the chosen sentence first
    windows: list[Window] = []
    for item in scored:
        score, _, hit, i, spans = item
        if len(windows) >= count:
            break
        lo, hi = i, i
        while True:  # widen, the next sentence first, while it fits
            grown = False
            for j in (hi + 1, lo - 1):
                if 0 <= j < len(spans):
                    a, b = min(spans[lo][0], spans[j][0]), max(spans[hi][1], spans[j][1])
                    if b - a <= chars:
                        lo, hi = min(lo, j), max(hi, j)
                        grown = True
            if not grown:
                break
        start, end = spans[lo][0], spans[hi][1]
        if any(w.hit.pid == hit.pid and w.start < end and start < w.end for w in windows):
            continue  # this sentence is read already, in a wider window
        windows.append(Window(hit, start, end, min(1.0, max(score, 0.0)), chosen(item)))
    return windows


def best_read(reads: Sequence[Read], settings: ReaderSettings) -> tuple[Read, float] | None:
    """The read with the best margin plus weighted priors and question's words, and the
    answer's confidence: the best margin plus weighted priors (what the thresholds were
    calibrated on; the words only choose among the reads)."""
    if not reads:
        return None

    def confidence(r: Read) -> float:
        return (
            r.margin
            + settings.prior_weight * r.window.prior
            + (settings.rules_weight if r.window.rules else 0.0)
        )

    best = max(reads, key=lambda r: confidence(r) + settings.words_weight * r.words)
    return best, max(map(confidence, reads))


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """A span widened to whole numbers and Latin words: a token boundary can fall inside
    1588 (the reader's span "588年") or a word; a span never cuts one."""
    while (
        0 < start < len(text)
        and text[start - 1].isascii()
        and text[start - 1].isalnum()
        and (text[start].isascii() and text[start].isalnum())
    ):
        start -= 1
    while (
        0 < end < len(text)
        and text[end - 1].isascii()
        and text[end - 1].isalnum()
        and (text[end].isascii() and text[end].isalnum())
    ):
        end += 1
    return start, end


def abstention(answer: Answer) -> Answer:
    """ "Not in the articles" for the question of an answer, with the closest passages."""
    closest = tuple(
        Citation(i + 1, h.pid, h.article, h.passage) for i, h in enumerate(answer.hits[:3])
    )
    return Answer(answer.question, answer.language, True, (), (), closest, answer.hits)


def answer_from_read(
    question: str,
    language: str,
    read: Read,
    hits: Sequence[Hit],
    *,
    with_next: bool = False,
) -> Answer:
    """The reader's span as a cited answer: the span first, the sentence that holds it (with
    the next one when the span runs over, or `with_next`: a reason, a manner or a list
    asked for runs on), the passage cited."""
    hit = read.window.hit
    text = hit.passage.text
    read_start, read_end = whole_words(text, read.start, read.end)
    spans = split_sentences(text) or [(0, len(text))]
    first = next((k for k, (s, e) in enumerate(spans) if s <= read_start < e), 0)
    last = next((k for k, (s, e) in enumerate(spans) if s < read_end <= e), first)
    if with_next and last + 1 < len(spans):
        last += 1
    s0, e0 = spans[first][0], spans[last][1]
    shown = text[s0:e0]
    lead_strip = len(shown) - len(shown.lstrip())
    shown = shown.strip()
    start, end = read_start - s0 - lead_strip, read_end - s0 - lead_strip
    span_text = shown[start:end].strip()
    start += len(shown[start:end]) - len(shown[start:end].lstrip())
    end = start + len(span_text)
    citation = Citation(1, hit.pid, hit.article, hit.passage)
    ordered = [
        dataclasses.replace(h, rank=i)
        for i, h in enumerate([hit, *[h for h in hits if h.pid != hit.pid]], 1)
    ]
    answer = Answer(
        question,
        language,
        False,
        (AnswerSentence(shown, 1, ((start, end),)),),
        (),
        (citation,),
        tuple(ordered),
        span=AnswerSpan(span_text, 1, start, end, "reader"),
    )
    verify_answer(answer)
    return answer
