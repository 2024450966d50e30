"""Asked who someone's kin, teacher or head is, the answer's sentence must say that relation,
in a passage about that someone (index/answering/relations.py)."""

from __future__ import annotations

import pytest

from index.answering.relations import relation_asked, states_relation


@pytest.mark.parametrize(
    ("question", "sentence", "context"),
    [
        # DRCD's: the relation said by a word of its family, not always the word asked; the
        # one it is asked of named in the passage or the article's title
        ("狄拉克的妻子是谁?", "狄拉克在1937年1月2日娶了物理学家尤金•维格纳的妹妹马尔吉特。", ""),
        (
            "亚里士多德的老师是谁?",
            "柏拉图于前387年建立了柏拉图学院，许多古希腊哲学名士曾受教于此。",
            "亚里士多德",
        ),
        (
            "成吉思汗的长子是谁?",
            "其中分封长子术赤于咸海、里海以北的钦察草原。",
            "西道诸王是成吉思汗的儿子。",
        ),
        ("史贻直的父亲是谁?", "清代有《康熙字典》纂修官史夔及其子文渊阁大学士史贻直等。", ""),
        ("1990年当时的总统是谁?", "1990年大学生发起三月学运，李登辉总统认同此学运。", ""),
        ("J Storm公司目前的社长是谁？", "目前社长是藤岛茱莉景子。", "J Storm"),
        ("Who was Dirac's wife?", "狄拉克在1937年娶了马尔吉特。", ""),
        ("前赵的建立者是谁?", "期间刘曜称帝，改国号为「赵」，史称前赵。", ""),
        ("罗斯福在哪一年去世?", "1945年4月12日，罗斯福因脑溢血逝世。", ""),
        # the clause before the relation says when, not whom
        ("中共接管厦门大学后，首任校长是谁?", "中央人民政府任命王亚南教授为厦门大学校长。", ""),
    ],
)
def test_a_sentence_that_says_the_relation_answers(question, sentence, context):
    assert relation_asked(question) is not None
    assert states_relation(question, sentence, context + sentence)


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        # the person's father, a role, the person's own name: no wife, no coach, no mayor
        ("严长寿的妻子叫什么名字？", "严长寿的父亲严炳炎早年就在上海经营饭店。"),
        (
            "占旭刚的教练是谁？",
            "占旭刚，中国浙江省衢州市开化县人，人称「战就刚」，著名男子举重运动员。",
        ),
        (
            "莫扎伊斯克的市长是谁？",
            "1517年最后一个莫扎伊斯克王公瓦西里·谢苗诺维奇死后，此地被并入莫斯科公国。",
        ),
        ("Who is Jean-Pierre Balligand's wife?", "让-皮埃尔·巴利冈，法国政治家，社会党议员。"),
        ("南宁市第二中学现任校长是谁？", "南宁市第二中学凤岭校区位于琅东开发新区，占地面积423亩。"),
        ("丙烯颜料的发明者是谁？", "丙烯颜料又称为塑胶彩或压克力颜料。"),
        ("怡良的儿子叫什么名字？", "怡良与琦善产生矛盾。"),  # 产生 is no child
        # asked when she died: not the year she invented something
        (
            "维珍尼亚·阿普伽是在哪一年去世的？",
            "爱普格新生儿评分是美国医生维珍尼亚·阿普伽在1952年发明的一种评分方法。",
        ),
    ],
)
def test_a_sentence_that_does_not_say_it_cannot_answer(question, sentence):
    assert not states_relation(question, sentence)


def test_another_persons_relation_does_not_answer():
    question = "王海峰的妻子是谁？"
    sentence = "李明的妻子张丽是一名教师。"
    assert not states_relation(question, sentence, "李明（虚构）" + sentence)
    assert states_relation(question, sentence, "王海峰（虚构）" + sentence)


@pytest.mark.parametrize(
    "question",
    [
        "保罗•狄拉克的哥哥在哪一年自杀?",  # what the brother did: he is named where it stands
        "伽利略去世后他的合法继承人是谁?",  # the time after a death, not the death
        "株洲数字经济规模多少？",
        "Who is the mayor of Mozhaysk?",  # an English title is many Chinese ones
        "What did his son do?",
    ],
)
def test_questions_that_ask_no_relation_are_not_held_to_it(question):
    assert relation_asked(question) is None
    assert states_relation(question, "与此无关的一句话。")
