"""Document frequencies are stored with a generation and kept right as articles come and go;
the device setting."""

from __future__ import annotations

from collections import Counter

from index import Engine
from tests.conftest import make_article


def _recount(engine: Engine) -> Counter[str]:
    counts: Counter[str] = Counter()
    for words in engine._generation.passage_words():
        counts.update(set(words))
    return counts


def test_frequencies_follow_adds_and_removes(fake_engine: Engine):
    a = make_article("a", "株洲的软件企业增长很快。\n\n算力中心在株洲建成。")
    b = make_article("b", "湘潭的软件企业也在增长。")
    fake_engine.build([a])
    weights = fake_engine._generation.term_weights()
    assert weights.n == 2 and weights.df == _recount(fake_engine)
    fake_engine.add([b])
    weights = fake_engine._generation.term_weights()
    assert weights.n == 3 and weights.df == _recount(fake_engine)
    assert weights.df["软件"] == 2
    fake_engine.remove(["a"])
    weights = fake_engine._generation.term_weights()
    assert weights.n == 1 and weights.df == _recount(fake_engine)
    assert "算力" not in weights.df


def test_device_setting():
    import pytest
    import torch

    from index.search.embedder import resolve_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            resolve_device("cuda")
