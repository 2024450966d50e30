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


def test_a_loaded_index_maps_its_postings_and_looks_words_up_on_disk(tmp_path):
    """Serving does not hold the postings or the vocabulary in memory; scores are the same,
    and the index still changes (append, remove) after loading."""
    import json

    from scipy import sparse

    from index.stores.bm25 import MappedPostings

    docs = ["株洲数字经济规模1118亿元", "长沙是湖南省会", "株洲软件企业164家", "湘潭虚构企业"]
    built = LexicalIndex(tokenizer="jieba+bigram")
    built.build(docs)
    built.save(tmp_path / "new")
    loaded = LexicalIndex.load(tmp_path / "new")
    assert isinstance(loaded.tf, MappedPostings) and isinstance(loaded.tf.data, np.memmap)
    assert loaded.vocab == {}  # looked up per question
    for q in ("株洲软件", "湖南 省会", "没有的词"):
        assert np.allclose(loaded.scores(q), built.scores(q))
    loaded.remove_rows([1])
    loaded.append([TOKENIZERS["jieba+bigram"]("衡阳灯塔")])
    fresh = LexicalIndex(tokenizer="jieba+bigram")
    fresh.build([docs[0], docs[2], docs[3], "衡阳灯塔"])
    for q in ("株洲软件", "灯塔", "企业"):
        assert np.allclose(loaded.scores(q), fresh.scores(q))
    # an index saved before (one npz, a JSON vocabulary) is still read
    old = tmp_path / "old"
    old.mkdir()
    (old / "shuzi-lexical.json").write_text(
        json.dumps({"tokenizer": "jieba+bigram", "k1": 1.2, "b": 0.75, "size": 4})
    )
    (old / "vocab.json").write_text(json.dumps(list(built.vocab), ensure_ascii=False))
    sparse.save_npz(old / "postings.npz", built.tf, compressed=False)
    np.save(old / "lengths.npy", built.lengths)
    assert np.allclose(LexicalIndex.load(old).scores("株洲软件"), built.scores("株洲软件"))
