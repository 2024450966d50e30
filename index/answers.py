"""Cited answers from ranked passages: the sentence and figure that answer, conflicts side by
side, or a plain "the articles do not say". No language model: every word of substance is
quoted from a passage, and every figure shown is checked against the passage it cites."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from corpus import Figure, Passage, normalize_for_search, resolve_period, split_sentences
from index.abstention import AbstentionRules
from index.layout import UNIT_SLOTS
from index.lexical import CJK
from index.questions import QuestionProfile, TermWeights, profile_question
from index.records import ArticleInfo, Hit
from index.spans import alignment, answer_type, candidates, choose_span

SENTENCE_POOL = 3  # passages whose sentences compete to answer


class UnsupportedFigureError(AssertionError):
    """An answer showed a figure that its cited passages do not contain: a bug, never output."""


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    pid: int
    article: ArticleInfo
    passage: Passage

    @property
    def section(self) -> str:
        return " › ".join(s.lstrip("—") for s in self.passage.section_path) or "导语"

    def label(self, language: str = "zh") -> str:
        if language == "en":
            return (
                f"《{self.article.title}》, {self.section}, paragraph {self.passage.paragraph}"
                f" (chars {self.passage.start}-{self.passage.end})"
            )
        return (
            f"《{self.article.title}》 {self.section}，第{self.passage.paragraph}段"
            f"（第{self.passage.start}-{self.passage.end}字）"
        )


@dataclass(frozen=True, slots=True)
class AnswerFigure:
    figure: Figure
    citation: int
    period: str  # as written, with the year resolved: 今年前三季度（2022年）
    qualifier: str = ""  # the words that set it apart from another figure of the metric


@dataclass(frozen=True, slots=True)
class AnswerSentence:
    text: str
    citation: int
    highlights: tuple[tuple[int, int], ...] = ()  # figure spans inside `text`


@dataclass(frozen=True, slots=True)
class AnswerSpan:
    """The exact answer of a factoid question: a substring of the first answer sentence."""

    text: str
    citation: int
    start: int  # offsets in that sentence's text
    end: int
    kind: str  # person, time, place, organization, number, definition, thing


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    language: str
    abstained: bool
    sentences: tuple[AnswerSentence, ...]
    figures: tuple[AnswerFigure, ...]
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    metric: str = ""
    notices: tuple[str, ...] = field(default=())
    generation: int = 0
    latency_ms: float = 0.0
    span: AnswerSpan | None = None

    @property
    def lead(self) -> str:
        """The short answer line: the figures with periods, or the abstention."""
        if self.abstained:
            if self.language == "en":
                return "The articles do not answer this. The closest passages:"
            return f"文章中没有找到“{self.question}”的答案。最接近的段落："
        if not self.figures:
            if self.span is None:
                return ""
            if self.language == "en":
                return f"Answer: {self.span.text}[{self.span.citation}]"
            return f"答：{self.span.text}[{self.span.citation}]"
        parts = [
            f"{af.figure.text}"
            + (
                f"（{'，'.join(w for w in (af.qualifier, af.period) if w)}）"
                if af.period or af.qualifier
                else ""
            )
            + f"[{af.citation}]"
            for af in self.figures
        ]
        if self.language == "en":
            what = f"“{self.metric}”" if self.metric else "The figure"
            return f"{what} in the article: " + "; ".join(parts)
        return (f"{self.metric}：" if self.metric else "") + "；".join(parts)

    @property
    def text(self) -> str:
        """Plain text of the answer (without the citation list)."""
        lines = [self.lead] if self.lead else []
        for s in self.sentences:
            lines.append(f"「{s.text}」[{s.citation}]")
        return "\n".join(lines)


# -- building ---------------------------------------------------------------------------
@dataclass(slots=True)
class _Candidate:
    hit: Hit
    index: int  # sentence number in the passage
    start: int
    end: int
    score: float = 0.0
    figure: Figure | None = None
    figure_score: float = 0.0
    features: dict[str, float] = field(default_factory=dict)  # what the score was made of


# How a Chinese question's candidate sentences are scored. Fitted on the CMRC 2018 trial set
# (bench/notes in README): the question's weighted words in the sentence (own) and around it
# (lex), the passage's fused rank (prior) and the sentence's own dense score lead; the answer
# type, the words around the question's hole and a reason or definition cue break ties.
_WEIGHTS_ZH = {
    "own": 0.3,
    "lex": 0.6,
    "dense": 0.15,
    "figure": 0.2,
    "type": 0.1,
    "align": 0.15,
    "prior": 0.8,
    "cue": 0.1,
    "year": 0.3,  # the question names a year (1992年4月，…担任什么职务): sentences stating it
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


# Words that set a figure apart from another of the same metric: a condition, a scope, a
# comparison.
_QUALIFYING = re.compile(
    r"^(?:如|若|如果|假如|含|包括|包含|不含|不计|计入|按|扣除|剔除|其中|同比|环比|较|比|仅|"
    r"预计|计划|目标|累计)"
)
_CLAUSE_BREAKS = "，,；;：:"


def qualifying_words(text: str, fig: Figure) -> str:
    """The clauses before a figure, in its sentence, that qualify it (如计入支线), else its
    change words (同比增长) or period as written; "" when nothing sets it apart."""
    sentence_start = max((s for s, e in split_sentences(text) if s <= fig.start), default=0)
    before = text[sentence_start : fig.start]
    clauses = [c.strip() for c in re.split(f"[{_CLAUSE_BREAKS}]", before) if c.strip()]
    found = [c for c in clauses if _QUALIFYING.match(c)]
    if found:
        return found[-1][:20]
    return fig.change or fig.qualifier


def _next_sentence(text: str, end: int) -> str:
    spans = [(s, e) for s, e in split_sentences(text) if s >= end]
    if not spans:
        return ""
    follow = text[spans[0][0] : spans[0][1]].strip()
    return "" if is_debris(follow) else follow


def _bigrams(text: str) -> set[str]:
    chars = "".join(_WORD_CHAR.findall(text))
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def _bigram_overlap(question: str, sentence: str) -> float:
    """Share of the question's character bigrams the sentence holds: paraphrases share
    characters more often than whole words."""
    q = _bigrams(question)
    return len(q & _bigrams(sentence)) / len(q) if q else 0.0


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
    if profile.language == "en" and not any(map(CJK.search, profile.terms)):
        return unit_ok  # nothing to read the figure's label with
    cov = weights.coverage(profile.terms, _norm(f"{fig.metric} {fig.subject} {fig.change}"))
    score = 0.6 * (cov or 0.0) + 0.4 * unit_ok
    return score * 0.5 if fig.modifier else score


def _unit_uid(pid: int, index: int, n_sentences: int) -> int:
    return pid * UNIT_SLOTS + (index if n_sentences > 1 else 0)


class AnswerBuilder:
    """Turns ranked hits into an Answer for one question."""

    def __init__(self, weights: TermWeights) -> None:
        self.weights = weights
        self.rules = AbstentionRules(weights)

    def _candidates(
        self,
        profile: QuestionProfile,
        hits: list[Hit],
        figures: dict[int, list[Figure]],
        units: dict[int, float],
        kind: str,
    ) -> list[_Candidate]:
        out = []
        top = hits[0].score or 1.0
        for hit in hits:
            spans = split_sentences(hit.passage.text) or [(0, len(hit.passage.text))]
            # the passage around a sentence names what "这个…" refers to
            around = self._local_coverage(profile, hit.passage.search_text, hit.article.title)
            for i, (s, e) in enumerate(spans):
                sentence = hit.passage.text[s:e]
                if is_debris(sentence):
                    continue
                cand = _Candidate(hit, i, s, e)
                own = self._local_coverage(profile, _norm(sentence), hit.article.title)
                lex = 0.6 * own + 0.4 * around
                dense = units.get(_unit_uid(hit.pid, i, len(spans)), hit.dense)
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
                        "bigram": _bigram_overlap(profile.text, sentence),
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

    def _local_coverage(self, profile: QuestionProfile, text: str, title: str) -> float:
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

    def build(
        self,
        question: str,
        hits: list[Hit],
        *,
        figures: dict[int, list[Figure]],
        units: dict[int, float],
        same_metric: Callable[[str], list[tuple[Hit, Figure]]] | None = None,
        translations: Sequence[str] = (),
        neighbours: Sequence[Hit] = (),
    ) -> Answer:
        """`translations`: an English question's words rendered in Chinese (the retriever's
        lexicon); they stand in for its terms when figures are weighed. `neighbours`: the
        other pieces of the top passages' paragraphs, which compete to answer (a paragraph
        cut in two is one unit for answering)."""
        profile = profile_question(question)
        if profile.language == "en" and translations:
            profile = dataclasses.replace(profile, terms=tuple(translations))
        same_paragraph = [
            n.passage.text
            for n in neighbours
            if hits
            and n.passage.article_id == hits[0].passage.article_id
            and n.passage.paragraph == hits[0].passage.paragraph
        ]
        why = self.rules.before_answering(
            profile, hits, pool=SENTENCE_POOL, paragraph=same_paragraph
        )
        if why is not None:
            return self._abstain(profile, hits, *why)
        kind = answer_type(question)
        pool = [*hits[:SENTENCE_POOL], *neighbours]
        found = self._candidates(profile, pool, figures, units, kind)
        if not found:
            return self._abstain(profile, hits)
        best = max(found, key=lambda c: c.score)
        # the answering passage leads; ranks follow the new order
        # the answering passage leads, the rest of its paragraph follows it (a paragraph cut
        # in two is one unit), then the other hits
        lead = [best.hit] + [
            n
            for n in neighbours
            if n.passage.article_id == best.hit.passage.article_id
            and n.passage.paragraph == best.hit.passage.paragraph
            and n.pid != best.hit.pid
        ]
        taken = {h.pid for h in lead}
        ordered = [
            dataclasses.replace(h, rank=i)
            for i, h in enumerate([*lead, *[h for h in hits if h.pid not in taken]], 1)
        ][: max(len(hits), len(lead))]
        citations = [Citation(1, best.hit.pid, best.hit.article, best.hit.passage)]
        sentence_text = best.hit.passage.text[best.start : best.end].strip()
        offset = best.hit.passage.text.index(sentence_text, best.start)
        shown: list[AnswerFigure] = []
        metric = ""
        if best.figure is not None:
            metric = best.figure.metric or best.figure.subject
            shown.append(AnswerFigure(best.figure, 1, self._period(best.figure, best.hit.article)))
            primary = best.figure
            # the same metric twice in the answering passage (全长300公里; 如计入支线，全长420
            # 公里): both are shown, each with the words that qualify it
            twins = [
                f
                for f in figures.get(best.hit.pid, [])
                if f.start != primary.start
                and f.kind == primary.kind
                and f.unit == primary.unit
                and f.metric
                and (f.metric in primary.metric or primary.metric in f.metric)
            ]
            if twins:
                text = best.hit.passage.text
                shown[0] = dataclasses.replace(shown[0], qualifier=qualifying_words(text, primary))
                for f in twins:
                    shown.append(
                        AnswerFigure(
                            f, 1, self._period(f, best.hit.article), qualifying_words(text, f)
                        )
                    )
            wide = same_metric is not None and len(primary.metric) >= 3
            others = same_metric(primary.metric) if same_metric and wide else []
            for hit, fig in others:
                # the same measure stated elsewhere: another passage, same kind and unit
                if hit.pid == best.hit.pid or fig.kind != primary.kind or fig.unit != primary.unit:
                    continue
                if any(a.figure.text == fig.text and a.figure.period == fig.period for a in shown):
                    continue
                n = next((c.n for c in citations if c.pid == hit.pid), len(citations) + 1)
                if n > len(citations):
                    citations.append(Citation(n, hit.pid, hit.article, hit.passage))
                shown.append(AnswerFigure(fig, n, self._period(fig, hit.article)))
        highlights = tuple(
            (af.figure.start - offset, af.figure.end - offset)
            for af in shown
            if af.citation == 1 and offset <= af.figure.start < offset + len(sentence_text)
        )
        span = None
        if best.figure is None:
            found_span = choose_span(question, sentence_text, kind)
            if found_span is not None:
                span = AnswerSpan(
                    found_span.text(sentence_text), 1, found_span.start, found_span.end, kind
                )
                highlights = ((span.start, span.end),)
        sentences = [AnswerSentence(sentence_text, 1, highlights)]
        if kind == "sentence" and best.figure is None:
            # a reason, a manner or a list often runs on into the next sentence
            follow = _next_sentence(best.hit.passage.text, best.end)
            if follow:
                sentences.append(AnswerSentence(follow, 1))
        for af in shown[1:]:
            cite = citations[af.citation - 1]
            spans = split_sentences(cite.passage.text)
            s, e = next(
                ((s, e) for s, e in spans if s <= af.figure.start < e), (0, len(cite.passage.text))
            )
            text = cite.passage.text[s:e].strip()
            start = cite.passage.text.index(text, s)
            if any(q.text == text and q.citation == af.citation for q in sentences):
                continue  # a twin in the answering sentence: highlighted there
            sentences.append(
                AnswerSentence(
                    text, af.citation, ((af.figure.start - start, af.figure.end - start),)
                )
            )
        why = self.rules.after_answering(
            profile,
            [s.text for s in sentences],
            [(af.figure.kind, af.period) for af in shown],
            best.hit.article.date,
            [c.passage.text for c in citations],
        )
        if why is not None:
            return self._abstain(profile, hits, *why)
        answer = Answer(
            question,
            profile.language,
            False,
            tuple(sentences),
            tuple(shown),
            tuple(citations),
            tuple(ordered),
            metric=metric,
            span=span,
        )
        verify_answer(answer)
        return answer

    def _abstain(self, profile: QuestionProfile, hits: list[Hit], *notices: str) -> Answer:
        closest = tuple(
            Citation(i + 1, h.pid, h.article, h.passage) for i, h in enumerate(hits[:3])
        )
        return Answer(
            profile.text, profile.language, True, (), (), closest, tuple(hits), notices=notices
        )

    @staticmethod
    def _period(fig: Figure, article: ArticleInfo) -> str:
        year = int(article.date[:4]) if article.date[:4].isdigit() else None
        return resolve_period(fig.period, year=year, date=article.date)


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _canonical(number: str) -> str:
    """03 and 3 are the same month: compare numbers without leading zeros."""
    whole, dot, frac = number.partition(".")
    return (whole.lstrip("0") or "0") + (dot + frac if dot else "")


def verify_answer(answer: Answer) -> None:
    """Every figure shown stands in the passage it cites; every number in the text stands in a
    cited passage or in a cited article's date (resolved periods like 今年（2022年））."""
    by_n = {c.n: c for c in answer.citations}
    for af in answer.figures:
        cite = by_n.get(af.citation)
        if cite is None or cite.passage.text[af.figure.start : af.figure.end] != af.figure.text:
            raise UnsupportedFigureError(
                f"{af.figure.text} is not at the cited place [{af.citation}]"
            )
    if answer.span is not None:
        cite = by_n.get(answer.span.citation)
        first = answer.sentences[0].text if answer.sentences else ""
        if (
            cite is None
            or answer.span.text not in cite.passage.text
            or first[answer.span.start : answer.span.end] != answer.span.text
        ):
            raise UnsupportedFigureError(f"{answer.span.text} is not at the cited place")
    sources = " ".join(c.passage.text for c in answer.citations)
    years = " ".join(c.article.date for c in answer.citations)
    allowed = {_canonical(n) for n in _NUMBER.findall(sources) + _NUMBER.findall(years)}
    allowed |= {str(int(y) - 1) for y in re.findall(r"\d{4}", years)}  # 去年
    body = re.sub(r"\[\d+\]", "", answer.text)
    for number in _NUMBER.findall(body):
        if _canonical(number) not in allowed:
            raise UnsupportedFigureError(f"{number} appears in the answer but in no cited passage")
