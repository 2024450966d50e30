"""BM25 over postings: the same scores as bm25s, and adds and removes that change rows."""

from __future__ import annotations

import bm25s
import numpy as np

from index.stores.bm25 import LexicalIndex
from index.text.tokens import TOKENIZERS
from tests.conftest import ARTICLE_PATH

TOKENIZE = TOKENIZERS["jieba+bigram"]


def _documents() -> list[list[str]]:
    paragraphs = [p for p in ARTICLE_PATH.read_text(encoding="utf-8").split("\n") if p.strip()]
    return [TOKENIZE(p) for p in paragraphs] + [[]]  # an empty document too


QUERIES = ["株洲数字经济规模", "软件企业有多少家", "5G基站", "湖南首家国家智能制造标杆企业", "房价"]


def _bm25s_scores(documents: list[list[str]], query: str) -> np.ndarray:
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index([d or [""] for d in documents], show_progress=False)
    ids = reference.get_tokens_ids(TOKENIZE(query))
    return np.asarray(reference.get_scores(ids)) if ids else np.zeros(len(documents))


def test_scores_equal_bm25s():
    documents = _documents()
    index = LexicalIndex(tokenizer="jieba+bigram")
    index.build_from_tokens(documents)
    for query in QUERIES:
        np.testing.assert_allclose(
            index.scores(query), _bm25s_scores(documents, query), rtol=1e-4, atol=1e-5
        )


def test_appending_and_removing_equals_building_afresh(tmp_path):
    documents = _documents()
    index = LexicalIndex(tokenizer="jieba+bigram")
    index.build_from_tokens(documents[:50])
    index.append(documents[50:])
    index.remove_rows([0, 7, 60])
    index.save(tmp_path / "lexical")
    loaded = LexicalIndex.load(tmp_path / "lexical")
    kept = [d for i, d in enumerate(documents) if i not in (0, 7, 60)]
    for query in QUERIES:
        np.testing.assert_allclose(
            loaded.scores(query), _bm25s_scores(kept, query), rtol=1e-4, atol=1e-5
        )
