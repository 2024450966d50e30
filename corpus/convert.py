"""Other article formats to the text form the splitter reads: one paragraph a line, "#" headings.

.docx (python-docx: heading styles become "#" lines), .html (BeautifulSoup: h1-h3 become "#"
lines, p/li/blockquote paragraphs; scripts, styles and navigation dropped) and .pdf (pypdf's
text; page-layout breaks inside paragraphs are rejoined by the splitter like the newspaper's).
"""

from __future__ import annotations

import io
import re

from corpus.article import ArticleError, decode_article_bytes

CONVERTED_SUFFIXES = (".docx", ".html", ".htm", ".pdf")


def _docx_text(data: bytes) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several kinds for a broken file
        raise ArticleError(f"not a readable .docx file ({exc.__class__.__name__})") from exc
    lines = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "").lower()
        level = re.match(r"(?:heading|标题)\s*(\d)", style)
        if style == "title":
            lines.append(f"# {text}")
        elif level:
            lines.append(f"{'#' * min(int(level.group(1)) + 1, 6)} {text}")
        else:
            lines.append(text)
    return "\n\n".join(lines)


def _html_text(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_article_bytes(data, name="html"), "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "aside", "form", "noscript"]):
        tag.decompose()
    lines = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "p", "li", "blockquote"]):
        if el.find_parent(["p", "li", "blockquote"]):
            continue
        text = " ".join(el.get_text(" ", strip=True).split())
        if not text:
            continue
        if el.name in ("h1", "h2", "h3", "h4"):
            lines.append(f"{'#' * int(el.name[1])} {text}")
        else:
            lines.append(text)
    return "\n\n".join(lines)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise ArticleError(f"not a readable PDF ({exc})") from exc
    # One paragraph a line: pypdf ends every printed line with a newline; a line that stops
    # mid-sentence continues on the next (the splitter rejoins it).
    return "\n\n".join(line.strip() for page in pages for line in page.splitlines() if line.strip())


def convert_to_text(data: bytes, suffix: str, *, name: str = "article") -> str:
    """Text of a .docx, .html or .pdf file; ArticleError when it has none."""
    suffix = suffix.lower()
    if suffix == ".docx":
        text = _docx_text(data)
    elif suffix in (".html", ".htm"):
        text = _html_text(data)
    elif suffix == ".pdf":
        text = _pdf_text(data)
    else:
        raise ArticleError(f"{name}: no converter for {suffix}")
    if not text.strip():
        raise ArticleError(f"{name} has no text (a scanned PDF needs OCR first)")
    return text
