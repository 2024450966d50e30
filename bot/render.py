"""Answers as Telegram HTML: figures in bold, footnotes, citations; split to Telegram's limits."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape, unescape

from index import Answer, Citation, Hit

MAX_MESSAGE_UTF16 = 4096


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def bold_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Escape text and wrap the given spans in <b>."""
    out, pos = [], 0
    for s, e in sorted(set(spans)):
        if s < pos or e <= s:
            continue
        out += [escape(text[pos:s]), f"<b>{escape(text[s:e])}</b>"]
        pos = e
    out.append(escape(text[pos:]))
    return "".join(out)


def citation_line(c: Citation, language: str) -> str:
    line = f"[{c.n}] {escape(c.label(language))}"
    if c.article.url:
        line += f' <a href="{escape(c.article.url, quote=True)}">{escape(c.article.url)}</a>'
    return line


def answer_blocks(answer: Answer) -> list[str]:
    """Self-contained HTML blocks (every tag closed inside its block), in reading order; a
    question that asked several things gets each part's answer in turn."""
    blocks = _own_blocks(answer)
    for part in answer.parts:
        blocks.extend(_own_blocks(part))
    return blocks


def _own_blocks(answer: Answer) -> list[str]:
    blocks: list[str] = []
    for notice in answer.notices:
        blocks.append(f"<i>{escape(notice)}</i>")
    if answer.abstained:
        blocks.append(escape(answer.lead))
        for c in answer.citations:
            blocks.append(f"{citation_line(c, answer.language)}\n{escape(c.passage.text)}")
        return blocks
    if answer.figures:
        parts = []
        for af in answer.figures:
            note = f"（{escape(af.note)}）" if af.note else ""
            parts.append(f"<b>{escape(af.figure.text)}</b>{note} [{af.citation}]")
        sep = "; " if answer.language == "en" else "；"
        if answer.language == "en":
            what = f"“{escape(answer.metric)}”" if answer.metric else "The figure"
            blocks.append(f"{what} in the article: " + sep.join(parts))
        else:
            head = f"{escape(answer.metric)}：" if answer.metric else ""
            blocks.append(head + sep.join(parts))
    elif answer.span is not None:
        label = "Answer" if answer.language == "en" else "答"
        blocks.append(f"{label}：<b>{escape(answer.span.text)}</b> [{answer.span.citation}]")
    for s in answer.sentences:
        blocks.append(f"「{bold_spans(s.text, s.highlights)}」[{s.citation}]")
    blocks.append("\n".join(citation_line(c, answer.language) for c in answer.citations))
    return blocks


def passage_html(citation: Citation, spans: Sequence[tuple[int, int]], language: str) -> list[str]:
    """A cited passage whole, its figures in bold."""
    return [citation_line(citation, language), bold_spans(citation.passage.text, spans)]


def hits_blocks(hits: Sequence[Hit], language: str, start: int) -> list[str]:
    blocks = []
    for i, hit in enumerate(hits, start=start):
        label = hit.citation()
        blocks.append(f"<b>{i}.</b> {escape(label)}\n{escape(hit.passage.text)}")
    return blocks


_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")


def _split_long(block: str, limit: int) -> list[str]:
    """A block too long for one message: cut its text at sentence ends, tags dropped."""
    plain = strip_html(block)
    pieces, current = [], ""
    for part in _SENTENCE_END.split(plain):
        while utf16_len(escape(part)) > limit:  # a single sentence over the limit
            cut = len(part) // 2
            pieces.append(escape(current + part[:cut]) if current else escape(part[:cut]))
            current, part = "", part[cut:]
        if utf16_len(escape(current + part)) > limit:
            pieces.append(escape(current))
            current = part
        else:
            current += part
    if current:
        pieces.append(escape(current))
    return [p for p in pieces if p]


def pack_messages(blocks: Sequence[str], *, limit: int = MAX_MESSAGE_UTF16) -> list[str]:
    """Join blocks into messages of at most `limit` UTF-16 units, never splitting inside a
    block unless the block alone is too long (then at sentence ends)."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        pieces = [block] if utf16_len(block) <= limit else _split_long(block, limit)
        for piece in pieces:
            candidate = f"{current}\n\n{piece}" if current else piece
            if utf16_len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def strip_html(text: str) -> str:
    """Plain text for the resend after Telegram refused the HTML."""
    return unescape(re.sub(r"<[^>]+>", "", text))
