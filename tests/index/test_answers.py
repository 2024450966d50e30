"""Cited answers on the real model and article: figures, periods, conflicts, abstention."""

from __future__ import annotations

import dataclasses

import pytest

from index import Engine, IndexFolder, UnsupportedFigureError, verify_answer
from index.answering.answers import AnswerFigure
from index.evaluation import Judged, evaluate, load_fixtures
from index.search.crosslingual import expand_question
from tests.conftest import FIXTURES, make_article

pytestmark = pytest.mark.model


def test_figure_answer_with_periods_and_conflict(real_engine):
    answer = real_engine.ask("株洲数字经济规模多少？")
    assert not answer.abstained
    shown = [(af.figure.text, af.period) for af in answer.figures]
    assert shown == [("1118亿元", "今年前三季度（2022年）"), ("1118亿元", "今年1至11月（2022年）")]
    assert [af.citation for af in answer.figures] == [1, 2]
    assert answer.citations[0].passage.paragraph == 3
    assert answer.lead.startswith("数字经济规模：1118亿元（今年前三季度，2022年）[1]")
    first = answer.sentences[0]
    assert [first.text[s:e] for s, e in first.highlights] == ["1118亿元"]
    # the citation points at the source text
    c = answer.citations[0]
    assert (
        real_engine._generation.article_body(c.article.id)[c.passage.start : c.passage.end]
        == c.passage.text
    )


def test_picks_the_sentence_not_only_the_passage(real_engine):
    answer = real_engine.ask("株洲电子信息制造业增长了多少？")
    assert answer.figures[0].figure.text == "17.8%"
    assert answer.sentences[0].text.startswith("电子信息制造业规模达到321亿元")


def test_who_question_gets_the_sentence(real_engine):
    answer = real_engine.ask("株洲市委书记是谁？")
    assert "曹慧泉" in answer.sentences[0].text and not answer.figures


@pytest.mark.parametrize(
    "question",
    [
        "株洲的平均房价是多少？",
        "湖南省全省的数字经济规模是多少？",
        "Who won the 2022 FIFA World Cup?",
    ],
)
def test_abstains_and_offers_the_closest_passages(real_engine, question):
    answer = real_engine.ask(question)
    assert answer.abstained and not answer.figures and len(answer.citations) == 3
    assert ("文章中没有找到" in answer.text) or ("do not answer" in answer.text)


def test_english_question_gets_an_english_frame_and_the_chinese_quote(real_engine):
    answer = real_engine.ask("How many software and IT service companies does Zhuzhou have?")
    assert answer.language == "en" and "in the article" in answer.lead
    assert "164家" in answer.text and "软件和信息技术服务企业" in answer.sentences[0].text


def test_an_unsupported_figure_cannot_leave_the_engine(real_engine):
    answer = real_engine.ask("株洲有多少家省级专精特新“小巨人”企业？")
    verify_answer(answer)  # the real one passes
    fig = answer.figures[0].figure
    forged = dataclasses.replace(fig, text="205家")
    with pytest.raises(UnsupportedFigureError):
        verify_answer(dataclasses.replace(answer, figures=(AnswerFigure(forged, 1, ""),)))
    moved = dataclasses.replace(fig, start=fig.start + 1, end=fig.end + 1)
    with pytest.raises(UnsupportedFigureError):
        verify_answer(dataclasses.replace(answer, figures=(AnswerFigure(moved, 1, ""),)))
    sentence = dataclasses.replace(answer.sentences[0], text="株洲有省级小巨人企业999家。")
    with pytest.raises(UnsupportedFigureError, match="999"):
        verify_answer(dataclasses.replace(answer, sentences=(sentence,)))


@pytest.mark.parametrize("name", ["qa.jsonl", "qa-dev.jsonl"])
def test_answer_quality(real_engine, name):
    fixtures = load_fixtures(FIXTURES / name)

    report = evaluate(fixtures, lambda q: Judged.of_answer(real_engine.ask(q)))
    zh = report.by_language["zh"]
    assert zh["hit@1"] >= 0.95 and zh["hit@5"] == 1.0, report.rows
    assert report.by_language["en"]["hit@3"] == 1.0, report.rows  # the right passage in the top 3
    assert report.figure_accuracy is not None and report.figure_accuracy >= 0.95, report.rows
    assert report.abstain_recall == 1.0, report.rows  # every no-answer question abstains
    false_abstentions = sum(1 for r in report.rows if r.abstained and not r.no_answer_expected)
    assert false_abstentions <= max(1, report.answerable // 40), report.rows


def test_english_words_bring_their_chinese_neighbours(real_engine):
    lexicon = real_engine._generation.lexicon
    assert lexicon is not None and len(lexicon.terms) > 500
    expansion = expand_question(
        lexicon, real_engine.embedder, "How many software companies are there?"
    ).split()
    assert "软件" in expansion and ({"企业", "公司"} & set(expansion))
    assert (
        expand_question(lexicon, real_engine.embedder, "株洲有多少软件企业？") == ""
    )  # Chinese: untouched
    # words the Chinese text writes as they are (5G, GDP) join the BM25 query themselves
    assert (
        "5G" in expand_question(lexicon, real_engine.embedder, "How many 5G base stations?").split()
    )


def test_a_year_the_articles_do_not_cover_abstains_and_says_which_year_they_do(real_engine):
    other = real_engine.ask("株洲2023年数字经济规模是多少？")
    assert other.abstained
    assert other.notices == ("文章里没有2023年的数据，最接近的段落说的是2022年。",)
    assert other.citations  # the closest passages are still shown
    # a figure whose period is "今年" counts as the article's year
    same = real_engine.ask("2022年株洲数字经济规模达到多少？")
    assert not same.abstained and same.figures[0].figure.text == "1118亿元"
    # a year written in the sentence that answers
    named = real_engine.ask("株洲哪两年入选全国10个工业稳增长和转型升级成效明显市？")
    assert not named.abstained and "2020、2021年" in named.sentences[0].text
    english = real_engine.ask("What was Zhuzhou's digital economy worth in 2019?")
    assert english.abstained and english.notices[0].startswith("The articles have nothing for 2019")


def test_a_day_still_to_come_is_not_answered(real_engine):
    # issue 17: English small talk about tomorrow was answered with an unrelated sentence
    rain = real_engine.ask("Will it rain in Zhuzhou tomorrow?")
    assert rain.abstained and not rain.figures
    assert rain.notices[0].startswith("The articles say nothing about tomorrow (")
    assert rain.notices[0].endswith("the closest article was written in 2022-12.")
    twin = real_engine.ask("明天株洲会下雨吗？")
    assert twin.abstained and twin.notices[0].startswith("文章没有说到明天（")
    # the future as a figure of speech is no day ahead: answered from the articles
    assert not real_engine.ask("株洲数字经济的明天会怎样？").notices


def test_advice_and_chat_are_not_answered_from_the_articles(real_engine):
    for question in (
        "我应该买哪只基金？",
        "给我讲个笑话吧",
        "Should I invest in Zhuzhou's data centres?",
    ):
        answer = real_engine.ask(question)
        assert answer.abstained and not answer.figures, question
        assert answer.notices[0] in (
            "这是在问我的建议或闲聊：我只回答文章里写了的内容。",
            "That asks me for advice or a chat: I only answer what the articles say.",
        )
        assert answer.citations  # the closest passages are still shown
    # what the articles say about it is still asked and answered
    assert not real_engine.ask("株洲数字经济规模多少？").abstained


def test_a_province_total_is_not_answered_with_a_city_figure(real_engine):
    answer = real_engine.ask("湖南全省有多少家软件企业？")
    assert answer.abstained and answer.notices == ("文章里没有全省的数据。",)
    ranked = real_engine.ask("株洲数字经济占比在全省排第几？")  # 居全省前列: the sentence says it
    assert not ranked.abstained and "全省" in ranked.sentences[0].text


def test_english_questions_about_another_place_abstain(real_engine):
    changsha = real_engine.ask("How big is Changsha's digital economy?")
    assert changsha.abstained
    assert changsha.notices == ("The closest passages say nothing about Changsha (长沙).",)
    chinese = real_engine.ask("长沙数字经济规模是多少？")
    assert chinese.abstained and chinese.notices == ("最接近的段落没有说到长沙。",)
    assert real_engine.ask("What is the GDP of Beijing?").abstained
    own = real_engine.ask("How large is Zhuzhou's digital economy?")
    assert not own.abstained and own.figures[0].figure.text == "1118亿元"
    # Huawei reads as the rare place 华威 in pinyin: not taken for a place
    assert not real_engine.ask("Which company in Zhuzhou works with Huawei?").abstained
    province = real_engine.ask("How many software companies are there in Hunan province?")
    assert province.abstained
    assert province.notices == ("The articles give no figure for the province as a whole.",)


def test_a_place_the_passage_names_otherwise_is_no_other_place(tmp_path, real_embedder):
    engine = Engine(store=IndexFolder(tmp_path / "index"), embedder=real_embedder)
    body = "青石河发源于俄罗斯境内的山地，向南流经青石市全境，全长320公里。"
    engine.build([make_article("river", body, title="青石河（虚构）")])
    # 俄国 and 俄罗斯 are one place to CC-CEDICT (Russia): the passage covers the question
    russia = engine.ask("发源于俄国的青石河全长多少公里？")
    assert not russia.abstained and "320公里" in russia.sentences[0].text
    assert engine.ask("发源于蒙古的青石河全长多少公里？").abstained


def test_warm_up_pays_the_first_english_question_costs(real_engine):
    from index.text.questions import _places_by_pinyin

    _places_by_pinyin.cache_clear()
    real_engine.warm_up()
    assert _places_by_pinyin.cache_info().currsize == 1


def test_an_amount_question_is_not_answered_with_a_share(real_engine):
    gdp = real_engine.ask("株洲的GDP是多少？")  # the article gives shares of GDP, no amount
    assert gdp.abstained and gdp.notices == ("文章里没有这个数额。",)
    size = real_engine.ask("株洲数字经济规模多少？")
    assert not size.abstained and size.figures[0].figure.kind == "amount"


def test_a_rank_within_the_province_is_answered_a_province_total_is_not(real_engine):
    # the article ranks the city as 居全省第二 without naming 湖南 in that passage
    ranked = real_engine.ask("株洲的数字智慧城市能力资源在湖南省排第几？")
    assert not ranked.abstained and "全省" in ranked.sentences[0].text
    assert real_engine.ask("湖南省全省的数字经济规模是多少？").abstained
    assert real_engine.ask("株洲的数字经济在广东省排第几？").abstained  # a province it never names


def test_what_kind_of_answer_a_list_question_wants_is_not_what_it_is_about(real_engine):
    # 特点 names the kind of answer; the article's features answer it without the word
    assert not real_engine.ask("株洲数字经济的发展有哪些特点？").abstained
    assert real_engine.ask("株洲的气候有什么特点？").abstained  # the article says nothing of it


def test_an_answer_the_engine_builds_never_fails_its_own_check(fake_engine):
    # issue 17: a range of years written with a hyphen ended `shuzi eval` with
    # UnsupportedFigureError ("0000" read as a year inside "10000年")
    from tests.conftest import make_article

    body = "化石的年代为距今12000-10000年，出土石器2000余件。古人类在距今40000-30000年前到达这里。"
    fake_engine.build([make_article("cave", body, title="洞穴遗址")])
    for question in (
        "化石的年代是什么时候？",
        "古人类什么时候到达这里？",
        "化石的年代为距今多少年？",
    ):
        answer = fake_engine.ask(question)
        if not answer.abstained:
            assert answer.sentences and answer.sentences[0].text in body
