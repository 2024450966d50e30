"""Another period than the figure's: stated, worked out by one step, or "not given" - never
this year's figure labelled as last year's (issue 19)."""

from __future__ import annotations

import pytest

from corpus import extract_figures
from index.answering.periods import asked_year_offset, derive_year_before


@pytest.mark.parametrize(
    ("question", "offset"),
    [
        ("那去年呢？", -1),
        ("株洲去年的数字经济规模是多少？", -1),
        ("前年呢？", -2),
        ("比去年提升了多少？", None),
        ("较去年同期提升了多少？", None),
        ("What about last year?", -1),
        ("How much more than last year?", None),
        ("株洲数字经济规模多少？", None),
    ],
)
def test_the_year_a_question_asks_for(question, offset):
    assert asked_year_offset(question) == offset


def _figures(text: str):  # type: ignore[no-untyped-def]
    return extract_figures(text)


def test_a_share_that_rose_by_points_and_an_amount_that_grew_by_a_percentage():
    share = _figures("规模以上制造业企业数字化网络化改造率达73.4%，较去年同期提升13.2个百分点。")
    derived = derive_year_before(share[0], share)
    assert derived is not None and derived.text == "60.2%"
    assert derived.arithmetic == "73.4% − 13.2个百分点 = 60.2%"
    amount = _figures("今年1至11月，株洲通信业规模达29.86亿元，同比增长11.2%；")
    derived = derive_year_before(amount[0], amount)
    assert derived is not None and derived.text == "26.85亿元"


def test_only_exact_figures_and_yearly_changes_are_worked_out():
    monthly = _figures("本月产值达120亿元，环比增长3%。")
    assert derive_year_before(monthly[0], monthly) is None  # against last month, not year
    approx = _figures("产值约120亿元，同比增长3%。")
    assert derive_year_before(approx[0], approx) is None  # 约: nothing exact to start from


def test_last_year_is_worked_out_stated_or_refused_never_mislabelled(fake_engine, article):
    fake_engine.build([article])
    first = fake_engine.ask("株洲规模以上制造业企业数字化网络化改造率是多少？")
    assert "73.4%" in first.lead
    before = fake_engine.ask("那去年呢？", previous=first)
    assert before.derived is not None and "60.2%" in before.lead and "推算" in before.lead
    assert "73.4% − 13.2个百分点" in before.lead
    refused = fake_engine.ask("株洲去年的数字经济规模是多少？")
    assert refused.abstained and any("2021年" in n for n in refused.notices)
    assert "1118亿元" not in refused.lead
