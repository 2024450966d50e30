"""Question and context as the reader reads them: windows of tokens, shared by training and
serving so that both see the same input.

A window is "<s> query: QUESTION </s></s> CONTEXT-PIECE </s>"; a context longer than a window
is read in overlapping windows (the tokenizer's stride). Each window keeps the character
offsets of its context tokens, so that a span of tokens maps back to the exact characters of
the passage it cites.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUESTION_PREFIX = "query: "  # the encoder was trained with it (multilingual-e5)
MAX_QUESTION_TOKENS = 48


@dataclass(frozen=True, slots=True)
class Window:
    """One window: token ids and, per token, its character span in the context (None for
    the question and special tokens)."""

    context: int  # index of the context it came from
    input_ids: list[int]
    offsets: list[tuple[int, int] | None]


def load_tokenizer(encoder_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(encoder_dir), local_files_only=True)


def question_text(question: str, tokenizer: Any) -> str:
    """The question with the encoder's query prefix, cut to MAX_QUESTION_TOKENS."""
    text = QUESTION_PREFIX + " ".join(question.split())
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) > MAX_QUESTION_TOKENS:
        text = tokenizer.decode(ids[:MAX_QUESTION_TOKENS])
    return text


def encode_windows(
    tokenizer: Any, question: str, contexts: list[str], *, max_tokens: int, stride: int
) -> list[Window]:
    """Every window of every context, in order."""
    if not contexts:
        return []
    q = question_text(question, tokenizer)
    enc = tokenizer(
        [q] * len(contexts),
        contexts,
        truncation="only_second",
        max_length=max_tokens,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    windows = []
    for i, ids in enumerate(enc["input_ids"]):
        seq = enc.sequence_ids(i)
        offsets = [
            (int(a), int(b)) if s == 1 and b > a else None
            for s, (a, b) in zip(seq, enc["offset_mapping"][i], strict=True)
        ]
        windows.append(Window(int(enc["overflow_to_sample_mapping"][i]), list(ids), offsets))
    return windows
