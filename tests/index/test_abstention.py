"""Reasons not to answer that need no model: a day the articles cannot have reported, a
place the passage does not name."""

from __future__ import annotations

import datetime as dt

import pytest

from corpus import Passage
from index.answering.abstention import AbstentionRules
from index.records import ArticleInfo, Hit
from index.text.questions import TermWeights, profile_question

TODAY = dt.date(2026, 12, 6)


def _before(question: str, passage: str, *others: str, article_date: str = "2022-12"):
    texts = [passage, *others]
    rules = AbstentionRules(TermWeights(texts), today=lambda: TODAY)
    article = ArticleInfo("a", "测试", date=article_date)
    hits = [
        Hit(i, Passage("a", i, i, 0, (), ((0, len(t)),), t, t), article, 1.0, dense=0.9)
        for i, t in enumerate(texts)
    ]
    return rules.before_answering(profile_question(question), hits, pool=1)


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
    assert _before(question, "寒风过境，株洲北斗产业园却一派生机勃勃。") == (notice,)


@pytest.mark.parametrize(
    "passage",
    [
        "工业APP大赛明天在株洲开幕。",  # announced the day before, in the article's words
        "工业APP大赛将于12月7日在株洲开幕。",  # announced by its date
    ],
)
def test_a_passage_that_announces_the_day_speaks_of_it(passage):
    others = ("青石河发源于山地。", "长江流经上海。")
    assert _before("明天在株洲开幕的是什么大赛？", passage, *others) is None
    assert _before("后天在株洲开幕的是什么大赛？", passage, *others) == (
        "文章没有说到后天（12月8日）的事：最接近的文章写于2022年12月。",
    )


def test_an_undated_article_is_named_without_a_date():
    (notice,) = _before("明天株洲会下雨吗？", "株洲是一座城市。", article_date="")  # type: ignore[misc]
    assert notice == "文章没有说到明天（12月7日）的事。"


def test_a_region_is_named_without_its_generic_word():
    # 东北地区 in the question, 东北 in the passage: the same place (DRCD held out)
    passage = "哈大客运专线是中国东北首条高速铁路，连接哈尔滨和大连港口。"
    others = ("青石河发源于山地。", "长江流经上海。")
    assert (
        _before("中国东北地区首条高速铁路哈大客运专线连接哈尔滨和哪个港口？", passage, *others)
        is None
    )
    assert _before(
        "中国华北地区首条高速铁路哈大客运专线连接哈尔滨和哪个港口？", passage, *others
    ) == ("最接近的段落没有说到中国华北地区。",)
