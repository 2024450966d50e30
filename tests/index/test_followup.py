"""Follow-up questions: read with the previous question; complete questions never merged."""

from __future__ import annotations

import itertools

import pytest

from index import Judged
from index.evaluation import (
    answered_right,
    evaluate_conversations,
    load_conversations,
    load_fixtures,
    wrong_with_a_figure,
)
from index.text.followup import (
    Comparison,
    comparison_of,
    interpret_followup,
    question_parts,
    read_parts,
    same_scope,
)
from tests.conftest import FIXTURES


@pytest.mark.parametrize(
    ("previous", "question", "reading"),
    [
        ("株洲数字经济规模是多少？", "那占GDP比重呢？", "株洲数字经济规模占GDP比重是多少？"),
        ("株洲数字经济规模是多少？", "长沙呢？", "长沙数字经济规模是多少？"),
        ("株洲数字经济规模是多少？", "去年呢？", "株洲去年数字经济规模是多少？"),
        ("2021年株洲数字经济规模是多少？", "2020年呢？", "2020年株洲数字经济规模是多少？"),
        ("株洲电子信息制造业规模有多大？", "增长了多少？", "株洲电子信息制造业规模增长了多少？"),
        ("株洲千兆光纤网络家庭覆盖率是多少？", "4G网络呢？", "株洲4G网络家庭覆盖率是多少？"),
        ("株洲培育了多少个市级智能制造标杆？", "省级的呢？", "株洲培育了多少个省级智能制造标杆？"),
        ("株洲深度上云的企业有多少家？", "上平台的呢？", "株洲上平台的企业有多少家？"),
        # a change is stated of this period against the last: 去年 does not carry over
        ("株洲去年通信业规模是多少？", "增长了多少？", "株洲通信业规模增长了多少？"),
        ("株洲去年数字经济占GDP比重是多少？", "提升了多少？", "株洲数字经济占GDP比重提升了多少？"),
        # English after Chinese: a period, a place, a relation of the previous metric
        (
            "株洲数字经济规模是多少？",
            "What about its share of GDP?",
            "株洲数字经济规模占GDP比重是多少？",
        ),
        ("株洲通信业规模是多少？", "What about last year?", "株洲去年通信业规模是多少？"),
        ("株洲通信业规模是多少？", "How much did it grow?", "株洲通信业规模增长了多少？"),
        ("株洲数字经济规模是多少？", "And Changsha?", "长沙数字经济规模是多少？"),
        (
            "How many enterprises in Zhuzhou have moved deeply to the cloud?",
            "What about those on platforms?",
            "How many enterprises in Zhuzhou on platforms?",
        ),
        (
            "How big was Zhuzhou's digital economy in 2022?",
            "What about 2021?",
            "How big was Zhuzhou's digital economy in 2021?",
        ),
        (
            "How big is Zhuzhou's digital economy?",
            "What about Changsha?",
            "How big is Changsha's digital economy?",
        ),
        (
            "How many industry cloud platforms has Zhuzhou built?",
            "What about 5G application scenarios?",
            "How many 5G application scenarios has Zhuzhou built?",
        ),
    ],
)
def test_a_follow_up_is_read_with_the_previous_question(previous, question, reading):
    got = interpret_followup(question, previous)
    assert got.merged and got.text == reading


def test_complete_questions_are_never_merged():
    """The dev set asked in sequence in one chat: every question stands alone."""
    questions = [fx.question for fx in load_fixtures(FIXTURES / "qa-dev.jsonl")]
    merged = [(a, b) for a, b in itertools.pairwise(questions) if interpret_followup(b, a).merged]
    assert merged == []
    assert not interpret_followup("株洲数字经济规模是多少？", None).merged
    for small_talk in ("谢谢", "你好！", "好的", "Thanks!"):  # not questions about anything
        assert not interpret_followup(small_talk, "株洲数字经济规模是多少？").merged
    # a follow-up keeps the previous question's place and period, or asks of another
    assert same_scope("株洲通信业规模增长了多少？", "株洲通信业规模是多少？")
    assert not same_scope("株洲去年通信业规模是多少？", "株洲通信业规模是多少？")
    assert not same_scope("长沙数字经济规模是多少？", "株洲数字经济规模是多少？")
    # an English question that says no period, place or relation is asked on its own
    for english in ("What will the weather be tomorrow?", "What about gigabit fiber coverage?"):
        assert not interpret_followup(english, "株洲数字经济规模是多少？").merged


@pytest.mark.model
def test_conversations_are_answered_better_in_context(real_engine):
    conversations = load_conversations(FIXTURES / "conversations.jsonl")
    assert len(conversations) >= 30

    def ask(question, previous):  # type: ignore[no-untyped-def]
        answer = real_engine.ask(question, previous=previous)
        return Judged.of_answer(answer), answer

    report = evaluate_conversations(conversations, ask)
    # measured 0.925 in conversation against 0.625 alone (docs/design.md); guards against regressions
    assert report.right_in_conversation >= 0.85
    assert report.right_in_conversation - report.right_alone >= 0.25
    # answered with a wrong figure: 1 of 51 (e03: its English first turn is answered from
    # the wrong passage, and the follow-up with it); none of the other-period and
    # other-metric conversations
    assert report.wrong_with_a_figure_in_conversation <= 1
    period_rows = [r for r in report.rows_in_conversation if r.id in {"c33", "c36", "c37", "c40"}]
    assert len(period_rows) == 4 and not any(map(wrong_with_a_figure, period_rows))
    first = real_engine.ask("株洲数字经济规模是多少？")
    second = real_engine.ask("那占GDP比重呢？", previous=first)
    assert "按「株洲数字经济规模占GDP比重是多少」理解" in second.notices
    assert answered_right(report.rows_in_conversation[0])


@pytest.mark.parametrize(
    ("question", "readings"),
    [
        (
            "株洲数字经济规模多少，占GDP比重多少？",
            ["株洲数字经济规模多少？", "株洲数字经济规模占GDP比重多少？"],
        ),
        (
            "株洲有多少家软件和信息技术服务企业，业务收入是多少？",
            ["株洲有多少家软件和信息技术服务企业？", "株洲软件和信息技术服务企业业务收入是多少？"],
        ),
        # a part that names its own place stands alone
        (
            "株洲数字经济规模多少，长沙数字经济规模多少？",
            ["株洲数字经济规模多少？", "长沙数字经济规模多少？"],
        ),
        (
            "How big is Zhuzhou's digital economy and what is its share of GDP?",
            [
                "How big is Zhuzhou's digital economy?",
                "what is Zhuzhou's digital economy's share of GDP?",
            ],
        ),
        # one question: a piece that asks nothing belongs to the part after it
        ("今年前三季度，株洲数字经济规模是多少？", ["今年前三季度，株洲数字经济规模是多少？"]),
        ("株洲数字经济规模是多少，好吗？", ["株洲数字经济规模是多少，好吗？"]),
    ],
)
def test_a_question_that_asks_several_things_is_asked_part_by_part(question, readings):
    assert read_parts(question_parts(question)) == readings


def test_a_comparison_is_two_questions_and_what_it_asks_for():
    got = comparison_of("株洲电子信息制造业和高技术制造业哪个规模更大？")
    assert got == Comparison(
        "株洲电子信息制造业规模是多少？", "株洲高技术制造业规模是多少？", True, "大"
    )
    smaller = comparison_of("4G网络覆盖率与千兆光纤网络覆盖率哪个低？")
    assert smaller is not None and not smaller.larger
    assert comparison_of("株洲数字经济规模多少？") is None
