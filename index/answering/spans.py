"""The exact answer of a factoid question, as a span of the answering sentence.

No model writes anything: the question's words say what type of answer it wants (a person, a
time, a place, an organization, a number, a definition or a thing); the sentence offers
candidates of that type (jieba's part-of-speech tags, the figure extractor, a date grammar);
the question, read as the sentence with a hole where its question word stands, says where
the answer sits (the words just before and after the hole are found in the sentence); the
candidate in or nearest that slot is the answer. Why, how and list questions have none: the
sentence is their answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus import extract_figures
from index.text.tokens import CJK, jieba_words_with_tags

# -- what a question asks for --------------------------------------------------------------
# Questions whose answer is a sentence or several: reasons, manners, lists, descriptions.
_SENTENCE_ANSWER = re.compile(
    r"(?<![成作称算认视名改叫被])为什么|为何|何故|什么原因|原因是|怎么|怎样|如何|哪些|什么特点|什么特征|什么作用|什么用途|"
    r"什么功能|什么影响|什么意义|什么关系|什么区别|什么不同|什么贡献|什么成就|什么经历|"
    r"什么事|做了什么|干了什么|有何|经过|过程|内容是|主要工作|主要内容|\bwhy\b|"
    r"\bhow\b(?! many| much| long| old| far| big| large| tall)",
    re.I,
)
_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "time",
        re.compile(
            r"何时|什么时候|什么时间|哪一?年|哪一?天|哪一?日|哪个?月|何年|几月|几日|几号|"
            r"哪个?(?:朝代|年代|时期|世纪|季节)|什么(?:朝代|年代|时期|世纪|季节)|几几年|"
            r"\bwhen\b|what year",
            re.I,
        ),
    ),
    (
        "person",
        re.compile(r"谁|哪一?位|什么人|何人|哪一?[个名]人(?!口|数|民|类|次)|哪名|\bwho\b", re.I),
    ),
    (
        "place",
        re.compile(
            r"哪里|哪儿|在哪|何处|何地|什么地方|什么位置|"
            r"哪个?(?:国家|城市|省份?|地区|州|县|市|国|洲|岛|地方|区域|村|镇|区|位置|山|河)|"
            r"什么(?:国家|城市|省份?|地区|区域)|\bwhere\b|which (?:country|city|province)",
            re.I,
        ),
    ),
    (
        "organization",
        re.compile(
            r"(?:哪|什么)(?:个|家|所|支)?(?:公司|组织|机构|大学|学校|学院|团体|球队|俱乐部|部门|"
            r"企业|单位|政党|党派|银行|媒体|电视台|出版社|厂商|品牌)|"
            r"which (?:company|organization)",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"多少|几(?!乎)|多大|多高|多长|多重|多远|多久|多深|多宽|多厚|多快|多少岁|"
            r"how (?:many|much|long|old|far|big|large|tall)",
            re.I,
        ),
    ),
    (
        "definition",
        re.compile(
            r"是什么|什么是|指什么|属于什么|什么职业|什么身份|什么类型|哪一?类|哪一?种|什么样|"
            r"what is|what are|what was",
            re.I,
        ),
    ),
    ("thing", re.compile(r"什么|哪个|哪一个|哪|\bwhat\b|\bwhich\b", re.I)),
)
# Where the hole is: the question word itself, with the words it swallows (多少分钟, 哪一年).
_HOLE = re.compile(
    r"(?:什么|哪一?[个位家所支种类年天部座条首名张次届项本场片国]?|多少|几)"
    r"(?:时候|时间|地方|位置|人|原因)?|"
    r"何(?:时|处|地|人|职|种|物|名|年|日|故)|谁|多[大高长重远久深宽厚快]|哪里|哪儿"
)
_PREPOSITIONS = "由被于在为派给向从把对跟和与"
_CLAUSE_BREAK = '，,；;。！？!?：:、（）()「」“”"'
_TRIM_HEAD = "是为在于了被由的：:，,、 "
_TRIM_TAIL = "的了，,。；; "
_HEAD_WORDS = re.compile(
    r"位于|坐落于|地处|共有|即为|乃是|或称|又称|亦称|也称|称为|称作|叫做|叫作|简称|俗称|别称|"
    r"又名|亦作|担任|出任|连任|升任|作为|则|即|乃|自|与|同样"
)
_TAIL_WORDS = re.compile(r"(?:则|而|等|之一|一起)$")


# A slot this short is the answer as it stands; a typed candidate this close to it answers.
_SHORT_SLOT = 12
_NEAR = 6


def answer_type(question: str) -> str:
    """person, time, place, organization, number, definition, thing, or sentence."""
    if _SENTENCE_ANSWER.search(question):
        return "sentence"
    for kind, pattern in _TYPES:
        if pattern.search(question):
            return kind
    return "sentence"


# -- candidates in a sentence --------------------------------------------------------------
_CN = "〇零一二三四五六七八九十百千万两"
_TIME = re.compile(
    rf"(?:公元前?|前)?\d{{1,4}}(?:年代|年)(?:\d{{1,2}}月)?(?:\d{{1,2}}日)?"
    rf"(?:[初末底中]|前后|左右|以后|以来|之后|以前|上半年|下半年)?"
    rf"|\d{{1,2}}月\d{{1,2}}日|\d{{1,2}}月(?:[初末底]|上旬|中旬|下旬)?"
    rf"|[\u4e00-\u9fff]{{2}}(?:元年|\d{{1,3}}年|[{_CN}]{{1,4}}年)(?:\s*[（(]\d{{3,4}}年[）)])?"
    rf"(?:\d{{1,2}}月(?:\d{{1,2}}日)?|[{_CN}]{{1,3}}月(?:[{_CN}]{{1,3}}日)?)?"
    rf"|(?:公元前?)?(?:\d{{1,2}}|[{_CN}]{{1,3}})世纪(?:\d{{1,2}}0年代|[{_CN}]{{1,3}}十年代)?"
    rf"(?:初期?|中期|末期?|中叶|后期|前期|上半叶|下半叶)?"
    rf"|[春夏秋冬]季|[春夏秋冬]天"
)
_MEASURE = (
    "个百分点|百分点|平方公里|平方千米|平方米|平方英里|公顷|公里|千米|厘米|毫米|英里|英尺|公尺|米|"
    "公斤|千克|克|吨|磅|亿美元|万美元|美元|亿元|万元|元|英镑|欧元|日元|小时|分钟|秒|天|日|周|"
    "个月|年|岁|倍|%|％|°C|℃|度|人次|人|名|位|个|家|座|所|条|种|部|本|场|届|件|架|艘|辆|层|册|日圆|"
    "公分|km|KM|cm|CM|mm|kg|处|股|类|"
    "级|项|枚|首|集|张|次|户|只|头|株|篇|卷|册|期|节|幅|台|款|间|支|队|分|票|球"
)
_NUMBER = re.compile(
    rf"(?:约|大约|近|超过|逾|共|仅|达)?第?"
    rf"(?:\d+(?:[,，]\d{{3}})*(?:\.\d+)?(?:\s*[-–~至到]\s*\d+(?:\.\d+)?)?|[{_CN}]+(?:[至到][{_CN}]+)?)"
    rf"(?:[万亿千百]+)?(?:多|余)?\s*(?:{_MEASURE})"
    rf"|\d+(?:\.\d+)?(?:[万亿]+)"
)
_ORG = re.compile(
    r"[\u4e00-\u9fffA-Za-z]{2,14}?(?:公司|集团|大学|学院|学校|中学|小学|协会|委员会|研究所|研究院|"
    r"银行|俱乐部|球队|局|部|党|社|电视台|博物馆|医院|基金会|联盟|组织|政府|法院|议会)"
)
_FOREIGN_NAME = re.compile(r"[\u4e00-\u9fff]{1,8}(?:[·•．][\u4e00-\u9fff]{1,8})+")
_TAGS = {
    "person": ("nr", "nrfg", "nrt"),
    "place": ("ns",),
    "organization": ("nt",),
}


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    kind: str

    def text(self, sentence: str) -> str:
        return sentence[self.start : self.end]


def _tagged(sentence: str, tags: tuple[str, ...]) -> list[tuple[int, int]]:
    """Runs of adjacent words with these jieba tags (曼谷 + 乍都节县 stay apart when a 的
    stands between them)."""
    out: list[tuple[int, int]] = []
    pos = 0
    run: tuple[int, int] | None = None
    for word, tag in jieba_words_with_tags(sentence):
        start, end = pos, pos + len(word)
        pos = end
        if tag in tags or (run and word in "·•" and tags != ("ns",)):
            run = (run[0], end) if run else (start, end)
            continue
        if run:
            out.append(run)
            run = None
    if run:
        out.append(run)
    return out


def candidates(sentence: str, kind: str) -> list[Span]:
    """Spans of the sentence that can answer a question of this type."""
    spans: list[tuple[int, int]] = []
    if kind == "time":
        spans = [m.span() for m in _TIME.finditer(sentence)]
    elif kind == "number":
        spans = [m.span() for m in _NUMBER.finditer(sentence)]
        spans += [(f.start, f.end) for f in extract_figures(sentence)]
    elif kind == "person":
        spans = _tagged(sentence, _TAGS["person"])
        spans += [m.span() for m in _FOREIGN_NAME.finditer(sentence)]
    elif kind == "place":
        spans = _tagged(sentence, _TAGS["place"])
        spans += [m.span() for m in _ORG.finditer(sentence)]  # 毕业于哪儿: a school
    elif kind == "organization":
        spans = _tagged(sentence, _TAGS["organization"])
        spans += [m.span() for m in _ORG.finditer(sentence)]
    cleaned = {_trim(sentence, s, e) for s, e in spans}
    return [Span(s, e, kind) for s, e in sorted(cleaned) if e - s >= 1]


def _trim(sentence: str, start: int, end: int) -> tuple[int, int]:
    """Without the function words and punctuation at either end: 位于胡志明市 -> 胡志明市."""
    while True:
        before = (start, end)
        while start < end and sentence[start] in _TRIM_HEAD:
            start += 1
        while end > start and sentence[end - 1] in _TRIM_TAIL:
            end -= 1
        if m := _HEAD_WORDS.match(sentence, start, end):
            start = m.end()
        if m := _TAIL_WORDS.search(sentence[start:end]):
            end = start + m.start()
        if (start, end) == before:
            return start, end


# -- where the hole is ---------------------------------------------------------------------
def _longest_piece(piece: str, sentence: str, *, suffix: bool, lo: int = 0) -> tuple[int, int]:
    """The longest suffix (or prefix) of `piece`, two characters or more, found in the
    sentence at or after `lo`: its (start, end) there, or (-1, -1)."""
    for n in range(len(piece), 1, -1):
        part = piece[-n:] if suffix else piece[:n]
        at = sentence.find(part, lo)
        if at >= 0:
            return at, at + n
    return -1, -1


def _anchor_left(left: str, sentence: str) -> tuple[int, int]:
    """Where the longest run of the words before the hole ends in the sentence, when no
    suffix of them is there (某某的职业 -> 某某)."""
    for n in range(len(left) - 1, 1, -1):
        for i in range(len(left) - n, -1, -1):
            at = sentence.find(left[i : i + n])
            if at >= 0:
                return at, at + n
    return -1, -1


def _question_sides(question: str) -> tuple[str, str] | None:
    q = question.strip().rstrip("？?！!。. ")
    m = _HOLE.search(q)
    if not m:
        return None
    left = q[: m.start()].rstrip("是为在于了的")
    right = q[m.end() :].lstrip("的").rstrip("的呢吗呀啊")
    return left, right


def slot(question: str, sentence: str) -> tuple[int, int] | None:
    """Where the sentence says what the question's hole asks: after the words that precede
    the hole, before the words that follow it, within one clause when one side is missing."""
    sides = _question_sides(question)
    if sides is None:
        return None
    left, right = sides
    _ls, le = _longest_piece(left, sentence, suffix=True) if left else (-1, -1)
    rs, _ = _longest_piece(right, sentence, suffix=False, lo=max(le, 0)) if right else (-1, -1)
    if le < 0 and rs < 0 and left:
        _ls, le = _anchor_left(left, sentence)  # 某某的职业是什么: after 某某
    if le >= 0 and rs > le:
        # "实行什么制度" and "「一领具足」制度": the category the question names after its
        # question word belongs to the answer
        category = _category(right)
        end = rs + len(category) if category and sentence.startswith(category, rs) else rs
        return _trim(sentence, le, end)
    if le >= 0:
        end = le
        while end < len(sentence) and sentence[end] not in _CLAUSE_BREAK:
            end += 1
        if end == le and end < len(sentence):  # "X（），中国作家": past empty brackets
            return slot_after(sentence, le)
        return _trim(sentence, le, end)
    if rs > 0:
        start = rs
        while start > 0 and sentence[start - 1] not in _CLAUSE_BREAK:
            start -= 1
        # "是由谁捐献": the preposition before the hole bounds the answer on the left too
        mark = left[-1:] if left and left[-1] in _PREPOSITIONS else ""
        if mark and (at := sentence.rfind(mark, start, rs)) >= 0:
            start = at + 1
        return _trim(sentence, start, rs)
    return None


def _category(right: str) -> str:
    """The noun that opens the words after the hole (制度 in 什么制度), or ""."""
    words = jieba_words_with_tags(right[:8]) if right else []
    if words and words[0][1].startswith("n") and len(words[0][0]) >= 2:
        return words[0][0]
    return ""


def slot_after(sentence: str, at: int) -> tuple[int, int] | None:
    """The first clause with words after `at`, past punctuation and bracketed asides
    ("X（英语：…），中国作家": 中国作家)."""
    i = at
    while i < len(sentence) and (sentence[i] in _CLAUSE_BREAK or sentence[i].isspace()):
        if sentence[i] in "（(":
            close = sentence.find("）" if sentence[i] == "（" else ")", i)
            i = close if close > i else i
        i += 1
    end = i
    while end < len(sentence) and sentence[end] not in _CLAUSE_BREAK:
        end += 1
    return _trim(sentence, i, end) if end > i else None


def alignment(question: str, sentence: str) -> float:
    """How much of the words around the question's hole the sentence holds, 0..1."""
    sides = _question_sides(question)
    if sides is None:
        return 0.0
    left, right = sides
    found = 0
    if left:
        s, e = _longest_piece(left, sentence, suffix=True)
        found += e - s if s >= 0 else 0
    if right:
        s, e = _longest_piece(right, sentence, suffix=False)
        found += e - s if s >= 0 else 0
    total = len(left) + len(right)
    return found / total if total else 0.0


def choose_span(question: str, sentence: str, kind: str) -> Span | None:
    """The exact answer in the sentence, or None when the sentence is the answer."""
    if kind == "sentence" or not CJK.search(question):
        return None  # an English question has no words to find the slot by
    hole = slot(question, sentence)
    typed = [c for c in candidates(sentence, kind) if c.text(sentence) not in question]
    if kind == "number":
        typed = _of_asked_unit(question, sentence, typed)
    if hole is None:
        return _nearest_to_question(question, sentence, typed, any_of_many=kind == "number")
    hs, he = hole
    inside = [c for c in typed if hs <= c.start and c.end <= he]
    short = 0 < he - hs <= _SHORT_SLOT and sentence[hs:he] not in question
    if kind in ("time", "number"):
        if inside:
            best = max(inside, key=lambda c: c.end - c.start)
            return _year_only(question, sentence, best)
        near = [c for c in typed if min(abs(c.start - he), abs(hs - c.end)) <= _NEAR]
        if near:
            return min(near, key=lambda c: min(abs(c.start - he), abs(hs - c.end)))
        # the type is strong evidence: the candidate nearest the question's words
        nearest = _nearest_to_question(question, sentence, typed, any_of_many=True)
        if nearest is not None:
            return nearest
        return Span(hs, he, kind) if short else None
    if inside:
        return max(inside, key=lambda c: c.end - c.start)  # 德国, not 一位德国F1赛车手
    if short or (he > hs and sentence[hs:he] not in question):
        return Span(hs, he, kind)
    return None


# The measure a number question names (多少名观众, 几条跑道), or the units its 多长/多重 wants.
_ASKED_MEASURE = re.compile(
    r"(?:多少|几)(个百分点|百分点|平方公里|公里|千米|公分|公尺|厘米|日圆|美元|亿元|万元|元|"
    r"[个名位条类处股所家座种部本场届件架艘辆层册次年岁天人倍只头株篇首张枚项台])"
)
_DIMENSION_UNITS = {
    "多长": ("米", "公里", "千米", "公尺", "公分", "厘米", "km", "英里"),
    "多高": ("米", "公尺", "厘米", "公分", "cm", "CM"),
    "多远": ("米", "公里", "千米", "km", "英里"),
    "多重": ("克", "公斤", "千克", "吨", "磅", "kg"),
    "多深": ("米", "公尺"),
    "多宽": ("米", "公尺", "公里"),
    "多久": ("年", "月", "天", "日", "周", "小时", "分钟", "秒"),
    "多大": ("岁", "平方", "公顷", "亩"),
}


def _of_asked_unit(question: str, sentence: str, typed: list[Span]) -> list[Span]:
    """The number candidates in the unit the question asks for, when there are any."""
    m = _ASKED_MEASURE.search(question)
    units: tuple[str, ...] = (m.group(1),) if m else ()
    for word, dimension in _DIMENSION_UNITS.items():
        if word in question:
            units += dimension
    if not units:
        return typed
    wanted = [c for c in typed if any(u in c.text(sentence) for u in units)]
    return wanted or typed


_ASKS_YEAR = re.compile(r"哪一?年|何年|what year", re.I)


def _year_only(question: str, sentence: str, span: Span) -> Span:
    """哪一年 asks for the year: 2006年, not 2006年2月14日."""
    text = span.text(sentence)
    cut = text.find("年")
    if (
        span.kind == "time"
        and _ASKS_YEAR.search(question)
        and 0 < cut < len(text) - 1
        and not text[cut + 1 :].lstrip().startswith(("（", "("))
    ):
        return Span(span.start, span.start + cut + 1, span.kind)
    return span


def _nearest_to_question(
    question: str, sentence: str, typed: list[Span], *, any_of_many: bool = False
) -> Span | None:
    """Without a slot: the candidate nearest the question's words in the sentence (of
    several, only when `any_of_many`: else one candidate or none)."""
    if not typed:
        return None
    marks = [
        m.start()
        for word, _ in jieba_words_with_tags(question)
        if len(word) > 1
        for m in re.finditer(re.escape(word), sentence)
    ]
    if not marks:
        return typed[0] if len(typed) == 1 or any_of_many else None
    return min(typed, key=lambda c: min(min(abs(c.start - p), abs(p - c.end)) for p in marks))
