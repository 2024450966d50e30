"""What a question asks: language, whether it wants a figure and of what unit, its content terms.

Content terms are the question's character bigrams (and ASCII words) once question words are
taken out, weighted by how rare they are in the corpus: a term in most passages (株洲) says
nothing about where the answer is, a term in none (房价) says the articles may not cover it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from index.text.english import english_words
from index.text.glossary import names_no_place, other_names
from index.text.tokens import (
    CJK,
    dictionary_tags,
    jieba_frequencies,
    jieba_tokens,
    jieba_words_with_tags,
)

_ZH_QUESTION_WORDS = re.compile(
    # when, where, what kind said in two words (什么时候, 哪一个地方, 何种): no content term;
    # nor the era of a year asked (西元几年: 56 of DRCD's 59 such paragraphs never say 西元)
    r"什么时候|(?:什么|哪一?个?)地方|何种|何等|为何|(?:西元|公元)前?(?=[几哪何]|多少)|"
    # which year, what share, at the time of, in the text: words of the question's frame
    # that DRCD's paragraphs do not repeat (何年 159 times in its questions, never in the
    # paragraph; 时候 0.91 of the time; 文中 0.98)
    r"何年|百分之(?=几|多少)|时候|文中|"
    # the kind of thing asked for, after its question word (什么职位, 哪个朝代, 什么东西): the
    # answer names it (唐朝, 总督) without the word (absent from DRCD's paragraphs 0.84-1.0)
    r"(?:什么|哪一?[个种项位]?|何)(?:职位|职务|官职|朝代|事情|东西|单位)|"
    r"(?:多少|几)(?:个百分点|台套|[个家台项条座名位核人次年倍元])?|"
    r"哪一?(?:年|天|日|月|个|位|种|类|次|家|所|条|部|本|首|座)|何时|何地|何处|何人|哪些|哪个|哪家|哪里|哪儿|哪|"
    r"什么|怎么样|怎样|如何|是否|吗|呢|谁|第几|多大|多高|多长|多久|请问|一下|一共|到底|"
    r"名字|名称|叫什么|叫|是|的|了|有|在|被|让|使|把|对|给|和|与|及|为|都|呀|啊|么|"
    # what kind of answer a why/how/list question wants, not what it is about: an answer
    # rarely repeats these words (有哪些特点 is answered by the features themselves)
    r"特点|特征|特色|原因|作用|用途|意义|方面|情况|过程|方式|方法|内容|措施|举措|做法|领域"
)
_ZH_WANTS_FIGURE = re.compile(
    r"多少|几|比重|占比|比例|增长|增速|增幅|规模|率|排名|第几|多大|多高|倍"
)
_ZH_UNIT_AFTER = re.compile(r"(?:多少|几)(个百分点|台套|[个家台项条座名位核人次年倍])")


@dataclass(frozen=True, slots=True)
class QuestionProfile:
    text: str
    language: str  # zh or en
    wants_figure: bool
    units: frozenset[str]
    kind: str  # amount, percent, points, multiple, rank, count or ""
    terms: tuple[str, ...]
    places: tuple[str, ...]
    asks_place: bool = False  # 哪里, 在哪, where: the answer is a location
    asks_change: bool = (
        False  # 增长, 比去年, grow: the answer is a change (增长17.8%, 提升2.5个百分点)
    )
    years: tuple[str, ...] = ()  # years the question names (2021年, in 2019)
    # English: each capitalized word that reads as a Chinese place in pinyin (Changsha), with
    # the places it may be, most common first, and their jieba word frequencies
    place_readings: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()
    # days after the asking one the question names (明天, tomorrow), as (word, days ahead)
    days_ahead: tuple[tuple[str, int], ...] = ()
    # asks the bot for advice, its taste, a joke or about itself: nothing an article says
    asks_the_bot: bool = False


# A question put to the bot, not to the articles: advice (我应该买哪只基金, should I), its
# taste (你喜欢, your favourite), a joke or a story, who it is. None of DRCD's 7,017 questions
# reads so. Not 你觉得 / what do you think: "你觉得株洲的数字经济怎么样" asks what the
# articles say.
ASKS_THE_BOT = re.compile(
    r"我(?:应该|应当|该不该|要不要|该)|(?:推荐|建议)我|给我.{0,4}建议|"
    r"你(?:建议|推荐|喜欢|是谁|叫什么|好吗)|(?:讲|说)(?:个|一个)?(?:笑话|故事)|"
    r"写一首|作一首|"
    r"\b(?:should I|shall I|(?:would|do|can) you recommend|recommend me|"
    r"your (?:advice|favou?rite)|do you like|tell me a (?:joke|story)|"
    r"a joke|write (?:me )?an? (?:poem|song|story)|who are you|what is your name|how are you)\b",
    re.IGNORECASE,
)


# A day after the one the question is asked on: (pattern, days ahead). Not a future said in a
# figure of speech (株洲的明天), not 后天 as acquired (后天性).
DAYS_AHEAD = (
    (re.compile(r"大后天|\bin three days\b", re.I), 3),
    (re.compile(r"(?<!大)后天(?!性)|\bthe day after tomorrow\b", re.I), 2),
    (re.compile(r"(?<!的)(?:明天|明日|明早|明晚)(?!之星)|(?<!day after )\btomorrow\b", re.I), 1),
    (re.compile(r"今晚|今夜|\btonight\b|\bthis evening\b", re.I), 0),
    (re.compile(r"下周|下星期|下礼拜|\bnext week\b", re.I), 7),
)


def days_ahead(question: str) -> tuple[tuple[str, int], ...]:
    """The days after today a question asks about, as (word, days ahead): 明天 -> 1."""
    return tuple(
        (m.group(0), ahead) for pattern, ahead in DAYS_AHEAD if (m := pattern.search(question))
    )


# A year written out: 2021, 2021年; not a longer number, an amount or a count (2000亿元).
YEAR = re.compile(r"(?<![\d.])((?:19|20)\d{2})(?![\d.%亿万千百元个家台项人名位倍])")


def _unit_hints(q: str) -> tuple[frozenset[str], str]:
    if "百分点" in q:
        return frozenset({"个百分点", "百分点"}), "points"
    m = _ZH_UNIT_AFTER.search(q)
    if m:
        unit = m.group(1)
        units = {unit, "台套"} if unit == "台" else {unit}
        return frozenset(units), "multiple" if unit == "倍" else "count"
    if re.search(r"第几|排名|排第|位列|排在|名次|rank", q):
        return frozenset({"位", "名", "强", "条", "次", ""}), "rank"
    if re.search(
        r"比重|占比|比例|率|增长|增速|增幅|提升|提高|百分之|下降|减少|share|percent|"
        r"proportion|rate|grow",
        q,
    ):
        return frozenset({"%"}), "percent"
    if re.search(
        r"多少亿|多少钱|规模|收入|营业额|增加值|产值|gdp|how much|how large|size|revenue|value",
        q.lower(),
    ):
        return frozenset({"元"}), "amount"
    if re.search(r"倍|times", q):
        return frozenset({"倍"}), "multiple"
    return frozenset(), ""


# 美国的哪一州, 欧洲的哪一国, 台湾哪一县市: the place asked for lies within the place named,
# and a passage names the one without the other (芝加哥大学位于伊利诺州)
_WITHIN = r"的?(?:哪|何)一?(?:个|座)?(?:国家|国|省|州|市|城市|县|地区|区域|区|岛|地方)"


def _scope_of_asked_place(place: str, question: str) -> bool:
    return re.search(re.escape(place) + _WITHIN, question) is not None


def profile_question(text: str) -> QuestionProfile:
    q = text.strip()
    language = "zh" if CJK.search(q) else "en"
    lower = q.lower()
    places: tuple[str, ...] = ()
    if language == "zh":
        wants = bool(
            re.search(r"多少|几|比重|占比|比例|增长|增速|增幅|规模|率|排名|第几|多大|多高|倍", q)
        )
        content = _ZH_QUESTION_WORDS.sub(" ", q)
        terms = tuple(t for t in dict.fromkeys(jieba_tokens(content)) if len(t) > 1 or t.isascii())
        places = tuple(
            dict.fromkeys(
                w
                for w, tag in jieba_words_with_tags(content)
                if tag == "ns"
                and len(w) > 1
                and not names_no_place(w)
                and not _scope_of_asked_place(w, q)
            )
        )
    else:
        wants = bool(
            re.search(
                r"how many|how much|what share|what percentage|what proportion|"
                r"rate|how large|how big|rank|number of|size|intensity|ratio|coverage|"
                r"growth|revenue|output|value|scale|worth|total",
                lower,
            )
        )
        terms = tuple(w.lower() for w in english_words(q))
    units, kind = _unit_hints(lower if language == "en" else q)
    asks_place = bool(re.search(r"哪里|哪儿|在哪|何处|什么地方|\bwhere\b", lower))
    asks_change = bool(
        re.search(
            r"增长|增加|提升|提高|下降|减少|增速|增幅|同比|比去年|较去年|\bgr[eo]w|increase|rise",
            lower,
        )
    )
    years = tuple(dict.fromkeys(YEAR.findall(q)))
    readings = english_place_readings(q) if language == "en" else ()
    return QuestionProfile(
        q,
        language,
        wants,
        units,
        kind,
        terms,
        places,
        asks_place,
        asks_change,
        years,
        readings,
        days_ahead(q),
        bool(ASKS_THE_BOT.search(q)),
    )


_EN_PROPER = re.compile(r"\b([A-Z][a-z]+)(?:'s)?\b")


@cache
def _places_by_pinyin() -> dict[str, tuple[tuple[str, int], ...]]:
    """jieba's place names (ns, two characters or more) keyed by toneless pinyin."""
    from pypinyin import lazy_pinyin

    freq = jieba_frequencies()
    by_key: dict[str, list[tuple[str, int]]] = {}
    for word, tag in dictionary_tags().items():
        if tag == "ns" and len(word) > 1:
            key = "".join(lazy_pinyin(word))
            by_key.setdefault(key, []).append((word, freq.get(word, 0)))
    return {k: tuple(sorted(v, key=lambda wf: -wf[1])) for k, v in by_key.items()}


def english_place_readings(
    question: str,
) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """Capitalized words that read as Chinese places: Changsha -> 长沙, Zhuzhou -> 株洲/株州."""
    places = _places_by_pinyin()
    words = dict.fromkeys(_EN_PROPER.findall(question))
    return tuple((w, places[w.lower()]) for w in words if w.lower() in places)


class TermWeights:
    """Inverse document frequency of word terms over the passages of one generation.

    A question term counts as found in a text when it occurs in it as a substring, so a
    different word segmentation of question and text does not hide it.
    """

    def __init__(self, texts: Iterable[str] = (), *, words: Iterable[list[str]] = ()) -> None:
        """From passage texts (segmented here) or from their jieba words."""
        counts: Counter[str] = Counter()
        self.n = 0
        for text in texts:
            self.n += 1
            counts.update(set(jieba_tokens(text)))
        for passage_words in words:
            self.n += 1
            counts.update(set(passage_words))
        self.df: Mapping[str, int] = counts

    @classmethod
    def from_frequencies(cls, df: Mapping[str, int], n: int) -> TermWeights:
        """From document frequencies over n passages: a dict, or a mapping that looks terms
        up where they are stored (a big archive's vocabulary is not held in memory)."""
        weights = cls()
        weights.df = Counter(df) if isinstance(df, dict) else df
        weights.n = n
        return weights

    def weight(self, term: str) -> float:
        df = self.df.get(term, 0)
        if self.n and df / self.n > 0.5:
            return 0.0  # in most passages: says nothing about where the answer is
        return math.log((self.n + 1) / (df + 0.5))

    def coverage(self, terms: Iterable[str], text: str) -> float | None:
        """Weighted share of the question's terms found in a text, as they are or as another
        name CC-CEDICT gives them (俄国: 俄罗斯); None if nothing to weigh."""
        total = found = 0.0
        for t in terms:
            w = self.weight(t)
            total += w
            if t in text or any(name in text for name in other_names(t)):
                found += w
        return found / total if total > 0 else None
