"""Choosing the sentence that answers: the sentences of the top passages and their
paragraphs compete, scored by the question's words in and around them, the passage's rank,
their own dense similarity, the answer type they hold and the words around the question's
hole (index/spans.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from corpus import Figure, normalize_for_search, split_sentences
from index.answering.spans import alignment, candidates
from index.records import Hit
from index.text.questions import QuestionProfile, TermWeights
from index.text.tokens import CJK

SENTENCE_POOL = 3  # passages whose sentences compete to answer


@dataclass(slots=True)
class Candidate:
    """A sentence that may answer, with the features its score was made of."""

    hit: Hit
    index: int  # sentence number in the passage
    start: int
    end: int
    score: float = 0.0
    figure: Figure | None = None
    figure_score: float = 0.0
    features: dict[str, float] = field(default_factory=dict)  # what the score was made of


# How a Chinese question's candidate sentences are scored: the question's weighted words
# around the sentence (lex), the passage's fused rank (prior) and the sentence's own dense
# score lead; the answer type, the words around the question's hole and a reason or
# definition cue break ties. Fitted on DRCD's held-out articles (`python -m
# bench.sentence_weights`: a coordinate search on 339 questions, checked on 141 of other
# articles: 0.865 of them answered from the right sentence, 0.872 with the weights before,
# which had been fitted on the CMRC 2018 trial set, a set kept for measurement only).
_WEIGHTS_ZH = {
    "own": 0.0,
    "lex": 0.6,
    "dense": 0.15,
    "figure": 0.0,
    "type": 0.1,
    "align": 0.15,
    "prior": 0.8,
    "cue": 0.05,
    "year": 0.0,
}
_FIGURE_WITH_UNIT = 0.5
_TYPE_CHECKED = 6
_WHY = re.compile(r"为什么|为何|原因|何故|目的")
_CAUSE = re.compile(r"因为|由于|所以|因此|故|为了|导致|原因|因而|以致|致使|以便|目的")
_DEFINITION = re.compile(r"^(.{1,20}?)(?:是什么|是指什么|指什么)$|^什么是(.{1,20}?)$")


def _cue(question: str, kind: str, sentence: str) -> float:
    """1 for a sentence of the shape the question wants: a reason for a why-question, the
    defining sentence (it opens with the subject) for "X是什么"."""
    if kind == "sentence" and _WHY.search(question) and _CAUSE.search(sentence):
        return 1.0
    m = _DEFINITION.search(question.strip().rstrip("？?"))
    subject = (m.group(1) or m.group(2) or "").strip('“”"《》') if m else ""
    return 1.0 if subject and sentence.lstrip('「“"《').startswith(subject[:4]) else 0.0


# Answer types whose candidates can be listed (spans.candidates); a sentence holding one
# is of the wanted type.
_TYPED = frozenset({"time", "person", "place", "organization", "number"})
# A term of the article's title, for choosing the sentence: the topic weighs this much.
_TOPIC_WEIGHT = 0.3
# Source debris: a name with pronunciations stripped, "某某（；）", or punctuation alone.
_EMPTY_BRACKETS = re.compile(r"[（(][\s；;，,、:：\-–—\"“”'‘’]*[)）]")
_WORD_CHAR = re.compile(r"[\w\u4e00-\u9fff]")


def next_sentence(text: str, end: int) -> str:
    """The sentence after `end` in a passage, unless it is debris."""
    spans = [(s, e) for s, e in split_sentences(text) if s >= end]
    if not spans:
        return ""
    follow = text[spans[0][0] : spans[0][1]].strip()
    return "" if is_debris(follow) else follow


def is_debris(sentence: str) -> bool:
    """A sentence that says nothing: a name and empty brackets, or punctuation alone."""
    words = len(_WORD_CHAR.findall(_EMPTY_BRACKETS.sub("", sentence)))
    if words <= 2:
        return True
    return bool(_EMPTY_BRACKETS.search(sentence)) and words <= 8


# A sentence that says where something is: the answer type of 哪里/where questions.
_LOCATION = re.compile(r"位于|坐落|地处|落户|选址|在[\u4e00-\u9fff]{1,8}(?:区|市|县|园|省)")


def _norm(text: str) -> str:
    return normalize_for_search(text)


def _figure_score(fig: Figure, profile: QuestionProfile, weights: TermWeights) -> float:
    unit_ok = 1.0 if not profile.units and not profile.kind else 0.0
    if fig.unit in profile.units or (profile.kind and fig.kind == profile.kind):
        unit_ok = 1.0
    if profile.asks_change:
        # a change is answered by a figure stated as one, in % or in percentage points
        if fig.kind == "points" and profile.kind == "percent":
            unit_ok = 1.0
        unit_ok = unit_ok * 0.7 + (0.3 if fig.change else 0.0)
    elif fig.change and fig.kind in ("percent", "points", "multiple"):
        # a rate stated as a change (同比增长11.2%) does not answer a question that asks no
        # change (通信业规模占GDP比重是多少？)
        unit_ok *= 0.3
    if profile.language == "en" and not any(map(CJK.search, profile.terms)):
        return unit_ok  # nothing to read the figure's label with
    cov = weights.coverage(profile.terms, _norm(f"{fig.metric} {fig.subject} {fig.change}"))
    score = 0.6 * (cov or 0.0) + 0.4 * unit_ok
    return score * 0.5 if fig.modifier else score


def _unit_key(pid: int, index: int, n_sentences: int) -> tuple[int, int]:
    """A sentence's dense unit: the passage's own when it is one sentence."""
    return pid, index if n_sentences > 1 else 0


class SentenceRanker:
    """Scores the candidate sentences of one question."""

    def __init__(self, weights: TermWeights) -> None:
        self.weights = weights

    def candidates(
        self,
        profile: QuestionProfile,
        hits: list[Hit],
        figures: dict[int, list[Figure]],
        units: dict[tuple[int, int], float],
        kind: str,
    ) -> list[Candidate]:
        out = []
        top = hits[0].score or 1.0
        for hit in hits:
            spans = split_sentences(hit.passage.text) or [(0, len(hit.passage.text))]
            # the passage around a sentence names what "这个…" refers to
            around = self.coverage(profile, hit.passage.search_text, hit.article.title)
            for i, (s, e) in enumerate(spans):
                sentence = hit.passage.text[s:e]
                if is_debris(sentence):
                    continue
                cand = Candidate(hit, i, s, e)
                own = self.coverage(profile, _norm(sentence), hit.article.title)
                lex = 0.6 * own + 0.4 * around
                dense = units.get(_unit_key(hit.pid, i, len(spans)), hit.dense)
                prior = hit.score / top
                in_sentence = [f for f in figures.get(hit.pid, []) if s <= f.start < e]
                if profile.wants_figure and in_sentence:
                    scored = [(_figure_score(f, profile, self.weights), f) for f in in_sentence]
                    cand.figure_score, cand.figure = max(scored, key=lambda x: x[0])
                if profile.asks_place and _LOCATION.search(sentence):
                    cand.figure_score = max(cand.figure_score, 1.0)  # the answer's type matches
                type_ok = cand.figure_score  # whether other types match is seen below
                if profile.language == "en":
                    cand.score = 0.55 * dense + 0.25 * cand.figure_score + 0.2 * prior
                else:
                    align = alignment(profile.text, sentence)
                    cand.features = {
                        "lex": lex,
                        "own": own,
                        "dense": dense,
                        "figure": cand.figure_score,
                        "type": type_ok,
                        "align": align,
                        "prior": prior,
                    }
                    cand.features["cue"] = _cue(profile.text, kind, sentence)
                    cand.features["year"] = (
                        1.0 if any(y in sentence for y in profile.years) else 0.0
                    )
                    cand.score = sum(
                        _WEIGHTS_ZH[k] * cand.features[k] for k in _WEIGHTS_ZH if k != "type"
                    )
                    if profile.units or profile.kind:
                        # the question names the unit it wants (多少倍, 比重): a figure of that
                        # unit and metric is strong evidence
                        cand.score += _FIGURE_WITH_UNIT * cand.figure_score
                out.append(cand)
        if kind in _TYPED and profile.language == "zh":
            # listing a sentence's candidates costs a part-of-speech pass: only the
            # sentences that can still win are looked at
            for cand in sorted(out, key=lambda c: -c.score)[:_TYPE_CHECKED]:
                sentence = cand.hit.passage.text[cand.start : cand.end]
                if cand.features["type"] < 1.0 and any(
                    c.text(sentence) not in profile.text for c in candidates(sentence, kind)
                ):
                    cand.features["type"] = 1.0
        for cand in out:
            if cand.features:
                cand.score += _WEIGHTS_ZH["type"] * cand.features["type"]
        return out

    def coverage(self, profile: QuestionProfile, text: str, title: str) -> float:
        """Weighted share of the question's terms in a text, where a term of the article's
        title (its topic, named in every sentence or implied by it) weighs less."""
        total = found = 0.0
        topic = _norm(title)
        for t in profile.terms:
            w = self.weights.weight(t) * (_TOPIC_WEIGHT if t in topic else 1.0)
            total += w
            if t in text:
                found += w
        return found / total if total > 0 else 0.0
