"""Exact answers: answer types, candidates (date grammar, numbers, names), slots, debris."""

from __future__ import annotations

import pytest

from corpus import extract_figures
from index.answering.answers import qualifying_words
from index.answering.sentences import is_debris
from index.answering.spans import answer_type, candidates, choose_span


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("某某是谁的学生？", "person"),
        ("西安事变是由张学良以及哪一个人所发动？", "person"),
        ("哪个人口普查在2010年进行？", "thing"),  # 人口: no person
        ("这座桥是哪一年建成的？", "time"),
        ("他什么时候去世？", "time"),
        ("公司总部在哪里？", "place"),
        ("他毕业于哪所大学？", "organization"),
        ("这条河全长多少公里？", "number"),
        ("球队有几名外援？", "number"),
        ("某某的职业是什么？", "definition"),
        ("他为什么辞职？", "sentence"),
        ("这种植物有哪些用途？", "sentence"),
        ("How did the war end?", "sentence"),
        ("Who founded the company?", "person"),
    ],
)
def test_answer_type_comes_from_the_question_words(question, kind):
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("康熙六十一年，胤禛即位。", "康熙六十一年"),
        ("1949年10月1日，中华人民共和国成立。", "1949年10月1日"),
        ("这种风格流行于二十世纪初期的欧洲。", "二十世纪初期"),
        ("永禄5年 （1562年）被任命为知行。", "永禄5年 （1562年）"),
    ],
)
def test_date_grammar_finds_whole_dates(sentence, expected):
    assert expected in [c.text(sentence) for c in candidates(sentence, "time")]


def test_numbers_keep_their_measure_word():
    sentence = "主看台有2,173个坐席，全长约1.2公里，是第15张单曲。"
    found = [c.text(sentence) for c in candidates(sentence, "number")]
    assert "2,173个" in found and "约1.2公里" in found and "第15张" in found


@pytest.mark.parametrize(
    ("question", "sentence", "answer"),
    [
        # the definitional first sentence, past the brackets the source emptied
        ("某某的职业是什么？", "某某（），中国作家，生于北京。", "中国作家"),
        ("生命数耗完即算为什么？", "每次泡封会减少生命数，生命数耗完即算为踢爆。", "踢爆"),
        (
            "乍都节公园是由谁捐献土地建造的？",
            "公园于1975年由泰国国家铁路局捐献土地建造。",
            "泰国国家铁路局",
        ),
        ("这座教堂建于哪一年？", "这座教堂建于1889年，由乔治设计。", "1889年"),
        ("西贡商信银行的总部在哪里？", "西贡商信银行总部位于胡志明市。", "胡志明市"),
        ("若游戏中离，则多少分钟内不得进行配对？", "若游戏中离，则4分钟内不得进行配对。", "4分钟"),
        # the category the question names after its question word belongs to the answer
        ("这个国家实行什么制度？", "这个国家实行「议会」制度，已有百年。", "「议会」制度"),
    ],
)
def test_the_span_fills_the_questions_hole(question, sentence, answer):
    span = choose_span(question, sentence, answer_type(question))
    assert span is not None and span.text(sentence) == answer
    assert sentence[span.start : span.end] == answer  # always a substring of the sentence


def test_why_questions_have_no_span():
    assert choose_span("他为什么辞职？", "由于健康原因，他于2001年辞职。", "sentence") is None


def test_a_span_never_repeats_the_question():
    sentence = "张三是李四的学生。"
    span = choose_span("张三是谁的学生？", sentence, "person")
    assert span is not None and span.text(sentence) == "李四"


@pytest.mark.parametrize(
    ("sentence", "debris"),
    [
        ("某某（；）", True),
        ("某某（）。", True),
        ("（）", True),
        ("降居顺成宫。", False),
        ("盖卤王（）亦作近盖娄王，是百济的第21代君主。", False),
    ],
)
def test_debris_sentences_are_recognised(sentence, debris):
    assert is_debris(sentence) is debris


def test_qualifying_words_of_two_figures_of_one_metric():
    text = "该铁路全长300公里，如计入支线，全长420公里。"
    first, second = [f for f in extract_figures(text) if f.unit == "公里"]
    assert qualifying_words(text, second) == "如计入支线"
    assert qualifying_words(text, first) == ""


@pytest.mark.parametrize(
    ("question", "sentence", "answer"),
    [
        # the measure the question names picks the number
        ("机场有几条跑道？", "机场占地1,980米见方，共有三条跑道。", "三条"),
        ("这座山有多高？", "山上有20个村庄，主峰高1,200米。", "1,200米"),
        # 以来 belongs to the time
        ("这里从什么时候开始热闹？", "这里从1990年代以来一直很热闹。", "1990年代以来"),
    ],
)
def test_numbers_and_times_of_the_asked_kind(question, sentence, answer):
    span = choose_span(question, sentence, answer_type(question))
    assert span is not None and span.text(sentence) == answer


def test_english_questions_keep_the_sentence():
    # no words of an English question stand in the Chinese sentence to find the slot by
    assert choose_span("Who designed the church?", "教堂由乔治设计。", "person") is None
