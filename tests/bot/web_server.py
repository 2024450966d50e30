"""A local news site on 127.0.0.1 for the link and feed tests: article pages (with
navigation and comments around the story), a feed, a feed that changes between reads, a
broken feed, a slow page and a large one. Every article is made up for the tests."""

from __future__ import annotations

import functools
import gzip
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{site} - {title}</title>
<meta name="author" content="{author}"><meta property="article:published_time" content="{date}">
</head><body><header><nav><ul><li><a href="/">首页</a></li><li><a href="/news">新闻</a></li>
<li><a href="/about">关于我们</a></li></ul></nav></header>
<main><article><h1>{title}</h1>{paragraphs}</article></main>
<section id="comments" class="comments"><h3>网友评论</h3><p>评论：这个数字太夸张了，不可能有九千万吨。</p></section>
<footer>版权所有 {site} · 备案号 000000</footer></body></html>"""

ARTICLES = {
    "/news/tea.html": (
        "白沙县茶叶产量创新高（虚构测试文章）",
        [
            "本文为测试而虚构，文中地名与数字均不真实。",
            "白沙县今年茶叶产量达到3.6万吨，同比增长12%，茶园面积扩大到18万亩。",
            "全县茶企有86家，其中规模以上茶企21家，带动就业4200人。",
        ],
    ),
    "/news/a.html": (
        "桃源镇建成光伏电站（虚构测试文章）",
        [
            "本文为测试而虚构，文中地名与数字均不真实。",
            "桃源镇光伏电站装机容量为45兆瓦，年发电量约5200万千瓦时。",
        ],
    ),
    "/news/b.html": (
        "桃源镇新修公路（虚构测试文章）",
        [
            "本文为测试而虚构，文中地名与数字均不真实。",
            "桃源镇今年新修乡村公路73公里，通达全部29个行政村。",
        ],
    ),
    "/news/c.html": (
        "石门村养蜂合作社（虚构测试文章）",
        [
            "本文为测试而虚构，文中地名与数字均不真实。",
            "石门村养蜂合作社有蜂箱1300箱，去年卖出蜂蜜26吨。",
        ],
    ),
    "/news/d.html": (
        "石门村图书室开放（虚构测试文章）",
        [
            "本文为测试而虚构，文中地名与数字均不真实。",
            "石门村图书室藏书5400册，每周开放六天。",
        ],
    ),
}
ARTICLES["/news/a-copy.html"] = ARTICLES["/news/a.html"]  # the same story under another link


@functools.cache
def GZIP_BOMB() -> bytes:
    """200 MB of zeros, gzipped twice: about 500 bytes on the wire."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    once = b"".join(inner.compress(block) for _ in range(200)) + inner.flush()
    return gzip.compress(once, 9)


def rss(title: str, links: list[str], base: str) -> str:
    items = "".join(
        f"<item><title>{ARTICLES[link][0]}</title><link>{base}{link}</link>"
        f"<guid>{base}{link}</guid></item>"
        for link in links
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>{base}/</link><description>测试</description>"
        f"{items}</channel></rss>"
    )


class Site:
    """Serves the pages; counts what was asked for."""

    def __init__(self) -> None:
        site = self
        self.hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                site.hits.append(self.path)
                base = f"http://127.0.0.1:{site.port}"
                if self.path in ARTICLES:
                    title, paragraphs = ARTICLES[self.path]
                    body = PAGE.format(
                        site="乡村日报",
                        title=title,
                        author="王小明",
                        date="2024-06-01",
                        paragraphs="".join(f"<p>{p}</p>" for p in paragraphs),
                    )
                    self._send(200, body, "text/html; charset=utf-8")
                elif self.path == "/feed.xml":
                    links = ["/news/a.html", "/news/b.html", "/news/a-copy.html"]
                    self._send(200, rss("乡村日报", links, base), "application/rss+xml")
                elif self.path == "/changing.xml":
                    site.changing += 1
                    links = ["/news/c.html"] + (["/news/d.html"] if site.changing > 1 else [])
                    self._send(200, rss("石门村通讯", links, base), "application/rss+xml")
                elif self.path == "/flaky.xml":  # read once, then the server fails
                    site.flaky += 1
                    if site.flaky == 1:
                        self._send(
                            200, rss("桃源快讯", ["/news/b.html"], base), "application/rss+xml"
                        )
                    else:
                        self._send(500, "internal error", "text/plain")
                elif self.path == "/broken.xml":
                    self._send(200, "<html>this is not a feed", "application/xml")
                elif self.path == "/slow.html":
                    time.sleep(2)
                    self._send(200, "<html>late</html>", "text/html")
                elif self.path == "/big.html":
                    self._send(200, "<p>" + "大" * 400_000 + "</p>", "text/html; charset=utf-8")
                elif self.path == "/bomb.html":  # 500 bytes that expand to 200 MB
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Encoding", "gzip, gzip")
                    self.send_header("Content-Length", str(len(GZIP_BOMB())))
                    self.end_headers()
                    self.wfile.write(GZIP_BOMB())
                elif self.path == "/drip.html":  # a byte a second, for a minute
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", "60")
                    self.end_headers()
                    for _ in range(60):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(1)
                elif self.path == "/report.pdf":
                    self._send(200, "%PDF-1.4 not a web page", "application/pdf")
                elif self.path.startswith("/story?id="):  # one script, two stories
                    n = self.path.rsplit("=", 1)[1]
                    title, paragraphs = ARTICLES["/news/c.html" if n == "1" else "/news/d.html"]
                    body = PAGE.format(
                        site="乡村日报",
                        title=title,
                        author="王小明",
                        date="2024-06-01",
                        paragraphs="".join(f"<p>{p}</p>" for p in paragraphs),
                    )
                    self._send(200, body, "text/html; charset=utf-8")
                elif self.path == "/query-feed.xml":
                    items = "".join(
                        f"<item><title>第{n}篇</title><link>{base}/story?id={n}</link></item>"
                        for n in (1, 2)
                    )
                    feed = (
                        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                        f"<title>查询参数</title><link>{base}/</link>{items}</channel></rss>"
                    )
                    self._send(200, feed, "application/rss+xml")
                elif self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "/news/tea.html")
                    self.end_headers()
                else:
                    self._send(404, "not found", "text/plain")

            def _send(self, status: int, body: str, kind: str) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
                pass  # a client that gave up (the timeout tests) is not an error here

        self.changing = 0
        self.flaky = 0
        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Site:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
