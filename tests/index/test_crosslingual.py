"""The cross-lingual lexicon's vocabulary and its incremental build, with the fake embedder."""

from __future__ import annotations

from index.crosslingual import build_lexicon, vocabulary
from index.lexical import jieba_tokens
from tests.conftest import CountingEmbedder


def test_vocabulary_keeps_content_words_and_new_terms_and_drops_function_words():
    words = jieba_tokens("目前株机已经通过智造赋能，软件企业以及算力中心也都在增长。")
    vocab = vocabulary([words])
    assert {"软件", "企业", "增长"} <= set(vocab)
    assert {"目前", "已经", "通过", "以及"}.isdisjoint(vocab)  # t, d, p, c in jieba's dictionary
    assert "赋能" in vocab  # not in jieba's dictionary: a term worth keeping
    assert all(len(w) >= 2 for w in vocab) and vocab == sorted(vocab)


def test_incremental_lexicon_embeds_only_new_words():
    emb = CountingEmbedder()
    first = build_lexicon(emb, [["软件", "企业"]])
    assert sorted(emb.asked) == ["企业", "软件"]
    emb.asked.clear()
    second = build_lexicon(emb, [["企业", "数据"]], base=first)
    assert emb.asked == ["数据"]
    assert second.terms == ["企业", "数据", "软件"]
    assert (second.known()["软件"] == first.known()["软件"]).all()
