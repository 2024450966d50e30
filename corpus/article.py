"""Articles: decoding uploaded bytes, reading .txt/.md files with front matter, metadata."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
from charset_normalizer import from_bytes

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, ".docx", ".html", ".htm", ".pdf")
MAX_ARTICLE_BYTES = 20 * 1024 * 1024


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


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Front matter and the body exactly as written.

    python-frontmatter's own split strips the blank lines that open the body, and the body's
    offsets are what citations point at, so only the YAML parsing is left to it.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = frontmatter.YAMLHandler().load(match.group(1))
    except Exception as exc:  # a YAML error names the line; pass it on
        raise ArticleError(f"front matter could not be read: {exc}") from exc
    if not isinstance(meta, dict):
        raise ArticleError("front matter must be a mapping of key: value lines")
    return meta, text[match.end() :]


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
    text: str, *, default_id: str, origin: str = "", defaults: dict[str, Any] | None = None
) -> Article:
    """Build an Article from decoded text: front matter wins over `defaults`, then the body."""
    meta, body = _split_front_matter(text)
    merged = {**(defaults or {}), **{k: v for k, v in meta.items() if v not in (None, "")}}
    if not body.strip():
        raise ArticleError(f"{origin or default_id} has no body text")
    authors = merged.pop("authors", ())
    if isinstance(authors, str):
        authors = tuple(a for a in re.split(r"[,，、\s]+", authors) if a)
    title = str(merged.pop("title", "") or _title_from_body(body))
    known = {"id", "subtitle", "source", "date", "language"}
    return Article(
        id=slugify(str(merged.pop("id", default_id))),
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


def read_article_bytes(
    data: bytes, *, name: str, origin: str = "", defaults: dict[str, Any] | None = None
) -> Article:
    """An article from a file's bytes: .txt/.md decoded, .docx/.html/.pdf converted first."""
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
        text = convert_to_text(data, suffix, name=name)
    return parse_article(text, default_id=Path(name).stem, origin=origin or name, defaults=defaults)


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
