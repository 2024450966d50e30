"""Other article formats to the text form the splitter reads: one paragraph a line, "#" headings.

.docx (python-docx: heading styles become "#" lines), .html (BeautifulSoup: h1-h3 become "#"
lines, p/li/blockquote paragraphs; scripts, styles and navigation dropped) and .pdf (pypdf's
text; page-layout breaks inside paragraphs are rejoined by the splitter like the newspaper's).
"""

from __future__ import annotations

import io
import re

from corpus.article import ArticleError, ReadLimits, decode_article_bytes

CONVERTED_SUFFIXES = (".docx", ".html", ".htm", ".pdf")


class _Budget:
    """Counts what a conversion produces and stops it at the first limit passed, so that a
    file made to explode (20,000 empty paragraphs, a 20,000-page PDF) costs no more than
    the limit."""

    def __init__(self, limits: ReadLimits, name: str) -> None:
        self.limits, self.name = limits, name
        self.chars = self.lines = 0

    def take(self, text: str) -> str:
        self.chars += len(text)
        self.lines += 1
        if self.chars > self.limits.max_chars:
            raise ArticleError(
                f"{self.name} has more than {self.limits.max_chars:,} characters of text; "
                "split it into several articles"
            )
        if self.lines > self.limits.max_paragraphs:
            raise ArticleError(
                f"{self.name} has more than {self.limits.max_paragraphs:,} paragraphs; "
                "split it into several articles"
            )
        return text


def _docx_text(data: bytes, budget: _Budget) -> str:
    import docx
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several kinds for a broken file
        raise ArticleError(f"not a readable .docx file ({exc.__class__.__name__})") from exc
    lines = []
    # python-docx resolves a paragraph's style with an XPath search of the styles part each
    # time (2 ms: 20,000 paragraphs cost 40 s); names are looked up once per style id
    names = {s.style_id: (s.name or "").lower() for s in document.styles}
    # paragraphs one by one (document.paragraphs builds them all first); tables are skipped
    paragraphs = (p for p in document.iter_inner_content() if isinstance(p, Paragraph))
    for n, para in enumerate(paragraphs):
        if n > budget.limits.max_paragraphs * 4:  # empty ones too: each costs a style lookup
            raise ArticleError(
                f"{budget.name} has more than {budget.limits.max_paragraphs * 4:,} paragraphs "
                "(most of them empty); split it or remove the empty ones"
            )
        text = para.text.strip()
        if not text:
            continue
        budget.take(text)
        style_id = para._p.style  # the paragraph's own w:pStyle; None: the default, body text
        style = names.get(style_id, "") if style_id else ""
        level = re.match(r"(?:heading|标题)\s*(\d)", style)
        if style == "title":
            lines.append(f"# {text}")
        elif level:
            lines.append(f"{'#' * min(int(level.group(1)) + 1, 6)} {text}")
        else:
            lines.append(text)
    return "\n\n".join(lines)


def _html_text(data: bytes, budget: _Budget) -> str:
    from bs4 import BeautifulSoup

    # lxml's parser: linear, and it stops at a nesting depth no article has
    soup = BeautifulSoup(decode_article_bytes(data, name="html"), "lxml")
    for tag in soup(["script", "style", "nav", "header", "footer", "aside", "form", "noscript"]):
        tag.decompose()
    lines = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "p", "li", "blockquote"]):
        if el.find_parent(["p", "li", "blockquote"]):
            continue
        text = " ".join(el.get_text(" ", strip=True).split())
        if not text:
            continue
        budget.take(text)
        if el.name in ("h1", "h2", "h3", "h4"):
            lines.append(f"{'#' * int(el.name[1])} {text}")
        else:
            lines.append(text)
    return "\n\n".join(lines)


def _pdf_text(data: bytes, budget: _Budget) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    lines: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > budget.limits.max_pdf_pages:
            raise ArticleError(
                f"{budget.name} has {len(reader.pages):,} pages; an article may have at most "
                f"{budget.limits.max_pdf_pages:,}"
            )
        for page in reader.pages:
            # One paragraph a line: pypdf ends every printed line with a newline; a line that
            # stops mid-sentence continues on the next (the splitter rejoins it).
            for line in (page.extract_text() or "").splitlines():
                if line.strip():
                    lines.append(budget.take(line.strip()))
    except (PdfReadError, ValueError, KeyError) as exc:
        raise ArticleError(f"not a readable PDF ({exc})") from exc
    return "\n\n".join(lines)


def convert_to_text(
    data: bytes, suffix: str, *, name: str = "article", limits: ReadLimits | None = None
) -> str:
    """Text of a .docx, .html or .pdf file; ArticleError when it has none or passes a limit."""
    suffix = suffix.lower()
    budget = _Budget(limits or ReadLimits(), name)
    if suffix == ".docx":
        text = _docx_text(data, budget)
    elif suffix in (".html", ".htm"):
        text = _html_text(data, budget)
    elif suffix == ".pdf":
        text = _pdf_text(data, budget)
    else:
        raise ArticleError(f"{name}: no converter for {suffix}")
    if not text.strip():
        raise ArticleError(f"{name} has no text (a scanned PDF needs OCR first)")
    return text
