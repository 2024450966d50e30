"""The Milvus backend against the real engine embedded (milvus-lite 2.5, a file in a temp dir):
build, ask, add, remove, rollback, crashes, migrate, mismatches and a lost connection."""

from __future__ import annotations

import pytest

from index import (
    Engine,
    EngineOptions,
    HashEmbedder,
    IndexFolder,
    IndexMismatchError,
    MilvusConfig,
    MilvusConnection,
    MilvusUnavailableError,
)
from index.stores.folder import FAISS_NAME
from index.stores.milvus import MilvusGeneration
from tests.conftest import make_article

pytest.importorskip("milvus_lite")

A = make_article("a", "株洲数字经济规模1118亿元，占GDP比重达42%。\n\n株洲有软件企业164家。")
B = make_article("b", "湘潭新闻：测试文章，纯属虚构。\n\n湘潭有虚构企业12家。")
C = make_article("c", "衡阳新闻：测试文章，纯属虚构。\n\n衡阳有虚构灯塔7座。")


def _engine(tmp_path, *, store: str = "milvus", embedder=None, uri=None) -> Engine:  # type: ignore[no-untyped-def]
    conn = MilvusConnection(MilvusConfig(uri=uri or str(tmp_path / "milvus.db")))
    return Engine(
        store=IndexFolder(tmp_path / "index", milvus=conn),
        embedder=embedder or HashEmbedder(),
        options=EngineOptions(store=store),
    )


def _texts(engine: Engine, question: str) -> list[str]:
    return [h.passage.text for h in engine.search(question).hits]


def _rows(engine: Engine, kind: str = "units") -> int:
    gen = engine._generation
    assert isinstance(gen, MilvusGeneration)
    passages, units = gen.conn.names(gen.manifest.collection)
    name = units if kind == "units" else passages
    return gen.conn.count(name, "pid >= 0")


def test_build_ask_add_remove_on_milvus(tmp_path):
    from index.stores.milvus import LITE_LOG_DIR, OPERATOR_GLOG_DIR

    engine = _engine(tmp_path)
    engine.build([A])
    if not OPERATOR_GLOG_DIR:  # the engine's log files beside its database, not in /tmp
        assert any((tmp_path / LITE_LOG_DIR).glob("milvus*"))
    gen = engine._generation
    assert isinstance(gen, MilvusGeneration) and gen.manifest.store == "milvus"
    assert not (gen.folder / FAISS_NAME).exists()  # vectors and postings are in Milvus
    assert _texts(engine, "株洲软件企业有多少家")[0] == "株洲有软件企业164家。"
    answer = engine.ask("株洲有多少家软件企业？")
    assert not answer.abstained and "164" in answer.lead
    a_ids = {pid for pid, _ in gen.article_passages("a")}
    units = _rows(engine)

    engine.add([B])  # written into the same lineage: only B's rows are new
    gen2 = engine._generation
    assert gen2.manifest.collection == gen.manifest.collection
    assert {pid for pid, _ in gen2.article_passages("a")} == a_ids  # stable ids
    assert _rows(engine) > units
    assert _texts(engine, "湘潭虚构企业")[0] == "湘潭有虚构企业12家。"

    engine.remove(["a"])
    assert set(engine._generation.articles) == {"b"}
    hits = engine.search("株洲软件企业有多少家").hits
    assert all(h.article.id == "b" for h in hits)  # removed passages never come back
    assert engine._generation.lexical_search.search("株洲 软件", k=5) == {}


def test_a_full_build_writes_a_new_lineage_and_drops_unused_ones(tmp_path):
    engine = _engine(tmp_path)
    engine.build([A])
    first = engine._generation.manifest.collection
    engine.build([A, B], force=True)
    second = engine._generation.manifest.collection
    assert first != second
    conn = engine.store.milvus
    names = set(conn.call(lambda c: c.list_collections()))
    assert {f"{second}_passages", f"{second}_units"} <= names
    engine.store.keep = 1
    engine.store.prune()
    names = set(conn.call(lambda c: c.list_collections()))
    assert not any(n.startswith(first) for n in names)


def test_migrate_round_trip_gives_the_same_answers(tmp_path):
    emb = HashEmbedder()
    local = _engine(tmp_path, store="local", embedder=emb)
    local.build([A, B])
    questions = ["株洲数字经济规模是多少？", "湘潭有多少家虚构企业？", "株洲软件企业"]
    before = [local.ask(q) for q in questions]
    report = local.migrate("milvus")
    assert isinstance(local._generation, MilvusGeneration) and report.passages_total == 4
    on_milvus = [local.ask(q) for q in questions]
    local.migrate("local")
    assert local._generation.manifest.store == "local"
    after = [local.ask(q) for q in questions]
    for x, y, z in zip(before, on_milvus, after, strict=True):
        assert x.lead == z.lead and [c.pid for c in x.citations] == [c.pid for c in z.citations]
        assert y.citations[0].pid == x.citations[0].pid
    with pytest.raises(LookupError, match="already on local"):
        local.migrate("local")


def test_collections_from_another_model_are_refused(tmp_path):
    _engine(tmp_path).build([A])
    other = _engine(tmp_path, embedder=HashEmbedder(name="other/model"))
    with pytest.raises(IndexMismatchError, match="other/model"):
        other._generation  # noqa: B018
    # a manifest that lies about its collection's model is refused too
    engine = _engine(tmp_path)
    gen = engine._generation
    manifest = gen.folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"dim": 64', '"dim": 32'))
    with pytest.raises(IndexMismatchError, match="64 dimensions"):
        _engine(tmp_path).load()


def test_unreachable_milvus_names_the_uri(tmp_path):
    engine = _engine(tmp_path, uri="http://127.0.0.1:9")
    engine.options = EngineOptions(store="milvus")
    engine.store.milvus = MilvusConnection(MilvusConfig(uri="http://127.0.0.1:9", timeout=2))
    with pytest.raises(MilvusUnavailableError, match=r"http://127\.0\.0\.1:9"):
        engine.build([A])
    assert engine.store.current_number() is None


def test_a_start_with_milvus_configured_and_unreachable_is_an_error_not_a_fallback(tmp_path):
    local = _engine(tmp_path, store="local")
    local.build([A])  # an index that could still serve, from local files
    engine = _engine(tmp_path, uri="http://127.0.0.1:9")
    engine.store.milvus = MilvusConnection(MilvusConfig(uri="http://127.0.0.1:9", timeout=2))
    with pytest.raises(MilvusUnavailableError, match=r"http://127\.0\.0\.1:9"):
        engine.check_backend()
    local.check_backend()  # nothing to reach for local files


def test_a_lost_connection_fails_one_question_and_the_next_reconnects(tmp_path):
    engine = _engine(tmp_path)
    engine.build([A])
    conn = engine.store.milvus
    conn.client.close()  # the connection drops under a serving engine
    with pytest.raises(MilvusUnavailableError, match=r"milvus\.db"):
        engine.ask("株洲有多少家软件企业？")
    answer = engine.ask("株洲有多少家软件企业？")
    assert "164" in answer.lead


def test_milvus_bm25_on_the_index_tokens_gives_the_local_scores(tmp_path):
    engine = _engine(tmp_path, store="local")
    engine.build([A, B, C])
    questions = ["株洲有多少家软件企业？", "湘潭 虚构 企业", "灯塔", "Zhuzhou software"]
    local = [engine._generation.lexical_search.search(q, k=5) for q in questions]
    engine.migrate("milvus")
    milvus = [engine._generation.lexical_search.search(q, k=5) for q in questions]
    assert any(local)
    for a, b in zip(local, milvus, strict=True):
        assert a.keys() == b.keys()
        assert all(abs(a[p] - b[p]) < 1e-4 * max(1.0, a[p]) for p in a)
