"""Articles: decoding uploaded bytes, reading .txt/.md files with front matter, metadata."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from charset_normalizer import from_bytes

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, ".docx", ".html", ".htm", ".pdf")
MAX_ARTICLE_BYTES = 20 * 1024 * 1024
MAX_ID_CHARS = 80
_ID = re.compile(r"[\w\u4e00-\u9fff][\w\u4e00-\u9fff.-]*")


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """What one article may be: beyond any of these it is refused with a message naming the
    limit, before anything is indexed. An article is read, split and embedded as one piece of
    work, so its size bounds how long an editor's add holds the index."""

    max_chars: int = 300_000  # converted text
    max_paragraphs: int = 3_000  # non-empty lines of the converted text
    max_pdf_pages: int = 300
    max_front_matter_bytes: int = 8_192
    max_field_chars: int = 500  # any one front-matter value
    max_fields: int = 30


class ArticleError(ValueError):
    """An article that cannot be read: binary, undecodable, empty or of an unknown type."""


@dataclass(frozen=True, slots=True)
class Article:
    """One article: its verbatim body (citations quote it) and its metadata."""

    id: str
    title: str
    body: str
    subtitle: str = ""
    authors: tuple[str, ...] = ()
    source: str = ""
    date: str = ""
    language: str = "zh"
    origin: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def content_hash(self) -> str:
        return content_hash(self.body)

    @property
    def year(self) -> int | None:
        """The year the article was written, which resolves relative periods like 今年."""
        match = re.match(r"(\d{4})", self.date)
        return int(match.group(1)) if match else None


def content_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _check_size(data: bytes, name: str) -> None:
    if not data.strip():
        raise ArticleError(f"{name} is empty")
    if len(data) > MAX_ARTICLE_BYTES:
        raise ArticleError(f"{name} is larger than {MAX_ARTICLE_BYTES // (1024 * 1024)} MB")


def decode_article_bytes(data: bytes, *, name: str = "article") -> str:
    """Decode an uploaded file: UTF-8 first, then GB18030/GBK/Big5 and others; refuse binary."""
    _check_size(data, name)
    if b"\x00" in data[:8192]:
        raise ArticleError(f"{name} looks like a binary file (it contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        best = from_bytes(data).best()
        if best is None:
            raise ArticleError(
                f"{name} is not text in any encoding Shuzi recognises; save it as UTF-8"
            ) from None
        text = str(best)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\t")
    if controls > max(8, len(text) // 100):
        raise ArticleError(f"{name} looks like a binary file, not text")
    if not text.strip():
        raise ArticleError(f"{name} has no text")
    return text


def slugify(name: str) -> str:
    slug = re.sub(r"[^\w\u4e00-\u9fff-]+", "-", name.strip().lower()).strip("-")
    return slug or "article"


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a few hundred bytes of aliases expand to gigabytes
    (the "billion laughs"); front matter never needs them. Custom tags are refused by
    SafeLoader itself."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.YAMLError(f"anchors and aliases are not allowed ({event.start_mark})")
        return super().compose_node(parent, index)


def _split_front_matter(text: str, limits: ReadLimits) -> tuple[dict[str, Any], str]:
    """Front matter and the body exactly as written (the body's offsets are what citations
    point at, so nothing around it is stripped)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    raw = match.group(1)
    if len(raw.encode("utf-8")) > limits.max_front_matter_bytes:
        raise ArticleError(
            f"front matter is larger than {limits.max_front_matter_bytes:,} bytes; "
            "keep it to title, date, authors and the like"
        )
    try:
        meta = yaml.load(raw, Loader=_NoAliasLoader)  # a SafeLoader without aliases
    except yaml.YAMLError as exc:  # a YAML error names the line; pass it on
        raise ArticleError(f"front matter could not be read: {exc}") from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ArticleError("front matter must be a mapping of key: value lines")
    _check_fields(meta, limits)
    return meta, text[match.end() :]


def _check_fields(meta: dict[Any, Any], limits: ReadLimits) -> None:
    """Front-matter values are short scalars (authors may be a short list of them)."""
    if len(meta) > limits.max_fields:
        raise ArticleError(f"front matter has {len(meta)} fields, at most {limits.max_fields}")
    for key, value in meta.items():
        values = value if isinstance(value, list) and key == "authors" else [value]
        if len(values) > 50:
            raise ArticleError(f"front matter field {key!r} lists {len(values)} values, at most 50")
        for v in values:
            if isinstance(v, (dict, list, set, tuple, bytes)):
                raise ArticleError(f"front matter field {key!r} must be plain text")
            if len(str(v)) > limits.max_field_chars:
                raise ArticleError(
                    f"front matter field {key!r} is {len(str(v)):,} characters, "
                    f"at most {limits.max_field_chars}"
                )


def check_article_id(article_id: str) -> str:
    """An id as given (front matter, caption): letters, digits, CJK, - _ . and at most
    MAX_ID_CHARS characters, or ArticleError saying so."""
    if len(article_id) > MAX_ID_CHARS:
        raise ArticleError(
            f"article id is {len(article_id):,} characters long; at most {MAX_ID_CHARS}"
        )
    if not _ID.fullmatch(article_id):
        raise ArticleError(
            f"article id {article_id!r} may hold letters, digits, Chinese characters, "
            "'-', '_' and '.', and must start with a letter or digit"
        )
    return article_id


def derived_id(name: str) -> str:
    """An id made from a file name or an address: slugified, and when too long cut with a
    short hash of the whole, so that two long names stay two ids."""
    slug = slugify(name)
    if len(slug) <= MAX_ID_CHARS:
        return slug
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{slug[: MAX_ID_CHARS - 9].rstrip('-')}-{digest}"


def _title_from_body(body: str) -> str:
    for line in body.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        heading = re.match(r"#{1,6}\s+(.+)", stripped)
        if heading:
            return heading.group(1).strip()
    for line in body.splitlines():
        if line.strip():
            return line.strip()[:60]
    return ""


def parse_article(
    text: str,
    *,
    default_id: str,
    origin: str = "",
    defaults: dict[str, Any] | None = None,
    limits: ReadLimits | None = None,
) -> Article:
    """Build an Article from decoded text: front matter wins over `defaults`, then the body."""
    limits = limits or ReadLimits()
    meta, body = _split_front_matter(text, limits)
    check_text_limits(body, origin or default_id, limits)
    merged = {**(defaults or {}), **{k: v for k, v in meta.items() if v not in (None, "")}}
    if not body.strip():
        raise ArticleError(f"{origin or default_id} has no body text")
    authors = merged.pop("authors", ())
    if isinstance(authors, str):
        authors = tuple(a for a in re.split(r"[,，、\s]+", authors) if a)
    title = str(merged.pop("title", "") or _title_from_body(body))
    known = {"id", "subtitle", "source", "date", "language"}
    given_id = merged.pop("id", None)
    article_id = check_article_id(slugify(str(given_id))) if given_id else derived_id(default_id)
    return Article(
        id=article_id,
        title=title,
        body=body,
        subtitle=str(merged.get("subtitle", "")),
        authors=tuple(str(a) for a in authors),
        source=str(merged.get("source", "")),
        date=str(merged.get("date", "")),
        language=str(merged.get("language", "zh")),
        origin=origin,
        extra={k: v for k, v in merged.items() if k not in known},
    )


def check_text_limits(text: str, name: str, limits: ReadLimits) -> None:
    if len(text) > limits.max_chars:
        raise ArticleError(
            f"{name} has {len(text):,} characters of text; an article may have at most "
            f"{limits.max_chars:,} (split it into several)"
        )
    paragraphs = sum(1 for line in text.split("\n") if line.strip())
    if paragraphs > limits.max_paragraphs:
        raise ArticleError(
            f"{name} has {paragraphs:,} paragraphs; an article may have at most "
            f"{limits.max_paragraphs:,} (split it into several)"
        )


def read_article_bytes(
    data: bytes,
    *,
    name: str,
    origin: str = "",
    defaults: dict[str, Any] | None = None,
    limits: ReadLimits | None = None,
) -> Article:
    """An article from a file's bytes: .txt/.md decoded, .docx/.html/.pdf converted first."""
    limits = limits or ReadLimits()
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ArticleError(
            f"{name}: unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if suffix in TEXT_SUFFIXES:
        text = decode_article_bytes(data, name=name)
    else:
        from corpus.convert import convert_to_text

        _check_size(data, name)
        text = convert_to_text(data, suffix, name=name, limits=limits)
    return parse_article(
        text, default_id=Path(name).stem, origin=origin or name, defaults=defaults, limits=limits
    )


def load_article(path: Path, *, defaults: dict[str, Any] | None = None) -> Article:
    """Read one article file (.txt/.md with optional YAML front matter, .docx, .html, .pdf)."""
    return read_article_bytes(
        path.read_bytes(), name=path.name, origin=str(path), defaults=defaults
    )


def discover_articles(folder: Path) -> list[Path]:
    """Article files under a folder, in a stable order."""
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
    )
