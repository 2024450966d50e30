"""Cited answers from ranked passages: the sentence and figure that answer, conflicts side by
side, or a plain "the articles do not say". No language model: every word of substance is
quoted from a passage, and every figure shown is checked against the passage it cites."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from corpus import Figure, Passage, extract_figures, resolve_period, split_sentences
from index.answering.abstention import AbstentionRules
from index.answering.periods import asked_year_offset, derive_year_before, figure_year
from index.answering.sentences import (
    SENTENCE_POOL,
    Candidate,
    SentenceRanker,
    next_sentence,
)
from index.answering.spans import answer_type, choose_span
from index.records import ArticleInfo, Hit
from index.text.questions import QuestionProfile, TermWeights, profile_question
from index.text.tokens import CJK, jieba_words_with_tags

log = logging.getLogger(__name__)


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
        return " › ".join(s.lstrip("—") for s in self.passage.section_path)

    def label(self, language: str = "zh") -> str:
        """Where the passage stands; the section only for an article that has sections."""
        if language == "en":
            where = f", {self.section}" if self.section else ""
            return (
                f"《{self.article.title}》{where}, paragraph {self.passage.paragraph}"
                f" (chars {self.passage.start}-{self.passage.end})"
            )
        where = f" {self.section}，" if self.section else " "
        return (
            f"《{self.article.title}》{where}第{self.passage.paragraph}段"
            f"（第{self.passage.start}-{self.passage.end}字）"
        )


@dataclass(frozen=True, slots=True)
class AnswerFigure:
    figure: Figure
    citation: int
    period: str  # as written, with the year resolved: 今年前三季度（2022年）
    qualifier: str = ""  # the words that set it apart from another figure of the metric

    @property
    def note(self) -> str:
        """What is shown in brackets after the figure, one bracket level deep: qualifier and
        period (今年前三季度，2022年), or ""."""
        return "，".join(_flat(w) for w in (self.qualifier, self.period) if w)


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
    # the reader's belief that the articles answer (its span's margin over "not here" plus
    # the window's retrieval prior); None when the rules answered
    confidence: float | None = None
    # a figure of another year, one step from two stated ones: (text, arithmetic, year label)
    derived: tuple[str, str, str] | None = None
    # a question that asks several things: the answers to its other parts, in order
    parts: tuple[Answer, ...] = ()

    @property
    def named(self) -> str:
        """What the answer names as the answer: its span, else its first figure ("" for
        neither, or an abstention)."""
        if self.abstained:
            return ""
        if self.span is not None:
            return self.span.text
        return self.figures[0].figure.text if self.figures else ""

    @property
    def lead(self) -> str:
        """The short answer line: the figures with periods, or the abstention."""
        if self.abstained:
            if self.language == "en":
                return "The articles do not answer this. The closest passages:"
            return f"文章中没有找到“{self.question}”的答案。最接近的段落："
        if self.derived is not None:
            text, arithmetic, year = self.derived
            if self.language == "en":
                return f"{self.metric} ({year}): {text}, worked out: {arithmetic} [1]"
            return f"{self.metric}（{year}）：{text}（推算：{arithmetic}）[1]"
        if not self.figures:
            if self.span is None:
                return ""
            if self.language == "en":
                return f"Answer: {self.span.text}[{self.span.citation}]"
            return f"答：{self.span.text}[{self.span.citation}]"
        parts = [
            f"{af.figure.text}" + (f"（{af.note}）" if af.note else "") + f"[{af.citation}]"
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
        lines.extend(part.text for part in self.parts)
        return "\n".join(lines)


def _of_another_subject(profile: QuestionProfile, fig: Figure, hit: Hit) -> str:
    """Why a figure answers another subject than the question's, or "": the question asks
    the figure's metric (规模占GDP比重) of a subject (通信业) that the sentence does not name,
    and says nothing of the figure's own subject (数字经济): 通信业规模占GDP比重 is not
    answered by 数字经济规模占GDP比重 42%."""
    question, metric = profile.text, fig.metric
    if profile.language != "zh" or not metric:
        return ""
    tail = next((metric[i:] for i in range(len(metric) - 1) if metric[i:] in question), "")
    head = metric[: len(metric) - len(tail)]
    if not tail or not head:
        return ""
    if any(w in question for w, _ in jieba_words_with_tags(head) if len(w) >= 2):
        return ""  # the question names the figure's subject
    before = question[: question.index(tail)]
    named = [  # the nouns right before the metric: its subject in the question
        w
        for w, tag in jieba_words_with_tags(before)
        if len(w) >= 2 and tag.startswith(("n", "j")) and tag != "ns" and CJK.search(w)
    ]
    text = hit.passage.text
    sentence = next((text[a:b] for a, b in split_sentences(text) if a <= fig.start < b), text)
    if not named or named[-1] in sentence or named[-1] in hit.article.title:
        return ""
    return f"文章没有给出{named[-1]}的{tail}，只给出{metric}{fig.text}。"


def _flat(words: str) -> str:
    """Words shown inside brackets, their own brackets opened up: 今年（2022年） -> 今年，2022年."""
    return words.replace("（", "，").replace("）", "").replace("(", "，").replace(")", "")


# -- building ---------------------------------------------------------------------------
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


class AnswerBuilder:
    """Turns ranked hits into an Answer for one question."""

    def __init__(self, weights: TermWeights) -> None:
        self.weights = weights
        self.rules = AbstentionRules(weights)
        self.ranker = SentenceRanker(weights)

    def build(
        self,
        question: str,
        hits: list[Hit],
        *,
        figures: dict[int, list[Figure]],
        units: dict[tuple[int, int], float],
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
        found = self.ranker.candidates(profile, pool, figures, units, kind)
        if not found:
            return self._abstain(profile, hits)
        best = max(found, key=lambda c: c.score)
        offset = asked_year_offset(question)
        if offset and best.figure is not None:
            other_year = self._for_asked_year(profile, question, best, found, offset, hits)
            if isinstance(other_year, Answer):
                return other_year
            best = other_year
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
            follow = next_sentence(best.hit.passage.text, best.end)
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
        other = _of_another_subject(profile, shown[0].figure, best.hit) if shown else ""
        if other:
            return self._abstain(profile, hits, other)
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
        try:
            verify_answer(answer)
        except UnsupportedFigureError as exc:
            # an answer the engine builds never fails its own check: what failed (a figure,
            # the span) is dropped, and the quoted sentence answers alone
            log.warning("dropped what failed the answer's check for %r: %s", question, exc)
            plain = AnswerSentence(sentences[0].text, 1)
            answer = Answer(
                question,
                profile.language,
                False,
                (plain,),
                (),
                tuple(citations[:1]),
                tuple(ordered),
            )
            verify_answer(answer)
        return answer

    def _for_asked_year(
        self,
        profile: QuestionProfile,
        question: str,
        best: Candidate,
        found: list[Candidate],
        offset: int,
        hits: list[Hit],
    ) -> Candidate | Answer:
        """The answer when a year before the article's is asked (去年): the candidate whose
        figure speaks of that year; else that year's figure worked out from a change the
        article states beside this year's; else "not given", never this year's figure."""
        assert best.figure is not None
        article_year = best.hit.article.year
        if article_year is None:
            return best
        want = article_year + offset
        if figure_year(best.figure, article_year) == want:
            return best
        same = [
            c
            for c in found
            if c.figure is not None
            and c.figure.metric == best.figure.metric
            and figure_year(c.figure, c.hit.article.year) == want
        ]
        if same:
            return max(same, key=lambda c: c.score)
        partial = bool(best.figure.period.replace("今年", ""))  # 今年1至11月: the same months
        label = f"{'前年' if offset == -2 else '去年'}{'同期' if partial else ''}，{want}年"
        if profile.language == "en":
            label = f"{want}" + (", same months" if partial else "")
        sentence_text = best.hit.passage.text[best.start : best.end]
        missing = [
            t
            for t in profile.terms
            if profile.language == "zh"  # an English question's terms are the lexicon's guesses
            and self.weights.weight(t) > 0
            and CJK.search(t)
            and t not in sentence_text
            and t not in best.hit.article.title
            and not asked_year_offset(t)
        ]
        if offset == -1 and not missing:  # worked out only for what the sentence is about
            text = best.hit.passage.text
            sentence = [f for f in extract_figures(text) if best.start <= f.start < best.end]
            derived = derive_year_before(
                next((f for f in sentence if f.start == best.figure.start), best.figure), sentence
            )
            if derived is not None:
                quoted = text[best.start : best.end].strip()
                offset_in = text.index(quoted, best.start)
                marks = tuple((f.start - offset_in, f.end - offset_in) for f in derived.inputs)
                answer = Answer(
                    question,
                    profile.language,
                    False,
                    (AnswerSentence(quoted, 1, tuple(sorted(marks))),),
                    (),
                    (Citation(1, best.hit.pid, best.hit.article, best.hit.passage),),
                    tuple(hits),
                    metric=best.figure.metric or best.figure.subject,
                    derived=(derived.text, derived.arithmetic, label),
                )
                verify_answer(answer)
                return answer
        period = self._period(best.figure, best.hit.article) or f"{article_year}年"
        shown = f"{best.figure.text}（{_flat(period)}）"
        notice = (
            f"The articles do not give the {best.figure.metric or 'figure'} for {want}; "
            f"they give {shown}."
            if profile.language == "en"
            else f"文章没有给出{want}年的{best.figure.metric or '这个数字'}，只给出{shown}。"
        )
        return self._abstain(profile, hits, notice)

    def reasons_against(self, answer: Answer, paragraph: Sequence[str] = ()) -> tuple[str, ...]:
        """The rules' reasons (a place the passage does not name, a year it does not speak
        of) applied to an answer found another way (the reader's), whose
        answering passage leads its hits; () when none holds. `paragraph`: the rest of that
        passage's paragraph."""
        if answer.abstained or not answer.hits:
            return ()
        profile = profile_question(answer.question)
        hit = answer.hits[0]
        why = self.rules.before_answering(profile, [hit], pool=1, paragraph=paragraph)
        if why:
            return why
        why = self.rules.after_answering(
            profile,
            [s.text for s in answer.sentences],
            [],
            hit.article.date,
            [hit.passage.text, *paragraph],
            scopes=profile.wants_figure,  # a figure may be asked as a total; a name is not
        )
        return tuple(why or ())

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
    if answer.derived is not None:
        # worked out, marked 推算: its inputs stand in the passage, its result is computed
        text, arithmetic, label = answer.derived
        inputs = arithmetic.rsplit("=", 1)[0]
        if not all(_canonical(n) in allowed for n in _NUMBER.findall(inputs)):
            raise UnsupportedFigureError(f"{arithmetic}: an input is in no cited passage")
        allowed |= {_canonical(n) for n in _NUMBER.findall(f"{text} {label}")}
        allowed.add("1")  # the 1 of ÷ (1 + 11.2%)
    allowed |= {str(int(y) - 1) for y in re.findall(r"\d{4}", years)}  # 去年
    body = re.sub(r"\[\d+\]", "", answer.text)
    for number in _NUMBER.findall(body):
        if _canonical(number) not in allowed:
            raise UnsupportedFigureError(f"{number} appears in the answer but in no cited passage")
