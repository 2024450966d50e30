"""Links and feeds on loopback: the fetcher's guards, article extraction, feeds read once."""

from __future__ import annotations

import asyncio

import pytest

from bot.feeds import FeedStore, new_articles
from bot.fetch import Fetcher, FetchError
from bot.ingest import IngestError, IngestLimits, read_feed, read_link
from tests.bot.web_server import Site


@pytest.fixture(scope="module")
def site():  # type: ignore[no-untyped-def]
    server = Site().start()
    yield server
    server.stop()


LOCAL = Fetcher(timeout=1.0, max_bytes=200_000, allow_private=True)
WORKER = IngestLimits(seconds=20, fetcher=LOCAL)  # links and feeds are read in a worker


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_a_news_page_becomes_an_article_without_navigation_or_comments(site):
    article, raw = run(read_link(f"{site.url}/news/tea.html", limits=WORKER))
    assert b"<article>" in raw  # the page as it came, for the article store
    assert article.title == "白沙县茶叶产量创新高（虚构测试文章）"
    assert "3.6万吨" in article.body and "86家" in article.body
    assert "首页" not in article.body and "网友评论" not in article.body
    assert "九千万吨" not in article.body and "备案号" not in article.body
    assert article.date == "2024-06-01" and article.authors == ("王小明",)
    assert article.origin == f"{site.url}/news/tea.html"
    assert article.id == "127-0-0-1-news-tea"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://127.0.0.1/x", "only http and https"),
        ("http://127.0.0.1:{port}/missing.html", "HTTP 404"),
        ("http://127.0.0.1:{port}/slow.html", "did not finish within 1 s"),
        ("http://127.0.0.1:{port}/big.html", "larger than 200,000 bytes"),
        ("http://127.0.0.1:1/refused.html", "cannot be fetched"),
    ],
)
def test_bad_links_are_refused_with_a_reason(site, url, why):
    with pytest.raises(FetchError, match=why):
        run(LOCAL.get(url.format(port=site.port)))


def test_private_and_loopback_addresses_are_refused_unless_allowed(site):
    guarded = Fetcher(timeout=1.0)
    for url in (f"{site.url}/news/tea.html", "http://localhost/", "http://169.254.169.254/"):
        with pytest.raises(FetchError, match="private or local address"):
            run(guarded.get(url))
    assert run(LOCAL.get(f"{site.url}/moved")).url.endswith("/news/tea.html")  # redirects


def test_a_feed_is_read_and_each_story_taken_once(site, tmp_path):
    store = FeedStore(tmp_path / "feeds.sqlite")
    url = f"{site.url}/feed.xml"
    title, items = run(read_feed(url, limits=WORKER))
    assert title == "乡村日报" and len(items) == 3
    found, problems = run(new_articles(WORKER, store, url, items))
    # a-copy.html is the same story as a.html: one article
    assert [a.title for _, a, _ in found] == [
        "桃源镇建成光伏电站（虚构测试文章）",
        "桃源镇新修公路（虚构测试文章）",
    ]
    assert problems == []
    for item, article, _ in found:
        store.record(url, item.link, article, article.title, "added")
    again, _ = run(new_articles(WORKER, store, url, items))
    assert again == []  # every link seen: nothing fetched twice
    assert len(store.added_since(0)) == 2


def test_a_broken_feed_is_an_error_and_failures_back_off(site, tmp_path):
    with pytest.raises(IngestError, match="not a readable RSS or Atom feed"):
        run(read_feed(f"{site.url}/broken.xml", limits=WORKER))
    with pytest.raises(IngestError, match="is text/html, not a feed"):  # a page is no feed
        run(read_feed(f"{site.url}/news/a.html", limits=WORKER))
    store = FeedStore(tmp_path / "feeds.sqlite")
    store.follow("http://x/feed", "x", None)
    waits = [store.failed("http://x/feed", "down", 60)[1] for _ in range(4)]
    assert waits == [60, 120, 240, 480]
    assert store.due(0) == []  # not before its next try
    store.succeeded("http://x/feed", "x", 60)
    assert store.feeds()[0].failures == 0
