"""Fetching what an editor asks for (a link, a feed): http(s) only, public addresses only,
bounded in size and time, redirects checked hop by hop.

Private, loopback and link-local addresses are refused (a link must not make the bot read
the newsroom's intranet or a cloud metadata service), also when written as IPv6 forms that
carry an IPv4 address (NAT64, 6to4, Teredo, IPv4-mapped), unless SHUZI_FETCH_ALLOW_PRIVATE is
set, which the tests do to serve pages from 127.0.0.1. A host name is resolved once and the
connection goes to the address that was checked (no second lookup a DNS server could answer
differently). One deadline covers the whole fetch, redirects included; the body is counted
after decompression, layer by layer, so a small compressed page cannot expand past the limit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx

MAX_REDIRECTS = 5
USER_AGENT = "ShuziBot/0.1 (+news question answering; fetches what editors send)"
PAGE_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(RuntimeError):
    """A link that cannot be fetched: the message says why, for the editor."""


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    content: bytes
    content_type: str


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (IPv4-mapped and -compatible, NAT64,
    6to4, Teredo server and client): a packet to it may reach them."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    as_int = int(address)
    if any(address in net for net in _NAT64) or 0 < as_int < 2**32:  # NAT64, ::a.b.c.d
        found.append(ipaddress.IPv4Address(as_int & 0xFFFFFFFF))
    return found


def is_public_address(address: IPAddress) -> bool:
    """True for a global unicast address that carries no private or local IPv4 address."""
    if address.is_multicast or not address.is_global:
        return False
    return all(v4.is_global and not v4.is_multicast for v4 in embedded_ipv4(address))


def parse_link(url: str) -> SplitResult:
    """The parts of a link, or FetchError saying what is wrong with it (a bad port, an
    unclosed bracket, another scheme, no host)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        raise FetchError(f"{url[:200]} is not a valid link ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"{url[:200]}: only http and https links can be added")
    if not parts.hostname:
        raise FetchError(f"{url[:200]}: not a link (no host name)")
    return parts


class _BoundedDecoder:
    """Content-Encoding layers undone one by one, none allowed past `limit` bytes."""

    def __init__(self, encodings: str, limit: int, url: str) -> None:
        self.limit, self.url = limit, url
        self.layers = []
        for name in reversed([e.strip().lower() for e in encodings.split(",") if e.strip()]):
            if name in ("gzip", "x-gzip"):
                self.layers.append(zlib.decompressobj(wbits=47))
            elif name == "deflate":
                self.layers.append(zlib.decompressobj(wbits=15))
            elif name != "identity":
                raise FetchError(f"{url} is sent with content encoding {name!r}, not read here")
        self.size = 0

    def feed(self, data: bytes) -> bytes:
        for layer in self.layers:
            try:
                data = layer.decompress(data, self.limit + 1)
            except zlib.error as exc:
                raise FetchError(f"{self.url}: its compressed body is broken ({exc})") from None
            if len(data) > self.limit or layer.unconsumed_tail:
                raise self.too_big()
        self.size += len(data)
        if self.size > self.limit:
            raise self.too_big()
        return data

    def finish(self) -> bytes:
        """What the layers still hold at the end of the body."""
        data = b""
        for layer in self.layers:
            try:
                data = (layer.decompress(data, self.limit + 1) if data else b"") + layer.flush()
            except zlib.error as exc:
                raise FetchError(f"{self.url}: its compressed body is broken ({exc})") from None
            if len(data) > self.limit:
                raise self.too_big()
        self.size += len(data)
        if self.size > self.limit:
            raise self.too_big()
        return data

    def too_big(self) -> FetchError:
        return FetchError(f"{self.url} is larger than {self.limit:,} bytes (decompressed)")


@dataclass(frozen=True, slots=True)
class Fetcher:
    timeout: float = 15.0  # the whole fetch, redirects included
    max_bytes: int = 5_000_000
    allow_private: bool = False

    async def _resolve(self, parts: SplitResult) -> IPAddress:
        """The address to connect to: resolved once, checked, then used as it is."""
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            candidates = [literal]
        else:
            try:
                infos = await asyncio.to_thread(
                    socket.getaddrinfo, host, port, type=socket.SOCK_STREAM
                )
            except OSError as exc:
                raise FetchError(f"{host} cannot be found ({exc})") from None
            candidates = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not self.allow_private:
            for address in candidates:
                if not is_public_address(address):
                    raise FetchError(f"{host} is a private or local address ({address}): refused")
        if not candidates:
            raise FetchError(f"{host} cannot be found")
        return candidates[0]

    async def get(self, url: str, *, accept: str = "text/html,application/xhtml+xml") -> Fetched:
        """The body at `url`, following up to MAX_REDIRECTS checked redirects, within one
        deadline."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._get(url, accept=accept)
        except TimeoutError:
            raise FetchError(f"{url[:200]} did not finish within {self.timeout:g} s") from None

    async def _get(self, url: str, *, accept: str) -> Fetched:
        wanted = FEED_TYPES if "rss" in accept else PAGE_TYPES
        async with httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, trust_env=False
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                parts = parse_link(url)
                address = await self._resolve(parts)
                host = f"[{address}]" if address.version == 6 else str(address)
                pinned = parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host)
                headers = {
                    "User-Agent": USER_AGENT,
                    "Accept": accept,
                    "Accept-Encoding": "gzip, deflate",
                    "Host": parts.netloc.rsplit("@", 1)[-1],
                }
                extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
                request = client.build_request(
                    "GET", pinned.geturl(), headers=headers, extensions=extensions
                )
                try:
                    response = await client.send(request, stream=True)
                    try:
                        if response.is_redirect:
                            url = urljoin(url, response.headers.get("location", ""))
                            continue
                        return await self._read(url, response, wanted)
                    finally:
                        await response.aclose()
                except httpx.HTTPError as exc:
                    raise FetchError(
                        f"{url[:200]} cannot be fetched ({type(exc).__name__})"
                    ) from None
        raise FetchError(f"{url[:200]}: more than {MAX_REDIRECTS} redirects")

    async def _read(self, url: str, response: httpx.Response, wanted: tuple[str, ...]) -> Fetched:
        if response.status_code >= 400:
            raise FetchError(f"{url} answered HTTP {response.status_code}")
        content_type = response.headers.get("content-type", "")
        media = content_type.split(";")[0].strip().lower()
        if media and media not in wanted:
            kind = "a feed" if wanted is FEED_TYPES else "a web page"
            raise FetchError(f"{url} is {media}, not {kind}")
        declared = response.headers.get("content-length") or "0"
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"{url} is larger than {self.max_bytes:,} bytes")
        decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), self.max_bytes, url)
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += decoder.feed(chunk)
        body += decoder.finish()
        return Fetched(url, bytes(body), content_type)
