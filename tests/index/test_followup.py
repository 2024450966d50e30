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
)
from index.text.followup import interpret_followup
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
    first = real_engine.ask("株洲数字经济规模是多少？")
    second = real_engine.ask("那占GDP比重呢？", previous=first)
    assert "按「株洲数字经济规模占GDP比重是多少」理解" in second.notices
    assert answered_right(report.rows_in_conversation[0])
