"""What a change to the index will do, decided before anything is embedded or written: a pure
function of what the index holds and what is asked (unit-tested without a model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from corpus import Article


@dataclass(frozen=True, slots=True)
class Plan:
    """The articles to take out (removed, and the old versions of replaced ones), the ones to
    put in (added and replaced), and the ones left as they are."""

    removed: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # unchanged, or the same text under another id
    todo: tuple[Article, ...] = ()  # what is embedded and written, in the order asked

    @property
    def take_out(self) -> tuple[str, ...]:
        return (*self.removed, *self.replaced)

    @property
    def changes(self) -> bool:
        return bool(self.removed or self.replaced or self.added)


def plan_changes(
    held: Mapping[str, str], *, add: Sequence[Article] = (), remove: Sequence[str] = ()
) -> Plan:
    """`held`: {article id: content hash} of what the index holds (nothing, for a build
    afresh). Removing what is not held does nothing; an article held unchanged, or whose
    text is held under another id (a duplicate), is skipped; one held with other text is
    replaced; the rest are added. The first of two articles with one text wins."""
    hashes = dict(held)
    removed = tuple(a for a in dict.fromkeys(remove) if a in hashes)
    for article_id in removed:
        hashes.pop(article_id)
    known = set(hashes.values())
    replaced: list[str] = []
    added: list[str] = []
    skipped: list[str] = []
    todo: list[Article] = []
    for article in add:
        if hashes.get(article.id) == article.content_hash or article.content_hash in known:
            skipped.append(article.id)
            continue
        (replaced if article.id in hashes else added).append(article.id)
        known.add(article.content_hash)
        hashes[article.id] = article.content_hash
        todo.append(article)
    return Plan(removed, tuple(replaced), tuple(added), tuple(skipped), tuple(todo))
