"""When the articles must not be quoted as an answer, and the notice that says why: too
little of the question in the passages, another place than theirs, a day still to come that
no passage announces, a year the answer does not speak of, or a province or country total
that the answering sentence does not state."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

from corpus import normalize_for_search
from index.records import Hit
from index.text.glossary import other_names
from index.text.questions import YEAR, QuestionProfile, TermWeights

# Calibrated on the no-answer and answerable questions of tests/fixtures (see README):
# Chinese questions abstain when the best passage covers less than this share of the
# question's weighted terms; English ones (no shared words with Chinese text) when the best
# dense similarity is below DENSE_FLOOR.
COVERAGE_FLOOR = 0.40
DENSE_FLOOR = 0.78

# jieba's frequency above which a place reading of an English word counts (长沙 2708,
# 湘潭 118, 茶陵 26) and below which it is more likely a word or name (华威 8 for Huawei).
_COMMON_PLACE_FREQ = 20

# Wider than the city the articles are about: a question about these wants their totals.
# (how a question asks for it, what the answering sentence must say)
_WIDER_SCOPES = (
    (re.compile(r"全省|\b(?:province|provincial)\b", re.I), ("全省", "省")),
    (re.compile(r"全国|全中国|\b(?:nationwide|whole country)\b", re.I), ("全国",)),
    (re.compile(r"全球|全世界|\b(?:worldwide|global)\b", re.I), ("全球", "全世界", "世界")),
)

# China's provinces, autonomous regions and municipalities, as jieba names them without 省.
_PROVINCES = frozenset(
    "河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 "  # noqa: SIM905
    "贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 北京 天津 上海 重庆".split()
)
_PROVINCE_SCOPE = ("全省", "省内", "本省")

# How a passage speaks of a day ahead of it, by days ahead (its own date is the other way).
_DAY_WORDS = {
    0: ("今晚", "今夜", "当晚"),
    1: ("明天", "明日", "次日", "翌日"),
    2: ("后天",),
    3: ("大后天",),
    7: ("下周", "下星期", "下礼拜"),
}

# Figures that state a share or a rank of something, never its amount.
_SHARES = frozenset({"percent", "points", "rank"})

Notices = tuple[str, ...]


class AbstentionRules:
    """Each check returns None when the answer may be given, else the notices that say why
    not (none when the articles simply do not cover the question)."""

    def __init__(
        self, weights: TermWeights, *, today: Callable[[], dt.date] = dt.date.today
    ) -> None:
        """`today`: the day a question is asked on (the clock's)."""
        self.weights = weights
        self.today = today

    def coverage(self, profile: QuestionProfile, hit: Hit) -> float | None:
        context = " ".join((hit.article.title, *hit.passage.section_path, hit.passage.text))
        return self.weights.coverage(profile.terms, normalize_for_search(context))

    def before_answering(
        self,
        profile: QuestionProfile,
        hits: Sequence[Hit],
        *,
        pool: int,
        paragraph: Sequence[str] = (),
    ) -> Notices | None:
        """From the ranked passages alone; the first `pool` are those that may answer;
        `paragraph`: the other pieces of the first hit's paragraph."""
        if not hits:
            return ()
        if profile.asks_the_bot:
            return (
                "That asks me for advice or a chat: I only answer what the articles say."
                if profile.language == "en"
                else "这是在问我的建议或闲聊：我只回答文章里写了的内容。",
            )
        if profile.days_ahead:
            # 明天会下雨吗, tomorrow: no article reports a day still to come; only one that
            # announces it (明天开幕, 12月7日举行) speaks of it
            word, ahead = profile.days_ahead[0]
            days = _asked_days(ahead, self.today())
            texts = [h.passage.text for h in hits[:pool]] + list(paragraph)
            if not _speaks_of_day(texts, ahead, days):
                return (_day_notice(profile, word, days, hits[0].article.date),)
        if profile.language == "en":
            if max(h.dense for h in hits) < DENSE_FLOOR:
                return ()
            places = [
                (f"{word} ({place})", place)
                for word, readings in profile.place_readings
                if (place := self._english_place(readings))
            ]
        else:
            coverages = [
                c for c in (self.coverage(profile, h) for h in hits[:pool]) if c is not None
            ]
            if coverages and max(coverages) < COVERAGE_FLOOR:
                return ()
            places = [(place, place) for place in profile.places]
        # a place the question names must be in the passage that would answer it, unless the
        # place is in most passages (the city the articles are about)
        context = hits[0].article.title + hits[0].passage.text + "".join(paragraph)
        for label, place in places:
            stem = re.sub(r"(?:省|市|县|区|自治区|地区)$", "", place) or place
            if self.weights.weight(stem) == 0:
                continue  # the city the articles are about
            # or as CC-CEDICT names it otherwise (俄国: 俄罗斯)
            if not any(name in context for name in (place, stem, *other_names(place))):
                if self._ranked_in_province(profile, stem, context):
                    continue
                return (_place_notice(profile, label),)
        return None

    def after_answering(
        self,
        profile: QuestionProfile,
        sentences: Sequence[str],
        figures: Sequence[tuple[str, str]],
        article_date: str,
        passages: Sequence[str] = (),
        *,
        scopes: bool = True,
    ) -> Notices | None:
        """From the answer that would be given: its sentences, its figures' (kind, resolved
        period), the answering article's date and the cited passages. `scopes`: whether a
        total of a wider scope (全省, the province as a whole) is asked of a figure."""
        kinds = {kind for kind, _ in figures}
        if profile.wants_figure and profile.kind == "amount" and kinds and kinds <= _SHARES:
            # 株洲的GDP是多少 wants an amount; a share of GDP (42%) does not answer it. A count
            # or a measure may (存储规模: 1500PB), so only shares and ranks are refused.
            return (_amount_notice(profile),)
        for asked, said in _WIDER_SCOPES if scopes else ():
            # 全省/全国: a total for the province or the country, not the city's figure; the
            # cited passages must speak of that scope somewhere (居全省前列 counts)
            m = asked.search(profile.text)
            if m and not any(w in text for text in (*sentences, *passages) for w in said):
                return (_scope_notice(profile, m.group(0)),)
        if profile.years:
            spoken = _years_spoken(sentences, [period for _, period in figures], article_date)
            # a year the cited passages state (1992年4月，…) is spoken of, even when the
            # answering sentence does not repeat it
            mentioned = {y for text in passages for y in YEAR.findall(text)}
            if not set(profile.years) & (spoken | mentioned):
                return (_other_year_notice(profile, sorted(spoken, reverse=True)),)
        return None

    def _ranked_in_province(self, profile: QuestionProfile, stem: str, context: str) -> bool:
        """在湖南省排第几: the articles rank the city within its province as 居全省第二, without
        naming the province there. Only a rank, only for a province the articles name."""
        return (
            profile.kind == "rank"
            and stem in _PROVINCES
            and self.weights.df.get(stem, 0) > 0
            and any(w in context for w in _PROVINCE_SCOPE)
        )

    def _english_place(self, readings: tuple[tuple[str, int], ...]) -> str:
        """The place a pinyin word names: the reading the articles use (Zhuzhou is 株洲, not
        株州), else the common one (Changsha: 长沙); rare readings (Huawei: 华威) are no place."""
        in_corpus = [w for w, _ in readings if self.weights.df.get(w)]
        if in_corpus:
            return in_corpus[0]
        word, freq = readings[0]
        return word if freq >= _COMMON_PLACE_FREQ else ""


def _asked_days(ahead: int, today: dt.date) -> list[dt.date]:
    """The days a question `ahead` days on asks about: next week's are Monday to Sunday."""
    if ahead == 7:
        monday = today + dt.timedelta(days=7 - today.weekday())
        return [monday + dt.timedelta(days=i) for i in range(7)]
    return [today + dt.timedelta(days=ahead)]


def _speaks_of_day(texts: Sequence[str], ahead: int, days: Sequence[dt.date]) -> bool:
    """Whether the texts speak of a day `ahead` days after theirs in words, or of one of
    `days` by its date."""
    said = (*_DAY_WORDS.get(ahead, ()), *(f"{d.month}月{d.day}日" for d in days))
    return any(w in text for text in texts for w in said)


def _years_spoken(sentences: Sequence[str], periods: Sequence[str], article_date: str) -> set[str]:
    """The years an answer speaks of: those its sentences write out, those of its figures'
    periods (今年前三季度 resolves to the article's year), and the article's year for a figure
    or statement with no period of its own."""
    years = {y for s in sentences for y in YEAR.findall(s)}
    years |= {y for p in periods for y in YEAR.findall(p)}
    if article_date[:4].isdigit() and (not periods or not all(periods)):
        years.add(article_date[:4])
    return years


def _place_notice(profile: QuestionProfile, place: str) -> str:
    if profile.language == "en":
        return f"The closest passages say nothing about {place}."
    return f"最接近的段落没有说到{place}。"


def _amount_notice(profile: QuestionProfile) -> str:
    if profile.language == "en":
        return "The articles state no such amount."
    return "文章里没有这个数额。"


def _scope_notice(profile: QuestionProfile, scope: str) -> str:
    if profile.language == "en":
        return f"The articles give no figure for the {scope.lower()} as a whole."
    return f"文章里没有{scope}的数据。"


def _day_notice(
    profile: QuestionProfile, word: str, days: Sequence[dt.date], article_date: str
) -> str:
    first, last = days[0], days[-1]
    if profile.language == "en":
        when = f"{first.day} {first:%B}" + (f" to {last.day} {last:%B}" if last != first else "")
        written = f": the closest article was written in {article_date}" if article_date else ""
        return f"The articles say nothing about {word.lower()} ({when}){written}."
    when = f"{first.month}月{first.day}日" + (
        f"至{'' if last.month == first.month else f'{last.month}月'}{last.day}日"
        if last != first
        else ""
    )
    parts = [p.lstrip("0") for p in article_date.split("-") if p.isdigit()]
    written = "".join(f"{p}{u}" for p, u in zip(parts, "年月日", strict=False))
    said = f"：最接近的文章写于{written}" if written else ""
    return f"文章没有说到{word}（{when}）的事{said}。"


def _other_year_notice(profile: QuestionProfile, spoken: Sequence[str]) -> str:
    asked = "、".join(profile.years)
    if profile.language == "en":
        said = f"; the closest passage speaks of {', '.join(spoken)}" if spoken else ""
        return f"The articles have nothing for {', '.join(profile.years)}{said}."
    said = f"，最接近的段落说的是{'、'.join(spoken)}年" if spoken else ""
    return f"文章里没有{asked}年的数据{said}。"
