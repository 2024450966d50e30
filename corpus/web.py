"""A news page's HTML -> an Article: main text, title, date and author by trafilatura
(navigation, comments and boilerplate dropped). No network here: bot/fetch.py fetches."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from corpus.article import (
    MAX_ID_CHARS,
    Article,
    ArticleError,
    ReadLimits,
    check_text_limits,
    slugify,
)

_MIN_BODY = 20  # characters: less is not an article (a login wall, an error page)


def article_id_for_url(url: str) -> str:
    """A stable id from the address: host, path and query. With a query (two articles of one
    script differ only there) or when the slug is cut to fit, a short hash of the address
    keeps two addresses two ids."""
    parts = urlsplit(url)
    path = re.sub(r"\.(?:s?html?|php|aspx?)$", "", parts.path.strip("/"))
    host = parts.hostname or "web"
    slug = slugify("-".join(p for p in (host, path, parts.query) if p))
    if not parts.query and len(slug) <= MAX_ID_CHARS:
        return slug
    address = parts._replace(fragment="").geturl()
    digest = hashlib.sha256(address.encode("utf-8")).hexdigest()[:8]
    return f"{slug[: MAX_ID_CHARS - 9].rstrip('-')}-{digest}"


def article_from_html(html: str | bytes, *, url: str, limits: ReadLimits | None = None) -> Article:
    """The article a page holds; ArticleError when it holds none or passes a limit."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=True,
    )
    doc = doc if isinstance(doc, dict) else (doc.as_dict() if doc is not None else {})
    text = (doc.get("text") or "").strip()
    if len(text) < _MIN_BODY:
        raise ArticleError(f"{url}: no article text found on the page")
    title = (doc.get("title") or "").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if title and lines and lines[0] == title:
        lines = lines[1:]
    body = "\n\n".join(lines)  # a paragraph per line, as articles are stored
    check_text_limits(body, url, limits or ReadLimits())
    if not title:
        title = lines[0][:60] if lines else url
    author = doc.get("author") or _meta_author(html)
    authors = tuple(a.strip()[:60] for a in re.split(r"[;,，、]", author) if a.strip())[:20]
    return Article(
        id=article_id_for_url(url),
        title=title[:300],
        body=body,
        authors=authors,
        source=(doc.get("sitename") or "")[:200],
        date=(doc.get("date") or "")[:40],
        origin=url,
        extra={"url": url},
    )


def _meta_author(html: str | bytes) -> str:
    """<meta name="author">, which trafilatura leaves out when it holds a Chinese name."""
    from lxml import html as lxml_html

    try:
        tree = lxml_html.fromstring(html)
    except (ValueError, TypeError, SyntaxError):
        return ""
    found = tree.xpath('//meta[@name="author"]/@content')
    return str(found[0]).strip() if found else ""
