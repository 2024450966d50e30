"""Charts of figures: a PNG of the right size whose CJK text has every glyph (no tofu)."""

from __future__ import annotations

import io
import warnings

import pytest

from bot.charts import Bar, ChartData, chart_of_figures, render_chart
from corpus import extract_figures

GLYPH_MISSING = r"Glyph .* missing from font"


def _png_size(png: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.size


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_chart_renders_with_every_cjk_glyph(language):
    data = ChartData(
        title="数字经济规模",
        unit="亿元",
        bars=(
            Bar("今年前三季度（2022年）", 1.118e11, "1118亿元", 1),
            Bar("今年1至11月（2022年）", 1.2e11, "1200亿元", 2),
        ),
        language=language,
        sources=("[1] 《数字经济，制造名城“新引擎”》 导语，第3段", "[2] 《测试》 第29段"),
        scale=1e8,
    )
    with warnings.catch_warnings():
        # Only the tofu warning is an error: a ResourceWarning from some earlier test's socket,
        # collected while matplotlib imports, must not be raised inside the import machinery.
        warnings.filterwarnings("error", message=GLYPH_MISSING, category=UserWarning)
        png = render_chart(data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert _png_size(png) == (792, 462)


def test_the_tofu_check_catches_a_font_without_cjk(monkeypatch):
    """The check above can fail: with matplotlib's own font the same chart warns."""
    from matplotlib.font_manager import FontProperties

    monkeypatch.setattr("bot.charts._font", lambda: FontProperties(family="DejaVu Sans"))
    data = ChartData(
        "数字经济规模", "亿元", (Bar("一", 1.0, "1亿元", 1), Bar("二", 2.0, "2亿元", 2)), "zh"
    )
    with warnings.catch_warnings(), pytest.raises(UserWarning, match="missing from font"):
        warnings.filterwarnings("error", message=GLYPH_MISSING, category=UserWarning)
        render_chart(data)


def test_figures_of_one_metric_become_bars_and_years_a_line():
    text = "2021年株洲数字经济规模1000亿元。2022年株洲数字经济规模1118亿元，增长11.8%。"
    figures = extract_figures(text)
    rows = [
        (f"{year}年", f, f"[{n}]")
        for n, (year, f) in enumerate(zip((2021, 2022, 2022), figures, strict=True), 1)
    ]
    data = chart_of_figures("数字经济规模", rows)
    assert data is not None
    assert [b.text for b in data.bars] == ["1000亿元", "1118亿元"]  # the growth rate is apart
    assert data.unit == "亿元" and data.scale == 1e8 and data.by_year
    assert chart_of_figures("数字经济规模", rows[:1]) is None  # one figure: no chart
