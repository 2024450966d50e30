"""An interrupted build resumes without embedding again what it had embedded; the dense index
chosen by size."""

from __future__ import annotations

import pytest

from index import Engine, IndexFolder
from index.stores.embed_cache import CACHE_NAME, EmbeddingCache
from tests.conftest import CountingEmbedder, make_article


class InterruptedEmbedder(CountingEmbedder):
    """Embeds `allowed` chunks, then the process is interrupted (Ctrl-C)."""

    def __init__(self, allowed: int) -> None:
        super().__init__()
        self.allowed = allowed

    def embed_passages(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
        if self.allowed == 0:
            raise KeyboardInterrupt
        self.allowed -= 1
        return super().embed_passages(texts, progress=progress)


def _articles(n: int) -> list:
    return [
        make_article(
            f"a{i}",
            "\n\n".join(f"第{i}篇第{j}段讲的是编号{i * 100 + j}的事情。" for j in range(60)),
        )
        for i in range(n)
    ]


def test_interrupted_build_resumes_from_the_embedding_cache(tmp_path, monkeypatch):
    monkeypatch.setattr("index.search.batch.CACHE_CHUNK", 100)
    articles = _articles(5)  # 300 passages, one unit each: three chunks of 100
    store = IndexFolder(tmp_path / "index")
    first = InterruptedEmbedder(allowed=2)
    with pytest.raises(KeyboardInterrupt):
        Engine(store=store, embedder=first).build(articles)
    assert len(first.embedded) == 200 and store.current_number() is None
    cache = EmbeddingCache(store.root / CACHE_NAME, model=first.name, dim=first.dim)
    assert len(cache) == 200
    cache.close()

    second = CountingEmbedder()
    report = Engine(store=store, embedder=second).build(articles)
    assert len(second.embedded) == 100  # only what the first build had not done
    assert report.passages_total == 300
    cache = EmbeddingCache(store.root / CACHE_NAME, model=second.name, dim=second.dim)
    assert len(cache) == 0  # emptied once the generation is committed
    cache.close()


def test_resumed_vectors_are_the_same_as_fresh_ones(tmp_path, monkeypatch):
    monkeypatch.setattr("index.search.batch.CACHE_CHUNK", 100)
    articles = _articles(2)
    resumed = IndexFolder(tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        Engine(store=resumed, embedder=InterruptedEmbedder(allowed=1)).build(articles)
    a = Engine(store=resumed, embedder=CountingEmbedder())
    a.build(articles)
    b = Engine(store=IndexFolder(tmp_path / "fresh"), embedder=CountingEmbedder())
    b.build(articles)
    question = "编号105的事情"
    assert [h.passage.text for h in a.search(question).hits] == [
        h.passage.text for h in b.search(question).hits
    ]


def test_auto_dense_index_is_exact_while_small_and_rescored_lsh_beyond(tmp_path, monkeypatch):
    import faiss
    import numpy as np

    from index import EngineOptions
    from index.stores.layout import RESCORE_IDS, RESCORE_VECTORS

    articles = _articles(2)  # 120 units
    small = Engine(store=IndexFolder(tmp_path / "small"), embedder=CountingEmbedder())
    small.build(articles)
    assert small._generation.manifest.faiss_index == "Flat"
    monkeypatch.setattr("index.stores.layout.AUTO_EXACT_MAX", 100)
    big = Engine(
        store=IndexFolder(tmp_path / "big"),
        embedder=CountingEmbedder(),
        options=EngineOptions(faiss_index="auto"),
    )
    big.build(articles)
    gen = big._generation
    assert gen.manifest.faiss_index == "LSH512rt+fp16"
    segment = gen.segments[0].folder
    # the FAISS file holds the binary codes only; the vectors it re-scores on, and their
    # unit ids, are files beside it (checksummed like the rest)
    assert isinstance(faiss.downcast_index(gen.faiss), faiss.IndexLSH)
    assert (segment / RESCORE_VECTORS).stat().st_size == 120 * gen.manifest.dim * 2
    ids = np.load(segment / RESCORE_IDS)
    assert len(ids) == 120 and (np.diff(ids) > 0).all()
    assert {RESCORE_VECTORS, RESCORE_IDS} <= set(gen.segments[0].manifest.files)
    hits = big.search("编号105的事情").hits
    assert hits and "编号105" in hits[0].passage.text
    # scores are inner products, as from the exact index
    exact = small.search("编号105的事情").hits
    assert [h.pid for h in hits] == [h.pid for h in exact]
    assert hits[0].dense == pytest.approx(exact[0].dense, abs=1e-3)  # fp16 re-scoring
    # asked for every unit, the re-scored index gives exact search's order and scores
    query = big.embedder.embed_queries(["编号105的事情"])[0]
    got, got_scores = gen.dense.search(query, 120)
    want, want_scores = small._generation.dense.search(query, 120)
    assert sorted(got.tolist()) == sorted(want.tolist())
    assert np.allclose(got_scores, want_scores, atol=1e-3)


def test_faiss_refine_index_is_still_served(tmp_path):
    """A generation whose FAISS file re-scores itself (IndexRefine, the `auto` index before
    the vector file) still loads and searches, with its search parameters applied."""
    import faiss

    from index import EngineOptions

    articles = _articles(2)
    engine = Engine(
        store=IndexFolder(tmp_path / "refine"),
        embedder=CountingEmbedder(),
        options=EngineOptions(faiss_index="LSH512rt,Refine(SQfp16)"),
    )
    engine.build(articles)
    gen = engine.load()
    refine = faiss.downcast_index(faiss.downcast_index(gen.faiss).index)
    assert isinstance(refine, faiss.IndexRefine) and refine.k_factor == 10
    exact = Engine(store=IndexFolder(tmp_path / "exact"), embedder=CountingEmbedder())
    exact.build(articles)
    assert [h.pid for h in engine.search("编号105的事情").hits] == [
        h.pid for h in exact.search("编号105的事情").hits
    ]


def _count_rebuilds(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Records the size of every dense index the writer builds from scratch."""
    from index.stores.writer import GenerationWriter

    rebuilt: list[int] = []
    real_build = GenerationWriter._build_faiss

    def counting(self, n_units):  # type: ignore[no-untyped-def]
        rebuilt.append(n_units)
        return real_build(self, n_units)

    monkeypatch.setattr(GenerationWriter, "_build_faiss", counting)
    return rebuilt


def test_an_add_writes_a_segment_of_its_own_and_a_remove_only_marks_ids(tmp_path, monkeypatch):
    articles = _articles(8)
    fresh = Engine(store=IndexFolder(tmp_path / "fresh"), embedder=CountingEmbedder())
    fresh.build(articles[1:7])
    engine = Engine(store=IndexFolder(tmp_path / "inc"), embedder=CountingEmbedder())
    engine.build(articles[:6])
    rebuilt = _count_rebuilds(monkeypatch)
    engine.add(articles[6:7])
    assert rebuilt == [60]  # the new article's units only, in a segment of their own
    engine.remove(["a0"])  # 60 of 360 live passages deleted: under the merge share
    assert rebuilt == [60]
    gen = engine._generation
    assert len(gen.segments) == 2 and gen.dense_entries == 420 and gen.dense.size == 360
    for question in ("编号105的事情", "编号650的事情", "编号5的事情"):
        assert [h.passage.text for h in engine.search(question).hits] == [
            h.passage.text for h in fresh.search(question).hits
        ]
        assert engine.ask(question).text == fresh.ask(question).text
    engine.remove(["a1"])  # 120 of 300 deleted: over the share, merged without them
    assert rebuilt == [60, 300]
    gen = engine._generation
    assert len(gen.segments) == 1 and gen.faiss.ntotal == 300 and gen.passage_count == 300
    assert "a1" not in gen.articles and engine.load().dense.size == 300


def test_an_add_past_the_segment_limit_merges_the_newest_small_segments(tmp_path, monkeypatch):
    monkeypatch.setattr("index.stores.segment_writer.MAX_SEGMENTS", 3)
    articles = _articles(8)
    engine = Engine(store=IndexFolder(tmp_path / "many"), embedder=CountingEmbedder())
    engine.build(articles[:4])
    for article in articles[4:7]:
        engine.add([article])
    # base 240 + 60 + 60 + 60: the three newest (no smaller together than the one before
    # them) were merged into one
    assert [len(s.pids) for s in engine._generation.segments] == [240, 180]
    engine.add(articles[7:])
    gen = engine._generation
    assert len(gen.segments) <= 3 and gen.passage_count == 480
    assert engine.store.segments.exists() and len(list(engine.store.segments.iterdir())) >= 3
    fresh = Engine(store=IndexFolder(tmp_path / "fresh"), embedder=CountingEmbedder())
    fresh.build(articles)
    for question in ("编号105的事情", "编号650的事情", "编号750的事情"):
        assert [h.pid for h in engine.search(question).hits] == [
            h.pid for h in fresh.search(question).hits
        ]
    assert engine.rollback() == gen.number - 1  # older generations still read their segments
    assert engine._generation.passage_count == 420


def test_an_approximate_index_keeps_removed_vectors_marked_dead(tmp_path, monkeypatch):
    from index import EngineOptions

    monkeypatch.setattr("index.stores.layout.AUTO_EXACT_MAX", 50)
    engine = Engine(
        store=IndexFolder(tmp_path / "hnsw"),
        embedder=CountingEmbedder(),
        options=EngineOptions(faiss_index="auto"),
    )
    articles = _articles(7)
    engine.build(articles[:6])
    rebuilt = _count_rebuilds(monkeypatch)
    engine.remove(["a0"])  # 60 of 360 units: under the merge share
    assert rebuilt == []  # HNSW keeps the removed vectors, marked dead
    gen = engine._generation
    assert gen.manifest.faiss_index == "LSH512rt+fp16"
    assert gen.faiss.ntotal == 360 and gen.dense.size == 300
    hits = engine.search("编号5的事情", k=20).hits
    assert hits and all(h.article.id != "a0" for h in hits)
    engine.remove(["a1"])  # 120 of 360 dead: over the share, merged without them
    assert rebuilt == [240]
    assert engine._generation.faiss.ntotal == 240
    # the generation still opens and verifies like any other
    assert engine.load().dense.size == 240


@pytest.mark.parametrize("factory", ["IVF4,Flat", "LSH512rt+fp16"])
def test_a_full_build_streams_vectors_into_the_dense_index_in_chunks(
    tmp_path, monkeypatch, factory
):
    """Chunked adds (and a sampled training set for an index that needs one) give the index
    a one-shot build gives."""
    from index import EngineOptions

    articles = _articles(4)
    whole = Engine(
        store=IndexFolder(tmp_path / "whole"),
        embedder=CountingEmbedder(),
        options=EngineOptions(faiss_index=factory),
    )
    whole.build(articles)
    monkeypatch.setattr("index.stores.writer.ADD_CHUNK", 7)
    chunked = Engine(
        store=IndexFolder(tmp_path / "chunked"),
        embedder=CountingEmbedder(),
        options=EngineOptions(faiss_index=factory),
    )
    chunked.build(articles)
    assert chunked._generation.faiss.ntotal == whole._generation.faiss.ntotal == 240
    assert chunked._generation.manifest.faiss_index == factory
    for question in ("编号105的事情", "编号250的事情", "编号5的事情"):
        assert [h.pid for h in chunked.search(question).hits] == [
            h.pid for h in whole.search(question).hits
        ]
