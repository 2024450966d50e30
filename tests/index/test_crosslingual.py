"""The cross-lingual lexicon: its vocabulary from document frequencies, its size bound and
its incremental build, with the fake embedder."""

from __future__ import annotations

from collections import Counter

from index.search.crosslingual import MIN_TERMS, build_lexicon, lexicon_size, vocabulary
from index.text.tokens import jieba_tokens
from tests.conftest import CountingEmbedder


def test_vocabulary_keeps_content_words_and_new_terms_and_drops_function_words():
    words = jieba_tokens("目前株机已经通过智造赋能，软件企业以及算力中心也都在增长。")
    vocab = vocabulary(Counter(set(words)), size=100)
    assert {"软件", "企业", "增长"} <= set(vocab)
    assert {"目前", "已经", "通过", "以及"}.isdisjoint(vocab)  # t, d, p, c in jieba's dictionary
    assert "赋能" in vocab  # not in jieba's dictionary: a term worth keeping
    assert all(len(w) >= 2 for w in vocab) and vocab == sorted(vocab)


def test_vocabulary_keeps_the_words_in_most_passages():
    df = {"企业": 9, "软件": 5, "数据": 5, "算力": 1}
    assert vocabulary(df, size=3) == ["企业", "数据", "软件"]  # ties go by the word


def test_lexicon_size_is_bounded():
    assert lexicon_size(10) == MIN_TERMS  # a small corpus keeps all its words
    assert lexicon_size(5_000) == 10_000
    assert lexicon_size(1_000_000, max_terms=20_000) == 20_000


def test_lexicon_rebuild_embeds_only_new_words():
    emb = CountingEmbedder()
    first = build_lexicon(emb, {"软件": 2, "企业": 3}, size=10)
    assert sorted(emb.asked) == ["企业", "软件"]
    emb.asked.clear()
    second = build_lexicon(emb, {"企业": 4, "数据": 1, "软件": 2}, size=10, reuse=first.known())
    assert emb.asked == ["数据"]
    assert second.terms == ["企业", "数据", "软件"]
    assert (second.known()["软件"] == first.known()["软件"]).all()


def test_an_english_questions_words_are_embedded_apart_and_kept(tmp_path):
    from index import Engine, IndexFolder
    from tests.conftest import make_article

    emb = CountingEmbedder()
    engine = Engine(store=IndexFolder(tmp_path / "index"), embedder=emb)
    engine.build([make_article("a", "株洲有软件企业164家。\n\n株洲数字经济规模1118亿元。")])
    emb.asked.clear()
    engine.search("How many software companies are there?")
    question, *words = emb.asked
    assert question == "How many software companies are there?"
    assert {"software", "companies"} <= set(words)  # in a batch of their own
    emb.asked.clear()
    engine.search("Which software companies grew?")
    assert emb.asked == ["Which software companies grew?", "grew"]  # the others are kept
