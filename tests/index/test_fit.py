"""Whether a span can answer a question (index/answering/fit.py)."""

from __future__ import annotations

import pytest

from index.answering.fit import asked_kind, fits


@pytest.mark.parametrize(
    ("question", "span"),
    [
        ("这种木材每立方米售价多少？", "55米"),  # a price, not a length
        ("游戏下载需要付费多少钱？", "6年"),
        ("它的平均体重是多少公斤？", "25公尺"),
        ("她的身高是多少？", "小五"),
        ("让-皮埃尔·巴利冈的妻子叫什么名字？", "皮埃尔·巴利冈"),  # the question's own subject
        ("How much does the ticket cost?", "163公里"),
        ("明圣王后有几个女儿？", "金氏"),  # a number asked, none given
        ("每公斤卖多少钱？", "170公尺。头长为眼径的五倍"),  # a multiple, where no change is asked
        ("每年有多少游客参观？", "25.6米"),
        ("这座城市的人口有多少？", "直播平台超过2.7万家"),  # a count of things, not people
        ("这座城市有多少所大学？", "254家"),  # counted in another measure word
        ("今年的降雨量是多少毫米？", "1118亿元"),
        ("当地的平均房价是多少？", "37个"),
        ("全美第一所核工程学院位于哪所大学？", "核工程学院"),  # the question's own words
        ("How many glaciers are there in the mountains?", "6714米"),  # a count, not a measure
        ("How many cars did Nissan sell in China?", "21.5%"),
        ("How many destroyers did the navy have in 1914?", "第一次"),
        ("这座城市有多少所大学？", "3322平方千米"),
        # a unit's character is no quantity without its number (元 of 元老, 年 of 同年)
        ("他在微软工作时的年薪是多少？", "微软公司的元老"),
        ("广西壮族自治区在哪一年成立？", "同年"),
        # a name asked, a clause read
        ("蒋家旻的丈夫是谁？", "香港女艺人，现为无线电视经理人合约女艺员"),
        ("长谷川町子的丈夫叫什么名字？", "圣公会基督教徒，终身未婚"),
        # a fee asked after its question word; a count in 个 or of visitors, a measure read
        ("会员每年交多少会费？", "近40万名"),
        ("明圣王后有几个女儿？", "英祖四十八年"),
        ("标志塔每年有多少游客参观？", "1.85万平方"),
        # a thing picked out (哪一个), a clause read
        ("太阳花学运和哪一个协议的审查程序有关？", "两岸后续谈判受阻。2015年在新加坡"),
        # a span across a sentence's end; a population asked in English, things counted
        ("去年有多少客户？", "220多万。2.1万"),
        ("What is the population of the city?", "株洲现有37个"),
        # a time, a number, a place asked, a clause read
        ("开车时不能超过多少的速度？", "哈纳高速公路蜿蜒于茂宜岛东海岸，途中有多个惊险的弯路"),
        ("大型天线在何时被政府允许？", "1989年发生了一场革命，当时"),
        ("这个湖位于哪里？", "湖区，其中有多个岛"),
        ("这种鱼的寿命有多长？", "32公分"),  # 多长 of a lifespan: a time, not a length
        # a person asked, a time or a number read
        ("西安事变是由张学良以及哪一个人所发动？", "1936年"),
        ("蒋家旻的丈夫是谁？", "2012年"),
        ("谁是第一任校长？", "1,021"),
        ("教堂的建造花费了多少美元？", "三一"),  # numerals that make no number (三一教堂)
    ],
)
def test_spans_that_cannot_answer(question: str, span: str) -> None:
    assert not fits(question, span)


@pytest.mark.parametrize(
    ("question", "span"),
    [
        ("这种木材每立方米售价多少？", "约300美元"),
        ("门票多少钱？", "免费"),
        ("它的平均体重是多少公斤？", "25公斤"),
        ("这座桥有多长？", "1.5公里"),
        ("战争持续了多长？", "三年"),  # 多长: a length or a time
        ("她是在哪一年去世的？", "1952年"),
        ("她的丈夫是谁？", "王海峰"),  # no quantity asked
        ("株洲数字经济规模多少？", "1118亿元"),
        ("票价比去年上涨了多少？", "5%"),  # a change, as a share
        ("该地海拔多少公尺？", "1000"),  # the question names the unit
        ("种子需要多少天才能发芽？", "数天"),
        ("哪个国家的人口更多，中国还是印度？", "印度"),  # a choice: the answer is in it
        ("机关手枪可不可以连发？", "可以"),  # a yes-no question offers its answer
        ("这座城市的人口有多少？", "约300万"),
        ("这座城市有多少所大学？", "37所"),
        ("这座城市有多少所大学？", "37"),
        ("信徒占总人口的多少比例？", "五分之一"),  # a share of a count of people
        ("非华人大约占总人口的多少比例？", "两成不到"),
        ("这座城市有多少个公园？", "12座"),  # 个 goes with anything
        ("耶稣在十字架上被折磨了多久？", "6个小时"),
        ("联合内阁会议多久举行一次？", "每年"),
        ("《皇帝登宝位诏》在哪一年颁布？", "庚申年"),
        ("这笔交易的价值是多少？", "$5亿"),
        ("他的丈夫是谁？", "王海峰、李明"),  # names listed are no clause
        ("哪一句话因此产生？", "「会讲军声话，走遍通天下」"),  # a clause quoted
        ("哪一句招呼话语与食米文化有关？", "你吃饭了吗？"),
        ("明太祖采用什么战术试图占领北方？", "兵分二路，各个击破"),  # 什么: not one picked out
        ("新生儿一天要睡超过多少个小时？", "18小时"),  # 个小时: a time, not a count
        ("他有几个女儿？", "三个"),
        ("What is the population of the city?", "约300万"),
        ("加拿大的最大城市有多少人？", "2,790,060"),  # a number's digit groups are no clause
        ("这种鱼的寿命有多长？", "约30年"),
        ("他说了哪一句话？", "「走吧。」"),  # a sentence's end where the span ends
        # 多 of 许多 (DRCD: 高文有许多高…, 许多高等学校): no height asked
        ("哪位学者对许多高等学校的改革影响最大？", "汤玛斯伊格顿"),
        ("谁在1936年发动了西安事变？", "张学良"),
        ("哪个人口普查在2010年进行？", "第六次"),
    ],
)
def test_spans_that_can(question: str, span: str) -> None:
    assert fits(question, span)


def test_a_number_is_judged_with_the_unit_it_was_cut_from() -> None:
    assert not fits("How many glaciers are there?", "6714", after="米，巨大的")
    assert fits("How many glaciers are there?", "37", after="条冰川")
    assert fits("该地海拔多少公尺？", "1000", after="公尺，")
    assert not fits("该地海拔多少公尺？", "1000", after="年，")  # a year, not a height
    assert fits("新北市的海岸线约有多少公里？", "120", after="余公里，")


@pytest.mark.parametrize(
    ("question", "span"),
    [
        ("How many years did the war last?", "4年"),  # a time asked, not a count
        ("How many seats did the chamber have?", "500席"),
        ("这座城市的GDP增长了多少？", "7.5%"),
        ("卢安达的国土面积于世界排名中位居第几位？", "第149位"),  # a rank, not a count
    ],
)
def test_counts_and_what_is_not_one(question: str, span: str) -> None:
    assert fits(question, span)


def test_only_a_quantity_of_one_kind_is_checked() -> None:
    assert asked_kind("株洲有多少家企业？") is None
    assert asked_kind("票价多少？") is not None
