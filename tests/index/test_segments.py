"""Generations made of segments: what an add writes, what a crash leaves, what is pruned,
and generations written before segments."""

from __future__ import annotations

import json
import os

import pytest

from index import Engine, IndexFolder
from index.stores.layout import MANIFEST_NAME, WriterOptions
from index.stores.writer import GenerationWriter
from tests.conftest import CountingEmbedder, make_article


def _articles(n: int, start: int = 0) -> list:
    return [
        make_article(
            f"a{i}",
            "\n\n".join(f"第{i}篇第{j}段讲的是编号{i * 100 + j}的事情。" for j in range(20)),
        )
        for i in range(start, start + n)
    ]


def _engine(tmp_path) -> Engine:  # type: ignore[no-untyped-def]
    return Engine(store=IndexFolder(tmp_path / "index"), embedder=CountingEmbedder())


def test_an_add_writes_only_its_own_segment_and_a_small_generation(tmp_path):
    engine = _engine(tmp_path)
    engine.build(_articles(5))
    base = engine.store.segments / "s000001"
    before = {p: p.stat().st_mtime_ns for p in base.rglob("*") if p.is_file()}
    embedder = engine.embedder
    engine.add(_articles(1, start=5))
    assert {p: p.stat().st_mtime_ns for p in base.rglob("*") if p.is_file()} == before
    manifest = json.loads((engine.store.generations / "g000002" / MANIFEST_NAME).read_text())
    assert manifest["segments"] == ["s000001", "s000002"] and manifest["parent"] == 1
    assert manifest["counts"]["passages"] == 120
    assert len(embedder.embedded) == 120  # 100 for the build, 20 for the add
    new = IndexFolder(tmp_path / "index").open()
    assert [len(s.pids) for s in new.segments] == [100, 20]
    assert engine.search("编号510的事情").hits[0].article.id == "a5"


def test_pids_stay_stable_across_adds_removes_and_merges(tmp_path):
    engine = _engine(tmp_path)
    engine.build(_articles(3))
    pids = {pid for pid, _ in engine._generation.article_passages("a2")}
    engine.add(_articles(1, start=3))
    engine.remove(["a0"])  # over the share: merged
    assert len(engine._generation.segments) == 1
    assert {pid for pid, _ in engine._generation.article_passages("a2")} == pids
    engine.add(_articles(1, start=4))
    assert min(pid for pid, _ in engine._generation.article_passages("a4")) > max(pids)


def test_a_build_that_dies_before_its_generation_leaves_no_segment_in_use(tmp_path, monkeypatch):
    engine = _engine(tmp_path)
    engine.build(_articles(2))

    def die(self, draft):  # type: ignore[no-untyped-def]
        for folder, name in draft.segments:  # the segment is in place, the generation not
            os.replace(folder, self.segments / name)
        raise KeyboardInterrupt("power cut after the segment, before the generation")

    monkeypatch.setattr("index.stores.folder.IndexFolder.publish", die)
    with pytest.raises(KeyboardInterrupt):
        engine.add(_articles(1, start=2))
    monkeypatch.undo()
    fresh = _engine(tmp_path)
    assert fresh.store.current_number() == 1 and set(fresh._generation.articles) == {"a0", "a1"}
    assert not [p for p in fresh.store.generations.iterdir() if p.name.startswith(".tmp")]
    fresh.add(_articles(1, start=3))
    # the orphaned segment of the dead build was dropped with the next build's prune
    assert sorted(p.name for p in fresh.store.segments.iterdir()) == ["s000001", "s000003"]


def test_segments_are_kept_while_a_kept_generation_reads_them(tmp_path):
    engine = _engine(tmp_path)
    engine.store.keep = 2
    engine.build(_articles(10))
    for i in range(10, 13):
        engine.add(_articles(1, start=i))
    assert engine.store.generation_numbers() == [3, 4]
    names = sorted(p.name for p in engine.store.segments.iterdir())
    assert names == ["s000001", "s000002", "s000003", "s000004"]  # g3 reads 1-3, g4 1-4
    engine.build(_articles(2), prune=True)  # a full build: one new segment
    engine.add(_articles(1, start=2))
    assert sorted(p.name for p in engine.store.segments.iterdir()) == ["s000005", "s000006"]


def test_a_generation_from_before_segments_is_served_and_carried_on(tmp_path):
    """A generation folder that holds its own files (format 2) is read as one segment; the
    next add copies it into a segment of the new layout."""
    store = IndexFolder(tmp_path / "index")
    embedder = CountingEmbedder()
    seed = Engine(store=IndexFolder(tmp_path / "seed"), embedder=embedder)
    seed.build(_articles(2))
    writer = GenerationWriter(
        store, WriterOptions(embedder.name, embedder.dim, "jieba+bigram", faiss_index="Flat")
    )
    for article in seed._generation.stored_articles():
        passages = [p for _, p in seed._generation.article_passages(article.id)]
        pids = [pid for pid, _ in seed._generation.article_passages(article.id)]
        _, vectors = seed._generation.unit_vectors(pids)
        units = [([p.text], vectors[i : i + 1]) for i, p in enumerate(passages)]
        writer.add_article(article, passages, units)
    store.publish(writer.draft())  # a writer hands back a draft; the index folder serves it
    old = Engine(store=store, embedder=embedder)
    assert not old._generation.manifest.segments
    assert old.search("编号105的事情").hits[0].article.id == "a1"
    old.add(_articles(1, start=2))
    gen = old._generation
    assert gen.manifest.segments and set(gen.articles) == {"a0", "a1", "a2"}
    assert old.search("编号105的事情").hits[0].article.id == "a1"


def test_unchanged_files_are_not_hashed_again_but_a_change_is_caught(tmp_path, monkeypatch):

    from index.stores import folder as store_module
    from index.stores.layout import FAISS_NAME, IndexCorruptError

    engine = _engine(tmp_path)
    engine.build(_articles(3))
    faiss_file = engine.store.segments / "s000001" / FAISS_NAME
    past = faiss_file.stat().st_mtime_ns - 10 * 10**9  # as if written ten seconds ago
    for p in engine.store.root.rglob("*"):
        if p.is_file() and p.name != ".verified.json":
            os.utime(p, ns=(past, past))
    hashed: list[str] = []
    real = store_module.sha256_file

    def counting(path):  # type: ignore[no-untyped-def]
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(store_module, "sha256_file", counting)

    def large_files_only() -> IndexFolder:  # every file counts as large: stamps are trusted
        return IndexFolder(tmp_path / "index", hash_at_start_bytes=0)

    large_files_only().open()  # first open: everything hashed, stamps kept
    assert FAISS_NAME in hashed
    hashed.clear()
    large_files_only().open()
    assert hashed == []  # nothing changed on disk: nothing hashed
    IndexFolder(tmp_path / "index").open()  # by default small files are hashed at every open
    assert "shuzi.sqlite" in hashed and "manifest.json" in hashed
    with faiss_file.open("r+b") as f:  # same size, new content
        f.seek(10)
        f.write(b"garbage")
    with pytest.raises(IndexCorruptError, match=FAISS_NAME):
        large_files_only().open()
    # a change that even restores the old modification time is caught by a full verify
    os.utime(faiss_file, ns=(past, past))
    store = large_files_only()
    with pytest.raises(IndexCorruptError, match=FAISS_NAME):
        store.verify(store.current_number() or 0, full=True)


def test_a_byte_changed_in_sqlite_with_its_time_put_back_is_caught_at_the_next_open(tmp_path):
    """The issue's case: a figure edited inside the SQLite file, the modification time
    restored, was served as truth; small files are hashed at every start."""
    from index.stores.layout import IndexCorruptError

    engine = _engine(tmp_path)
    engine.build([make_article("a", "株洲数字经济规模1118亿元，占GDP比重达42%。")])
    engine._generation  # noqa: B018  (opened once: stamps recorded)
    db = engine.store.segments / "s000001" / "shuzi.sqlite"
    stat = db.stat()
    data = db.read_bytes()
    assert data.count(b"1118") >= 1
    db.write_bytes(data.replace(b"1118", b"1119"))
    os.utime(db, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(IndexCorruptError, match=r"shuzi\.sqlite"):
        IndexFolder(tmp_path / "index").open()


def test_the_background_verify_stops_serving_a_generation_that_fails(tmp_path):
    from index.stores.layout import FAISS_NAME, IndexCorruptError

    engine = _engine(tmp_path)
    engine.build(_articles(2))
    engine.add(_articles(1, start=5))  # generation 2: segments 1 and 2
    assert engine.check_integrity() is None
    faiss_file = engine.store.segments / "s000002" / FAISS_NAME
    stat = faiss_file.stat()
    with faiss_file.open("r+b") as f:  # a large file's stamp is trusted at start: not this
        f.seek(10)
        f.write(b"garbage")
    os.utime(faiss_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    problem = engine.check_integrity()
    assert problem is not None and "now serving generation 1" in problem
    assert engine.store.current_number() == 1 and set(engine._generation.articles) == {"a0", "a1"}
    (engine.store.segments / "s000001" / FAISS_NAME).write_bytes(b"broken too")
    problem = engine.check_integrity()
    assert problem is not None and "nothing to serve" in problem
    with pytest.raises(IndexCorruptError, match="integrity"):
        engine.ask("第0篇讲的是什么？")
