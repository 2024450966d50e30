"""Articles: decoding, front matter, metadata of the first article, refusals."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from corpus import ArticleError, decode_article_bytes, load_article, parse_article

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "zhuzhou-digital-economy.txt"


def test_first_article_metadata(article):
    assert article.id == "zhuzhou-digital-economy"
    assert article.title == "数字经济，制造名城“新引擎”"
    assert article.subtitle.startswith("——从三次承办全国工业APP")
    assert article.authors == ("李永亮", "谭小洋", "李荷露", "靳向阳")
    assert article.date == "2022-12"
    assert article.year == 2022


def test_body_is_the_newspaper_text_verbatim(article):
    digest = hashlib.sha256(article.body.encode("utf-8")).hexdigest()
    assert digest == article.extra["body_sha256"]
    if SHARED.exists():
        assert article.body == SHARED.read_text(encoding="utf-8")


def test_gbk_upload_is_decoded():
    text = "标题\n\n株洲数字经济规模1118亿元，占GDP比重达42%。"
    assert decode_article_bytes(text.encode("gbk")) == text


def test_binary_upload_is_refused():
    with pytest.raises(ArticleError, match="binary"):
        decode_article_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))


@pytest.mark.parametrize("data", [b"", b"   \n\n  "])
def test_empty_upload_is_refused(data):
    with pytest.raises(ArticleError, match="empty"):
        decode_article_bytes(data)


def test_front_matter_wins_and_body_is_kept_exactly():
    text = "---\ntitle: 测试文章\ndate: 2023-05-01\nauthors: 张三, 李四\n---\n\n正文第一段。\n"
    a = parse_article(text, default_id="x")
    assert a.title == "测试文章"
    assert a.date == "2023-05-01"
    assert a.authors == ("张三", "李四")
    assert a.body == "\n正文第一段。\n"


def test_title_falls_back_to_heading_then_first_line():
    assert parse_article("# 大标题\n\n正文。", default_id="x").title == "大标题"
    assert parse_article("第一行\n\n正文。", default_id="x").title == "第一行"


def test_unknown_suffix_is_refused(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 JFIF")
    with pytest.raises(ArticleError, match="unsupported file type"):
        load_article(path)


def test_front_matter_only_is_refused():
    with pytest.raises(ArticleError, match="no body"):
        parse_article("---\ntitle: x\n---\n\n", default_id="x")
