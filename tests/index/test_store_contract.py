"""One contract every backend passes (as haystack's document-store test mixins): the local
segments and Milvus (milvus-lite, a file in a temp dir) run the same tests; each backend only
provides the engine. The protocols are checked with isinstance here, so being
@runtime_checkable is not decoration."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import Engine, EngineOptions, HashEmbedder, IndexFolder, MilvusConfig, MilvusConnection
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
