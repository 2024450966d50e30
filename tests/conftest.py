"""Shared fixtures: the real article, fake and real embedders, engines in temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpus import Article, load_article
from index import Engine, EngineOptions, HashEmbedder, IndexFolder

ROOT = Path(__file__).resolve().parents[1]
ARTICLE_PATH = ROOT / "corpus" / "articles" / "zhuzhou-digital-economy.md"
FIXTURES = Path(__file__).parent / "fixtures"
# The materialized model is shared by every test run (and by `make run`): it takes ~15 s
# to write once, and nothing about it depends on the test.
MODEL_CACHE = Path(os.environ.get("SHUZI_TEST_MODEL_CACHE", ROOT / "data" / "models"))


@pytest.fixture(scope="session")
def article() -> Article:
    return load_article(ARTICLE_PATH)


@pytest.fixture
def fake_engine(tmp_path: Path) -> Engine:
    return Engine(store=IndexFolder(tmp_path / "index"), embedder=HashEmbedder())


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    from index import load_embedder

    return load_embedder("intfloat/multilingual-e5-small", cache_dir=MODEL_CACHE)


@pytest.fixture(scope="session")
def real_engine(
    tmp_path_factory: pytest.TempPathFactory, real_embedder, article: Article
) -> Engine:  # type: ignore[no-untyped-def]
    engine = Engine(
        store=IndexFolder(tmp_path_factory.mktemp("real") / "index"),
        embedder=real_embedder,
        options=EngineOptions(),
    )
    engine.build([article])
    return engine


def make_article(article_id: str, body: str, **meta: object) -> Article:
    return Article(id=article_id, title=str(meta.pop("title", article_id)), body=body, **meta)  # type: ignore[arg-type]


class CountingEmbedder(HashEmbedder):
    """The fake embedder, recording what it was asked to embed: passages and queries."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []  # passages
        self.asked: list[str] = []  # queries (questions, lexicon words)

    def embed_passages(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
        self.embedded.extend(texts)
        return super().embed_passages(texts, progress=progress)

    def embed_queries(self, texts, *, batch_size=None):  # type: ignore[no-untyped-def]
        self.asked.extend(texts)
        return super().embed_queries(texts, batch_size=batch_size)
