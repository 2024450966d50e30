"""How the reader's training examples are drawn (index/reader/train.py), on paragraphs made
here: an answer's window is labelled with its tokens, and a question of another article is
asked of this one only against a window that does not hold that question's answer. Nothing
is trained."""

from __future__ import annotations

import random

import pytest

from index.reader.train import (
    Paragraph,
    Question,
    Recipe,
    Refinement,
    Swaps,
    label_window,
)
from index.reader.windows import encode_windows

pytestmark = pytest.mark.model

MENCIUS = "孟子是战国时期的思想家。《孟子》在1315年被列为四经之一，成为科举考试的内容。"
VANADIUM = "钒是一种化学元素，1801年由德·里欧发现。钒多用于制造合金钢，使钢更坚韧。"


@pytest.fixture(scope="module")
def tokenizer(real_embedder):  # type: ignore[no-untyped-def]
    return real_embedder.tokenizer()  # the encoder's, as the training loads it


def _question(qid: str, text: str, answer: str, paragraph: int, context: str) -> Question:
    return Question(qid, text, [(context.index(answer), answer)], paragraph)


def test_the_window_holding_the_answer_is_labelled_with_its_tokens(tokenizer):
    (window,) = encode_windows(
        tokenizer, "《孟子》在哪一年被列为四经？", [MENCIUS], max_tokens=160, stride=64
    )
    start, end = label_window(window, [(MENCIUS.index("1315年"), "1315年")])
    a, b = window.offsets[start], window.offsets[end]
    assert a is not None and b is not None
    assert MENCIUS[a[0] : b[1]] == "1315年"
    # a window that does not hold the whole answer is not labelled with it


def test_another_articles_question_is_asked_of_this_one_with_its_title(tokenizer):
    paragraphs = [Paragraph("孟子", MENCIUS), Paragraph("钒", VANADIUM)]
    asked = _question("q1", "孟子被列为四经是在什么时候?", "1315年", 0, MENCIUS)
    swaps = Swaps(paragraphs, [asked])
    found = swaps.asked_of("钒", random.Random(1), tokenizer, Recipe())
    assert found is not None
    question, window, context = found
    assert question == "钒被列为四经是在什么时候?"
    assert context == VANADIUM
    assert window.context == 0
    # its own article is never asked its own question in another's name
    assert swaps.asked_of("孟子", random.Random(1), tokenizer, Recipe()) is None


def test_no_question_is_asked_where_the_window_holds_its_answer(tokenizer):
    # this article states the other question's answer: no "not here" is made of it
    vanadium = VANADIUM + "钒在1315年被列为四经。"
    paragraphs = [Paragraph("孟子", MENCIUS), Paragraph("钒", vanadium)]
    asked = _question("q1", "孟子被列为四经是在什么时候?", "1315年", 0, MENCIUS)
    assert Swaps(paragraphs, [asked]).asked_of("钒", random.Random(1), tokenizer, Recipe()) is None


def test_only_questions_that_ask_little_besides_their_title_are_swapped():
    paragraphs = [Paragraph("孟子", MENCIUS)]
    short = _question("q1", "孟子被列为四经是在什么时候?", "1315年", 0, MENCIUS)
    long = _question(
        "q2", "战国时期的思想家孟子所著之书在元朝的哪一年被列为四经之一?", "1315年", 0, MENCIUS
    )
    untitled = _question("q3", "哪一年被列为四经?", "1315年", 0, MENCIUS)
    pool = Swaps(paragraphs, [short, long, untitled], Refinement.swap_chars).pool
    assert [q.qid for q in pool] == ["q1"]
