"""What a question asks, read without the model."""

from __future__ import annotations

import pytest

from index.text.questions import profile_question


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


@pytest.mark.parametrize(
    ("question", "ahead"),
    [
        ("Will it rain in Zhuzhou tomorrow?", (("tomorrow", 1),)),
        ("明天株洲会下雨吗？", (("明天", 1),)),
        ("What about the day after tomorrow?", (("the day after tomorrow", 2),)),
        ("大后天呢？", (("大后天", 3),)),
        ("今晚的比赛几点开始？", (("今晚", 0),)),
        ("下周有什么活动？", (("下周", 7),)),
        ("株洲数字经济的明天会怎样？", ()),  # the future, said as a figure of speech
        ("今年株洲数字经济规模多少？", ()),
    ],
)
def test_days_ahead_a_question_asks_about(question, ahead):
    assert profile_question(question).days_ahead == ahead


def test_capitalized_words_that_read_as_chinese_places():
    readings = profile_question("How big is Changsha's digital economy?").place_readings
    assert [(word, places[0][0]) for word, places in readings] == [("Changsha", "长沙")]
    zhuzhou = dict(profile_question("What about Zhuzhou?").place_readings[0][1])
    assert {"株洲", "株州"} <= set(zhuzhou)  # the answer builder picks the one the articles use
    assert profile_question("Who won the FIFA World Cup?").place_readings == ()
    assert profile_question("长沙的数字经济规模是多少？").place_readings == ()  # Chinese: ns tags


@pytest.mark.parametrize(
    ("question", "places"),
    [
        ("长沙数字经济规模是多少？", ("长沙",)),
        ("古罗马的首都在哪里？", ("古罗马",)),  # a name, though written in lower case in part
        # jieba tags these as places; CC-CEDICT reads them only as common words
        ("在东德的外汇商店购买东西必须要有什么？", ()),
        ("冈底斯山脉境内哪一座山峰至今无人攀登成功？", ("冈底斯山脉",)),
        ("哪一个国家成为台湾进出口贸易第一大国？", ("台湾",)),
        ("全省有多少城市？", ()),
        # the place asked for lies within the one named; a passage may name only the first
        ("国立牛仔与西部史迹博物馆位于美国的哪一州?", ()),
        ("台湾哪一县市拥有三座核能电厂？", ()),
        ("长沙的哪个产业规模最大？", ("长沙",)),  # a thing of 长沙's, not a place within it
    ],
)
def test_places_a_question_names(question, places):
    assert profile_question(question).places == places


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        # when, where and what kind asked in two words are question words, not content the
        # passage must repeat (it says 生于, not 地方)
        ("张学良在哪一个地方出生?", ("张学良", "出生")),
        ("民德于什么时候灭亡？", ("民德", "灭亡")),
        ("「福尔摩沙」原文是何种语言?", ("福尔", "福尔摩沙", "原文", "语言")),
        # a place spoken of, not asked for, stays
        ("这个地方的人口有多少？", ("这个", "地方", "人口")),
        # the era of a year asked, which year, at the time of: the question's frame
        ("国共内战于西元几年宣布停火?", ("国共", "内战", "宣布", "停火")),
        ("清朝于何年灭亡？", ("清朝", "灭亡")),
        ("他在发明电话的时候住在哪里？", ("发明", "电话")),
        ("公元的意思是什么？", ("公元", "意思")),  # the era itself asked about stays
        # the kind of thing asked for, after its question word
        ("他在1990年担任什么职位？", ("1990", "担任")),
        ("单位是什么？", ("单位",)),
    ],
)
def test_content_terms_leave_the_question_words_out(question, terms):
    assert profile_question(question).terms == terms


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("我应该买哪只基金？", True),
        ("你喜欢株洲吗？", True),
        ("给我讲个笑话", True),
        ("Tell me a joke about cats.", True),
        ("Should I move to Zhuzhou?", True),
        ("Who are you?", True),
        # what the articles say, asked in the second person or of advice they report
        ("你觉得株洲的数字经济怎么样？", False),
        ("文章建议株洲发展哪些产业？", False),
        ("我们该如何理解数字经济占比？", False),
        ("What do the articles say Zhuzhou should build?", False),
        ("Who founded the company?", False),
    ],
)
def test_questions_put_to_the_bot_not_the_articles(question, asks):
    assert profile_question(question).asks_the_bot is asks
