"""One contract every backend passes (as haystack's document-store test mixins): the local
segments and Milvus (milvus-lite, a file in a temp dir) run the same tests; each backend only
provides the engine. The protocols are checked with isinstance here, so being
@runtime_checkable is not decoration. The article store sits under the same contract: what
the index serves is kept there, whichever backend serves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import (
    ChangeRefusedError,
    Engine,
    EngineOptions,
    HashEmbedder,
    IndexCorruptError,
    IndexFolder,
    IndexMismatchError,
    MilvusConfig,
    MilvusConnection,
)
from index.stores.layout import SQLITE_NAME
from index.stores.protocols import DenseIndex, IndexWriter, LexicalSearch, PassageStore
from tests.conftest import make_article

A = make_article("a", "株洲数字经济规模1118亿元，占GDP比重达42%。\n\n株洲有软件企业164家。")
B = make_article("b", "湘潭新闻：测试文章，纯属虚构。\n\n湘潭有虚构企业12家。")
C = make_article("c", "衡阳新闻：测试文章，纯属虚构。\n\n衡阳有虚构灯塔7座。")


@pytest.fixture(params=["local", "milvus"])
def backend(request):  # type: ignore[no-untyped-def]
    if request.param == "milvus":
        pytest.importorskip("milvus_lite")
    return request.param


def _engine(root: Path, backend: str) -> Engine:
    conn = MilvusConnection(MilvusConfig(uri=str(root / "milvus.db")))
    return Engine(
        store=IndexFolder(root / "index", milvus=conn),
        embedder=HashEmbedder(),
        options=EngineOptions(store=backend),
    )


def _articles_found(engine: Engine, question: str) -> set[str]:
    return {h.article.id for h in engine.search(question).hits}


def test_the_served_generation_and_the_writer_keep_the_protocols(tmp_path, backend):
    engine = _engine(tmp_path, backend)
    engine.build([A])
    gen = engine._generation
    assert isinstance(gen, PassageStore) and gen.manifest.store == backend
    assert isinstance(gen.dense, DenseIndex) and isinstance(gen.lexical_search, LexicalSearch)
    writer = engine._writer(gen)
    try:
        assert isinstance(writer, IndexWriter)
    finally:
        writer.abort()


def test_build_add_and_remove_keep_ids_and_never_show_removed_passages(tmp_path, backend):
    engine = _engine(tmp_path, backend)
    engine.build([A])
    a_ids = {pid for pid, _ in engine._generation.article_passages("a")}
    engine.add([B])
    assert {pid for pid, _ in engine._generation.article_passages("a")} == a_ids
    assert engine.search("湘潭虚构企业").hits[0].article.id == "b"
    engine.remove(["a"])
    assert set(engine._generation.articles) == {"b"}
    assert _articles_found(engine, "株洲软件企业有多少家") <= {"b"}


def test_a_crash_before_the_switch_leaves_the_previous_generation_serving(
    tmp_path, backend, monkeypatch
):
    engine = _engine(tmp_path, backend)
    engine.build([A])

    def die(number: int) -> None:
        raise KeyboardInterrupt("power cut after writing, before CURRENT was switched")

    monkeypatch.setattr(engine.store, "switch", die)
    with pytest.raises(KeyboardInterrupt):
        engine.add([B])
    monkeypatch.undo()
    fresh = _engine(tmp_path, backend)
    assert fresh.store.current_number() == 1 and set(fresh._generation.articles) == {"a"}
    assert "b" not in _articles_found(fresh, "湘潭虚构企业")  # what was written is not seen
    fresh.add([C])  # the next build carries on past the orphaned generation
    assert set(fresh._generation.articles) == {"a", "c"}
    assert "b" not in _articles_found(fresh, "湘潭虚构企业")


def test_rollback_serves_the_previous_generation_and_builds_on_from_it(tmp_path, backend):
    engine = _engine(tmp_path, backend)
    engine.build([A])
    engine.add([B])
    assert engine.rollback() == 1
    assert set(engine._generation.articles) == {"a"}
    assert set(_engine(tmp_path, backend)._generation.articles) == {"a"}
    engine.add([C])  # on generation 1: what generation 2 added is not carried over
    assert set(engine._generation.articles) == {"a", "c"}
    assert "b" not in _articles_found(engine, "湘潭虚构企业")


def test_a_changed_article_replaces_its_passages_and_is_kept_in_the_article_store(
    tmp_path, backend
):
    engine = _engine(tmp_path, backend)
    engine.build([A, B])
    b_ids = {pid for pid, _ in engine._generation.article_passages("b")}
    report = engine.add([make_article("a", "株洲数字经济规模1200亿元。")])
    assert report.replaced == ("a",)
    texts = [p.text for _, p in engine._generation.article_passages("a")]
    assert texts == ["株洲数字经济规模1200亿元。"]
    assert {pid for pid, _ in engine._generation.article_passages("b")} == b_ids
    assert "软件企业164家" not in " ".join(h.passage.text for h in engine.search("软件企业").hits)
    # what an editor adds is kept in the article store whichever backend serves it (b was
    # built from the corpus, whose files are its source)
    restarted = _engine(tmp_path, backend)
    kept = {s.article.id: s.article.body for s in restarted.article_store.all() if s.live}
    assert kept.keys() == {"a"} and "1200亿元" in kept["a"]


def test_merge_compacts_or_refuses_and_never_changes_what_is_served(tmp_path, backend):
    engine = _engine(tmp_path, backend)
    engine.build([A])
    engine.add([B])
    engine.remove(["a"])
    before = {pid: p.text for pid, p in engine._generation.article_passages("b")}
    if engine._writer(engine._generation).compacts:
        engine.merge()
    else:
        with pytest.raises(ChangeRefusedError):
            engine.merge()
    assert set(engine._generation.articles) == {"b"}
    assert {pid: p.text for pid, p in engine._generation.article_passages("b")} == before
    assert engine.search("湘潭虚构企业").hits[0].article.id == "b"


def test_a_corrupt_file_is_refused_by_name(tmp_path, backend):
    _engine(tmp_path, backend).build([A])
    victim = next(iter(sorted((tmp_path / "index").rglob(SQLITE_NAME))))  # passages, figures
    with victim.open("r+b") as f:
        f.seek(100)
        f.write(b"garbage")
    with pytest.raises(IndexCorruptError, match=str(victim)):
        _engine(tmp_path, backend)._generation  # noqa: B018


def test_a_model_that_does_not_match_the_index_is_refused(tmp_path, backend):
    _engine(tmp_path, backend).build([A])
    other = _engine(tmp_path, backend)
    other.embedder = HashEmbedder(name="other/model")
    with pytest.raises(IndexMismatchError, match="other/model"):
        other._generation  # noqa: B018


def test_both_backends_find_the_same_passages(tmp_path):
    pytest.importorskip("milvus_lite")
    found = {}
    for backend in ("local", "milvus"):
        engine = _engine(tmp_path / backend, backend)
        engine.build([A, B, C])
        found[backend] = [
            [h.passage.text for h in engine.search(q).hits[:2]]
            for q in ("株洲软件企业有多少家", "湘潭虚构企业", "衡阳灯塔")
        ]
    assert found["local"] == found["milvus"]
