"""Index generations, incremental changes and failure handling, with the fake embedder."""

from __future__ import annotations

import json

import pytest

from corpus import Article
from index import (
    BuildLockedError,
    ChangeRefusedError,
    EmptyQuestionError,
    Engine,
    HashEmbedder,
    IndexCorruptError,
    IndexFolder,
    IndexMismatchError,
    IndexMissingError,
)
from index.stores.folder import FAISS_NAME, MANIFEST_NAME, SQLITE_NAME
from tests.conftest import CountingEmbedder, make_article

A = make_article("a", "株洲数字经济规模1118亿元，占GDP比重达42%。\n\n株洲有软件企业164家。")
B = make_article("b", "湘潭新闻：测试文章，纯属虚构。\n\n湘潭有虚构企业12家。")


class ExplodingEmbedder(HashEmbedder):
    def embed_passages(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("simulated crash while embedding")


def _engine(tmp_path, embedder=None) -> Engine:  # type: ignore[no-untyped-def]
    return Engine(store=IndexFolder(tmp_path / "index"), embedder=embedder or HashEmbedder())


def _pids(engine: Engine) -> dict[str, int]:
    gen = engine._generation
    return {p.text: pid for pid, p in (x for a in gen.articles for x in gen.article_passages(a))}


def test_build_then_search_cites_passages(tmp_path):
    engine = _engine(tmp_path)
    report = engine.build([A, B])
    assert report.generation == 1 and report.added == ("a", "b")
    result = engine.search("株洲软件企业有多少家")
    assert result.hits[0].passage.text == "株洲有软件企业164家。"
    assert result.hits[0].article.id == "a"
    assert result.hits[0].citation().endswith("第2段")


def test_add_embeds_only_new_passages_and_keeps_ids(tmp_path):
    emb = CountingEmbedder()
    engine = _engine(tmp_path, emb)
    engine.build([A])
    before = _pids(engine)
    emb.embedded.clear()
    report = engine.add([A, B])
    assert report.added == ("b",) and report.skipped == ("a",)
    assert all("湘潭" in t for t in emb.embedded)
    after = _pids(engine)
    assert {t: after[t] for t in before} == before


def test_add_tokenizes_only_new_passages_and_bm25_matches_a_fresh_build(tmp_path, monkeypatch):
    import index.stores.writer

    seen: list[str] = []
    real = dict(index.stores.writer.TOKENIZERS)

    def counting(text: str) -> list[str]:
        seen.append(text)
        return real["jieba+bigram"](text)

    monkeypatch.setitem(index.stores.writer.TOKENIZERS, "jieba+bigram", counting)
    monkeypatch.setattr("index.stores.segment_writer.DEAD_SHARE_REBUILD", 1.0)  # no merge here
    engine = _engine(tmp_path)
    engine.build([A])
    assert len(seen) == 2  # A's two passages, once
    seen.clear()
    engine.add([B])
    assert seen and all("湘潭" in t for t in seen)
    engine.remove(["a"])
    engine.add([A])
    fresh = _engine(tmp_path / "fresh")
    fresh.build([B, A])
    question = "株洲有软件企业多少家"

    def lexical(e: Engine) -> dict[str, float]:
        gen = e._generation
        pids = [int(p) for p in gen.pids]
        scores = gen.lexical_search.search(question, k=len(pids), include=pids)
        texts = gen.passages(pids)
        return {texts[p].text: s for p, s in scores.items()}

    # three segments (A, then B, then A again) with A's first passages deleted score as one
    # index over the live passages
    assert len(engine._generation.segments) == 3
    assert lexical(engine) == pytest.approx(lexical(fresh))
    assert max(lexical(engine).values()) > 0


def test_unchanged_add_changes_nothing(tmp_path):
    engine = _engine(tmp_path)
    engine.build([A])
    report = engine.add([A])
    assert report.skipped == ("a",) and report.generation == 1
    assert engine.store.current_number() == 1


def test_duplicate_under_another_id_is_skipped(tmp_path):
    engine = _engine(tmp_path)
    engine.build([A])
    copy = Article(id="a-copy", title="copy", body=A.body)
    report = engine.add([copy])
    assert report.skipped == ("a-copy",)
    assert set(engine._generation.articles) == {"a"}


def test_replace_and_remove(tmp_path):
    engine = _engine(tmp_path)
    engine.build([A, B])
    b_ids = {pid for pid, _ in engine._generation.article_passages("b")}
    changed = make_article("a", "株洲数字经济规模1200亿元。")
    report = engine.add([changed])
    assert report.replaced == ("a",)
    assert [p.text for _, p in engine._generation.article_passages("a")] == [
        "株洲数字经济规模1200亿元。"
    ]
    assert {pid for pid, _ in engine._generation.article_passages("b")} == b_ids
    engine.remove(["a"])
    assert set(engine._generation.articles) == {"b"}
    with pytest.raises(ChangeRefusedError, match="no article with id zz"):
        engine.remove(["zz"])


def test_crash_while_building_leaves_previous_generation_serving(tmp_path):
    engine = _engine(tmp_path)
    engine.build([A])
    broken = Engine(store=IndexFolder(tmp_path / "index"), embedder=ExplodingEmbedder())
    with pytest.raises(RuntimeError, match="simulated crash"):
        broken.add([B])
    assert engine.store.current_number() == 1
    assert not [
        p for p in (tmp_path / "index" / "generations").iterdir() if p.name.startswith(".tmp")
    ]
    fresh = _engine(tmp_path)
    assert set(fresh._generation.articles) == {"a"}


def _assert_corruption_named(tmp_path, victim: str, at: int) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "index" / "segments" / "s000001" / victim
    with path.open("r+b") as f:
        f.seek(at)
        f.write(b"garbage")
    with pytest.raises(IndexCorruptError) as err:
        _engine(tmp_path)._generation  # noqa: B018
    assert str(path) in str(err.value) and "shuzi index build" in str(err.value)


@pytest.mark.parametrize("victim", [FAISS_NAME, SQLITE_NAME, "lexical/shuzi-lexical.json"])
def test_corrupt_file_is_named_in_the_error(tmp_path, victim):
    _engine(tmp_path).build([A])
    _assert_corruption_named(tmp_path, victim, 10)


@pytest.mark.parametrize("victim", ["vectors.f16", "vector-ids.npy"])
def test_corrupt_rescoring_file_is_named_in_the_error(tmp_path, victim):
    """The vectors an approximate index re-scores on, and their ids, are checked like the
    rest of a segment."""
    from index import EngineOptions

    engine = Engine(
        store=IndexFolder(tmp_path / "index"),
        embedder=HashEmbedder(),
        options=EngineOptions(faiss_index="LSH64rt+fp16"),
    )
    long = make_article(
        "long", "\n\n".join(f"第{i}段：株洲第{i}家企业产值{i}亿元。" for i in range(80))
    )
    engine.build([A, long])  # enough units to train the LSH thresholds
    assert engine._generation.manifest.faiss_index == "LSH64rt+fp16"
    _assert_corruption_named(tmp_path, victim, 130)


def test_unreadable_manifest(tmp_path):
    engine = _engine(tmp_path)
    engine.build([A])
    (tmp_path / "index" / "generations" / "g000001" / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(IndexCorruptError, match=MANIFEST_NAME):
        _engine(tmp_path)._generation  # noqa: B018


def test_model_mismatch_says_how_to_rebuild(tmp_path):
    _engine(tmp_path).build([A])
    other = _engine(tmp_path, HashEmbedder(name="other/model"))
    with pytest.raises(IndexMismatchError) as err:
        other._generation  # noqa: B018
    message = str(err.value)
    assert "fake/hash-bigram" in message and "other/model" in message
    assert "shuzi index build" in message


def test_missing_index(tmp_path):
    with pytest.raises(IndexMissingError, match="shuzi index build"):
        _engine(tmp_path)._generation  # noqa: B018


def test_manifest_records_what_built_the_index(tmp_path):
    engine = _engine(tmp_path)
    engine.build([A])
    manifest = json.loads(
        (tmp_path / "index" / "generations" / "g000001" / MANIFEST_NAME).read_text()
    )
    assert manifest["model"] == "fake/hash-bigram" and manifest["dim"] == 64
    assert manifest["counts"]["articles"] == 1 and manifest["counts"]["passages"] == 2
    assert manifest["segments"] == ["s000001"] and "segment:s000001" in manifest["files"]
    segment = json.loads((tmp_path / "index" / "segments" / "s000001" / MANIFEST_NAME).read_text())
    assert set(segment["files"]) >= {SQLITE_NAME, FAISS_NAME}


def test_questions_are_checked(tmp_path):
    engine = _engine(tmp_path)
    engine.build([A])
    with pytest.raises(EmptyQuestionError):
        engine.search("   \n ")
    result = engine.search("株洲" * 5000)
    assert result.question.truncated_from == 10000
    assert len(result.question.text) == 300
    assert result.notices and "10000" in result.notices[0]


def test_old_generations_are_pruned(tmp_path):
    engine = _engine(tmp_path)
    engine.store.keep = 2
    for i in range(4):
        engine.add([make_article(f"x{i}", f"第{i}篇测试文章的正文。")])
    assert engine.store.generation_numbers() == [3, 4]


def test_full_build_recovers_from_a_broken_or_mismatched_index(tmp_path):
    _engine(tmp_path).build([A])
    (tmp_path / "index" / "segments" / "s000001" / FAISS_NAME).write_bytes(b"broken")
    with pytest.raises(IndexCorruptError):
        _engine(tmp_path).add([B])  # incremental work needs a sound index
    report = _engine(tmp_path).build([A, B])  # the fix the error message names
    assert report.generation == 2
    other = _engine(tmp_path, HashEmbedder(name="other/model"))
    rebuilt = other.build([A])  # b is in no source, but an index that cannot be served
    assert rebuilt.generation == 3  # still gives it up to the rebuild: nothing dropped
    assert set(other._generation.articles) == {"a", "b"} and rebuilt.removed == ()
    pruned = other.build([A], prune=True)
    assert set(other._generation.articles) == {"a"} and pruned.removed == ("b",)


def test_build_of_an_unchanged_corpus_writes_nothing_unless_forced(tmp_path):
    engine = _engine(tmp_path)
    engine.build([A, B])
    again = engine.build([B, A])
    assert again.generation == 1 and set(again.skipped) == {"a", "b"}
    assert engine.build([A]).generation == 1  # b is in no source now, but kept (adopted)
    assert engine.build([A], prune=True).generation == 2  # unless pruned: a new generation
    assert engine.build([A], force=True).generation == 3
    assert engine.reindex().generation == 4  # /reindex always rebuilds


def test_readers_are_served_from_the_old_generation_while_a_build_runs(tmp_path):
    import threading
    import time as clock

    class SlowEmbedder(HashEmbedder):
        def embed_passages(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
            started.set()
            release.wait(10)
            return super().embed_passages(texts, progress=progress)

    started, release = threading.Event(), threading.Event()
    engine = _engine(tmp_path)
    engine.build([A])
    slow = Engine(store=engine.store, embedder=SlowEmbedder())
    slow.load()
    builder = threading.Thread(target=slow.add, args=([B],))
    builder.start()
    assert started.wait(10)
    t0 = clock.perf_counter()
    result = slow.search("株洲软件企业有多少家")  # the build holds the lock, readers do not wait
    assert clock.perf_counter() - t0 < 2 and result.generation == 1
    with pytest.raises(BuildLockedError):
        engine.add([make_article("c", "另一篇测试文章。")])  # one build at a time
    release.set()
    builder.join(10)
    assert slow._generation.number == 2 and set(slow._generation.articles) == {"a", "b"}


def test_term_weights_from_stored_tokens_equal_those_from_the_texts(tmp_path):
    from index.text.questions import TermWeights

    engine = _engine(tmp_path)
    engine.build([A, B])
    gen = engine._generation
    texts = [r[0] for r in gen.query("SELECT search_text FROM passages")]
    from_texts, from_tokens = TermWeights(texts), TermWeights(words=gen.passage_words())
    assert from_tokens.n == from_texts.n == 4
    assert from_tokens.df == from_texts.df and from_texts.df["株洲"] == 2


def test_a_generation_built_before_tokens_were_stored_still_gives_words(tmp_path):
    import sqlite3

    from index.stores.segment_reader import SegmentReader

    engine = _engine(tmp_path)
    engine.build([A])
    gen = engine._generation
    expected = list(gen.passage_words())
    segment = gen.segments[0]
    with sqlite3.connect(segment.folder / SQLITE_NAME) as db:
        db.execute("DROP TABLE lexical_tokens")
    old = SegmentReader(segment.folder, segment.manifest)
    assert [set(w) for w in old.passage_words()] == [set(w) for w in expected]


def test_figure_conflicts_name_each_metric_once_and_other_articles_only(tmp_path):
    engine = _engine(tmp_path)
    first = make_article("first", "株洲数字经济规模1118亿元。株洲软件企业有164家。")
    many = "。".join(f"株洲数字经济规模{1000 + i}亿元" for i in range(300)) + "。"
    engine.build([first, make_article("second", many)])
    lines = engine.figure_conflicts("second")
    assert lines == ["数字经济规模: 1000亿元 ≠ 1118亿元 (first/p1)"]
    assert engine.figure_conflicts("first") == ["数字经济规模: 1118亿元 ≠ 1000亿元 (second/p1)"]
