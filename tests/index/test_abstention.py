"""Reasons not to answer that need no model: a day the articles cannot have reported."""

from __future__ import annotations

import datetime as dt

import pytest

from index.answering.abstention import AbstentionRules
from index.text.questions import TermWeights, profile_question

TODAY = dt.date(2026, 12, 6)


def _after(question: str, passage: str, article_date: str = "2022-12"):
    rules = AbstentionRules(TermWeights([passage]))
    return rules.after_answering(
        profile_question(question), [passage], [], article_date, [passage], today=TODAY
    )


@pytest.mark.parametrize(
    ("question", "notice"),
    [
        (
            "Will it rain in Zhuzhou tomorrow?",
            "The articles say nothing about tomorrow (7 December): the closest article was "
            "written in 2022-12.",
        ),
        ("明天株洲会下雨吗？", "文章没有说到明天（12月7日）的事：最接近的文章写于2022年12月。"),
        (
            "下周株洲有什么活动？",
            "文章没有说到下周（12月7日至13日）的事：最接近的文章写于2022年12月。",
        ),
    ],
)
def test_a_day_still_to_come_is_not_answered_from_what_was_reported(question, notice):
    assert _after(question, "寒风过境，株洲北斗产业园却一派生机勃勃。") == (notice,)


@pytest.mark.parametrize(
    "passage",
    [
        "大赛明天在株洲开幕。",  # announced the day before, in the article's own words
        "大赛将于12月7日在株洲开幕。",  # announced by its date
    ],
)
def test_a_passage_that_announces_the_day_speaks_of_it(passage):
    assert _after("What opens in Zhuzhou tomorrow?", passage) is None
    assert _after("明天株洲有什么活动？", passage) is None


def test_an_undated_article_is_named_without_a_date():
    (notice,) = _after("明天株洲会下雨吗？", "株洲是一座城市。", article_date="")  # type: ignore[misc]
    assert notice == "文章没有说到明天（12月7日）的事。"
