"""Reading-comprehension files: loading SQuAD-style sets and CMRC 2018's span metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus import Article
from index import Engine, HashEmbedder, IndexFolder
from index.comprehension import (
    contains_gold,
    evaluate_comprehension,
    is_squad_file,
    load_comprehension_sets,
    span_exact,
    span_f1,
)

CONTEXT = "某某铁路是一条连接甲地和乙地的铁路，全长300公里，如计入支线，全长420公里。该铁路于2001年通车，由王五主持设计。"


def _write(path: Path, qas: list[dict], context: str = CONTEXT) -> Path:
    path.write_text(
        json.dumps(
            {"data": [{"title": "某某铁路", "paragraphs": [{"context": context, "qas": qas}]}]},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return path


def test_cmrc_exact_match_ignores_punctuation_and_case():
    assert span_exact("《红楼梦》", ["红楼梦"]) == 1.0
    assert span_exact("ABC", ["abc"]) == 1.0
    assert span_exact("红楼", ["红楼梦"]) == 0.0


def test_cmrc_f1_is_character_level_and_best_over_golds():
    assert span_f1("红楼", ["红楼梦"]) == pytest.approx(0.8)
    assert span_f1("红楼梦", ["西游记", "红楼梦"]) == 1.0
    assert span_f1("", ["红楼梦"]) == 0.0
    # English runs count as words, not characters
    assert span_f1("New York", ["New York City"]) == pytest.approx(0.8)


def test_contains_gold():
    assert contains_gold("全长300公里，如计入支线。", ["300公里"])
    assert not contains_gold("全长420公里。", ["300公里"])


def test_loading_shares_articles_across_files_and_skips_empty_questions(tmp_path):
    a = _write(
        tmp_path / "a.json",
        [
            {"id": "q1", "question": "该铁路哪一年通车？", "answers": [{"text": "2001年"}]},
            {"id": "q2", "question": " ", "answers": [{"text": "x"}]},
        ],
    )
    b = _write(
        tmp_path / "b.json",
        [{"id": "u1", "question": "该铁路的票价是多少？", "answers": [], "is_impossible": True}],
    )
    assert is_squad_file(a) and not is_squad_file(tmp_path / "missing.jsonl")
    reading = load_comprehension_sets([a, b])
    assert len(reading.articles) == 1 and reading.articles[0].title == "某某铁路"
    assert [q.id for q in reading.questions] == ["q1", "u1"]
    assert reading.questions[0].answerable and not reading.questions[1].answerable
    assert {q.article_id for q in reading.questions} == {reading.articles[0].id}


def test_not_a_squad_file_is_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": 3}', encoding="utf-8")
    with pytest.raises(ValueError, match="SQuAD"):
        load_comprehension_sets([bad])


def test_evaluate_reading_scores_spans_and_sentences(tmp_path):
    path = _write(
        tmp_path / "set.json",
        [
            {"id": "q1", "question": "某某铁路于哪一年通车？", "answers": [{"text": "2001年"}]},
            {"id": "q2", "question": "某某铁路由谁主持设计？", "answers": [{"text": "王五"}]},
        ],
    )
    reading = load_comprehension_sets([path])
    engine = Engine(store=IndexFolder(tmp_path / "index"), embedder=HashEmbedder())
    engine.build(list(reading.articles))
    report = evaluate_comprehension(reading.questions, engine.ask)
    assert report.answerable == 2 and report.hit_at_1 == 1.0
    assert report.sentence_accuracy == 1.0
    assert report.span_em == 1.0 and report.span_short["n"] == 2
    dumped = json.loads(report.model_dump_json(by_alias=True))
    for key in ("sentence_accuracy", "span_em", "span_f1", "false_abstention_rate", "hit@1"):
        assert 0.0 <= dumped[key] <= 1.0


def test_span_is_bold_in_the_sentence_and_in_the_lead(tmp_path):
    engine = Engine(store=IndexFolder(tmp_path / "index"), embedder=HashEmbedder())
    engine.build([Article(id="rail", title="某某铁路", body=CONTEXT)])
    answer = engine.ask("某某铁路由谁主持设计？")
    assert answer.span is not None and answer.span.text == "王五"
    first = answer.sentences[0]
    assert [first.text[s:e] for s, e in first.highlights] == ["王五"]
    assert answer.lead == "答：王五[1]"
    assert answer.span.text in answer.citations[0].passage.text


def test_two_figures_of_one_metric_with_their_qualifiers(tmp_path):
    engine = Engine(store=IndexFolder(tmp_path / "index"), embedder=HashEmbedder())
    engine.build([Article(id="rail", title="某某铁路", body=CONTEXT)])
    answer = engine.ask("某某铁路全长多少公里？")
    shown = [(af.figure.text, af.qualifier) for af in answer.figures]
    assert shown == [("300公里", ""), ("420公里", "如计入支线")]
    assert "420公里（如计入支线）[1]" in answer.lead


def test_a_forged_span_is_refused(tmp_path):
    import dataclasses

    from index import UnsupportedFigureError, verify_answer

    engine = Engine(store=IndexFolder(tmp_path / "index"), embedder=HashEmbedder())
    engine.build([Article(id="rail", title="某某铁路", body=CONTEXT)])
    answer = engine.ask("某某铁路由谁主持设计？")
    assert answer.span is not None
    verify_answer(answer)
    forged = dataclasses.replace(answer, span=dataclasses.replace(answer.span, text="李四"))
    with pytest.raises(UnsupportedFigureError):
        verify_answer(forged)
