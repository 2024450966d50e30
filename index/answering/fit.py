"""Whether a span can be the answer the question asks for, by what it is, not how sure the
reader is of it.

The reader learned to find a span of the type a question wants; where the article does not
hold the answer it still finds the best-looking span: a price question over a paragraph that
gives a tree's height reads "55米", a question about someone's wife reads that person's own
name. Checks, on any article:
- a span the question already says (its subject) is no answer to it;
- a question that asks a quantity of one kind (a price, a weight, a length, a duration, a
  year) is not answered by a span with no quantity of that kind (a number and its unit: the
  元 of 元老 is none);
- a name, a time, a place, a number, or a thing picked out (谁, 何时, 哪里, 多少, 哪一个) is
  not answered by a clause, and a person not by a time or a number alone;
- no span crosses a sentence's end.
Measured over all 7,017 DRCD questions: 54 gold answers (0.77%) fail them, mostly choices named
in the question and the question's own words (雅各书的作者: 雅各).
"""

from __future__ import annotations

import re

from index.answering.spans import answer_type

# kinds of quantity: (topic words, asked only with a question word beside them: 售价多少,
# 身高是多少; direct forms that ask by themselves: 多少钱, 多高, 哪一年; what a span holds)
_CURRENCY = (
    r"元|圆|円|美元|美金|日元|英镑|镑|欧元|泰铢|卢布|法郎|马克|比索|韩元|港币|台币|块|\$|￥|¥|€|£"
)
_LENGTH = (
    r"米|公尺|厘米|公分|毫米|公里|千米|英尺|英寸|英里|海里|光年|尺|丈|里|km|cm|mm|㎝|㎞|㎜|m\b"
)
_DURATION = r"年|个月|月|周|星期|天|日|小时|分钟|分|秒|世纪|代|岁"
_AREA = r"平方|公顷|亩"
# measure words of things counted (not of people: 人, 名, 位)
_THINGS = "个家所座条辆艘架本部首只头匹张台项门枚颗棵间届场层"
_WEIGHT = r"公斤|千克|克|吨|磅|斤|两|kg|\bg\b|lb"
# a count of people: in people, or a number with no measure word of things (2.7万家 is not)
_PEOPLE = rf"人|名|位|[万千百亿余多](?![{_THINGS}])"
# who a count of people is asked in (多少游客, 多少个学生)
_PEOPLE_ASKED = r"(?:人|名|位|游客|观众|居民|会员|学生|员工|玩家|士兵|教师|儿童)"
# a number before the unit that makes it a quantity (a 元 alone is no price: 微软公司的元老)
_AMOUNT = r"[\d〇零一二三四五六七八九十百千万亿两半数几多余]\s*(?:[万亿千百余多]\s*)?(?:个\s*)?"
# 多 of 许多, 很多, 众多 (许多高等学校): no 多高 asked
_HOW = r"(?<![许很众诸好大较颇更最太过])多"
_KINDS: tuple[tuple[str, str, str, str], ...] = (
    (
        r"价格|价钱|[房股油地物单均总]价|价值|售价|票价|门票|学费|费用|造价|成本|经费|预算|收购价|会费|租金|年薪|月薪|"
        r"薪水|工资|薪酬",
        rf"多少钱|多少(?:{_CURRENCY})|how much (?:does|did|do) .*cost|\bprice\b|\bcost\b|"
        r"\bfee\b|\bfare\b|\bsalary\b|how much is the (?:entrance )?ticket",
        _CURRENCY,
        r"(?:\$|￥|¥|€|£)\s*\d|免费|free",
    ),
    ("体重|重量", rf"{_HOW}重|多少(?:{_WEIGHT})|how heavy|\bweigh", _WEIGHT, ""),
    (
        "身高|高度|海拔|长度|距离|宽度|深度",
        rf"{_HOW}(?:高|长(?!时间)|远|宽|深)|多少(?:{_LENGTH})|how tall|how far|how high",
        _LENGTH,
        "",
    ),
    (
        "寿命",
        rf"{_HOW}(?:久|长)|多少时间|几年|多少年|几天|多少天|几个月|多少个月|几小时|多少小时|"
        r"how long did|how long does",
        _DURATION,
        rf"半|每\s*(?:{_DURATION})",
    ),
    (
        "",
        r"哪一年(?!纪)|哪年|何年(?!纪)|what year|which year",
        "年",
        r"\d{3,4}|[〇零一二三四五六七八九]{4}|[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]年|元年",
    ),
    (
        "人口|人数",
        rf"多少个?{_PEOPLE_ASKED}|几个?人|"
        r"how many (?:people|visitors|tourists|members|students|residents)|\bpopulation\b",
        _PEOPLE,
        "",
    ),
)
_ASKING = rf"[^，。；？?]{{0,4}}?(?:多少|几|{_HOW}[高长重远久深宽]|是什么|为何)"
_COMPILED = tuple(
    (
        # 票价是多少, and 交多少会费
        re.compile(rf"(?:{topic}){_ASKING}|(?:多少|几)(?:{topic})", re.I) if topic else None,
        re.compile(direct, re.I),
        re.compile(rf"{_AMOUNT}(?:{unit})" + (f"|{extra}" if extra else ""), re.I),
        unit,
    )
    for topic, direct, unit, extra in _KINDS
)
_RATIO = re.compile(r"%|％|百分点|倍|分之|[一二两三四五六七八九十\d]成")
_CHANGE = re.compile(
    r"增长|增加|上涨|上升|提高|提升|下降|下跌|降低|减少|涨|跌|变化|\b(?:rise|grow|increase|fall|drop)",
    re.I,
)
_SHARE = re.compile(r"比例|比重|占比|百分之|百分比|几成|\b(?:share|percent|proportion)", re.I)
# a number: digits or Chinese numerals (数小时, 半年, 两次 included)
_NUMERAL = re.compile(r"[\d〇零一二三四五六七八九十百千万亿两半数几多]")
_BARE_NUMBER = re.compile(r"[约近逾超过共\d.,，〇零一二三四五六七八九十百千万亿两多余]+")
# what makes Chinese numerals a number (三千, 二十五, 三): not 三一 of 三一教堂
_A_NUMBER = re.compile(r"\d|[十百千万亿]|^[约近逾超过共]*[一二两三四五六七八九][多余]?$")
_COUNTED = re.compile(rf"[\d〇零一二三四五六七八九十百千万两几多]\s*[{_THINGS}位名]")
# a count asked (how many glaciers, 多少所大学), not an amount, a measure or a time
_EN_COUNT = re.compile(
    r"\bhow many\b(?!\s+(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|times|"
    r"percent|per cent|meters?|metres?|kilometers?|kilometres?|km|miles?|feet|inches|"
    r"dollars?|yuan|yen|euros?|pounds?|tons?|tonnes?|kilograms?|kg|grams?|degrees?|points?))",
    re.I,
)
_DIGITS = r"\d〇零一二三四五六七八九十百千万亿两"  # a number's last character
# a span that measures (6714米, 440公里, 329,440元, 21.5%, 250年) or ranks (第一次, 第二名):
# no count of things
_MEASURED = re.compile(
    rf"[{_DIGITS}]\s*(?:{_AREA}|{_LENGTH}|{_WEIGHT}|{_CURRENCY}|{_DURATION})|"
    r"%|％|百分点|^第"
)
_UNIT_AFTER = re.compile(
    rf"\s*(?:[万亿]\s*)?(?:{_AREA}|{_LENGTH}|{_WEIGHT}|{_CURRENCY}|{_DURATION}|%|％|百分点|"
    rf"[{_THINGS}])"
)
_ENDS_IN_NUMERAL = re.compile(rf"[{_DIGITS}]$")
# a question that offers its answers: a choice or a yes-no question
_CHOICE = re.compile(
    r"还是|或者|或是|哪个比较|哪一个比较|哪一边|何者|可不可|能不能|是不是|有没有|\bor\b", re.I
)
# the measure word a count is asked in (多少所大学, 几座桥): a count in another one (254家)
# counts other things; 个 goes with anything
_CLASSIFIER = re.compile(rf"(?<!第)(?:多少|几)([{_THINGS.replace('个', '')}位名])")
# a name or a thing picked out (谁, 叫什么名字, 哪一个, which) is not answered by a clause
# (蒋家旻的丈夫是谁: 蒋家旻，香港女艺人，…), unless the clause is quoted (哪一句话: 「会讲军声话，
# 走遍通天下」). Of DRCD's 763 person answers 1 holds a clause mark, of its 3,388 哪 answers
# 3 outside quotes. Not 什么 (什么战术: 兵分二路，各个击破) nor 哪些 (a list).
_NAME_ASKED = re.compile(r"谁|何人|什么人|叫什么名字|什么名字|名字是什么|名叫什么|\bwho\b", re.I)
_ONE_PICKED = re.compile(r"哪(?!里|儿|些|怕)|\bwhich\b", re.I)
_QUOTED = re.compile(r"「[^」]*」|『[^』]*』|“[^”]*”|《[^》]*》|\"[^\"]*\"")
_CLAUSE_MARK = re.compile(r"[，。；：！？,;!?]")
_DIGIT_GROUP = re.compile(r"(?<=\d),(?=\d{3})")  # 2,052平方公里
# a time or a number and nothing else (1936年, 十一世纪, 3月5日, 1,021): no person (哪一个人:
# 1936年). None of DRCD's answers to a person or a name asked is one.
_ONLY_WHEN_OR_HOW_MANY = re.compile(
    r"(?:公元前?|西元前?|前)?[\d〇零一二三四五六七八九十百千两]+(?:年代?|世纪|月|日|号)"
    r"(?:[\d〇零一二三四五六七八九十]+(?:月|日|号))*(?:初|中|末|底|左右|前后|以来|之后|后|前|间)?"
    r"|[\d,.]+"
)
_PHRASE_KINDS = frozenset({"person", "time", "place", "number", "organization"})
# a sentence's end inside a span (220多万。2.1万), outside quotes: no sentence holds it, and none
# of DRCD's 7,017 answers crosses one
_SENTENCE_END = re.compile(r"[。！？!?]")
# a count asked in 个 (几个女儿) or of people (多少游客): no measure answers it either
_COUNT_ASKED = re.compile(
    rf"(?:多少|几)个(?!小时|月|星期|钟头|世纪|百分点|工作日)|多少{_PEOPLE_ASKED}"
)
# how a question asks for a number (许多, 好几, 几百 ask none)
_HOW_MANY = re.compile(r"(?<![许好这那])多少|(?<![好这那])几(?![乎百千十万何内近])|how many", re.I)


def asked_kind(question: str) -> re.Pattern[str] | None:
    """What a span must hold to answer a question that asks a quantity of one kind (of
    any of them, where it reads as several: 多长 is a length or a time)."""
    return _asked(question)[0]


def _asked(question: str) -> tuple[re.Pattern[str] | None, str]:
    """What a span must hold, and the units of the kinds asked (for a question that names
    one: 多少公里)."""
    topical = {i for i, (topic, *_) in enumerate(_COMPILED) if topic and topic.search(question)}
    direct = {i for i, (_, asks, *_) in enumerate(_COMPILED) if asks.search(question)}
    if len(direct) > 1 and direct & topical:
        # a form that asks several kinds (多长: a length or a time) asks the one its topic
        # names (寿命有多长: a time)
        direct &= topical
    asked = topical | direct
    found = [(holds, unit) for i, (_, _, holds, unit) in enumerate(_COMPILED) if i in asked]
    if not found:
        return None, ""
    holds = "|".join(h.pattern for h, _ in found)
    return re.compile(holds, re.I), "|".join(unit for _, unit in found)


def _flat(text: str) -> str:
    return re.sub(r"[\s·・•．\-—–,，、。（）()《》「」“”\"']", "", text).lower()


class Fit:
    """Whether a span can answer one question: not words of the question (X的妻子叫什么名字
    is not answered by X) unless it offers them as choices, a number where one is asked, and of
    the kind of quantity asked, if one is (a bare number where the question names its unit:
    海拔多少公尺 → 1000). What the question asks is read once, for all its spans."""

    def __init__(self, question: str) -> None:
        self.kind = kind = answer_type(question)  # the answer type (index/answering/spans.py)
        # words of the question are no answer to it, unless it offers them as choices (中国
        # 还是印度, 可不可以): its own subject (X的妻子叫什么名字: X), its topic (全美第一所什么
        # 学院为于麻省理工: 麻省理工学院)
        self.subject = "" if _CHOICE.search(question) else _flat(question)
        self.holds, units = _asked(question)
        self.change = bool(_CHANGE.search(question))
        self.share = bool(_SHARE.search(question))
        self.number = kind == "number" and bool(_HOW_MANY.search(question))
        # a name, a time, a place, a number: a word or a phrase, never a clause (DRCD's
        # answers to 990 time, 555 place, 504 number and 67 organization questions hold one
        # clause mark, outside quotes and numbers' digit groups: 东德内希望…在哪一事情中造成下降)
        self.phrase = kind in _PHRASE_KINDS or bool(
            _NAME_ASKED.search(question) or (kind != "sentence" and _ONE_PICKED.search(question))
        )
        self.person = kind == "person" or bool(_NAME_ASKED.search(question))
        classifier = _CLASSIFIER.search(question)
        self.classifier = classifier.group(1) if classifier else ""
        self.count = self.number and bool(
            self.classifier or _COUNT_ASKED.search(question) or _EN_COUNT.search(question)
        )
        self.unit_named = bool(units) and bool(re.search(rf"(?:多少|几)个?(?:{units})", question))

    def __call__(self, span: str, after: str = "") -> bool:
        """`after`: the text that follows the span, so that a number cut from its unit (6714
        of 6714米) is judged with it."""
        unit = _UNIT_AFTER.match(after) if after and _ENDS_IN_NUMERAL.search(span) else None
        span = span + unit.group(0) if unit else span
        unquoted = _QUOTED.sub("", span)
        if _SENTENCE_END.search(unquoted.rstrip("。！？!? ")):
            return False
        flat = _flat(span)
        if self.subject and len(flat) >= 2 and flat in self.subject:
            return False
        if self.phrase and _CLAUSE_MARK.search(
            _DIGIT_GROUP.sub("", unquoted).rstrip("，。；：！？,;!? ")
        ):
            return False
        if self.person and _ONLY_WHEN_OR_HOW_MANY.fullmatch(span.strip()):
            return False
        if self.count and not (self.change or self.share) and _MEASURED.search(flat):
            return False
        if self.holds is not None and self.holds.search(span):
            return True
        if (self.change or self.share) and _RATIO.search(span):
            # a share answers a change of any kind (票价上涨了多少: 5%), and a share asked
            # of a count (人口的多少比例: 三成)
            return True
        if self.number and not _NUMERAL.search(span):
            return False
        if (
            self.number
            and self.classifier
            and _COUNTED.search(span)
            and self.classifier not in span
        ):
            return False
        if self.holds is None:
            return True
        # the question names the unit (多少美元, 多少公尺): the span may be the number alone
        return (
            self.unit_named and bool(_BARE_NUMBER.fullmatch(flat)) and bool(_A_NUMBER.search(flat))
        )


def fits(question: str, span: str, after: str = "") -> bool:
    """Whether `span` can answer `question` (Fit, for one span)."""
    return Fit(question)(span, after)
