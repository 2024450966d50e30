"""The article store: what editors add is kept apart from the index, so that no rebuild,
restart, lost index folder or cancelled build loses it; clashes are refused; the store moves
between machines in one file."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest

from corpus import Article
from index import (
    ArticleClashError,
    ArticleStore,
    BuildCancelledError,
    Engine,
    HashEmbedder,
    IndexFolder,
    IndexWriteError,
    Provenance,
    Submission,
)
from tests.conftest import make_article

CORPUS = make_article(
    "corpus-a", "株洲数字经济规模1118亿元，占GDP比重达42%。", origin="corpus/a.md"
)
UPLOAD = make_article(
    "upload-b", "青石市共有灯塔17座，其中新建灯塔5座。", origin="telegram:b.md", title="灯塔"
)
RAW = b"---\nid: upload-b\n---\n\xe9\x9d\x92\xe7\x9f\xb3"


def _engine(root: Path, embedder: HashEmbedder | None = None) -> Engine:
    return Engine(
        store=IndexFolder(root / "index"),
        embedder=embedder or HashEmbedder(),
        article_store=ArticleStore(root / "articles"),
    )


def _upload(article: Article = UPLOAD, by: str = "42") -> Submission:
    return Submission(article, Provenance("upload", "b.md", by), RAW, "b.md")


def test_an_editors_article_survives_a_restart_and_a_rebuild_of_the_corpus(tmp_path):
    engine = _engine(tmp_path)
    engine.build([CORPUS])
    engine.add([_upload()])
    stored = engine.article_store.get("upload-b")
    assert stored is not None and stored.live
    assert stored.provenance.kind == "upload" and stored.provenance.by == "42"
    assert engine.article_store.raw(stored.raw_sha256 or "") == RAW  # the bytes as they came
    restarted = _engine(tmp_path)  # a new process: the old `make run` rebuilt from corpus/
    report = restarted.build([CORPUS])
    assert set(restarted._generation.articles) == {"corpus-a", "upload-b"}
    assert report.removed == ()
    assert restarted.sync([CORPUS]).generation == report.generation  # current: nothing written


def test_a_lost_index_folder_is_rebuilt_from_the_corpus_and_the_store(tmp_path):
    engine = _engine(tmp_path)
    engine.build([CORPUS])
    engine.add([_upload()])
    shutil.rmtree(tmp_path / "index")
    again = _engine(tmp_path)
    again.sync([CORPUS])
    assert set(again._generation.articles) == {"corpus-a", "upload-b"}


def test_articles_only_the_index_holds_are_adopted_and_pruned_only_on_request(tmp_path):
    engine = _engine(tmp_path)
    engine.build([CORPUS])
    engine.add([_upload()])
    shutil.rmtree(tmp_path / "articles")  # an index from before the store existed
    legacy = _engine(tmp_path)
    report = legacy.sync([CORPUS])
    assert set(legacy._generation.articles) == {"corpus-a", "upload-b"}
    assert any("upload-b" in note and "adopted" in note for note in report.notes)
    adopted = legacy.article_store.get("upload-b")
    assert adopted is not None and adopted.provenance.kind == "index"
    pruned = legacy.build([CORPUS], prune=True)
    assert pruned.removed == ("upload-b",)
    assert set(legacy._generation.articles) == {"corpus-a"}
    assert legacy.build([CORPUS]).removed == ()  # pruned on purpose: it stays out


def test_an_index_of_another_model_gives_up_its_articles_to_the_rebuild(tmp_path):
    engine = _engine(tmp_path)
    engine.build([CORPUS, UPLOAD])  # upload-b is in no source but this index
    other = _engine(tmp_path, HashEmbedder(name="other/model"))
    report = other.build([CORPUS])  # the generation cannot be served: read from its SQLite
    assert set(other._generation.articles) == {"corpus-a", "upload-b"}
    assert report.removed == ()


def test_editors_articles_are_kept_even_by_prune(tmp_path):
    engine = _engine(tmp_path)
    engine.build([CORPUS])
    engine.add([_upload()])
    report = engine.build([CORPUS], prune=True, force=True)
    assert set(engine._generation.articles) == {"corpus-a", "upload-b"} and report.removed == ()


def test_a_removed_article_stays_removed_through_sync_and_build(tmp_path):
    engine = _engine(tmp_path)
    engine.build([CORPUS])
    engine.add([_upload()])
    report = engine.remove(["corpus-a", "upload-b"], by="cli:editor")
    assert report.removed == ("corpus-a", "upload-b")
    assert engine.article_store.removed_ids() == {"corpus-a", "upload-b"}
    engine.sync([CORPUS])  # the corpus file is still there
    rebuilt = engine.build([CORPUS], force=True)
    assert set(engine._generation.articles) == set()
    assert any("corpus-a" in note and "removed on purpose" in note for note in rebuilt.notes)
    engine.add([CORPUS])  # added again explicitly: it is back
    assert set(engine._generation.articles) == {"corpus-a"}


def test_an_id_held_by_another_source_is_refused_unless_replaced(tmp_path):
    engine = _engine(tmp_path)
    engine.build([CORPUS])
    intruder = make_article("corpus-a", "株洲数字经济规模1119亿元。", origin="telegram:x.md")
    before = engine.store.current_number()
    with pytest.raises(ArticleClashError, match="already exists"):
        engine.add([Submission(intruder, Provenance("upload", "x.md", "7"), b"x")])
    assert engine.store.current_number() == before
    assert engine.article_store.get("corpus-a") is None  # nothing kept either
    assert "1118亿元" in engine._generation.stored_articles()[0].body
    # the same source updates its own article; another one needs `replace`
    engine.add([_upload()])
    engine.add([_upload(make_article("upload-b", "青石市共有灯塔18座。", origin="telegram:b.md"))])
    assert "18座" in engine.article_store.get("upload-b").article.body  # type: ignore[union-attr]
    engine.add([Submission(intruder, Provenance("upload", "x.md", "7"))], replace=True)
    assert "1119亿元" in engine.article_store.get("corpus-a").article.body  # type: ignore[union-attr]


def test_skipped_clashes_are_named_and_the_rest_added(tmp_path):
    engine = _engine(tmp_path)
    engine.build([CORPUS])
    intruder = make_article("corpus-a", "另一篇文章的内容。", origin="https://x.example/1")
    report = engine.add(
        [Submission(intruder, Provenance("feed", "https://x.example/1")), _upload()],
        skip_clashes=True,
    )
    assert report.added == ("upload-b",)
    assert any("corpus-a" in n for n in report.notes)


def test_a_cancelled_add_leaves_the_store_and_the_index_as_they_were(tmp_path):
    engine = _engine(tmp_path)
    engine.build([CORPUS])
    before = engine.store.current_number()

    def cancel(stage: str, done: int, total: int) -> None:
        if stage == "embedding" and done == 0:
            raise BuildCancelledError("cancelled")

    with pytest.raises(BuildCancelledError):
        engine.add([_upload()], progress=cancel)
    assert engine.article_store.get("upload-b") is None
    assert engine.store.current_number() == before


class _FullDisk(HashEmbedder):
    def embed_passages(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_is_one_clear_error_and_the_serving_index_stays(tmp_path):
    _engine(tmp_path).build([CORPUS])
    engine = _engine(tmp_path, _FullDisk())
    with pytest.raises(IndexWriteError, match=r"disk .* is full"):
        engine.add([_upload()])
    assert set(engine._generation.articles) == {"corpus-a"}
    assert not list((tmp_path / "index" / "generations").glob(".tmp-*"))


def test_the_store_moves_between_machines_in_one_file(tmp_path):
    engine = _engine(tmp_path / "one")
    engine.build([CORPUS])
    engine.add([_upload()])
    engine.add([make_article("gone", "这篇文章后来删掉了。", origin="telegram:g.md")])
    engine.remove(["gone"], by="9")
    export = tmp_path / "articles.jsonl.gz"
    assert engine.export_articles(export) == 2
    other = _engine(tmp_path / "two")
    other.build([CORPUS])
    report = other.import_articles(export)
    assert report.added == ("upload-b",)
    moved = other.article_store.get("upload-b")
    assert moved is not None and moved.provenance == engine.article_store.get("upload-b").provenance  # type: ignore[union-attr]
    assert other.article_store.raw(moved.raw_sha256 or "") == RAW
    assert other.article_store.removed_ids() == {"gone"}
    lines = [json.loads(x) for x in __import__("gzip").open(export, "rt")]
    figures = next(r for r in lines[1:] if r["id"] == "upload-b")["figures"]
    assert {f["text"] for f in figures} == {"17座", "5座"}


def test_a_damaged_export_is_refused_and_changes_nothing(tmp_path):
    engine = _engine(tmp_path / "one")
    engine.build([CORPUS])
    engine.add([_upload()])
    export = tmp_path / "articles.jsonl"
    engine.export_articles(export)
    export.write_text(export.read_text().replace("17座", "71座"))
    other = _engine(tmp_path / "two")
    other.build([CORPUS])
    with pytest.raises(ValueError, match=r"line 2: .* does not match its checksum"):
        other.import_articles(export)
    assert other.article_store.count() == 0
