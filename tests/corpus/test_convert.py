"""Other formats: .docx, .html and .pdf become articles with headings and paragraphs."""

from __future__ import annotations

import io

import pytest

from corpus import ArticleError, read_article_bytes, split_passages


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("青石市灯塔普查（虚构）", level=0)
    document.add_heading("一、概况", level=1)
    document.add_paragraph("本文为测试而虚构。截至目前，青石市共有灯塔17座。")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_headings_and_paragraphs():
    article = read_article_bytes(_docx(), name="lighthouses.docx")
    assert article.title == "青石市灯塔普查（虚构）"
    passages = split_passages(article.body, article_id=article.id, title=article.title)
    assert passages[0].text == "本文为测试而虚构。截至目前，青石市共有灯塔17座。"
    assert passages[0].section_path == ("一、概况",)


def test_html_drops_scripts_and_navigation():
    page = (
        "<html><head><script>var x=1;</script><style>p{}</style></head><body>"
        "<nav>首页 | 新闻</nav><h1>青石市灯塔普查</h1><h2>概况</h2>"
        "<p>青石市共有<b>灯塔17座</b>，其中新建5座。</p><footer>版权所有</footer></body></html>"
    )
    article = read_article_bytes(page.encode("gbk"), name="page.html")
    assert article.title == "青石市灯塔普查"
    assert "灯塔17座" in article.body and "var x" not in article.body and "首页" not in article.body
    passages = split_passages(article.body, article_id="p", title=article.title)
    assert passages[0].section_path == ("概况",)


def test_pdf_text_is_extracted_or_refused():
    from pypdf import PdfWriter

    blank = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.write(blank)
    with pytest.raises(ArticleError, match="no text"):
        read_article_bytes(blank.getvalue(), name="scan.pdf")
    with pytest.raises(ArticleError, match="PDF"):
        read_article_bytes(b"%PDF-1.4 broken", name="broken.pdf")


def test_broken_docx_is_refused():
    with pytest.raises(ArticleError, match="docx"):
        read_article_bytes(b"PK\x03\x04 not really a zip", name="broken.docx")
