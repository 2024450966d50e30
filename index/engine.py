"""The engine: builds and changes the index, serves searches from the current generation."""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from corpus import (
    Article,
    Figure,
    Passage,
    extract_figures,
    left_out,
    normalize_for_search,
    split_article,
    split_sentences,
)
from index.answering.answers import Answer, AnswerBuilder, UnsupportedFigureError
from index.answering.extract import (
    Read,
    ReaderSettings,
    Window,
    abstention,
    answer_from_read,
    best_read,
    reading_windows,
)
from index.answering.fit import Fit
from index.answering.relations import states_relation
from index.answering.sentences import SENTENCE_POOL
from index.plan import plan_changes
from index.reader import Reader
from index.records import ArticleInfo, BuildReport, Hit, IndexInfo
from index.search.batch import clear_embedding_cache, dense_units, embed_units
from index.search.crosslingual import MAX_TERMS, build_lexicon, lexicon_size
from index.search.embedder import Embedder
from index.search.retriever import FusionConfig, HybridRetriever
from index.stores.article_store import (
    ArticleClashError,
    ArticleStore,
    Provenance,
    StoredArticle,
    Submission,
    export_article_store,
    read_export,
)
from index.stores.backends import BACKENDS, WriterOptions
from index.stores.embed_cache import CACHE_NAME
from index.stores.folder import IndexFolder, ServingGeneration
from index.stores.layout import (
    BuildCancelledError,
    IndexCorruptError,
    IndexStoreError,
    IndexWriteError,
    Manifest,
    split_unit_id,
)
from index.stores.lexicon import TermLexicon
from index.stores.protocols import IndexWriter
from index.text.english import english_words
from index.text.followup import (
    Comparison,
    comparison_of,
    interpret_followup,
    question_parts,
    read_parts,
    same_scope,
)
from index.text.glossary import glossed_share, switched
from index.text.questions import profile_question
from index.text.tokens import CJK

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 300
# Words a figure's change is written with, for the words readers look it up by.
_FIGURE_WORDS = {
    "增速": ("增长",),
    "增幅": ("增长",),
    "增长率": ("增长",),
    "涨幅": ("增长", "上升"),
    "降幅": ("下降", "减少"),
}
_WHY = re.compile(r"为什么|为何|原因|何故|\bwhy\b", re.I)
# A passage of the same paragraph as a hit competes to answer with this share of its score.
_NEIGHBOUR_PRIOR = 0.9
PREFER_WITHIN = 3  # how far down a follow-up looks for the previous answer's passage
PREFER_BOOST = 1.25  # its retrieval score then: a quarter above the best
LABEL_MARGIN = 0.01  # how far below the closest label a figure found in English may be
Progress = Callable[[str, int, int], None]  # stage, done, total


class EmptyQuestionError(ValueError):
    """The question has no text to search for."""


class ChangeRefusedError(LookupError):
    """A change asked of the index that cannot be made as asked (an article that is not
    there, no earlier generation, a backend that has no such step): nothing was changed, and
    the message says why. Front ends show it; any other error inside a build is a bug."""


@dataclass(frozen=True, slots=True)
class Hints:
    """How the engine's messages tell their reader what to do: the commands of the front end
    the message reaches (the command line by default; the bot sets its chat commands)."""

    list_ids: str = "`shuzi index list` shows ids"
    replace: str = "`shuzi index add --replace`"
    bring_back: str = "`shuzi index add` the file to bring it back"
    rebuild: str = "run `shuzi index build` to rebuild from the sources"


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    truncated_from: int = 0


@dataclass(frozen=True, slots=True)
class SearchResult:
    question: Question
    hits: list[Hit]
    generation: int
    latency_ms: float
    notices: tuple[str, ...] = field(default=())


def _notices(question: Question) -> tuple[str, ...]:
    if question.truncated_from:
        return (f"问题过长（{question.truncated_from}字），只按前{len(question.text)}字检索。",)
    return ()


def check_question(text: str, *, max_chars: int = MAX_QUESTION_CHARS) -> Question:
    """Strip, refuse empty questions, cut long ones to a bounded length."""
    clean = " ".join((text or "").split())
    if not any(ch.isalnum() for ch in clean):  # empty, or only emoji and punctuation
        raise EmptyQuestionError("请输入一个问题。/ Please type a question.")
    if len(clean) > max_chars:
        return Question(clean[:max_chars], truncated_from=len(clean))
    return Question(clean)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    max_passage_chars: int = 300
    lexical_tokenizer: str = "jieba+bigram"
    faiss_index: str = "auto"
    store: str = "local"  # where new generations keep vectors and postings: local | milvus
    fusion: FusionConfig = field(default_factory=FusionConfig)
    lexicon_max_terms: int = MAX_TERMS


class Engine:
    """Index maintenance and search. Readers use the generation loaded last; a build swaps
    it only when the new generation is complete and verified."""

    def __init__(
        self,
        *,
        store: IndexFolder,
        embedder: Embedder,
        options: EngineOptions | None = None,
        article_store: ArticleStore | None = None,
        reader: Reader | None = None,
        reader_settings: ReaderSettings | None = None,
    ) -> None:
        self.store = store
        # the trained reader writes the answer when there is one (SHUZI_READER); else rules
        self.reader = reader
        self.reader_settings = reader_settings or ReaderSettings()
        # what editors added, kept apart from the index that is derived from it
        self.article_store = article_store or ArticleStore(store.root.parent / "articles")
        self.embedder = embedder
        self.options = options or EngineOptions()
        self.retriever = HybridRetriever(embedder=embedder, fusion=self.options.fusion)
        self._gen: ServingGeneration | None = None
        self._broken = ""  # why no generation is served after a failed integrity check
        self._swap = threading.Lock()
        self._builders: dict[int, AnswerBuilder] = {}
        self.hints = Hints()  # the command line's; the bot sets its chat commands

    # -- serving -------------------------------------------------------------------------
    def load(self, number: int | None = None) -> ServingGeneration:
        gen = self.store.open(number, model=self.embedder.name)
        # Readers holding the old generation finish their query on it; it is not closed
        # here but left to garbage collection.
        with self._swap:
            self._gen = gen
            self._broken = ""
        return gen

    @property
    def _generation(self) -> ServingGeneration:
        gen = self._gen
        if gen is None:
            if self._broken:
                raise IndexCorruptError(f"the index failed its integrity check: {self._broken}")
            gen = self.load()
        return gen

    def _answer_builder(self, gen: ServingGeneration) -> AnswerBuilder:
        cached = self._builders.get(gen.number)
        if cached is None:
            cached = AnswerBuilder(gen.term_weights())
            self._builders = {gen.number: cached}  # one generation serves at a time
        return cached

    def warm_up(self) -> None:
        """Pay the first-call costs (index load, jieba, torch, the pinyin place table) before
        the first reader arrives: one Chinese and one English question."""
        self.ask("株洲数字经济")
        self.ask("Zhuzhou digital economy")

    def ask(self, text: str, *, k: int = 5, previous: Answer | None = None) -> Answer:
        """The cited answer to a question, or an abstention with the closest passages.

        `previous` is the reader's previous answer: a follow-up that lacks its subject, metric
        or place ("那占GDP比重呢？") is read together with its question (the answer's
        `question` is that reading, and a notice says how it was read). A question that asks
        several things ("规模多少，占GDP比重多少？") is answered part by part (`parts`)."""
        t0 = time.perf_counter()
        question = check_question(text)
        meant = interpret_followup(question.text, previous.question if previous else None)
        followup: tuple[str, ...] = ()
        if meant.merged:
            question = replace(question, text=meant.text)
            followup = (
                (f"按「{meant.text.rstrip('？?')}」理解",)
                if CJK.search(text)
                else (f'Read as "{meant.text}"',)
            )
        compared = comparison_of(question.text)
        readings = (
            [compared.first, compared.second]
            if compared
            else read_parts(question_parts(question.text))
        )
        # a follow-up of the same place and period reads the previous answer's passage first
        # when it is among the best (增长呢 after 增加值594亿元: the 21.4% beside it, not
        # another period's 24.4%)
        prefer = (
            previous.citations[0].pid
            if meant.merged
            and previous is not None
            and previous.citations
            and not previous.abstained
            and same_scope(meant.text, previous.question)
            else None
        )
        answers = [
            self._answer(reading, k=k, prefer=prefer if i == 0 else None)
            for i, reading in enumerate(readings)
        ]
        if compared:
            followup = (*followup, comparison_notice(compared, answers[0], answers[1]))
        if meant.merged and not CJK.search(text):  # an English follow-up: answered in English
            answers = [replace(a, language="en") for a in answers]
        first = answers[0]
        return replace(
            first,
            notices=(*followup, *_notices(question), *first.notices),
            parts=tuple(answers[1:]),
            latency_ms=(time.perf_counter() - t0) * 1000,
        )

    def _answer(self, question: str, *, k: int, prefer: int | None = None) -> Answer:
        """The answer to one question, as it is to be read; `prefer`: a passage ranked first
        when it is among the PREFER_WITHIN best."""
        t0 = time.perf_counter()
        gen = self._generation
        signals = self.retriever.signals(gen, question)
        hits = self.retriever.rank(gen, signals, k=k)
        if prefer is not None and prefer in [h.pid for h in hits[:PREFER_WITHIN]]:
            top = hits[0].score * PREFER_BOOST
            first = [replace(h, score=top) for h in hits if h.pid == prefer]
            hits = [
                replace(h, rank=i)
                for i, h in enumerate([*first, *(h for h in hits if h.pid != prefer)], 1)
            ]
        neighbours = self._neighbours(gen, hits[:SENTENCE_POOL])
        pool = [h.pid for h in [*hits[:SENTENCE_POOL], *neighbours]]
        figures = gen.figures(pool)
        scores = dict(signals.units)
        if signals.query is not None:
            # every sentence that may answer is scored against the question, not only the
            # units the dense search happened to return
            uids, vectors = gen.unit_vectors(pool)
            scores.update(zip(uids.tolist(), (vectors @ signals.query).tolist(), strict=True))
        units = {split_unit_id(uid): score for uid, score in scores.items()}

        def same_metric(metric: str) -> list[tuple[Hit, Figure]]:
            pairs = gen.figures_with_metric(metric)
            passages = gen.passages([pid for pid, _ in pairs])
            return [
                (Hit(pid, passages[pid], gen.articles[passages[pid].article_id], 0.0), fig)
                for pid, fig in pairs
            ]

        answer = self._answer_builder(gen).build(
            question,
            hits,
            figures=figures,
            units=units,
            same_metric=same_metric,
            translations=signals.translations,
            neighbours=neighbours,
        )
        if self.reader is not None:
            answer = self._read(question, answer, [*hits, *neighbours], units)
        return replace(answer, generation=gen.number, latency_ms=(time.perf_counter() - t0) * 1000)

    def _read(
        self,
        question: str,
        rules: Answer,
        hits: list[Hit],
        units: dict[tuple[int, int], float],
    ) -> Answer:
        """The reader's answer, where the rules' is replaced by it: the span the reader finds
        in the best windows, or "not in the articles" below the calibrated threshold. The
        rules' own abstentions with a reason (another year, another place, a total the
        articles do not give) stand (for an English question: where the reason holds for
        the reader's passage too), and so do their other refusals where the threshold there
        is infinite (Chinese); a figure answer stands, and where the reader's span is
        another one, a notice says what the reader read."""
        settings = self.reader_settings
        english = rules.language == "en"
        if rules.abstained and (
            (rules.notices and not english)
            or settings.threshold_for(english, rules_refuse=True) == math.inf
        ):
            return rules  # a refusal the reader cannot overturn: nothing to read
        if rules.derived is not None:
            return rules  # another year's figure worked out from stated ones: checked arithmetic
        assert self.reader is not None
        ruled = self._rules_sentence(rules)
        windows = reading_windows(
            hits,
            units,
            count=settings.english_windows if english else settings.windows,
            chars=settings.english_chars if english else settings.chars,
            per_passage=english,
            first=ruled[:2] if ruled else None,
            lexical=(
                lambda sentence: settings.english_glossed_weight * glossed_share(question, sentence)
            )
            if english and settings.english_glossed_weight
            else None,
        )
        # an English question's phrases whose Chinese word (CC-CEDICT) the windows hold are
        # read in Chinese, as the reader learned code-switched questions; not where the rules
        # found the question's words missing: read so, the reader is surer of every span,
        # also of those the articles do not hold ("universities" in 株洲: 37个)
        asked = question
        if english and not (rules.abstained and not rules.notices):
            asked = switched(question, " ".join(w.text for w in windows))
        fit = Fit(question)
        reads = self._reads(question, asked, windows, fit, english=english)
        found = best_read(reads, settings)
        if found is None:
            return rules if rules.abstained else abstention(rules)
        best, confidence = found
        # an English refusal for a reason is checked again on the reader's passage, below:
        # the reader needs no more assurance there than where the rules answer
        refused = rules.abstained and not (english and rules.notices)
        if confidence < settings.threshold_for(english, refused):
            return replace(rules if rules.abstained else abstention(rules), confidence=confidence)
        if rules.figures and not rules.abstained and fit(rules.named):
            return replace(_figure_leads(rules, best), confidence=confidence)
        runs_on = fit.kind == "sentence" and not english  # a reason, a manner, a list
        if runs_on and not rules.abstained:
            # the rules' sentence answers (it measured better for these questions: DRCD
            # held-out 0.921 against the reader's 0.895), the reader's span in it is named
            inside = best_read(
                [
                    r
                    for r in reads
                    if ruled is not None
                    and r.window.hit.pid == ruled[0]
                    and ruled[1] <= r.start < r.end <= ruled[2]
                ],
                settings,
            )
            if inside is None:
                return replace(rules, confidence=confidence)
            best = inside[0]
        try:
            answer = answer_from_read(
                question,
                rules.language,
                best,
                hits,
                with_next=runs_on or bool(_WHY.search(question)),
            )
        except UnsupportedFigureError as exc:  # never: but an answer never fails its check
            log.warning("the reader's answer failed its check (%s); the rules answer", exc)
            return rules
        if rules.abstained and rules.notices and self._reason_holds(answer, best, hits):
            return rules
        return replace(answer, confidence=confidence)

    def _reason_holds(self, answer: Answer, best: Read, hits: list[Hit]) -> bool:
        """Whether the rules' reason to refuse an English question (another year, another
        place) holds for the reader's passage too: the rules' passage is often not the
        answering one."""
        lead = best.window.hit
        paragraph = [
            h.passage.text
            for h in hits
            if (h.passage.article_id, h.passage.paragraph)
            == (lead.passage.article_id, lead.passage.paragraph)
            and h.pid != lead.pid
        ]
        return bool(self._answer_builder(self._generation).reasons_against(answer, paragraph))

    def _reads(
        self, question: str, asked: str, windows: list[Window], fit: Fit, *, english: bool
    ) -> list[Read]:
        """The reader's spans in the windows that can answer the question (`fit`: not the
        question's own words, of the kind of quantity asked: index/answering/fit.py), each
        with the share of the question's words in its sentence (Chinese). `asked`: the
        question as the reader reads it (an English one with its phrases in Chinese where
        the windows hold them)."""
        assert self.reader is not None
        spans = self.reader.read(
            asked,
            [w.text for w in windows],
            per_context=self.reader_settings.candidates,
        )
        reads = []
        sentences: dict[int, list[tuple[int, int]]] = {}

        def sentence_of(read: Read) -> str:
            text = read.window.hit.passage.text
            bounds = sentences.setdefault(read.window.hit.pid, split_sentences(text))
            return next((text[a:b] for a, b in bounds if a <= read.start < b), text)

        for s in spans:
            window = windows[s.context]
            read = Read(window, window.start + s.start, window.start + s.end, s.margin)
            # of the kind asked, and where the question asks who someone's kin, teacher or
            # head is (or a death), in a sentence that says so, in a passage about that
            # someone (index/answering/relations.py)
            hit = window.hit
            if fit(read.text, read.after) and states_relation(
                question, sentence_of(read), hit.article.title + hit.passage.text
            ):
                reads.append(read)
        if english:
            return reads  # the question's words are not the passages' language
        profile = profile_question(question)
        ranker = self._answer_builder(self._generation).ranker
        out = []
        for read in reads:
            words = ranker.coverage(
                profile, normalize_for_search(sentence_of(read)), read.window.hit.article.title
            )
            out.append(replace(read, words=words))
        return out

    @staticmethod
    def _rules_sentence(rules: Answer) -> tuple[int, int, int] | None:
        """(pid, start, end) of the sentence the rules answer with, in its passage, or None."""
        if rules.abstained or not rules.sentences or not rules.citations:
            return None
        first = rules.sentences[0]
        cite = rules.citations[first.citation - 1]
        at = cite.passage.text.find(first.text)
        if at < 0:
            return None
        return cite.pid, at, at + len(first.text)

    @staticmethod
    def _neighbours(gen: ServingGeneration, hits: Sequence[Hit]) -> list[Hit]:
        """The other pieces of the hits' paragraphs: a paragraph cut at the passage size is
        one unit for answering. They rank just below the hit they join."""
        seen = {h.pid for h in hits}
        out: list[Hit] = []
        for hit in hits:
            for pid, passage in gen.paragraph_passages(
                hit.passage.article_id, hit.passage.paragraph
            ):
                if pid not in seen:
                    seen.add(pid)
                    out.append(Hit(pid, passage, hit.article, hit.score * _NEIGHBOUR_PRIOR))
        return out

    # -- what front ends read (the bot and the CLI go through these, not the stores) -------
    def articles(self) -> list[ArticleInfo]:
        """The articles the serving generation answers from."""
        return list(self._generation.articles.values())

    def serving(self) -> IndexInfo:
        """The serving generation (loaded and verified on first use)."""
        gen = self._generation
        manifest = gen.manifest
        return IndexInfo(gen.number, manifest.model, manifest.store, dict(manifest.counts))

    def find_figures(self, keyword: str, *, limit: int = 200) -> list[tuple[Hit, Figure]]:
        """Figures whose metric, subject or change words hold the keyword (a growth rate by
        增长, 增速 or 提升; an English keyword by its Chinese words in the cross-lingual
        lexicon), with the passage each stands in."""
        gen = self._generation
        words = list(dict.fromkeys([keyword, *_FIGURE_WORDS.get(keyword, ())]))
        english = english_words(keyword) if not CJK.search(keyword) else []
        if english and gen.lexicon is not None:
            vectors = self.embedder.embed_queries(english)
            words += [w for w in gen.lexicon.nearest(vectors) if w not in words]
        seen: set[tuple[int, int]] = set()
        found: list[tuple[int, Figure]] = []
        for word in words:
            for pid, fig in gen.find_figures(word, limit=limit):
                if (pid, fig.start) not in seen:
                    seen.add((pid, fig.start))
                    found.append((pid, fig))
        if english and found:
            found = self._closest_labels(keyword, found)
        passages = gen.passages([pid for pid, _ in found])
        return [
            (Hit(pid, passages[pid], gen.articles[passages[pid].article_id], 0.0), fig)
            for pid, fig in found[:limit]
            if pid in passages
        ]

    def _closest_labels(
        self, keyword: str, found: list[tuple[int, Figure]]
    ) -> list[tuple[int, Figure]]:
        """The figures an English keyword's Chinese neighbours found, kept when their label
        (metric, else subject) is among the closest to the keyword itself: a neighbour word can
        be a near miss (coverage: 保障 0.876 before 覆盖 0.865), its labels are not
        (保险补贴项目 0.798 against 4G网络覆盖率 0.811)."""
        labels = list(
            dict.fromkeys(f.metric or f.subject for _, f in found if f.metric or f.subject)
        )
        if not labels:
            return found
        vectors = self.embedder.embed_queries([keyword, *labels])
        sims = vectors[1:] @ vectors[0]
        floor = float(sims.max()) - LABEL_MARGIN
        close = {label for label, sim in zip(labels, sims, strict=True) if sim >= floor}
        return [(pid, f) for pid, f in found if (f.metric or f.subject) in close]

    def check_backend(self) -> None:
        """The configured backend can be used (a Milvus server answers), or IndexStoreError
        saying what to fix: new articles would go there, so a start must not pretend."""
        BACKENDS[self.options.store].reach(self.store.milvus)

    def verify(self) -> int:
        """Every file of the serving generation hashed against its manifest (IndexCorruptError
        naming the first that does not match); the generation's number."""
        number = self.store.current_number()
        if number is None:
            return self.serving().generation  # raises: there is no index
        self.store.verify(number, full=True)
        return number

    def drop_collections(self, *, all_of_them: bool = False) -> None:
        """Drop this index's Milvus collections that no kept generation reads (all of them:
        a throwaway index's, when an evaluation is done with it)."""
        if self.store.milvus.connected:
            keep = set() if all_of_them else self.store.collections_in_use()
            self.store.milvus.drop_unused(keep)

    def figure_conflicts(
        self, article_id: str, *, limit: int = 10, max_metrics: int = 100
    ) -> list[str]:
        """Figures of an article that differ from figures other articles give for the same
        metric and kind ("数字经济规模: 1118亿元 ≠ 1000亿元 (other/p3)"). Each metric is looked
        up once, and at most `max_metrics` of them: an article of thousands of figures costs
        a hundred queries, not one per figure (it once held an editor's upload for minutes)."""
        gen = self._generation
        pids = [pid for pid, _ in gen.article_passages(article_id)]
        ours: dict[str, list[Figure]] = {}
        for figs in gen.figures(pids).values():
            for fig in figs:
                if (len(fig.metric) >= 3 and len(ours) < max_metrics) or fig.metric in ours:
                    ours.setdefault(fig.metric, []).append(fig)
        lines: list[str] = []
        for metric, figs in ours.items():
            others = gen.figures_with_metric(metric)
            passages = gen.passages(sorted({pid for pid, _ in others}))
            for fig in figs:
                clash = next(
                    (
                        (pid, other)
                        for pid, other in others
                        if pid in passages
                        and passages[pid].article_id != article_id
                        and other.kind == fig.kind
                        and other.text != fig.text
                    ),
                    None,
                )
                if clash is not None:
                    lines.append(
                        f"{metric}: {fig.text} ≠ {clash[1].text} ({passages[clash[0]].key})"
                    )
                    break  # one line per metric
            if len(lines) >= limit:
                break
        return lines

    def has_index(self) -> bool:
        return self.store.current_number() is not None

    def search(self, text: str, *, k: int = 5) -> SearchResult:
        question = check_question(text)
        t0 = time.perf_counter()
        gen = self._generation
        hits = self.retriever.search(gen, question.text, k=k)
        latency = (time.perf_counter() - t0) * 1000
        return SearchResult(question, hits, gen.number, latency, _notices(question))

    # -- building ------------------------------------------------------------------------
    def _split(self, article: Article) -> list[Passage]:
        return split_article(article, max_chars=self.options.max_passage_chars)

    def _writer(self, parent: ServingGeneration | None, *, store: str | None = None) -> IndexWriter:
        """The writer of a new generation, of the configured backend (SHUZI_STORE) or of the
        one a migration asks for."""
        self.store.clean_partial()  # folders of builds that died before publishing
        options = WriterOptions(
            model=self.embedder.name,
            dim=self.embedder.dim,
            lexical_tokenizer=self.options.lexical_tokenizer,
            faiss_index=self.options.faiss_index,
        )
        return BACKENDS[store or self.options.store].write(
            self.store, self.store.milvus, options, parent
        )

    def _parent(self, *, fresh: bool) -> ServingGeneration | None:
        """The generation a build starts from. A full build must work when the current one is
        corrupt or was built by another model or chunker: that is the advertised fix."""
        if not self.has_index():
            return None
        try:
            return self._generation
        except IndexStoreError as exc:
            if not fresh:
                raise
            log.warning("building from scratch: %s", exc)
            return None

    def _apply(
        self,
        *,
        fresh: bool,
        add: Sequence[Article] = (),
        remove: Sequence[str] = (),
        progress: Progress | None = None,
        notes: Sequence[str] = (),
        t0: float | None = None,
    ) -> BuildReport:
        """One new generation from the serving one (or afresh): planned, embedded, written,
        published. The build lock is held by the caller."""
        t0 = time.perf_counter() if t0 is None else t0
        parent = self._parent(fresh=fresh)
        writer = self._writer(parent)
        try:
            reusable: dict[str, np.ndarray] = {}
            if fresh:
                if parent is not None and parent.manifest.model == self.embedder.name:
                    reusable = writer.vectors_by_text()
                writer.clear()
            plan = plan_changes(writer.article_hashes(), add=add, remove=remove)
            notes = [*notes, *_left_out_notes(plan.todo)]
            for article_id in plan.take_out:
                writer.remove_article(article_id)
            written = self._embed_and_write(writer, plan.todo, reusable, progress)
            del reusable  # at a million passages, gigabytes (BENCHMARKS.md)
            if not (plan.changes or fresh):
                writer.abort()
                return BuildReport(
                    generation=parent.number if parent else 0,
                    skipped=plan.skipped,
                    passages_total=len(parent.pids) if parent else 0,
                    seconds=time.perf_counter() - t0,
                    notes=tuple(notes),
                )
            manifest = self._publish(writer, parent, progress)
        except BaseException as exc:
            self._abort(writer, exc)
            raise
        clear_embedding_cache(self.store.root / CACHE_NAME, self.embedder)
        self.load(manifest.generation)
        return BuildReport(
            generation=manifest.generation,
            added=plan.added,
            replaced=plan.replaced,
            removed=plan.removed,
            skipped=plan.skipped,
            passages_added=written.passages,
            vectors_embedded=written.embedded,
            figures_added=written.figures,
            passages_total=manifest.counts["passages"],
            seconds=time.perf_counter() - t0,
            notes=tuple(notes),
        )

    def _abort(self, writer: IndexWriter, exc: BaseException) -> None:
        """A build that failed leaves nothing behind; a full disk says so (and raises)."""
        writer.abort()
        if _disk_full(exc):
            # the cache of a build that cannot finish would only fill the disk more
            clear_embedding_cache(self.store.root / CACHE_NAME, self.embedder)
            raise IndexWriteError(
                f"the disk under {self.store.root} is full: nothing was changed, the "
                "serving index is intact; free some space and try again"
            ) from exc

    def _embed_and_write(
        self,
        writer: IndexWriter,
        articles: Sequence[Article],
        reusable: dict[str, np.ndarray],
        progress: Progress | None,
    ) -> _Written:
        """Split the articles, embed all their new units in one pass (sorted by length
        across articles, batches carry less padding), write passages, vectors and figures."""
        split = [(article, self._split(article)) for article in articles]
        unit_texts = [[dense_units(p.text) for p in ps] for _, ps in split]
        flat = [t for per_article in unit_texts for texts in per_article for t in texts]

        def tick(n: int) -> None:
            if progress:
                progress("embedding", n, len(flat))

        tick(0)
        vectors, embedded = embed_units(
            self.embedder,
            flat,
            reusable=reusable,
            cache_path=self.store.root / CACHE_NAME,
            tick=tick,
        )
        if progress:
            progress("storing passages and figures", 0, len(split))
        pos = passages_added = figures_added = 0
        for n, ((article, passages), per_article) in enumerate(
            zip(split, unit_texts, strict=True), start=1
        ):
            units = []
            for texts in per_article:
                units.append((texts, vectors[pos : pos + len(texts)]))
                pos += len(texts)
            figures = [extract_figures(p.text) for p in passages]
            writer.add_article(article, passages, units, figures)
            passages_added += len(passages)
            figures_added += sum(map(len, figures))
            if progress:
                progress("storing passages and figures", n, len(split))
        return _Written(passages_added, figures_added, embedded)

    def _publish(
        self, writer: IndexWriter, parent: ServingGeneration | None, progress: Progress | None
    ) -> Manifest:
        """The cross-lingual lexicon, the writer's draft, served by the index folder."""
        if progress:
            progress("cross-lingual lexicon", 0, 1)
        same_model = parent is not None and parent.manifest.model == self.embedder.name
        reuse = parent.lexicon.known() if same_model and parent and parent.lexicon else {}
        writer.tokenize_pending()
        frequencies = writer.term_frequencies()
        if frequencies is None and parent is not None:  # an add to a big archive
            lexicon = parent.lexicon
        else:
            lexicon = self._lexicon(writer, frequencies or {}, reuse)
        if progress:
            progress("writing index", 0, 1)
        return self.store.publish(writer.draft(lexicon=lexicon))

    def build(
        self,
        corpus: Sequence[Article] = (),
        *,
        progress: Progress | None = None,
        force: bool = False,
        prune: bool = False,
    ) -> BuildReport:
        """A new generation built afresh from the corpus articles and the article store
        (vectors of unchanged text re-used).

        Nothing is dropped silently: an article the index serves that neither the corpus nor
        the store holds (added before the store existed, or a corpus file since deleted) is
        kept and adopted into the store, unless `prune`; articles removed on purpose stay
        out. Every removed article is named in the report. When the serving generation
        already holds exactly the wanted articles, nothing is written unless `force`.
        """
        t0 = time.perf_counter()
        with self.store.build_lock():
            current = self._current_articles()
            held = current if current is not None else self._held_articles()
            plan = self._plan_sources(corpus, held, prune=prune)
            wanted = plan.wanted
            if not force and current is not None and _same_articles(wanted, current):
                gen = self._generation
                return BuildReport(
                    generation=gen.number,
                    skipped=tuple(a.id for a in wanted),
                    passages_total=len(gen.pids),
                    notes=plan.notes,
                )
            report = self._apply(fresh=True, add=wanted, progress=progress, notes=plan.notes, t0=t0)
        return replace(report, removed=tuple(sorted(set(held) - {a.id for a in wanted})))

    def sync(
        self, corpus: Sequence[Article] = (), *, progress: Progress | None = None
    ) -> BuildReport:
        """What a start runs: corpus files and stored articles that the index lacks (or holds
        in another version) are added; nothing is removed but articles removed on purpose;
        an index that is current is left as it is (nothing written)."""
        t0 = time.perf_counter()
        with self.store.build_lock():
            current = self._current_articles()
            if current is None:  # no usable index: build one from the sources
                plan = self._plan_sources(corpus, self._held_articles(), prune=False)
                return self._apply(
                    fresh=True, add=plan.wanted, progress=progress, notes=plan.notes, t0=t0
                )
            plan = self._plan_sources(corpus, current, prune=False)
            wanted_ids = {a.id for a in plan.wanted}
            stale = [a for a in plan.wanted if current.get(a.id) != a.content_hash]
            gone = [aid for aid in current if aid not in wanted_ids]  # removed on purpose
            return self._apply(
                fresh=False, add=stale, remove=gone, progress=progress, notes=plan.notes, t0=t0
            )

    def add(
        self,
        items: Sequence[Article | Submission],
        *,
        progress: Progress | None = None,
        replace: bool = False,
        skip_clashes: bool = False,
    ) -> BuildReport:
        """Keep articles in the article store, then index them: new ones added, changed ones
        replaced, unchanged ones and duplicates skipped.

        An id that an article from another source already holds with other text is refused
        (ArticleClashError) unless `replace`, or left out and named in the report's notes
        with `skip_clashes`; the same source (a corpus file, a link fetched again, a file
        uploaded again under its name) updates its own article. A cancelled build leaves the
        store as it was."""
        t0 = time.perf_counter()
        subs = [
            item
            if isinstance(item, Submission)
            else Submission(item, Provenance("api", item.origin or item.id))
            for item in items
        ]
        with self.store.build_lock():
            # an add needs a sound index (a corrupt one raises here, before anything is kept)
            current = (
                {a.id: a.content_hash for a in self._generation.articles.values()}
                if self.has_index()
                else {}
            )
            notes: list[str] = []
            if not replace:
                clashes = self._clashes(subs, current)
                if clashes and not skip_clashes:
                    raise ArticleClashError(clashes[0][1])
                notes = [why for _, why in clashes]
                subs = [s for s in subs if s.article.id not in {aid for aid, _ in clashes}]
            before = {s.article.id: self.article_store.get(s.article.id) for s in subs}
            self.article_store.put(subs)  # kept before indexing: a failed build loses nothing
            try:
                return self._apply(
                    fresh=False,
                    add=[s.article for s in subs],
                    progress=progress,
                    notes=notes,
                    t0=t0,
                )
            except BuildCancelledError:
                self.article_store.restore(before)
                raise

    def remove(self, article_ids: Sequence[str], *, by: str = "") -> BuildReport:
        """Remove articles from the index, and record in the article store that they were
        removed on purpose (no build or start brings them back)."""
        t0 = time.perf_counter()
        with self.store.build_lock():
            gen = self._generation
            missing = [a for a in article_ids if a not in gen.articles]
            if missing:
                raise ChangeRefusedError(
                    f"no article with id {', '.join(missing)}; {self.hints.list_ids}"
                )
            served = {a.id: a for a in gen.stored_articles() if a.id in set(article_ids)}
            self.article_store.mark_removed([served[a] for a in article_ids], by=by)
            return self._apply(fresh=False, remove=article_ids, t0=t0)

    def reindex(self, *, progress: Progress | None = None) -> BuildReport:
        """Rebuild everything from the articles the index serves and the article store."""
        return self.build(self._generation.stored_articles(), progress=progress, force=True)

    # -- the sources an index is derived from --------------------------------------------
    def _current_articles(self) -> dict[str, str] | None:
        """{id: content hash} of the serving generation, or None when there is no usable one."""
        if not self.has_index():
            return None
        try:
            gen = self._generation
        except IndexStoreError as exc:
            log.warning("the serving index cannot be used (%s): building from the sources", exc)
            return None
        return {a.id: a.content_hash for a in gen.articles.values()}

    def _held_articles(self) -> dict[str, str]:
        """{id: content hash} of what the index holds: the serving generation's, or what can
        be salvaged from it when it cannot be served."""
        current = self._current_articles()
        if current is None and self.has_index():
            with contextlib.suppress(IndexStoreError, OSError):
                current = {a.id: a.content_hash for a in self.store.salvage_articles()}
        return current or {}

    def _served_articles(self, ids: set[str]) -> dict[str, Article]:
        """These articles as the serving generation stores them; when it cannot be served,
        as its SQLite files still hold them (a rebuild must not lose them)."""
        try:
            articles = self._generation.stored_articles()
        except IndexStoreError:
            articles = self.store.salvage_articles()
        return {a.id: a for a in articles if a.id in ids}

    def _plan_sources(
        self, corpus: Sequence[Article], current: dict[str, str], *, prune: bool
    ) -> _SourcePlan:
        """The articles an index should hold: the corpus (less what was removed on purpose),
        the store's live articles over it, and (unless `prune`) what the index alone holds,
        which is adopted into the store so that it is never lost again."""
        stored = self.article_store.all()
        removed = {s.article.id for s in stored if not s.live}
        wanted: dict[str, Article] = {}
        notes: list[str] = []
        held_back = [a.id for a in corpus if a.id in removed]
        if held_back:
            notes.append(
                f"not added, removed on purpose earlier ({self.hints.bring_back}): "
                f"{', '.join(held_back)}"
            )
        for a in corpus:
            if a.id not in removed:
                wanted[a.id] = a
        adopted = []  # kept earlier only because the index held them: what --prune drops
        for s in stored:
            if s.live and s.provenance.kind == "index" and s.article.id not in wanted and prune:
                adopted.append(s.article)
            elif s.live:
                wanted[s.article.id] = s.article
        if adopted:
            self.article_store.mark_removed(adopted, by="prune")
        orphans = [aid for aid in current if aid not in wanted and aid not in removed]
        if orphans and not prune:
            served = self._served_articles(set(orphans))
            orphans = [aid for aid in orphans if aid in served]
            self.article_store.put(
                Submission(served[aid], Provenance("index", served[aid].origin or aid, "shuzi"))
                for aid in orphans
            )
            wanted.update(served)
            notes.append(
                "kept, though in no corpus file and not in the article store (now adopted "
                f"into it; `--prune` or `shuzi index remove` drops them): {', '.join(orphans)}"
            )
        return _SourcePlan(list(wanted.values()), tuple(notes))

    def _clashes(
        self, subs: Sequence[Submission], current: dict[str, str]
    ) -> list[tuple[str, str]]:
        """(id, why) of the submissions whose id an article of another source holds with
        other text."""
        found = []
        for sub in subs:
            a = sub.article
            held = self.article_store.get(a.id)
            if held is not None and held.live:
                if held.article.content_hash == a.content_hash:
                    continue
                origin = held.article.origin
            elif a.id in current and current[a.id] != a.content_hash:
                origin = self._served_origin(a.id)
            else:
                continue
            if origin != a.origin:
                found.append(
                    (
                        a.id,
                        f"an article with id {a.id!r} already exists (from "
                        f"{origin[:200] or 'the corpus'}); nothing was changed. Replace it "
                        f"explicitly ({self.hints.replace}) or give the new article another id",
                    )
                )
        return found

    def _served_origin(self, article_id: str) -> str:
        for a in self._generation.stored_articles():
            if a.id == article_id:
                return a.origin
        return ""

    def stored_article(self, article_id: str) -> StoredArticle | None:
        return self.article_store.get(article_id)

    # -- moving the article store --------------------------------------------------------
    def export_articles(self, path: Path) -> int:
        """Write the whole article store to one file that `import_articles` reads anywhere."""
        return export_article_store(
            self.article_store, path, max_passage_chars=self.options.max_passage_chars
        )

    def import_articles(
        self, path: Path, *, replace: bool = False, progress: Progress | None = None
    ) -> BuildReport:
        """Keep the articles of an export in the article store and index the live ones (with
        this engine's store: local files or Milvus). An article removed on the exporting
        machine is recorded as removed here too, unless it is live here."""
        records = read_export(path)
        live = [sub for sub, state in records if state == "live"]
        removed = [sub.article for sub, state in records if state != "live"]
        report = self.add(live, progress=progress, replace=replace)
        here = {s.article.id for s in self.article_store.live()}
        self.article_store.mark_removed([a for a in removed if a.id not in here], by="import")
        return report

    def migrate(self, to: str) -> BuildReport:
        """A new generation with the serving one's content, its vectors and postings written
        to the other store (local files or Milvus): nothing is embedded again."""
        t0 = time.perf_counter()
        if to not in BACKENDS:
            raise ChangeRefusedError(f"unknown store {to!r}: {' or '.join(BACKENDS)}")
        with self.store.build_lock():
            parent = self._generation
            if parent.manifest.store == to:
                raise ChangeRefusedError(f"generation {parent.number} is already on {to}")
            writer = self._writer(parent, store=to)
            manifest = _commit_or_abort(
                writer, lambda: self.store.publish(writer.draft(lexicon=parent.lexicon))
            )
        return self._serve_rewritten(manifest, t0)

    def merge(self) -> BuildReport:
        """Merge the serving generation's segments into one, deleted passages left out: a
        new generation from the stored vectors and tokens (nothing embedded again), built
        while the current one serves; the cross-lingual lexicon is refreshed."""
        t0 = time.perf_counter()
        with self.store.build_lock():
            parent = self._generation
            writer = self._writer(parent)
            if not writer.compacts:
                writer.abort()
                raise ChangeRefusedError(
                    "merging is for the local store; Milvus compacts by itself"
                )

            def commit() -> Manifest:
                frequencies = writer.term_frequencies(refresh=True) or {}
                reuse = parent.lexicon.known() if parent.lexicon else {}
                lexicon = self._lexicon(writer, frequencies, reuse)
                return self.store.publish(writer.draft(lexicon=lexicon, merge_all=True))

            manifest = _commit_or_abort(writer, commit)
        return self._serve_rewritten(manifest, t0)

    def _lexicon(
        self,
        writer: IndexWriter,
        frequencies: dict[str, int],
        reuse: dict[str, np.ndarray],
    ) -> TermLexicon:
        """The cross-lingual lexicon of what the writer holds, sized by its passages."""
        size = lexicon_size(writer.passage_count(), max_terms=self.options.lexicon_max_terms)
        return build_lexicon(self.embedder, frequencies, size=size, reuse=reuse)

    def _serve_rewritten(self, manifest: Manifest, t0: float) -> BuildReport:
        """Serve a generation rewritten from stored rows (a merge, a migration)."""
        self.load(manifest.generation)
        return BuildReport(
            generation=manifest.generation,
            passages_total=manifest.counts["passages"],
            seconds=time.perf_counter() - t0,
        )

    def check_integrity(self) -> str | None:
        """The background verify: every file of the serving generation hashed. A generation
        that fails stops being served: the newest older one that passes serves instead (its
        number said in the message), or none, and then questions get the reason until an
        editor rebuilds. Returns None when all is well, else what happened."""
        number = self.store.current_number()
        if number is None:
            return None
        try:
            self.store.verify(number, full=True)
            return None
        except IndexStoreError as exc:
            problem = str(exc.args[0] if exc.args else exc)
        log.error("generation %s failed its integrity check: %s", number, problem)
        with self.store.build_lock():
            for older in reversed([n for n in self.store.generation_numbers() if n < number]):
                try:
                    self.store.verify(older, full=True)
                    self.load(older)
                except Exception as exc:  # a broken older generation is skipped too
                    log.warning("generation %s is not usable either: %s", older, exc)
                    continue
                self.store.switch(older)
                return (
                    f"generation {number} failed its integrity check ({problem}); now serving "
                    f"generation {older}; {self.hints.rebuild}"
                )
            with self._swap:
                self._gen = None
                self._broken = problem
        return f"generation {number} failed its integrity check ({problem}); nothing to serve"

    def rollback(self) -> int:
        """Serve the newest valid generation older than the current one."""
        with self.store.build_lock():
            current = self.store.current_number()
            older = [n for n in self.store.generation_numbers() if current is None or n < current]
            for number in reversed(older):
                try:
                    self.store.verify(number)
                    self.load(number)
                except Exception as exc:  # a broken old generation is skipped, not served
                    log.warning("generation %s is not usable: %s", number, exc)
                    continue
                self.store.switch(number)
                return number
        raise ChangeRefusedError("there is no earlier generation to roll back to")


@dataclass(frozen=True, slots=True)
class _Written:
    passages: int
    figures: int
    embedded: int


@dataclass(frozen=True, slots=True)
class _SourcePlan:
    wanted: list[Article]
    notes: tuple[str, ...]


def _left_out_notes(articles: Sequence[Article]) -> list[str]:
    """What splitting left out of each new article (byline, captions), said, not hidden."""
    notes = []
    for article in articles:
        left = left_out(article.body, authors=article.authors)
        if left:
            shown = "; ".join(f"{kind} «{text[:40]}»" for kind, text in left[:4])
            more = f" and {len(left) - 4} more" if len(left) > 4 else ""
            notes.append(f"{article.id}: left out of the passages: {shown}{more}")
    return notes


def _same_articles(wanted: Sequence[Article], current: dict[str, str]) -> bool:
    return {a.id: a.content_hash for a in wanted} == current and len(wanted) == len(current)


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


def _commit_or_abort(writer: IndexWriter, commit: Callable[[], Manifest]) -> Manifest:
    """commit(), or the writer's temporary files removed and the error raised."""
    try:
        return commit()
    except BaseException:
        writer.abort()
        raise


def _figure_leads(rules: Answer, best: Read) -> Answer:
    """A figure answer, where the reader read too: the checked figure stands; where the
    reader's span is another one, a notice says what the reader read (on the first article's
    fixtures the figure index measured better than the reader's span)."""
    figure = rules.figures[0].figure
    if (
        rules.citations[0].pid == best.window.hit.pid
        and figure.start < best.end
        and best.start < figure.end
    ):
        return rules  # they agree
    span = best.window.hit.passage.text[best.start : best.end].strip()
    where = best.window.hit.citation()
    differs = (
        f"The reading model reads {span} ({where}) for this question."
        if rules.language == "en"
        else f"阅读模型对这个问题读到的是“{span}”（{where}）。"
    )
    return replace(rules, notices=(*rules.notices, differs))


def comparison_notice(compared: Comparison, first: Answer, second: Answer) -> str:
    """Both figures and which is larger (or smaller, as asked), or why they cannot be
    compared."""
    figures = [
        a.figures[0].figure if a.figures and not a.abstained else None for a in (first, second)
    ]
    names = [q.removesuffix("是多少？") for q in (compared.first, compared.second)]
    if figures[0] is None or figures[1] is None:
        missing = "、".join(n for n, f in zip(names, figures, strict=True) if f is None)
        return f"比较：文章没有给出{missing}的数字，无法比较。"
    a, b = figures[0], figures[1]
    if a.unit != b.unit or a.value is None or b.value is None:
        return f"比较：{names[0]}{a.text}与{names[1]}{b.text}单位不同，不能直接比较。"
    if a.value == b.value:
        return f"比较：{names[0]}与{names[1]}相同，都是{a.text}。"
    big, small = ((0, a), (1, b)) if a.value > b.value else ((1, b), (0, a))
    wanted = big if compared.larger else small
    word = f"更{compared.word}"
    return (
        f"比较：{names[big[0]]}{big[1].text} > {names[small[0]]}{small[1].text}，"
        f"{names[wanted[0]]}{word}。"
    )
