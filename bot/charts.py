"""Charts of figures: bars (or a line, by year) of one metric's figures, as a PNG.

Each bar is labelled with its value and unit as the article writes it and carries its
source's footnote number; title and axis are in the question's language. The CJK font is the
one the noto-cjk-sans-otc package ships, loaded by path: no system font is needed.
Rendering is CPU work: the bot calls render_chart off the event loop (asyncio.to_thread).
"""

from __future__ import annotations

import io
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from corpus import Figure
from index import Answer

_YEAR = re.compile(r"((?:19|20)\d{2})年?")
_LOCK = threading.Lock()  # pyplot's state is global: one chart at a time


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # the period, place or article that sets it apart
    value: float
    text: str  # as written: 1118亿元
    note: int  # the footnote of its source


@dataclass(frozen=True, slots=True)
class ChartData:
    title: str
    unit: str
    bars: tuple[Bar, ...]
    language: str
    sources: tuple[str, ...] = ()  # "[1] 《…》 第3段"
    scale: float = 1.0  # values are divided by this on the axis (1e8 for 亿元)

    @property
    def by_year(self) -> bool:
        """A line when every bar is a different year, in order."""
        years = [_year(b.label) for b in self.bars]
        return all(years) and len(set(years)) == len(years)


def _year(label: str) -> int | None:
    found = _YEAR.search(label)
    return int(found.group(1)) if found and found.group(0) == label.strip("（）() ") else None


def _chartable(figures: Sequence[Figure]) -> list[int]:
    """Indexes of the figures that share the most common unit and kind (a level and its
    growth rate are not one series)."""
    usable = [i for i, f in enumerate(figures) if f.value is not None]
    if not usable:
        return []
    common = Counter((figures[i].unit, bool(figures[i].change)) for i in usable).most_common(1)
    unit, change = common[0][0]
    return [i for i in usable if (figures[i].unit, bool(figures[i].change)) == (unit, change)]


def chart_of_answer(answer: Answer, language: str) -> ChartData | None:
    """The answer's figures of its metric as a chart, when there are two or more of one
    unit; None otherwise."""
    figures = [af.figure for af in answer.figures]
    keep = _chartable(figures)
    if len(keep) < 2:
        return None
    bars = []
    for i in keep:
        af = answer.figures[i]
        label = af.qualifier or af.period or f"[{af.citation}]"
        bars.append(Bar(label, float(af.figure.value or 0.0), af.figure.text, af.citation))
    first = answer.figures[keep[0]].figure
    metric = first.metric or first.subject or answer.question
    sources = tuple(
        f"[{c.n}] {c.label(language)}" for c in answer.citations if c.n in {b.note for b in bars}
    )
    scale, unit = _scale(bars, [figures[i] for i in keep])
    return ChartData(metric, unit, tuple(bars), language, sources, scale)


def chart_of_figures(
    metric: str, rows: Sequence[tuple[str, Figure, str]], language: str = "zh"
) -> ChartData | None:
    """Figures found by metric across articles: (label, figure, source) rows."""
    keep = _chartable([f for _, f, _ in rows])
    if len(keep) < 2:
        return None
    bars = tuple(
        Bar(rows[i][0], float(rows[i][1].value or 0.0), rows[i][1].text, n)
        for n, i in enumerate(keep, start=1)
    )
    sources = tuple(f"[{n}] {rows[i][2]}" for n, i in enumerate(keep, start=1))
    scale, unit = _scale(bars, [rows[i][1] for i in keep])
    return ChartData(metric, unit, bars, language, sources, scale)


_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def _scale(bars: Sequence[Bar], figures: Sequence[Figure]) -> tuple[float, str]:
    """The divisor and unit the article writes its biggest figure in (1118亿元: 1e8, 亿元),
    so that the axis reads as the article does."""
    top = max(range(len(figures)), key=lambda i: bars[i].value)
    fig = figures[top]
    digits = _DIGITS.search(fig.text)
    if digits is None or not fig.value:
        return 1.0, fig.unit
    number = float(digits.group(0).replace(",", ""))
    written = fig.text[digits.end() :].strip("多余")
    return (fig.value / number if number else 1.0), (written or fig.unit)


def _font():  # type: ignore[no-untyped-def]
    from matplotlib.font_manager import FontProperties
    from noto_cjk_sans_otc import FONT_PATH

    return FontProperties(fname=str(FONT_PATH))


def render_chart(data: ChartData) -> bytes:
    """The chart as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = _font()
    zh = data.language != "en"
    labels = [f"{b.label} [{b.note}]" for b in data.bars]
    values = [b.value / data.scale for b in data.bars]
    with _LOCK:
        fig, ax = plt.subplots(figsize=(7.2, 4.2), dpi=110)
        try:
            if data.by_year:
                ax.plot(range(len(values)), values, marker="o", color="#c0392b", linewidth=2)
            else:
                ax.bar(range(len(values)), values, color="#c0392b", width=0.55)
            for x, (bar, value) in enumerate(zip(data.bars, values, strict=True)):
                ax.annotate(
                    bar.text,
                    (x, value),
                    textcoords="offset points",
                    xytext=(0, 4),
                    ha="center",
                    fontproperties=font,
                    fontsize=11,
                )
            ax.set_xticks(range(len(values)))
            ax.set_xticklabels(labels, fontproperties=font, fontsize=9)
            ax.set_ylabel(f"单位：{data.unit}" if zh else f"Unit: {data.unit}", fontproperties=font)
            ax.set_title(
                f"{data.title}（文章中的数字）" if zh else f"{data.title}: figures in the articles",
                fontproperties=font,
                fontsize=13,
            )
            ax.set_ylim(0, max(values) * 1.2 if max(values) > 0 else 1)
            ax.spines[["top", "right"]].set_visible(False)
            if data.sources:
                notes = "\n".join(s[:90] for s in data.sources[:6])
                fig.text(0.01, 0.01, notes, fontproperties=font, fontsize=7, va="bottom")
                fig.subplots_adjust(bottom=0.16 + 0.035 * min(len(data.sources), 6))
            out = io.BytesIO()
            fig.savefig(out, format="png")
            return out.getvalue()
        finally:
            plt.close(fig)
