"""The windows the reader reads and how its reads are weighed (no model: the reader's
answers are given)."""

from dataclasses import replace

from corpus import Passage
from index.answering.extract import Read, ReaderSettings, best_read, reading_windows
from index.reader.reader import ReadSpan
from index.records import ArticleInfo, Hit
from tests.conftest import make_article

ARTICLE = ArticleInfo("a", "测试")
# four sentences of about 30 characters each
TEXT = (
    "株洲市数字经济规模达到一千一百亿元左右，增长较快。"
    "当地的轨道交通装备产业集群已经形成了完整的链条。"
    "这座城市的气候温和湿润，四季分明，雨量也很充沛。"
    "市里计划在未来三年内建设更多的五G基站和数据中心。"
)


def hit(pid: int, text: str, score: float) -> Hit:
    passage = Passage("a", pid, pid, 0, (), ((0, len(text)),), text, text)
    return Hit(pid, passage, ARTICLE, score, dense=score)


def test_the_rules_sentence_is_read_first_whatever_its_rank():
    hits = [hit(1, TEXT, 1.0), hit(2, TEXT[::-1], 0.2)]
    units = {(1, 0): 0.9, (1, 1): 0.1, (1, 2): 0.1, (1, 3): 0.8}
    climate = TEXT.index("这座城市")
    plain = reading_windows(hits, units, count=1, chars=30)
    assert plain[0].start <= 0 < plain[0].end and not plain[0].rules
    chosen = reading_windows(hits, units, count=1, chars=30, first=(1, climate))
    assert chosen[0].start <= climate < chosen[0].end and chosen[0].rules
    # the other windows are the best of the rest, as before
    both = reading_windows(hits, units, count=2, chars=30, first=(1, climate))
    assert both[0].rules and both[1].start == 0 and not both[1].rules


def test_one_window_a_passage_keeps_the_rules_sentence_of_its_passage():
    hits = [hit(1, TEXT, 1.0), hit(2, TEXT, 0.5)]
    units = {(1, 0): 0.9, (1, 3): 0.1, (2, 0): 0.9}
    last = TEXT.index("市里计划")
    windows = reading_windows(hits, units, count=2, chars=30, per_passage=True, first=(1, last))
    assert [w.hit.pid for w in windows] == [1, 2]
    assert windows[0].start <= last < windows[0].end and windows[0].rules


def test_what_a_sentence_holds_adds_to_its_score():
    hits = [hit(1, TEXT, 1.0), hit(2, TEXT, 0.5)]
    units = {(1, 0): 0.9, (1, 1): 0.1, (1, 2): 0.85, (1, 3): 0.1, (2, 0): 0.9}
    climate = TEXT.index("这座城市")
    plain = reading_windows(hits, units, count=2, chars=30, per_passage=True)
    assert plain[0].start == 0
    lexical = reading_windows(
        hits,
        units,
        count=2,
        chars=30,
        per_passage=True,
        lexical=lambda sentence: 0.2 if "气候" in sentence else 0.0,
    )
    assert lexical[0].start <= climate < lexical[0].end  # the climate question's sentence
    assert [w.hit.pid for w in lexical] == [1, 2]


def test_the_rules_window_weighs_as_much_as_the_settings_say():
    hits = [hit(1, TEXT, 1.0)]
    units = {(1, 0): 0.9, (1, 2): 0.1}
    climate = TEXT.index("这座城市")
    windows = reading_windows(hits, units, count=2, chars=30, first=(1, climate))
    rules_window, other = windows
    reads = [Read(rules_window, climate, climate + 4, 1.0), Read(other, 0, 3, 1.5)]
    equal_priors = [replace(r, window=replace(r.window, prior=0.5)) for r in reads]
    assert best_read(equal_priors, ReaderSettings(rules_weight=0.0))[0].start == 0
    chosen, score = best_read(equal_priors, ReaderSettings(rules_weight=1.0, prior_weight=2.0))
    assert chosen.start == climate and score == 1.0 + 2.0 * 0.5 + 1.0


def test_a_threshold_for_when_the_rules_find_the_words_missing():
    settings = ReaderSettings(threshold=1.0, threshold_rules_refuse=3.0, english_threshold=2.0)
    assert settings.threshold_for(english=False, rules_refuse=False) == 1.0
    assert settings.threshold_for(english=False, rules_refuse=True) == 3.0
    assert settings.threshold_for(english=True, rules_refuse=False) == 2.0


def test_a_span_never_starts_or_ends_with_a_mark():
    from index.reader.reader import trimmed

    text = "占GDP比重达42%，较去年"
    start = text.index("42")
    assert text[slice(*trimmed(text, start, start + 4))] == "42%"
    assert trimmed("，。", 0, 2) == (0, 2)  # nothing but marks: left as it is
    said = "是凯尔特人的活动范围"
    assert said[slice(*trimmed(said, 1, 6))] == "凯尔特人"
    assert said[slice(*trimmed(said, 5, 6))] == "的"  # nothing else: left as it is


def test_the_question_s_words_in_the_span_s_sentence_choose_among_the_reads():
    hits = [hit(1, TEXT, 1.0)]
    units = {(1, 0): 0.9, (1, 2): 0.1}
    climate = TEXT.index("这座城市")
    windows = [replace(w, prior=0.5) for w in reading_windows(hits, units, count=2, chars=30)]
    elsewhere = Read(windows[0], 0, 3, 1.5)
    said = Read(windows[1], climate, climate + 4, 1.0, words=0.5)
    settings = ReaderSettings(rules_weight=0.0, prior_weight=2.0)
    chosen, confidence = best_read([elsewhere, said], replace(settings, words_weight=2.5))
    assert chosen is said
    # the confidence is what the thresholds were calibrated on: margin and priors alone
    assert confidence == 1.5 + 2.0 * 0.5
    assert best_read([elsewhere, said], replace(settings, words_weight=0.0))[0] is elsewhere


class Scripted:
    """A reader that finds the spans it is told to, with the margins it is told."""

    def __init__(self, spans: dict[str, float]) -> None:
        self.spans = spans

    def read(self, question, contexts, per_context=1):  # type: ignore[no-untyped-def]
        out = []
        for i, context in enumerate(contexts):
            for text, margin in self.spans.items():
                at = context.find(text)
                if at >= 0:
                    out.append(ReadSpan(i, at, at + len(text), margin, 0.0))
        return out


LIGHTS = (
    "青石市灯塔管理站成立于1998年，站长是王海峰。"
    "青石灯塔的特点是塔身高大，外墙漆成红白两色。"
    "夜里每隔十秒闪光一次，远在二十海里外也能看见。"
)


def test_a_sentence_answer_is_the_rules_sentence_with_the_readers_span_in_it(fake_engine):
    fake_engine.build([make_article("lights", LIGHTS, title="青石市灯塔（虚构）")])
    question = "青石灯塔有什么特点？"  # the answer is a sentence, and it runs on
    rules = fake_engine.ask(question)
    assert not rules.abstained and "特点是塔身高大" in rules.sentences[0].text
    # the reader is surer of a span in another sentence, but the rules' sentence answers
    fake_engine.reader = Scripted({"王海峰": 6.0, "塔身高大": 1.0})
    answer = fake_engine.ask(question)
    assert answer.span is not None and answer.span.text == "塔身高大"
    assert answer.confidence is not None and answer.confidence >= 6.0
    shown = " ".join(s.text for s in answer.sentences)
    assert "特点是塔身高大" in shown and "每隔十秒闪光" in shown and "王海峰" not in shown
    # nothing read in the rules' sentence: the rules' answer stands
    fake_engine.reader = Scripted({"王海峰": 6.0})
    alone = fake_engine.ask(question)
    assert alone.sentences[0].text == rules.sentences[0].text
    # a question whose answer is a name is the reader's wherever it reads it
    fake_engine.reader = Scripted({"王海峰": 6.0, "塔身高大": 1.0})
    who = fake_engine.ask("青石市灯塔管理站的站长是谁？")
    assert who.span is not None and who.span.text == "王海峰"
