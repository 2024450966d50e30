"""Hostile inputs without the bot: each is refused by the worker that reads it (with one
clear message, within its limits) or handled in bounded work, and the index that serves is
left as it was. Loopback only: the pages come from tests/bot/web_server.py on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from pathlib import Path

import pytest

from bot.fetch import Fetcher, FetchError, is_public_address, parse_link
from bot.ingest import IngestError, IngestLimits, read_feed, read_link, read_upload
from corpus import ArticleError, ReadLimits, parse_article
from corpus.web import article_id_for_url
from index import ArticleClashError, ArticleStore, Engine, HashEmbedder, IndexFolder
from tests.bot.web_server import Site
from tests.conftest import make_article
from tests.hostile import inputs

LIMITS = IngestLimits(
    seconds=20, fetcher=Fetcher(timeout=3.0, max_bytes=200_000, allow_private=True)
)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def site():  # type: ignore[no-untyped-def]
    server = Site().start()
    yield server
    server.stop()


def _upload(data: bytes, name: str, limits: IngestLimits = LIMITS) -> tuple[float, object]:
    t0 = time.monotonic()
    try:
        result: object = run(read_upload(data, name=name, defaults={}, limits=limits))
    except IngestError as exc:
        result = exc
    return time.monotonic() - t0, result


@pytest.mark.parametrize(
    ("name", "make", "why"),
    [
        ("many.docx", inputs.docx_of_many_paragraphs, "more than 3,000 paragraphs"),
        ("many.pdf", inputs.pdf_of_many_pages, "20,000 pages; an article may have at most 300"),
        ("long.txt", inputs.text_without_sentence_ends, "at most 300,000"),
        ("bomb.md", inputs.yaml_alias_bomb, "anchors and aliases are not allowed"),
        ("id.md", lambda: inputs.article_with_id("x" * 100_000), "larger than 8,192 bytes"),
        ("id2.md", lambda: inputs.article_with_id("x" * 200), "at most 80"),
    ],
)
def test_a_hostile_upload_is_refused_with_one_clear_message(name, make, why):
    _, result = _upload(make(), name)
    assert isinstance(result, IngestError) and why in str(result), result


def test_nested_html_is_read_in_bounded_work():
    seconds, result = _upload(inputs.nested_html(), "nested.html")
    assert seconds < LIMITS.seconds  # never past the worker's deadline
    if not isinstance(result, IngestError):
        assert "深处的一句话" in result.body  # type: ignore[attr-defined]


def test_a_worker_past_its_memory_limit_is_stopped_and_says_so():
    tight = IngestLimits(seconds=20, memory_mb=200, read=ReadLimits(max_chars=10**9))
    _, result = _upload(inputs.text_without_sentence_ends(60_000_000), "huge.txt", tight)
    assert isinstance(result, IngestError) and "more than 200 MB" in str(result)


def test_a_worker_past_its_time_limit_is_killed(site):
    slow = IngestLimits(seconds=2, fetcher=Fetcher(timeout=60, allow_private=True))
    t0 = time.monotonic()
    with pytest.raises(IngestError, match="longer than 2 s"):
        run(read_link(f"{site.url}/drip.html", limits=slow))
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/bomb.html", "larger than 200,000 bytes (decompressed)"),
        ("/drip.html", "did not finish within 3 s"),
        ("/report.pdf", "is application/pdf, not a web page"),
    ],
)
def test_hostile_pages_are_refused(site, path, why):
    with pytest.raises(IngestError, match=re.escape(why)):
        run(read_link(f"{site.url}{path}", limits=LIMITS))


def test_feed_items_that_differ_only_in_the_query_are_two_articles(site):
    _, items = run(read_feed(f"{site.url}/query-feed.xml", limits=LIMITS))
    ids = {article_id_for_url(item.link) for item in items}
    assert len(ids) == 2 and all(i.startswith("127-0-0-1-story-id") for i in ids)
    assert article_id_for_url("https://x.cn/a?id=1") != article_id_for_url("https://x.cn/a?id=2")
    assert article_id_for_url("https://x.cn/news/1.html") == "x-cn-news-1"  # no query: as before


@pytest.mark.parametrize(
    "literal",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of the cloud metadata address
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::127.0.0.1",  # IPv4-compatible
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1
    ],
)
def test_embedded_private_ipv4_addresses_are_not_public(literal):
    assert not is_public_address(ipaddress.ip_address(literal))


def test_public_addresses_stay_public():
    for literal in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822"):
        assert is_public_address(ipaddress.ip_address(literal))


def test_a_link_to_an_embedded_loopback_address_is_refused_without_a_connection():
    guarded = Fetcher(timeout=2)
    for url in ("http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]:8080/x"):
        with pytest.raises(FetchError, match="private or local address"):
            run(guarded.get(url))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:99999/x", "not a valid link"),
        ("http://[::1/x", "not a valid link"),
        ("http://127.0.0.1:port/x", "not a valid link"),
        ("javascript:alert(1)", "only http and https"),
        ("http:///nohost", "no host name"),
    ],
)
def test_malformed_links_are_a_clear_message(url, why):
    with pytest.raises(FetchError, match=why):
        parse_link(url)


def _engine(root: Path) -> Engine:
    return Engine(
        store=IndexFolder(root / "index"),
        embedder=HashEmbedder(),
        article_store=ArticleStore(root / "articles"),
    )


def test_an_upload_claiming_another_articles_id_is_refused_and_changes_nothing(tmp_path):
    engine = _engine(tmp_path)
    original = make_article("zhuzhou", "株洲数字经济规模1118亿元。", origin="corpus/zhuzhou.md")
    engine.build([original])
    claim = parse_article(
        inputs.article_with_id("zhuzhou", "株洲数字经济规模9999亿元。").decode(),
        default_id="evil",
        origin="telegram:evil.md",
    )
    with pytest.raises(ArticleClashError, match="already exists"):
        engine.add([claim])
    assert "1118亿元" in engine._generation.stored_articles()[0].body


def test_a_long_file_name_gives_a_bounded_id():
    article = parse_article("正文。", default_id="很长的文件名" * 100)
    assert len(article.id) <= 80
    with pytest.raises(ArticleError, match="at most 80"):
        parse_article(inputs.article_with_id("y" * 81).decode(), default_id="x")
