"""How an answer is shaped: a question of several parts, a comparison, an English follow-up
to a Chinese question (the rules, on the first article)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model


def test_a_question_of_two_parts_answers_each(real_engine):
    answer = real_engine.ask("株洲数字经济规模多少，占GDP比重多少？")
    assert len(answer.parts) == 1
    assert "1118亿元" in answer.lead and "42%" in answer.parts[0].lead
    assert answer.text.index("1118亿元") < answer.text.index("42%")


def test_a_comparison_names_both_figures_and_the_larger(real_engine):
    answer = real_engine.ask("株洲电子信息制造业规模和通信业规模哪个更大？")
    compared = [n for n in answer.notices if n.startswith("比较")]
    assert compared, answer.notices
    assert "321亿元" in compared[0] and "29.86亿元" in compared[0]
    assert compared[0].endswith("电子信息制造业规模更大。")
    assert "321亿元" in answer.text and "29.86亿元" in answer.text  # both answers shown


def test_figures_of_two_units_are_not_compared(real_engine):
    answer = real_engine.ask("株洲数字经济规模和占GDP比重哪个更大？")
    compared = [n for n in answer.notices if n.startswith("比较")]
    assert compared and "不能直接比较" in compared[0], answer.notices


def test_an_english_follow_up_to_a_chinese_question_is_answered_in_english(real_engine):
    first = real_engine.ask("株洲数字经济规模是多少？")
    second = real_engine.ask("What about its share of GDP?", previous=first)
    assert second.language == "en" and "42%" in second.lead
    assert second.notices[0] == 'Read as "株洲数字经济规模占GDP比重是多少？"'
    assert second.lead.startswith("“")  # English framing around the Chinese metric


def test_a_change_asked_after_last_year_is_this_years_change(real_engine):
    first = real_engine.ask("株洲通信业规模是多少？")
    last_year = real_engine.ask("那去年呢？", previous=first)
    assert "29.86亿元" not in last_year.lead or "推算" in last_year.lead
    change = real_engine.ask("增长了多少？", previous=last_year)
    assert change.question == "株洲通信业规模增长了多少？"
    assert "11.2%" in change.lead
