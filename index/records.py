"""Plain frozen records that the index hands to front ends."""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus import Passage


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    """What a citation needs to know about an article."""

    id: str
    title: str
    date: str = ""
    source: str = ""
    subtitle: str = ""
    authors: tuple[str, ...] = ()
    content_hash: str = ""
    passages: int = 0
    url: str = ""  # where an article added by link or feed came from

    @property
    def year(self) -> int | None:
        """The year the article was written (its date's), which 今年 and 去年 are relative to."""
        return int(self.date[:4]) if self.date[:4].isdigit() else None


@dataclass(frozen=True, slots=True)
class Hit:
    """A ranked passage with the scores that put it there."""

    pid: int
    passage: Passage
    article: ArticleInfo
    score: float
    dense: float = 0.0
    lexical: float = 0.0
    rank: int = 0

    def citation(self) -> str:
        section = " › ".join(s.lstrip("—") for s in self.passage.section_path)
        where = f"{section}，" if section else ""
        return f"《{self.article.title}》 {where}第{self.passage.paragraph}段"


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build or an incremental change did."""

    generation: int
    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    passages_added: int = 0
    vectors_embedded: int = 0
    passages_total: int = 0
    figures_added: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """What serves: the generation, the model that built it, where its vectors live, counts."""

    generation: int
    model: str
    store: str
    counts: dict[str, int] = field(default_factory=dict)
