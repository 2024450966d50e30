"""The trained reader, as it ships: loaded by checksum, it finds the span in a context, says
"not here" for a context without the answer, and the engine answers with its span. Tests never
train; they load index/reader/weights/."""

from __future__ import annotations

import dataclasses
import itertools
import shutil

import pytest

from index import ArticleStore, Engine, IndexFolder, ReaderWeightsError, load_reader
from index.reader.model import SHA256_FILE, WEIGHTS_FILE
from tests.conftest import MODEL_CACHE, make_article

pytestmark = pytest.mark.model

CONTEXT = "今年前三季度，株洲数字经济规模1118亿元，占GDP比重达42%，较去年同期提升2.5个百分点。"


@pytest.fixture(scope="module")
def reader(real_embedder):  # type: ignore[no-untyped-def]
    return load_reader(MODEL_CACHE, embedder=real_embedder)


def test_the_reader_finds_the_span(reader):
    (found,) = reader.read("株洲数字经济规模多少？", [CONTEXT])
    assert CONTEXT[found.start : found.end] == "1118亿元"
    (rise,) = reader.read("比重较去年同期提升了多少？", [CONTEXT])
    assert CONTEXT[rise.start : rise.end] == "2.5个百分点"


def test_several_spans_of_a_context_the_best_first(reader):
    (best,) = reader.read("株洲数字经济规模多少？", [CONTEXT])
    spans = reader.read("株洲数字经济规模多少？", [CONTEXT], per_context=3)
    assert spans[0] == best and 1 < len(spans) <= 3
    assert len({(s.start, s.end) for s in spans}) == len(spans)
    assert all(a.score >= b.score for a, b in itertools.pairwise(spans))
    assert {s.null for s in spans} == {best.null}


def test_an_english_question_finds_the_chinese_span(reader):
    (found,) = reader.read("How large is Zhuzhou's digital economy?", [CONTEXT])
    assert "1118" in CONTEXT[found.start : found.end]


def test_a_context_without_the_answer_scores_below_one_with_it(reader):
    other = "青石市共有灯塔17座，其中新建灯塔5座，均由市港航局管理。"
    with_it, without = reader.read("株洲数字经济规模多少？", [CONTEXT, other])
    assert with_it.margin > without.margin


def test_damaged_weights_are_refused_by_checksum(tmp_path, real_embedder):
    damaged = tmp_path / "reader.safetensors"
    shutil.copy(WEIGHTS_FILE, damaged)
    shutil.copy(SHA256_FILE, tmp_path / "reader.sha256")
    data = bytearray(damaged.read_bytes())
    data[-100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(ReaderWeightsError, match="SHA-256"):
        load_reader(MODEL_CACHE, embedder=real_embedder, weights=damaged)


def _lights_engine(tmp_path, embedder, reader):  # type: ignore[no-untyped-def]
    return Engine(
        store=IndexFolder(tmp_path / "index"),
        embedder=embedder,
        article_store=ArticleStore(tmp_path / "articles"),
        reader=reader,
    )


def test_the_engine_answers_with_the_readers_span(tmp_path, real_embedder, reader):
    engine = _lights_engine(tmp_path, real_embedder, reader)
    body = (
        "青石市灯塔管理站成立于1998年，站长是王海峰。\n\n"
        "全市共有灯塔17座，其中新建灯塔5座。灯塔每晚七点亮灯。"
    )
    engine.build([make_article("lights", body, title="青石市灯塔（虚构）")])
    answer = engine.ask("青石市灯塔管理站的站长是谁？")
    assert not answer.abstained and answer.span is not None
    assert answer.span.text == "王海峰" and answer.lead.startswith("答：王海峰")
    sentence = answer.sentences[0]
    assert sentence.text[slice(*sentence.highlights[0])] == "王海峰"
    english = engine.ask("Who is the head of the lighthouse station?")
    assert english.span is not None and "王海峰" in english.span.text
    assert english.lead.startswith("Answer:")


def test_a_relation_the_articles_do_not_say_is_not_answered_with_another_name(
    tmp_path, real_embedder, reader
):
    engine = _lights_engine(tmp_path, real_embedder, reader)
    keeper = (
        "王海峰，青石市人，1962年生，1998年起任青石市灯塔管理站站长。"
        "他的父亲王德林是一名渔民，曾在灯塔附近打鱼三十年。"
    )
    other = "李明的妻子张丽是一名教师，两人育有一子。张丽的教练是刘强。"
    engine.build(
        [
            make_article("keeper", keeper, title="王海峰（虚构）"),
            make_article("other", other, title="李明（虚构）"),
        ]
    )
    father = engine.ask("王海峰的父亲是谁？")
    assert father.span is not None and father.span.text == "王德林"
    # his wife and his coach are named nowhere: not his father, not someone else's wife
    for question in ("王海峰的妻子是谁？", "王海峰的教练是谁？"):
        answer = engine.ask(question)
        assert answer.abstained and answer.span is None, question


def test_an_english_question_is_read_with_the_chinese_words_its_windows_hold(
    tmp_path, real_embedder, reader
):
    asked: list[str] = []

    class Recording:
        def read(self, question, contexts, per_context=1):  # type: ignore[no-untyped-def]
            asked.append(question)
            return reader.read(question, contexts, per_context=per_context)

    engine = _lights_engine(tmp_path, real_embedder, Recording())
    body = "青石市共有灯塔17座，其中新建灯塔5座。灯塔每晚七点亮灯，由市港航局管理。"
    engine.build([make_article("lights", body, title="青石市灯塔（虚构）")])
    answer = engine.ask("When are the lighthouses lit?")
    # CC-CEDICT: lighthouse -> 灯塔, the word the window holds, read in Chinese
    assert asked == ["When are the 灯塔 lit?"]
    assert not answer.abstained and answer.span is not None and "七点" in answer.span.text


def test_a_reason_to_refuse_is_checked_on_the_readers_passage(tmp_path, real_embedder, reader):
    engine = _lights_engine(tmp_path, real_embedder, reader)
    body = "青石市灯塔管理站成立于1998年，站长是王海峰。\n\n全市共有灯塔17座。"
    engine.build([make_article("lights", body, title="青石市灯塔（虚构）")])
    answer = engine.ask("青石市灯塔管理站的站长是谁？")
    assert answer.span is not None and answer.span.text == "王海峰"
    builder = engine._answer_builder(engine._generation)
    same_year = dataclasses.replace(answer, question="Who headed the station founded in 1998?")
    assert builder.reasons_against(same_year) == ()
    other_year = dataclasses.replace(answer, question="Who headed the station in 2005?")
    (reason,) = builder.reasons_against(other_year)
    assert "2005" in reason
