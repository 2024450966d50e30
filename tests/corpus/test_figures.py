"""Figures of the first article: units, metrics, periods; dates and names are not figures."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus import extract_figures, resolve_period, scan_numbers, split_article


@pytest.fixture(scope="module")
def passages(article):  # type: ignore[no-untyped-def]
    return split_article(article)


@pytest.fixture(scope="module")
def figures(passages):  # type: ignore[no-untyped-def]
    return [f for p in passages for f in extract_figures(p.text)]


def test_every_number_in_the_body_is_accounted_for(passages):
    for p in passages:
        mentions = scan_numbers(p.text)
        for m in re.finditer(r"\d+", p.text):
            assert any(x.start <= m.start() and m.end() <= x.end for x in mentions), p.text[
                max(0, m.start() - 8) : m.end() + 8
            ]


EXPECTED = [  # text, kind, words of its metric or subject
    ("1118亿元", "amount", "数字经济规模"),
    ("42%", "percent", "占GDP比重"),
    ("2.5个百分点", "points", "占GDP比重"),
    ("29.86亿元", "amount", "通信业规模"),
    ("11.2%", "percent", "通信业规模"),
    ("321亿元", "amount", "电子信息制造业规模"),
    ("594亿元", "amount", "高技术制造业"),
    ("3.27%", "percent", "研发投入强度"),
    ("201家", "count", "小巨人"),
    ("58家", "count", "小巨人"),
    ("92.3%", "percent", "家庭覆盖率"),
    ("99.5%", "percent", "4G网络覆盖率"),
    ("14.72个", "count", "每万人拥有5G基站数"),
    ("18832核", "measure", "云计算资源"),
    ("2666.6T", "measure", "存储数据"),
    ("108个", "count", "业务平台云"),
    ("31%", "percent", "作业面积"),
    ("2.25倍", "multiple", "作业效率"),
    ("1918家", "count", "深度上云"),
    ("624家", "count", "上平台"),
    ("73.4%", "percent", "改造率"),
    ("13.2个百分点", "points", "改造率"),
    ("22个", "count", "行业云平台"),
    ("9个", "count", "标志性项目"),
    ("120个", "count", "5G示范应用场景"),
    ("88个", "count", "智能制造标杆"),
    ("10个", "count", "标杆企业"),
    ("67个", "count", "专项"),
    ("第36位", "rank", "先进制造业实力"),
    ("4万多台", "count", "新能源汽车"),
    ("6万多台套", "count", "设备"),
    ("10万个", "count", "机械手"),
    ("164家", "count", "软件和信息技术服务企业"),
    ("117.6亿元", "amount", "业务收入"),
    ("近500亿元", "amount", "营业额"),
    ("超过2.7万家", "count", "直播平台"),
    ("2.1万家", "count", "服饰店面"),
    ("1500PB", "measure", "数据湖"),
    ("550kW", "measure", "永磁发电机"),
    ("前50强", "rank", "软件企业"),
    ("第41位", "rank", "竞争力"),
]


@pytest.mark.parametrize(("text", "kind", "words"), EXPECTED)
def test_figures_have_unit_kind_and_metric(figures, text, kind, words):
    found = [f for f in figures if f.text == text]
    assert found, text
    assert any(f.kind == kind and words in f.metric + f.subject for f in found), found


def test_values_qualifiers_and_periods(figures):
    by_text = {f.text: f for f in figures}
    assert by_text["1118亿元"].value == pytest.approx(1.118e11)
    assert by_text["4万多台"].value == 40000 and by_text["4万多台"].qualifier == "多"
    assert (
        by_text["近500亿元"].value == pytest.approx(5e10) and by_text["近500亿元"].qualifier == "近"
    )
    assert by_text["2.1万家"].value == 21000
    assert by_text["11.2%"].change == "同比增长"
    assert by_text["13.2个百分点"].change == "较去年同期提升"
    periods = sorted(f.period for f in figures if f.text == "1118亿元")
    assert periods == ["今年1至11月", "今年前三季度"]
    assert by_text["92.3%"].period == "目前"
    assert by_text["65个"].period == "截至目前"


def test_chinese_numeral_figures(figures):
    texts = {f.text for f in figures}
    assert {"第三次", "百万", "第一位", "第二条", "第五条"} <= texts


@pytest.mark.parametrize(
    "not_a_figure",
    [
        "12月23日",
        "8月19日",
        "2022年",
        "2020、2021年",
        "2025",
        "5G",
        "4G",
        "3+3+2",
        "3.0",
        "今年1至11月",
        "今年6月",
        "9月9日",
    ],
)
def test_dates_periods_and_names_are_not_figures(passages, not_a_figure):
    text = next(p.text for p in passages if not_a_figure in p.text)
    at = text.index(not_a_figure)
    for f in extract_figures(text):
        assert not (f.start < at + len(not_a_figure) and at < f.end), (f, not_a_figure)


def test_idioms_and_names_with_numerals_are_not_figures(passages):
    texts = {f.text for p in passages for f in extract_figures(p.text)}
    idioms = {
        "一号",
        "三高",
        "四新",
        "两上",
        "三化",
        "一区",
        "七园",
        "一域",
        "一呼",
        "一场",
        "二十",
    }
    assert not {t for t in texts if any(i in t for i in idioms)}
    lead = extract_figures(passages[1].text)  # "头等大事、第一要务" is an idiom
    assert not [f for f in lead if f.text == "第一"]


def test_resolve_period():
    assert resolve_period("今年前三季度", year=2022) == "今年前三季度（2022年）"
    assert resolve_period("去年", year=2022) == "去年（2021年）"
    assert resolve_period("目前", year=2022, date="2022-12") == "目前（2022年12月）"
    assert resolve_period("近年来", year=2022) == "近年来"
    assert resolve_period("今年", year=None) == "今年"


@given(st.integers(1990, 2035), st.integers(1, 12), st.integers(1, 28), st.integers(1, 9999))
def test_no_figure_inside_a_date(year, month, day, n):
    text = f"{year}年{month}月{day}日，某地新建项目{n}个。"
    figs = extract_figures(text)
    assert [f.text for f in figs] == [f"{n}个"]
