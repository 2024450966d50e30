"""The worker process that reads untrusted input: an upload converted, a link or a feed
fetched and extracted. Run as `python -m bot.ingest_worker LIMITS` by bot/ingest.py, it caps
its own memory and CPU time before reading anything, takes one request on stdin (an 8-byte
length, a JSON header, then the payload) and answers with one JSON object on stdout.

It imports no ML library and holds no secret (the parent starts it without the tokens)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import sys
from typing import Any

MB = 1024 * 1024


def _cap(memory_mb: int, cpu_seconds: float) -> None:
    """Past these the kernel stops the process: a MemoryError, or SIGXCPU then SIGKILL."""
    limit = memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = max(1, int(cpu_seconds) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    os.nice(10)  # readers' answers come first on a busy machine


def _article_json(article: Any) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "body": article.body,
        "subtitle": article.subtitle,
        "authors": list(article.authors),
        "source": article.source,
        "date": article.date,
        "language": article.language,
        "origin": article.origin,
        "extra": article.extra,
    }


def _handle(request: dict[str, Any], payload: bytes) -> dict[str, Any]:
    from bot.fetch import FEED_TYPES, Fetcher
    from corpus import ReadLimits, read_article_bytes
    from corpus.web import article_from_html

    limits = ReadLimits(**request["read_limits"])
    kind = request["kind"]
    if kind == "upload":
        article = read_article_bytes(
            payload,
            name=request["name"],
            origin=request["origin"],
            defaults=request.get("defaults") or {},
            limits=limits,
        )
        return {"article": _article_json(article)}
    fetcher = Fetcher(**request["fetch"])
    if kind == "link":
        page = asyncio.run(fetcher.get(request["url"]))
        article = article_from_html(page.content, url=request["url"], limits=limits)
        raw = base64.b64encode(page.content).decode("ascii")
        return {"article": _article_json(article), "raw": raw}
    if kind == "feed":
        import feedparser

        fetched = asyncio.run(fetcher.get(request["url"], accept=", ".join(FEED_TYPES)))
        parsed = feedparser.parse(fetched.content)
        if not parsed.entries and (parsed.bozo or not parsed.feed):
            return {"error": f"{request['url']} is not a readable RSS or Atom feed"}
        items = [
            {"link": str(e.get("link"))[:2000], "title": str(e.get("title", ""))[:300]}
            for e in parsed.entries[: request["max_items"]]
            if e.get("link")
        ]
        return {"title": str(parsed.feed.get("title", "") or "")[:300], "items": items}
    return {"error": f"unknown request {kind!r}"}


def main() -> None:
    caps = json.loads(sys.argv[1])
    _cap(caps["memory_mb"], caps["cpu_seconds"])
    stream = sys.stdin.buffer
    size = int.from_bytes(stream.read(8), "big")
    request = json.loads(stream.read(size))
    payload = stream.read()
    from bot.fetch import FetchError
    from corpus import ArticleError

    try:
        answer = _handle(request, payload)
    except (ArticleError, FetchError) as exc:
        answer = {"error": str(exc.args[0] if exc.args else exc)}
    except MemoryError:
        answer = {"error": "reading it needed more memory than allowed", "limit": "memory"}
    except RecursionError:
        answer = {"error": "it is nested too deeply to be read"}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
