"""Figures in Chinese news text: the number as written and as a value, unit, metric, period.

"今年1至11月，株洲通信业规模达29.86亿元，同比增长11.2%" gives two figures: 29.86亿元 (metric
通信业规模, period 今年1至11月) and 11.2% (metric 通信业规模, change 同比增长). Every digit in a
text is accounted for: it belongs to a figure, a date or period, or a name (5G, 3+3+2,
中国制造2025, 北斗3号), and `scan_numbers` says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from corpus.passages import split_sentences

# Longest first: the regex alternation takes the first that matches.
UNITS = (
    "个百分点",
    "百分点",
    "台套",
    "亿元",
    "万元",
    "千元",
    "平方米",
    "公里",
    "千米",
    "人次",
    "kW",
    "MW",
    "GW",
    "PB",
    "TB",
    "GB",
    "T",
    "%",
    "‰",
    "元",
    "倍",
    "个",
    "家",
    "台",
    "项",
    "条",
    "座",
    "名",
    "位",
    "强",
    "核",
    "次",
    "年",
    "天",
    "件",
    "款",
    "种",
    "批",
    "所",
    "辆",
    "架",
    "户",
    "套",
    "亩",
    "吨",
    "米",
    "人",
    "场",
    "期",
)
_MEASURE_UNITS = frozenset(
    ("kW", "MW", "GW", "PB", "TB", "GB", "T", "平方米", "公里", "千米", "米", "吨", "亩", "核")
)
_MULT = {"万": 1e4, "亿": 1e8, "千": 1e3, "百": 1e2, "十": 10}
_CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
_UNIT_RE = "|".join(re.escape(u) for u in UNITS)
_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"

FIGURE = re.compile(
    rf"(?P<pre>将近|近|约|超过|逾|不到|前)?"
    rf"(?P<ord>第)?"
    rf"(?P<num>{_NUM})"
    rf"(?P<approx1>多|余)?"
    rf"(?P<mult>[万亿千]+)?"
    rf"(?P<approx2>多|余)?"
    rf"(?P<unit>{_UNIT_RE})?"
)
# Chinese numerals only where they are plainly figures: ordinals, "三次", "连续两年", "百万".
CN_FIGURE = re.compile(
    r"(?P<ord>第)(?P<cn>[一二三四五六七八九十]+)(?P<unit>[位名条次个])"
    r"|(?<=[省国市球界内居列名])第(?P<cnr>[一二三四五六七八九十]+)"
    r"|(?<=连续)(?P<cn2>[两二三四五六七八九十]+)(?P<unit2>年|次)"
    r"|(?P<cn3>[两二三四五六七八九十]+)(?P<unit3>次)(?=[成承举召])"
    r"|(?P<big>[百千]万)(?=[\u4e00-\u9fff])"
)
# A date's digits start a number: "10000年" (a span of years) holds no year "0000年".
DATE = re.compile(
    r"(?<![\d.])\d{4}(?:[、,]\d{4})*年(?:\d{1,2}月(?:\d{1,2}日)?)?"
    r"|(?<![\d.])\d{1,2}月\d{1,2}日|(?<![\d.])\d{1,2}月(?:份|底|初|末|中旬|上旬|下旬)?"
    r"|(?<![\d.])\d{4}(?=[、,]\d{4}年)"
)
FULL_DATE = re.compile(r"(?<![\d.])(?:\d{4}年)?\d{1,2}月\d{1,2}日")
PERIOD = re.compile(
    r"(?:(?:今年|(?<![较比])去年|明年|前年|\d{4}年))?"
    r"(?:前三季度|前两季度|上半年|下半年|全年|第?[一二三四1-4]季度|前\d+个月|\d{1,2}至\d{1,2}月"
    r"|\d{1,2}-\d{1,2}月|\d{1,2}月(?:份|底|末)?)"
    r"|截至(?:目前|\d{4}年\d{1,2}月(?:底)?)|目前|今年|(?<![较比])去年|近年来|年终岁末"
)
NAME = re.compile(
    r"\d+(?:\+\d+)+"  # 3+3+2
    r"|\d+(?:\.\d+)?[A-Za-z][A-Za-z0-9]*"  # 5G, 4G, 3D (units were taken before names)
    r"|(?<=[\u4e00-\u9fff])\d+(?=号)|\d+号"  # 北斗3号
    r"|(?<=[\u4e00-\u9fff])\d{4}(?![\d年月日%])"  # 中国制造2025
    r"|\d+\.\d+(?=[\u4e00-\u9fff])"  # 磁浮3.0列车: a version, no unit
)
CHANGE = re.compile(
    r"(?:同比|环比|较去年同期|较上年同期|较去年|比去年|较上年|比上年)?"
    r"(?:增长|提升|提高|增加|上升|下降|减少|降低)"
)
_CLAUSE_BREAKS = "，,；;。！？：:"
_LEAD_WORDS = re.compile(
    r"^(?:其中|同时|此外|另外|目前|截至目前|今年|去年|近年来|在|全部|全市|全县|而|可|仅|这)+"
)
_TRAIL_WORDS = re.compile(r"(?:达到|达|为|约|近|超过|共|有|是|实现了?|累计|现有|拥有|均)+$")
_SUBJECT = re.compile(r"^(?:株洲市?|我市|该市|全市)")


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure in a text (offsets are the text's)."""

    text: str
    start: int
    end: int
    number: str
    value: float | None
    unit: str
    kind: str  # amount, percent, points, multiple, rank, count, measure
    qualifier: str = ""
    metric: str = ""
    subject: str = ""
    period: str = ""
    change: str = ""
    sentence: int = 0
    modifier: bool = False  # "100个标志性项目9个": 100个 is part of a name, 9个 the count


@dataclass(frozen=True, slots=True)
class Mention:
    """A run of digits (or a Chinese numeral figure) and what it is."""

    kind: str  # figure, date, period, name
    start: int
    end: int
    text: str


def _kind(unit: str, ordinal: bool, pre: str) -> str:
    if ordinal or pre == "前" or unit in ("强",):
        return "rank"
    if unit in ("%", "‰"):
        return "percent"
    if unit in ("个百分点", "百分点"):
        return "points"
    if unit == "倍":
        return "multiple"
    if unit in ("亿元", "万元", "千元", "元"):
        return "amount"
    if unit in _MEASURE_UNITS:
        return "measure"
    return "count"


def _value(number: str, mult: str, unit: str) -> float:
    value = float(number.replace(",", ""))
    for ch in mult:
        value *= _MULT[ch]
    if unit == "亿元":
        value *= 1e8
    elif unit == "万元":
        value *= 1e4
    elif unit == "千元":
        value *= 1e3
    return value


def _cn_value(text: str) -> float:
    if text in ("百万", "千万"):
        return 1e6 if text == "百万" else 1e7
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _CN_DIGITS[text[1]]
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _CN_DIGITS[tens] * 10 + (_CN_DIGITS[ones] if ones else 0)
    return float(_CN_DIGITS.get(text, 0))


class _Taken:
    """Which characters of a text a mention already holds: a lookup costs the mention's
    length, not the number of mentions before it (a long text has tens of thousands)."""

    def __init__(self, n: int) -> None:
        self.mask = bytearray(n)

    def overlaps(self, s: int, e: int) -> bool:
        return any(self.mask[s:e])

    def take(self, s: int, e: int) -> None:
        self.mask[s:e] = b"\x01" * (e - s)


def scan_numbers(text: str) -> list[Mention]:
    """Classify every number in a text: dates and periods first, then names, then figures."""
    taken = _Taken(len(text))
    mentions: list[Mention] = []

    def add(kind: str, s: int, e: int) -> None:
        taken.take(s, e)
        mentions.append(Mention(kind, s, e, text[s:e]))

    for m in FULL_DATE.finditer(text):
        add("date", m.start(), m.end())
    for m in PERIOD.finditer(text):
        if any(ch.isdigit() for ch in m.group()) and not taken.overlaps(m.start(), m.end()):
            add("period", m.start(), m.end())
    for m in DATE.finditer(text):
        if not taken.overlaps(m.start(), m.end()):
            add("date", m.start(), m.end())
    for m in FIGURE.finditer(text):
        s, e = m.start(), m.end()
        if taken.overlaps(s, e):
            continue
        nxt = text[e : e + 1]
        unit = m.group("unit") or ""
        if not unit and not m.group("mult") and not m.group("ord"):
            continue  # a bare number: a name or version, decided below
        if unit == "年" and len(m.group("num")) == 4:
            continue  # a year
        if unit and unit[-1].isascii() and nxt.isascii() and nxt.isalnum():
            continue  # 5GB… in a product name, or a unit that is really the start of a word
        if unit in ("次", "个", "名", "位") and text[s - 1 : s] == "“":
            continue
        add("figure", s, e)
    for m in NAME.finditer(text):
        if not taken.overlaps(m.start(), m.end()):
            add("name", m.start(), m.end())
    for m in re.finditer(r"\d+(?:\.\d+)?", text):
        if not taken.overlaps(m.start(), m.end()):
            add("name", m.start(), m.end())  # anything else numeric is part of a name
    for m in CN_FIGURE.finditer(text):
        if not taken.overlaps(m.start(), m.end()):
            add("figure", m.start(), m.end())
    return sorted(mentions, key=lambda x: x.start)


def _figure_from_match(text: str, s: int, e: int) -> Figure:
    raw = text[s:e]
    m = FIGURE.fullmatch(raw)
    if m:
        unit = m.group("unit") or ""
        mult = m.group("mult") or ""
        pre = m.group("pre") or ""
        approx = (m.group("approx1") or "") + (m.group("approx2") or "")
        qualifier = pre if pre and pre != "前" else approx
        return Figure(
            text=raw,
            start=s,
            end=e,
            number=m.group("num") + mult,
            value=_value(m.group("num"), mult, unit),
            unit=unit,
            kind=_kind(unit, bool(m.group("ord")), pre),
            qualifier=qualifier,
        )
    # a Chinese-numeral figure: 第三次, 全省第二, 两年, 三次, 百万
    ordinal = raw.startswith("第")
    body = raw[1:] if ordinal else raw
    unit = body[-1] if body[-1] in "位名条次个年" else ""
    cn = body[: len(body) - len(unit)]
    kind = "rank" if ordinal else "count"
    return Figure(text=raw, start=s, end=e, number=cn, value=_cn_value(cn), unit=unit, kind=kind)


# A metric is a few words; the clause looked at before a figure is cut at this length so that
# text without punctuation (a table flattened into one line) costs no more than it.
MAX_CLAUSE = 80


def _clause_before(sentence: str, pos: int, previous_end: int) -> tuple[int, str]:
    """The clause that leads to a figure, from the previous figure (ending at previous_end,
    -1 for none) or clause break on; a 、 list of names stays whole."""
    start = max(previous_end, 0, pos - MAX_CLAUSE)
    for i in range(pos - 1, start - 1, -1):
        ch = sentence[i]
        if ch in _CLAUSE_BREAKS:
            start = i + 1
            break
        if ch == "、" and previous_end >= 0 and i - 12 < previous_end <= i + 1:
            start = i + 1  # "上云3000家、深度上云1918家": the list is of figures
            break
    return start, sentence[start:pos]


def _clean_metric(clause: str) -> tuple[str, str]:
    """(metric, change words) from the clause before a figure."""
    change = ""
    changes = list(CHANGE.finditer(clause))
    if changes and changes[-1].end() >= len(clause) - 2:
        change = changes[-1].group()
        clause = clause[: changes[-1].start()]
    clause = PERIOD.sub("", clause)
    clause = _LEAD_WORDS.sub("", clause.strip())
    clause = _SUBJECT.sub("", clause)
    clause = _TRAIL_WORDS.sub("", clause)
    return clause.strip("“”\"' "), change


def _subject_after(sentence: str, end: int) -> str:
    m = re.match(r"[“\"]?([\u4e00-\u9fffA-Za-z+]{1,12})[”\"]?", sentence[end:])
    return m.group(1) if m else ""


def extract_figures(text: str) -> list[Figure]:
    """Figures of a passage with metric, period and change words (linear in the text)."""
    mentions = scan_numbers(text)
    periods = [(m.start, m.end, m.text) for m in mentions if m.kind == "period"]
    periods += [
        (m.start(), m.end(), m.group())
        for m in PERIOD.finditer(text)
        if not any(ch.isdigit() for ch in m.group())
    ]
    periods.sort()
    # the period of a figure is the last one (by start) that ends before it: walked once
    by_end = sorted(range(len(periods)), key=lambda i: periods[i][1])
    walked, latest = 0, -1
    found = [m for m in mentions if m.kind == "figure"]  # in order of position
    figures: list[Figure] = []
    k = 0
    for n_sent, (ss, se) in enumerate(split_sentences(text) or [(0, len(text))]):
        sentence = text[ss:se]
        while k < len(found) and found[k].start < ss:
            k += 1
        local = []
        while k < len(found) and found[k].start < se:
            local.append(found[k])
            k += 1
        previous: Figure | None = None
        for n_fig, m in enumerate(local):
            fig = _figure_from_match(text, m.start, m.end)
            nxt = local[n_fig + 1] if n_fig + 1 < len(local) else None
            between = text[m.end : nxt.start] if nxt else "，"
            modifier = not any(c in between for c in _CLAUSE_BREAKS + "、")
            previous_end = local[n_fig - 1].end - ss if n_fig else -1
            _, clause = _clause_before(sentence, m.start - ss, previous_end)
            metric, change = _clean_metric(clause)
            if previous is not None and metric[:1] in ("占", "较", "比") and previous.metric:
                metric = previous.metric + metric  # 数字经济规模…占GDP比重: whose share
            scope_only = fig.kind == "rank" and len(metric) <= 4
            if (len(metric) < 2 or scope_only) and previous is not None:
                # "增长17.8%" is the growth of what came before; "全省第一" ranks it
                metric = previous.metric if len(previous.metric) >= 2 else previous.subject
            subject = _subject_after(sentence, m.end - ss)
            while walked < len(by_end) and periods[by_end[walked]][1] <= m.start:
                latest = max(latest, by_end[walked])
                walked += 1
            period = periods[latest][2] if latest >= 0 else ""
            fig = replace(
                fig,
                metric=metric,
                subject=subject,
                period=period,
                change=change,
                sentence=n_sent,
                modifier=modifier,
            )
            figures.append(fig)
            previous = fig
    return figures


def resolve_period(period: str, *, year: int | None, date: str = "") -> str:
    """今年前三季度 -> 今年前三季度（2022年）; 目前 -> 目前（2022年12月）."""
    if not period or year is None:
        return period
    if period.startswith("今年"):
        return f"{period}（{year}年）"
    if period.startswith("去年"):
        return f"{period}（{year - 1}年）"
    if period in ("目前", "截至目前", "年终岁末"):
        month = re.match(r"\d{4}-(\d{1,2})", date)
        return f"{period}（{year}年{int(month.group(1))}月）" if month else f"{period}（{year}年）"
    return period
