"""What a question asks, read without the model."""

from __future__ import annotations

import pytest

from index.questions import profile_question


@pytest.mark.parametrize(
    ("question", "years"),
    [
        ("株洲2023年数字经济规模是多少？", ("2023",)),
        ("2020、2021年株洲入选了什么？", ("2020", "2021")),
        ("What was the GDP in 2019?", ("2019",)),
        ("数字经济规模是2000亿元吗？", ()),  # an amount, not a year
        ("株洲有20215家企业吗？", ()),
        ("今年株洲数字经济规模多少？", ()),
    ],
)
def test_years_a_question_names(question, years):
    assert profile_question(question).years == years
