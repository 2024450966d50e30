"""English words of a question: what the cross-lingual lexicon is asked about."""

from __future__ import annotations

import re

from index.text.tokens import CJK

_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9&]*(?:-[A-Za-z]+)*|\d+[A-Za-z]+|\d+(?:\.\d+)?")
EN_STOP = {
    "how",
    "many",
    "much",
    "what",
    "which",
    "who",
    "whom",
    "where",
    "when",
    "why",
    "does",
    "do",
    "did",
    "is",
    "are",
    "was",
    "were",
    "the",
    "a",
    "an",
    "of",
    "in",
    "on",
    "to",
    "for",
    "from",
    "and",
    "or",
    "by",
    "with",
    "it",
    "its",
    "there",
    "have",
    "has",
    "had",
    "be",
    "been",
    "that",
    "this",
    "these",
    "those",
    "per",
    "s",
    "comes",
    "come",
    "get",
    "got",
    "about",
    "into",
}


def english_words(question: str) -> list[str]:
    if CJK.search(question):
        return []
    return [w for w in dict.fromkeys(_EN_WORD.findall(question)) if w.lower() not in EN_STOP]
