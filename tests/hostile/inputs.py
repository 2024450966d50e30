"""Hostile inputs, as the issue found them: files made to stall, bloat or fool the bot.
Shared by tests/hostile and bench/hostile.py. Everything is generated here, nothing is
downloaded."""

from __future__ import annotations

import io
import re
import zipfile

FIRST_ARTICLE_FIGURE = "1118亿元"


def docx_of_many_paragraphs(n: int = 20_000) -> bytes:
    """A small .docx (tens of KB) with n paragraphs: it was converted on the event loop and
    its build held the lock for ten minutes. Made from python-docx's empty document with its
    body rewritten (adding 20,000 paragraphs through python-docx takes seconds)."""
    import docx

    template = io.BytesIO()
    docx.Document().save(template)
    body = "".join(f"<w:p><w:r><w:t>第{i}段。</w:t></w:r></w:p>" for i in range(n))
    out = io.BytesIO()
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                xml = data.decode("utf-8")
                xml = re.sub(r"<w:body>.*?(<w:sectPr)", f"<w:body>{body}\\1", xml, flags=re.S)
                data = xml.encode("utf-8")
            dst.writestr(item, data)
    return out.getvalue()


def pdf_of_many_pages(n: int = 20_000) -> bytes:
    """A PDF of n blank pages."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(n):
        writer.add_blank_page(width=72, height=72)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def nested_html(depth: int = 200_000) -> bytes:
    """Deeply nested tags around a little text (about 2 MB at the default depth)."""
    return (b"<div>" * depth) + "<p>深处的一句话。</p>".encode() + (b"</div>" * depth)


def text_without_sentence_ends(chars: int = 1_000_000) -> bytes:
    """A text with no sentence end: it was one passage, scanned in quadratic time."""
    unit = "株洲数字经济规模1118亿元、增长17.8% 企业201家，"
    return (unit * (chars // len(unit) + 1))[:chars].encode("utf-8")


def yaml_alias_bomb() -> bytes:
    """About 400 bytes of front matter whose aliases expand to millions of strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    return ("---\n" + "\n".join(lines) + "\n---\n# 标题\n\n正文一句。\n").encode()


def article_with_id(article_id: str, body: str = "青石市共有灯塔17座。") -> bytes:
    return f"---\nid: {article_id}\ntitle: 测试\n---\n{body}\n".encode()
