"""Fetching what an editor asks for (a link, a feed): http(s) only, public addresses only,
bounded in size and time, redirects checked hop by hop.

Private, loopback and link-local addresses are refused (a link must not make the bot read
the newsroom's intranet or a cloud metadata service) unless SHUZI_FETCH_ALLOW_PRIVATE is set,
which the tests do to serve pages from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

MAX_REDIRECTS = 5
USER_AGENT = "ShuziBot/0.1 (+news question answering; fetches what editors send)"


class FetchError(RuntimeError):
    """A link that cannot be fetched: the message says why, for the editor."""


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    content: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class Fetcher:
    timeout: float = 15.0
    max_bytes: int = 5_000_000
    allow_private: bool = False

    async def _check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http and https links can be added")
        if not parts.hostname:
            raise FetchError(f"{url}: not a link")
        if self.allow_private:
            return
        try:
            infos = await asyncio.to_thread(
                socket.getaddrinfo, parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise FetchError(f"{parts.hostname} cannot be found ({exc})") from None
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global:
                raise FetchError(
                    f"{parts.hostname} is a private or local address ({address}): refused"
                )

    async def get(self, url: str, *, accept: str = "text/html,application/xhtml+xml") -> Fetched:
        """The body at `url`, following up to MAX_REDIRECTS checked redirects."""
        headers = {"User-Agent": USER_AGENT, "Accept": accept}
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                await self._check(url)
                try:
                    async with client.stream("GET", url, headers=headers) as response:
                        if response.is_redirect:
                            url = urljoin(url, response.headers.get("location", ""))
                            continue
                        if response.status_code >= 400:
                            raise FetchError(f"{url} answered HTTP {response.status_code}")
                        declared = int(response.headers.get("content-length") or 0)
                        if declared > self.max_bytes:
                            raise FetchError(f"{url} is larger than {self.max_bytes:,} bytes")
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) > self.max_bytes:
                                raise FetchError(f"{url} is larger than {self.max_bytes:,} bytes")
                        return Fetched(
                            str(response.url), bytes(body), response.headers.get("content-type", "")
                        )
                except httpx.TimeoutException:
                    raise FetchError(f"{url} did not answer within {self.timeout:g} s") from None
                except httpx.HTTPError as exc:
                    raise FetchError(f"{url} cannot be fetched ({type(exc).__name__})") from None
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")
