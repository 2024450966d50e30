"""Answers for another period than the one a figure speaks of: "那去年呢？" after "改造率？"
(73.4%, this year). The figure for the asked year is the answer when the articles state it;
else one step from stated figures (73.4% less the 13.2个百分点 it rose by), shown as that
arithmetic and marked 推算; else the articles do not give it, and the answer says so instead
of labelling this year's figure as last year's."""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus import Figure

# A year asked relative to the article's own: 去年, not "较去年" or "比去年" (a comparison base:
# 比去年提升了多少 asks for the change, which the figure index answers as it is).
_RELATIVE = (
    (re.compile(r"(?<![较比同])前年"), -2),
    # 去年同期 asked for (那去年同期呢), not as a comparison base (较去年同期, 与去年同期相比)
    (re.compile(r"(?<![较比同与和跟])(?:去年|上年|上一年)(?!同期相比|同期比|相比)"), -1),
    (re.compile(r"\bthe year before last\b", re.I), -2),
    (re.compile(r"(?<!than )(?<!over )(?<!from )\blast year\b|\bin \d{4} before\b", re.I), -1),
)
_YEAR = re.compile(r"(\d{4})")
_RISE = re.compile(r"增长|提升|提高|增加|上升")
_FALL = re.compile(r"下降|减少|降低|回落")


def asked_year_offset(question: str) -> int | None:
    """How many years before the article's the question asks about (-1 for 去年), or None
    when it names no relative year."""
    for pattern, offset in _RELATIVE:
        if pattern.search(question):
            return offset
    return None


def figure_year(fig: Figure, article_year: int | None) -> int | None:
    """The year a figure speaks of: its period's (今年 is the article's; 去年 the one before;
    2021年 as written), or the article's when the figure gives no period of its own."""
    if article_year is None:
        return None
    period = fig.period
    found = _YEAR.search(period)
    if found:
        return int(found.group(1))
    if "前年" in period:
        return article_year - 2
    if "去年" in period or "上年" in period:
        return article_year - 1
    return article_year


@dataclass(frozen=True, slots=True)
class Derived:
    """A figure of the year before, one step from two stated figures."""

    text: str  # as the article would write it: 60.2%, 26.85亿元
    arithmetic: str  # 73.4% − 13.2个百分点 = 60.2%
    inputs: tuple[Figure, Figure]


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def derive_year_before(fig: Figure, same_sentence: list[Figure]) -> Derived | None:
    """The figure of the year before from a change the article states beside it: a share
    that rose by N个百分点 (73.4% − 13.2个百分点), or an amount that grew by N% year on year
    (29.86亿元 ÷ (1 + 11.2%)). Only changes against the year before (同比, 较去年, 比上年, or
    a bare 增长 beside a yearly figure); anything else is not derived."""
    parts = re.fullmatch(r"(\d[\d,]*(?:\.\d+)?)([万亿千百]*)", fig.number)
    if fig.value is None or parts is None or fig.qualifier or not fig.text.startswith(fig.number):
        return None  # 约…, 4万多…: no exact figure to start from
    for change in same_sentence:
        if change is fig or change.value is None or not change.change:
            continue
        if change.metric and fig.metric and change.metric != fig.metric:
            continue
        words = change.change
        if "环比" in words:  # against the month or quarter before, not the year
            continue
        sign = 1.0 if _RISE.search(words) else -1.0 if _FALL.search(words) else 0.0
        if not sign:
            continue
        unit = parts.group(2) + fig.text[len(fig.number) :]  # 亿 + 元
        base = float(parts.group(1).replace(",", ""))
        if fig.kind == "percent" and change.kind == "points":
            before = base - sign * float(change.number)
            op = "−" if sign > 0 else "+"
            arithmetic = f"{fig.text} {op} {change.text} = {_number(before)}{unit}"
            return Derived(f"{_number(before)}{unit}", arithmetic, (fig, change))
        if fig.kind in ("amount", "count", "measure") and change.kind == "percent":
            rate = float(change.number) / 100
            before = base / (1 + sign * rate)
            op = "+" if sign > 0 else "−"
            arithmetic = f"{fig.text} ÷ (1 {op} {change.text}) = {_number(before)}{unit}"
            return Derived(f"{_number(before)}{unit}", arithmetic, (fig, change))
    return None
