"""Reading untrusted input off the event loop and out of the bot's process: an upload
converted, a link or a feed fetched and extracted, each in a fresh worker process
(bot/ingest_worker.py) with limits on time, memory, characters, paragraphs and PDF pages.
Over a limit the editor gets one message and nothing changes; the bot, its memory and its
readers are untouched whatever the file or the page holds."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from bot.fetch import Fetcher
from corpus import Article, ReadLimits

log = logging.getLogger(__name__)
MAX_FEED_ITEMS = 50  # a feed's newest items read per check
# Variables a worker never needs: it reads files and pages, it talks to no Telegram or Milvus.
_SECRETS = ("SHUZI_TELEGRAM_TOKEN", "SHUZI_MILVUS_TOKEN", "SHUZI_WEBHOOK_SECRET")


class IngestError(RuntimeError):
    """The input was refused or could not be read: the message says why, for the editor."""


@dataclass(frozen=True, slots=True)
class IngestLimits:
    seconds: float = 60.0  # wall clock for one input, fetch included
    memory_mb: int = 1024  # the worker's address space
    read: ReadLimits = field(default_factory=ReadLimits)
    fetcher: Fetcher = field(default_factory=Fetcher)


@dataclass(frozen=True, slots=True)
class FeedItem:
    link: str
    title: str


async def read_upload(
    data: bytes,
    *,
    name: str,
    defaults: dict[str, str],
    limits: IngestLimits,
    cancel: threading.Event | None = None,
) -> Article:
    """The article in an uploaded file."""
    request = {"kind": "upload", "name": name, "origin": f"telegram:{name}", "defaults": defaults}
    answer = await _run(request, data, limits, cancel)
    return _article(answer)


async def read_link(
    url: str, *, limits: IngestLimits, cancel: threading.Event | None = None
) -> tuple[Article, bytes]:
    """The article at a link, and the page's bytes as they came."""
    answer = await _run({"kind": "link", "url": url}, b"", limits, cancel)
    return _article(answer), base64.b64decode(answer["raw"])


async def read_feed(
    url: str, *, limits: IngestLimits, cancel: threading.Event | None = None
) -> tuple[str, list[FeedItem]]:
    """A feed's title and its newest items (links and titles)."""
    request = {"kind": "feed", "url": url, "max_items": MAX_FEED_ITEMS}
    answer = await _run(request, b"", limits, cancel)
    items = [FeedItem(i["link"], i["title"]) for i in answer["items"]]
    return answer["title"] or url, items


def _article(answer: dict[str, Any]) -> Article:
    a = answer["article"]
    return Article(
        id=a["id"],
        title=a["title"],
        body=a["body"],
        subtitle=a["subtitle"],
        authors=tuple(a["authors"]),
        source=a["source"],
        date=a["date"],
        language=a["language"],
        origin=a["origin"],
        extra=a["extra"],
    )


async def _run(
    request: dict[str, Any],
    payload: bytes,
    limits: IngestLimits,
    cancel: threading.Event | None,
) -> dict[str, Any]:
    """One request in a fresh worker process; IngestError for anything but an answer, or
    when `cancel` is set meanwhile (the worker is killed at once)."""
    request = {
        **request,
        "read_limits": dataclasses.asdict(limits.read),
        "fetch": {
            "timeout": min(limits.fetcher.timeout, limits.seconds),
            "max_bytes": limits.fetcher.max_bytes,
            "allow_private": limits.fetcher.allow_private,
        },
    }
    header = json.dumps(request, ensure_ascii=False).encode("utf-8")
    caps = json.dumps({"memory_mb": limits.memory_mb, "cpu_seconds": limits.seconds})
    env = {k: v for k, v in os.environ.items() if k not in _SECRETS}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.ingest_worker",
        caps,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,  # a Ctrl-C meant for the bot is not the worker's to handle
    )
    talk = asyncio.ensure_future(
        proc.communicate(len(header).to_bytes(8, "big") + header + payload)
    )
    deadline = asyncio.get_running_loop().time() + limits.seconds
    try:
        while not talk.done():
            if cancel is not None and cancel.is_set():
                raise IngestError("cancelled (/cancel, or the bot is stopping): nothing was added")
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise IngestError(
                    f"reading it took longer than {limits.seconds:g} s, the limit: "
                    "nothing was added"
                )
            await asyncio.wait({talk}, timeout=min(left, 0.25))
        out, err = talk.result()
    finally:
        talk.cancel()
        if proc.returncode is None:  # timed out, or the bot is stopping: no orphan left
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise IngestError(
            f"reading it took more than {limits.seconds:g} s of processor time, the limit: "
            "nothing was added"
        )
    try:
        answer = json.loads(out)
    except ValueError:
        answer = None
    if proc.returncode != 0 or not isinstance(answer, dict):
        tail = err.decode("utf-8", "replace")[-2000:]
        if "MemoryError" in tail:
            raise IngestError(
                f"reading it needed more than {limits.memory_mb} MB, the limit: nothing was added"
            )
        log.warning("the ingest worker failed (exit %s): %s", proc.returncode, tail)
        raise IngestError("it could not be read (the reader failed on it): nothing was added")
    if "error" in answer:
        raise IngestError(str(answer["error"]))
    return answer
