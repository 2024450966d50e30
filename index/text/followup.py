"""Follow-up questions: "那占GDP比重呢？", "去年呢？", "长沙呢？", "What about 2021?".

A question that lacks its subject, metric or place is read together with the previous
question of the same reader (the caller keeps it, with its time): the fragment it asks about
takes the place of what it stands for in the previous question (a period for a period, a
place for a place, 国家级 for 省级, 4G网络 for 千兆光纤网络), or is asked of the previous
question's subject (占GDP比重 of 株洲数字经济规模). A complete question is never merged:
only questions that are marked as follow-ups (那…, …呢, what/how about…, and…) or that name
nothing (增长了多少？) are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.text.questions import english_place_readings
from index.text.tokens import CJK, jieba_frequencies, jieba_words_with_tags

_ZH_LEAD = re.compile(r"^(?:那么|那|还有|另外|然后|再问一下|再问)[，,、\s]*")
_ZH_TAIL = re.compile(r"[呢啊呀吗]?[？?。！!…\s]*$")
_ZH_END_PARTICLE = re.compile(r"呢[？?。！!…\s]*$")
# what a question asks, at its end or inside it (有多少家, 是多少, 排第几)
_ZH_ASK = re.compile(
    r"(?:是|有|为|达到|达)?(?:(?:多少|几)(?:个百分点|台套|[个家台项条座名位核人次年倍元])?|"
    r"什么|哪些|在哪里|在哪儿|在哪|哪里|怎么样|如何|排第几|第几|多大|多高|多长|谁)"
)
_ZH_TIME = re.compile(
    r"^(?:(?:19|20)\d{2}年?(?:上半年|下半年|前三季度|全年|[1-9一二三四五六七八九十]{1,2}月)?|"
    r"去年|今年|前年|明年|上半年|下半年|前三季度|全年|一季度|二季度|三季度|四季度|"
    r"(?:今年|去年)?(?:1至11月|1-11月|前三季度|上半年))(?:同期)?$"
)
_ZH_TIME_IN = re.compile(
    r"(?:19|20)\d{2}年?|去年同期|去年|今年|前年|明年|上半年|下半年|前三季度|全年|1至11月"
)
_ZH_LEVEL = re.compile(r"国家级|国家|省级|市级|县级|全国|全省|全市|世界级")
_ZH_COUNTED = re.compile(r"(?:多少|几)[个家台项条座名位]")
# the change a previous question asked about (增长了多少), cut before another relation is
# asked of the same metric; 占…比重 names a metric and stays
_ZH_RELATION_IN = re.compile(r"较|同比|环比|增长|增加(?!值)|提升|提高|下降|减少|增速|增幅")
_ZH_RELATION = re.compile(r"^(?:占|比|较|同比|环比|增长|增加|提升|提高|下降|减少|增速|增幅)")
# a change (增长了多少) is stated of the current period against the last: a past period the
# previous question asked about (去年呢) does not carry over into it
_ZH_CHANGE = re.compile(r"^(?:比|较|同比|环比|增长|增加|提升|提高|下降|减少|增速|增幅)")
_ZH_PAST = re.compile(r"去年同期|去年|前年|上年")
_EN_FOLLOWUP = re.compile(
    r"^(?:(?:and\s+)?(?:what|how)\s+about|and(?:\s+what\s+about)?|what\s+of)\s+(?P<frag>.+?)\s*\??$",
    re.I,
)
_EN_LEVEL = re.compile(
    r"^(national|provincial|municipal|city|county|local|global|domestic)\b", re.I
)
_EN_LEVEL_IN = re.compile(r"\b(?:national|provincial|municipal|city-level|county|local)\b", re.I)
_EN_COUNTED = re.compile(
    r"^(how\s+many)\s+(.+?)(?=\s+(?:has|have|does|do|did|is|are|was|were|in|of)\b|$)", re.I
)
_EN_FUNCTION = {"is", "are", "was", "were", "the", "a", "an", "of", "in", "what", "how", "does"}
_EN_PRONOUN = re.compile(r"\b(?:its|it|their|they|them|those|these)\b", re.I)
_EN_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_EN_PLACE = re.compile(r"^(?:in\s+)?([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)$")
_EN_ASK = re.compile(
    r"^(?:how\s+(?:many|much|big|large|fast|high)|what|which|who|where|when)\s+|"
    r"\b(?:is|are|was|were|does|do|did|has|have)\b\s*",
    re.I,
)
_NOUN_TAGS = ("n", "nr", "ns", "nt", "nz", "eng", "vn", "j", "b")
_PLACE_FREQ = 20  # jieba frequency under which an ns reading is more likely a word


@dataclass(frozen=True, slots=True)
class Interpretation:
    """How a question was read: `text` is what is asked; `merged` when it was read together
    with the previous question."""

    text: str
    merged: bool = False


def interpret_followup(question: str, previous: str | None) -> Interpretation:
    """The question as it is to be asked, given the previous question (already read)."""
    question = question.strip()
    if not previous or not question:
        return Interpretation(question)
    if CJK.search(question):
        text = _merge_zh(question, previous.strip())
    elif CJK.search(previous):  # an English follow-up to a Chinese question
        said = english_followup_in_chinese(question)
        text = _merge_zh(said, previous.strip()) if said else ""
    else:
        text = _merge_en(question, previous.strip())
    return Interpretation(text, merged=True) if text else Interpretation(question)


def same_scope(reading: str, previous: str) -> bool:
    """Whether a follow-up's reading keeps the previous question's places and periods (a
    new metric or relation of the same thing), rather than asking of another place or
    year."""
    if CJK.search(reading):
        return set(_places(reading)) == set(_places(previous)) and set(
            _ZH_TIME_IN.findall(reading)
        ) == set(_ZH_TIME_IN.findall(previous))

    def scope(text: str) -> set[str]:
        return set(_EN_YEAR.findall(text)) | set(re.findall(r"(?<!^)\b[A-Z][a-z]+", text))

    return scope(reading) == scope(previous)


# -- questions that ask several things --------------------------------------------------
_ZH_PIECES = re.compile(r"[，,；;]")
_EN_PARTS = re.compile(r",?\s+and\s+(?=(?:what|how|which|who|where|when)\b)", re.I)


def question_parts(question: str) -> list[str]:
    """The questions a question asks: "株洲数字经济规模多少，占GDP比重多少？" asks two. A piece
    that asks nothing (今年前三季度，…) belongs to the part after it; [question] when it asks
    one thing."""
    if not CJK.search(question):
        pieces = [p.strip(" ,?") for p in _EN_PARTS.split(question.strip())]
        parts = [p + "?" for p in pieces if p]
        return parts if len(parts) > 1 else [question]
    parts, pending = [], ""
    for piece in _ZH_PIECES.split(_ZH_TAIL.sub("", question)):
        pending += ("，" if pending else "") + piece.strip()
        if piece.strip() and _ZH_ASK.search(piece) and not is_small_talk(piece):
            parts.append(pending + "？")
            pending = ""
    if pending and parts:
        parts[-1] = parts[-1].rstrip("？") + "，" + pending + "？"
    return parts if len(parts) > 1 else [question]


_ZH_COMPARE = re.compile(
    r"^(?P<a>.+?)(?:和|与|跟|还是|同)(?P<b>.+?)(?:相比|比较)?[，,]?\s*"
    r"(?:哪个|哪一个|哪项|谁)(?:的)?(?P<what>[^？?]*?)(?:更|比较|较)?(?P<more>大|多|高|快|强|小|少|低|慢|弱)"
    r"(?:一些|一点|些)?[呢吗]?[？?。]*$"
)
_SMALLER = "小少低慢弱"


@dataclass(frozen=True, slots=True)
class Comparison:
    """A question that compares two things: the question for each, and whether it asks for
    the larger (大, 多, 高) or the smaller."""

    first: str
    second: str
    larger: bool
    word: str = "大"  # what the question asks more of: 大, 多, 高 …


def comparison_of(question: str) -> Comparison | None:
    """ "电子信息制造业和高技术制造业哪个规模更大？" -> the question of each (株洲… where the
    first names the place), or None."""
    m = _ZH_COMPARE.match(question.strip())
    if not m:
        return None
    a, b, what = m.group("a").strip(), m.group("b").strip(), m.group("what").strip()
    places = _places(a)
    if places and a.startswith(places[0]) and not _places(b):
        b = places[0] + b  # the place named once stands for both
    more = m.group("more")
    return Comparison(f"{a}{what}是多少？", f"{b}{what}是多少？", more not in _SMALLER, more)


def is_small_talk(text: str) -> bool:
    """A piece that asks about nothing (好吗, 是什么意思 on its own)."""
    return len(_ZH_ASK.sub("", _ZH_TAIL.sub("", text)).strip()) < 2


def read_parts(parts: list[str]) -> list[str]:
    """Each part as it is to be asked: a later part that names no place of its own is read
    with the part before it (占GDP比重多少 of 株洲数字经济规模)."""
    readings = parts[:1]
    for part in parts[1:]:
        previous = readings[-1]
        if CJK.search(part):
            merged = "" if _places(part) else _merge_zh(part, previous, marked=True)
        else:
            merged = _merge_en(part, previous)
        readings.append(merged or part)
    return readings


# -- Chinese -----------------------------------------------------------------------------
def is_followup_zh(question: str) -> bool:
    """Marked as a follow-up (那…, …呢), or naming nothing it asks about (增长了多少？)."""
    if _ZH_LEAD.match(question) or _ZH_END_PARTICLE.search(question):
        return True
    if not _ZH_ASK.search(question):  # small talk ("谢谢", "你好") asks nothing
        return False
    core = _ZH_TIME_IN.sub("", _ZH_ASK.sub("", _ZH_TAIL.sub("", question)))
    core = core.replace("同期", "")
    tags = [t for w, t in jieba_words_with_tags(core) if w.strip()]
    return len(core) <= 8 and not any(t.startswith(_NOUN_TAGS) for t in tags)


def _fragment_zh(question: str) -> str:
    return _ZH_TAIL.sub("", _ZH_LEAD.sub("", question)).strip("，, ")


def _is_place(fragment: str) -> bool:
    words = [(w, t) for w, t in jieba_words_with_tags(fragment) if w not in ("全省", "全市", "的")]
    freq = jieba_frequencies()
    return bool(words) and all(t == "ns" and freq.get(w, 0) >= _PLACE_FREQ for w, t in words)


def _places(text: str) -> list[str]:
    freq = jieba_frequencies()
    return [
        w for w, t in jieba_words_with_tags(text) if t == "ns" and freq.get(w, 0) >= _PLACE_FREQ
    ]


def _topic_and_ask(previous: str) -> tuple[str, str]:
    """The previous question without what it asks (株洲数字经济规模), and what it asks
    (是多少)."""
    body = _ZH_TAIL.sub("", previous)
    asks = list(_ZH_ASK.finditer(body))
    if not asks:
        return body, "是多少"
    ask = asks[-1].group(0)
    topic = (body[: asks[-1].start()] + body[asks[-1].end() :]).strip()
    return topic, ask


def _merge_zh(question: str, previous: str, *, marked: bool = False) -> str:
    """`marked`: known to be a follow-up (a later part of one question)."""
    if not (marked or is_followup_zh(question)) or not CJK.search(previous):
        return ""
    fragment = _fragment_zh(question)
    if not fragment:
        return ""
    body = _ZH_TAIL.sub("", previous)
    # a period for a period
    if _ZH_TIME.match(fragment):
        found = _ZH_TIME_IN.search(body)
        if found:
            return body[: found.start()] + fragment + body[found.end() :] + "？"
        places = _places(body)
        if places and body.startswith(places[0]):
            return places[0] + fragment + body[len(places[0]) :] + "？"
        return fragment + body + "？"
    # a place for a place
    if _is_place(fragment):
        places = _places(body)
        if places:
            return body.replace(places[0], fragment, 1) + "？"
        return fragment + body + "？"
    # a level for a level (国家级的呢 after 省级…)
    level = _ZH_LEVEL.search(fragment)
    if level and fragment.rstrip("的") == level.group(0):
        found = _ZH_LEVEL.search(body)
        if found:
            return body[: found.start()] + level.group(0) + body[found.end() :] + "？"
    topic, ask = _topic_and_ask(previous)
    own_ask = _ZH_ASK.search(fragment)
    tail = "" if own_ask else ("是多少" if re.search("多少|几", ask) else ask)
    # a relation of the previous metric (占GDP比重, 增长了多少, 比去年同期提升了多少): of the
    # metric itself, not of the relation the previous question asked (增长了)
    if _ZH_RELATION.match(fragment):
        relation = _ZH_RELATION_IN.search(topic)
        base = topic[: relation.start()] if relation and relation.start() > 0 else topic
        if _ZH_CHANGE.match(fragment):
            base = _ZH_PAST.sub("", base)
        return base + fragment + tail + "？"
    # a modifier for a modifier (上平台的 for 深度上云的) or a noun phrase for the one with
    # the same head or the same first word (4G网络 for 千兆光纤网络, 行业云平台 for 企业云平台,
    # 作业效率 for 作业面积), in the previous question as it was asked
    swapped = _swap_phrase(body, fragment)
    if swapped and not own_ask:
        return swapped + "？"
    tags = [t for w, t in jieba_words_with_tags(fragment) if w.strip()]
    subject = _subject(topic)
    # a new predicate of the previous subject (吸引了多少客户 of 株洲直播平台)
    if tags and tags[0].startswith("v"):
        return subject + fragment + tail + "？"
    # the previous question counted things (有多少家软件企业): the fragment is theirs
    # (业务收入); it asked a metric's value (覆盖率是多少): the fragment is another metric of
    # the same subject (每万人拥有5G基站数)
    if _ZH_COUNTED.search(ask):
        return topic + fragment + tail + "？"
    return subject + fragment + tail + "？"


def _subject(topic: str) -> str:
    """The leading place and the nouns right after it (株洲直播平台), or the leading place."""
    out = ""
    for i, (word, tag) in enumerate(jieba_words_with_tags(topic)):
        if i == 0 and tag == "ns":
            out = word
            continue
        if not out or not tag.startswith(("n", "eng", "j")) or tag == "ns":
            break
        out += word
    return out


def _swap_phrase(body: str, fragment: str) -> str:
    """The question with the phrase the fragment stands for replaced by it, or ''."""
    if fragment.endswith("的"):
        end = body.rfind("的")
        if end < 0:
            return ""
        return body[: _phrase_start(body, end)] + fragment[:-1] + body[end:]
    words = [w for w, _ in jieba_words_with_tags(fragment) if w.strip()]
    if not words:
        return ""
    last, first = words[-1], words[0]
    at = body.rfind(last)
    if at >= 0 and (len(last) >= 2 or last in ("率", "数", "量", "额")):
        return body[: _phrase_start(body, at)] + fragment + body[at + len(last) :]
    at = body.find(first)
    if at >= 0 and len(first) >= 2:
        end = _phrase_end(body, at)
        return body[:at] + fragment + body[end:]
    return ""


_BOUNDARY_TAGS = ("v", "q", "p", "uj", "ul", "c", "r", "d")


def _phrase_start(text: str, end: int) -> int:
    """Where the noun phrase that ends at `end` starts: after the leading place, a verb, a
    classifier or a particle."""
    start = 0
    pos = 0
    for i, (word, tag) in enumerate(jieba_words_with_tags(text)):
        nxt = pos + len(word)
        if nxt > end:
            break
        if tag in _BOUNDARY_TAGS or (i == 0 and tag == "ns") or word in ("的", "有"):
            start = nxt
        pos = nxt
    return start


def _phrase_end(text: str, start: int) -> int:
    """Where the noun phrase that starts at `start` ends."""
    pos = 0
    end = start
    for word, tag in jieba_words_with_tags(text):
        nxt = pos + len(word)
        if pos >= start:
            if not tag.startswith(_NOUN_TAGS):
                break
            end = nxt
        pos = nxt
    return end


# -- English after Chinese ---------------------------------------------------------------
# What an English follow-up can say of a Chinese question without translating content: a
# period, a place (by its pinyin), or a relation of the previous metric. Anything else is
# asked on its own.
_EN_PERIODS = {  # without a leading "the"
    "last year": "去年",
    "previous year": "去年",
    "same period last year": "去年同期",
    "this year": "今年",
    "year before": "前年",
    "year before last": "前年",
}
_EN_PERIOD_IN = re.compile(
    r"\b(?:the\s+)?(?:same\s+period\s+last\s+year|year\s+before(?:\s+last)?|previous\s+year|"
    r"last\s+year|this\s+year)\b",
    re.I,
)
_EN_SHARE = re.compile(r"\b(?:share|proportion|percentage)\b[\w\s']*\bGDP\b|\bGDP\s+share\b", re.I)
_EN_GROWTH = re.compile(r"\b(?:grow|grew|grown|growth|growing)\b", re.I)
_EN_RISE = re.compile(r"\b(?:rise|rose|risen|increase|increased|go\s+up|went\s+up|up\s+by)\b", re.I)


def english_followup_in_chinese(question: str) -> str:
    """The Chinese follow-up an English one says ("What about last year?" -> 去年呢？,
    "And Changsha?" -> 长沙呢？, "How much did it grow?" -> 增长了多少？), or "" when it says
    something else (asked on its own)."""
    text = " ".join(question.split())
    match = _EN_FOLLOWUP.match(text)
    if not (match or _EN_PRONOUN.search(text)):
        return ""  # a question of its own: it refers to nothing before it
    if _EN_SHARE.search(text):
        return "那占GDP比重呢？"
    if _EN_GROWTH.search(text):
        return "增长了多少？"
    if _EN_RISE.search(text):
        return "提升了多少？"
    period = _EN_PERIOD_IN.search(text)
    if period:
        words = " ".join(re.sub(r"^the\s+", "", period.group(0).lower()).split())
        return _EN_PERIODS[words] + "呢？"
    year = _EN_YEAR.search(text)
    if year:
        return f"{year.group(0)}年呢？"
    fragment = match.group("frag").strip().rstrip("?").strip() if match else ""
    fragment = re.sub(r"^(?:in|for|during)\s+", "", fragment, flags=re.I)
    if fragment:
        readings = english_place_readings(fragment[:1].upper() + fragment[1:])
        if len(readings) == 1 and readings[0][0].lower() == fragment.lower() and readings[0][1]:
            return f"{readings[0][1][0][0]}呢？"
    return ""


# -- English -----------------------------------------------------------------------------
def _merge_en(question: str, previous: str) -> str:
    match = _EN_FOLLOWUP.match(question)
    if not match:
        return _resolve_pronoun(question, previous)
    fragment = match.group("frag").strip().rstrip("?").strip()
    body = previous.rstrip("?？ ").strip()
    year = _EN_YEAR.fullmatch(fragment.removeprefix("in ").strip())
    if year:
        if _EN_YEAR.search(body):
            return _EN_YEAR.sub(year.group(0), body, count=1) + "?"
        return f"{body} in {year.group(0)}?"
    place = _EN_PLACE.match(fragment)
    if place:
        name = place.group(1)
        proper = [m for m in re.finditer(r"\b[A-Z][a-z]+(?:'s)?", body) if m.start() > 0]
        if proper:
            m = proper[0]
            suffix = "'s" if m.group(0).endswith("'s") else ""
            return body[: m.start()] + name + suffix + body[m.end() :] + "?"
        return f"{body} in {name}?"
    topic = " ".join(_EN_ASK.sub(" ", body).split())
    owned = re.match(r"^(?:its|their)\s+(.+)$", fragment, re.I)
    if owned:  # an attribute of the previous subject: "their business revenue"
        return f"What is the {owned.group(1)} of {topic}?"
    level = _EN_LEVEL.match(fragment)
    if level and _EN_LEVEL_IN.search(body):  # "national ones" after "provincial …"
        return _EN_LEVEL_IN.sub(level.group(1), body, count=1) + "?"
    counted = _EN_COUNTED.match(body)
    those = re.match(r"^(?:those|these|the ones)\s+(.+)$", fragment, re.I)
    if counted and those:  # "those on platforms" after "How many enterprises in Zhuzhou …"
        place = re.search(r"\s+in\s+[A-Z][a-z]+(?:\s[A-Z][a-z]+)?", body[counted.end(2) :])
        where = place.group(0) if place else ""
        return f"{counted.group(1)} {counted.group(2)}{where} {those.group(1)}?"
    if counted and not those:  # "5G application scenarios" after "How many cloud platforms …"
        return body[: counted.start(2)] + fragment + body[counted.end(2) :] + "?"
    words = fragment.split()
    same_head = re.search(rf"((?:\b[\w-]+\s+){{0,3}}){re.escape(words[-1])}\b", body, re.I)
    if same_head and len(words[-1]) > 3:  # "gigabit fiber coverage" for "4G network coverage"
        start = same_head.start()
        lead = same_head.group(1).split()
        # keep the words that are not part of the phrase (Zhuzhou's, is, the)
        keep = 0
        for i, w in enumerate(lead):
            if w.lower() in _EN_FUNCTION or w.endswith("'s"):
                keep = i + 1
        kept = " ".join(lead[:keep])
        return (
            body[:start] + (kept + " " if kept else "") + fragment + body[same_head.end() :] + "?"
        )
    fragment = re.sub(r"^(?:the)\s+", "", fragment, flags=re.I)
    return f"What is the {fragment} of {topic}?"


def _resolve_pronoun(question: str, previous: str) -> str:
    """ "How much did it rise?" after a question about a thing: the thing for the pronoun.
    Only a question that names nothing of its own (no capitalised name) is read so."""
    pronoun = _EN_PRONOUN.search(question)
    if not pronoun or re.search(r"(?<!^)\b[A-Z][a-z]+", question) or CJK.search(previous):
        return ""
    topic = " ".join(_EN_ASK.sub(" ", previous.rstrip("?？ ")).split())
    if not topic:
        return ""
    word = pronoun.group(0).lower()
    replacement = f"{topic}'s" if word in ("its", "their") else topic
    return question[: pronoun.start()] + replacement + question[pronoun.end() :]
