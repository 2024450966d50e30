"""Split an article body into cited passages: sections, captions, layout breaks, sentences.

The body comes as the newspaper's text came: one paragraph a line, headings as "#" lines,
"——" sub-heads, photo captions beside the gaps left by photos, and paragraphs that the page
layout broke mid-sentence with a blank line. Passages follow paragraphs; a long paragraph is
cut at sentence ends, never inside a sentence (so never inside a figure).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from corpus.article import Article

# Bump when splitting or figure extraction changes: an index built by another version is
# rebuilt, not trusted.
CHUNKER_VERSION = "4"
DEFAULT_MAX_CHARS = 300

SENTENCE_ENDS = "。！？!?；;"
CLOSERS = "”’」』）)\"'"
_HEADING = re.compile(r"(#{1,6})\s+(.+?)\s*#*\s*$")
_BYLINE = re.compile(r"[\u4e00-\u9fff·]{2,5}(?:[ \u3000]+[\u4e00-\u9fff·]{2,5})*")
_CREDIT = re.compile(r"[(（](?:本版)?(?:图片|照片|摄影|图).{0,40}[)）]")
_PHOTO_GAP = 2  # blank lines that mark where a photo stood
_SHORT_CAPTION = 30
_SUBHEAD_MAX = 50
_BYLINE_MAX = 40
LEDE = "导语"  # the section of the paragraphs before an article's first heading


class BlockKind(Enum):
    HEADING = "heading"
    SUBHEAD = "subhead"
    CAPTION = "caption"
    BYLINE = "byline"
    BODY = "body"


@dataclass(frozen=True, slots=True)
class Block:
    """One non-empty line of the body, classified."""

    kind: BlockKind
    start: int
    end: int
    text: str
    level: int = 0
    blank_before: int = 0
    blank_after: int = 0


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A body paragraph as the newspaper wrote it: layout breaks rejoined."""

    number: int
    section_path: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    text: str


@dataclass(frozen=True, slots=True)
class Passage:
    """The unit of retrieval and citation."""

    article_id: str
    seq: int
    paragraph: int
    piece: int
    section_path: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    text: str
    search_text: str

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]

    @property
    def key(self) -> str:
        """A readable id, stable while the article is unchanged: `article/p12` or `p12.2`."""
        suffix = f".{self.piece + 1}" if self.piece else ""
        return f"{self.article_id}/p{self.paragraph}{suffix}"


def normalize_for_search(text: str) -> str:
    """NFKC (full-width to half-width), lower case, one space for any run of white space."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans: each ends after 。！？；(and ASCII !?;) plus any closing quotes."""
    spans: list[tuple[int, int]] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        if text[i] in SENTENCE_ENDS:
            while i < n and text[i] in SENTENCE_ENDS:
                i += 1
            while i < n and text[i] in CLOSERS:
                i += 1
            if text[start:i].strip():
                spans.append((start, i))
            start = i
        else:
            i += 1
    if text[start:].strip():
        spans.append((start, n))
    return spans


def _lines(body: str) -> Iterator[tuple[int, int, str, int]]:
    """Non-empty lines as (start, end, stripped text, blank lines before)."""
    pos, blanks = 0, 0
    for raw in body.split("\n"):
        line_start, line_end = pos, pos + len(raw)
        pos = line_end + 1
        if not raw.strip():
            blanks += 1
            continue
        lead = len(raw) - len(raw.lstrip())
        trail = len(raw) - len(raw.rstrip())
        yield line_start + lead, line_end - trail, raw.strip(), blanks
        blanks = 0


def _caption_shaped(text: str) -> bool:
    """A short single phrase: no clause punctuation, at most one sentence end."""
    one_phrase = not any(c in text for c in "，,；;：:") and len(split_sentences(text)) == 1
    return one_phrase and len(text) <= _SHORT_CAPTION


def _is_caption(text: str, blank_before: int) -> bool:
    """Captions say 图为…, credit the photos, or stand as a short phrase after a photo gap."""
    if "图为" in text or _CREDIT.fullmatch(text):
        return True
    return blank_before >= _PHOTO_GAP and _caption_shaped(text)


def classify_blocks(body: str, *, authors: tuple[str, ...] = ()) -> list[Block]:
    """Classify each non-empty line of the body."""
    raw = list(_lines(body))
    blocks: list[Block] = []
    seen_content = False
    continues = False  # the last body line stopped mid-sentence: this line carries it on
    for i, (start, end, text, blank_before) in enumerate(raw):
        blank_after = raw[i + 1][3] if i + 1 < len(raw) else 0
        heading = _HEADING.fullmatch(text)
        level = 0
        if heading:
            kind, level, text = BlockKind.HEADING, len(heading.group(1)), heading.group(2)
            start = start + heading.start(2)
            end = start + len(text)
        elif (
            not seen_content
            and len(text) <= _BYLINE_MAX
            and not any(c in text for c in "，,。！？；;")
            and ((authors and all(a in text for a in authors)) or _BYLINE.fullmatch(text))
            and " " in text.replace("\u3000", " ")
        ):
            # only a short line that is just names; a dateline paragraph ("本报宜宾3月14日电
            # （记者 王晓峰）3月12日，…") names the author too, but it is the story's first lines
            kind = BlockKind.BYLINE
        elif (
            text.startswith("——")
            and len(text) <= _SUBHEAD_MAX
            and not any(c in text for c in "。！？")
        ):
            kind = BlockKind.SUBHEAD
        elif _is_caption(text, blank_before) and not (
            continues and not ("图为" in text or _CREDIT.fullmatch(text))
        ):
            kind = BlockKind.CAPTION
        else:
            kind = BlockKind.BODY
        # the title heading does not count: a byline often stands under it
        seen_content = seen_content or kind not in (BlockKind.BYLINE, BlockKind.HEADING)
        if kind is BlockKind.BODY:
            continues = _ends_mid_sentence(text)
        elif kind is not BlockKind.CAPTION:
            continues = False
        blocks.append(Block(kind, start, end, text, level, blank_before, blank_after))
    # A short phrase just before a photo gap is a caption too when what follows the gap is
    # another caption or a heading (photos printed side by side, captions under each).
    for i in range(len(blocks) - 2, -1, -1):
        b, nxt = blocks[i], blocks[i + 1]
        prev = blocks[i - 1] if i else None
        carried = prev is not None and prev.kind is BlockKind.BODY and _ends_mid_sentence(prev.text)
        if (
            b.kind is BlockKind.BODY
            and b.blank_after >= _PHOTO_GAP
            and _caption_shaped(b.text)
            and nxt.kind in (BlockKind.CAPTION, BlockKind.HEADING)
            and not carried
        ):
            blocks[i] = Block(
                BlockKind.CAPTION, b.start, b.end, b.text, 0, b.blank_before, b.blank_after
            )
    return blocks


_PARAGRAPH_ENDS = SENTENCE_ENDS + CLOSERS + "…：:"


def _ends_mid_sentence(text: str) -> bool:
    """True when a line stops where no sentence can end: a layout break, not a paragraph end."""
    return text[-1] not in _PARAGRAPH_ENDS


def extract_paragraphs(
    body: str, *, title: str = "", subtitle: str = "", authors: tuple[str, ...] = ()
) -> list[Paragraph]:
    """Body paragraphs with their section paths, layout breaks rejoined, metadata left out."""
    article_heads = {h.strip() for h in (title, subtitle) if h}
    headings: dict[int, str] = {}
    subhead = ""
    paragraphs: list[Paragraph] = []
    pending: list[Block] = []

    def section_path() -> tuple[str, ...]:
        heads = [headings[level] for level in sorted(headings)]
        heads = [h for h in heads if h not in article_heads]
        return (*heads, subhead) if subhead else tuple(heads)

    def flush() -> None:
        if pending:
            spans = tuple((b.start, b.end) for b in pending)
            text = "".join(body[s:e] for s, e in spans)
            paragraphs.append(Paragraph(len(paragraphs) + 1, section_path(), spans, text))
            pending.clear()

    for block in classify_blocks(body, authors=authors):
        if block.kind is BlockKind.BODY:
            if pending and not _ends_mid_sentence(pending[-1].text):
                flush()
            pending.append(block)
            continue
        if block.kind in (BlockKind.CAPTION, BlockKind.BYLINE):
            continue  # metadata: a broken paragraph may continue after a caption
        flush()
        if block.kind is BlockKind.HEADING:
            headings = {lv: t for lv, t in headings.items() if lv < block.level}
            headings[block.level] = block.text
            subhead = ""
        else:
            subhead = block.text
    flush()
    if any(p.section_path for p in paragraphs):  # an article with headings has a lede
        paragraphs = [
            p if p.section_path else Paragraph(p.number, (LEDE,), p.spans, p.text)
            for p in paragraphs
        ]
    return paragraphs


def left_out(body: str, *, authors: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """What splitting leaves out of the passages, as (kind, text): the byline, photo
    captions and credits. An editor is told (a caption wrongly taken is a lost sentence)."""
    return [
        (b.kind.value, b.text)
        for b in classify_blocks(body, authors=authors)
        if b.kind in (BlockKind.CAPTION, BlockKind.BYLINE)
    ]


_CLAUSE_MARKS = "，,、：:）)”"
# The embedding model reads the first 512 tokens of a unit; Chinese text runs at about one
# token a character, so a sentence longer than this would be partly unfindable.
LONG_SENTENCE_CHARS = 400


def _in_figure(ch: str) -> bool:
    return ch.isdigit() or ch in ".,%％‰万亿千百十多余个分点"  # numbers, 2.5个百分点, 4万多台


def _cut_long(text: str, start: int, end: int, max_chars: int) -> list[int]:
    """Ends of pieces of at most max_chars covering text[start:end], a run with no sentence
    end in it: cut after the last clause mark that fits, else at the length, moved back so
    as not to split a number (a table flattened into one line, a text without punctuation:
    every part of it must be findable, and a passage is embedded only up to its first
    few hundred tokens)."""
    ends: list[int] = []
    while end - start > max_chars:
        limit = start + max_chars
        cut = max(text.rfind(c, start + 1, limit) for c in _CLAUSE_MARKS) + 1
        if cut <= start + max_chars // 3:
            cut = limit
            # moved back out of any number with its multiplier and unit (1118亿元, 2.5个百分点)
            while cut > start + max_chars // 2 and (
                _in_figure(text[cut - 1]) or _in_figure(text[cut])
            ):
                cut -= 1
        ends.append(cut)
        start = cut
    ends.append(end)
    return ends


def _pack_sentences(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Cut a paragraph at sentence ends into runs of at most max_chars (a longer sentence
    stands alone); a sentence too long to be embedded whole (over LONG_SENTENCE_CHARS or
    twice max_chars) is cut at clause marks, then by length (_cut_long). The pieces cover
    the paragraph exactly."""
    too_long = max(LONG_SENTENCE_CHARS, 2 * max_chars)
    ends: list[int] = []
    for s, e in split_sentences(text):
        ends.extend(_cut_long(text, s, e, max_chars) if e - s > too_long else [e])
    pieces: list[tuple[int, int]] = []
    start = prev = 0
    for end in ends:
        if end - start > max_chars and prev > start:
            pieces.append((start, prev))
            start = prev
        prev = end
    pieces.append((start, len(text)))
    return pieces


def _map_spans(spans: tuple[tuple[int, int], ...], lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    """Source spans of paragraph text [lo, hi) when the paragraph is a join of spans."""
    out: list[tuple[int, int]] = []
    offset = 0
    for s, e in spans:
        length = e - s
        a, b = max(lo, offset), min(hi, offset + length)
        if a < b:
            out.append((s + a - offset, s + b - offset))
        offset += length
    return tuple(out)


def split_passages(
    body: str,
    *,
    article_id: str,
    title: str = "",
    subtitle: str = "",
    authors: tuple[str, ...] = (),
    max_chars: int = DEFAULT_MAX_CHARS,
) -> list[Passage]:
    """Passages of an article body, in reading order."""
    passages: list[Passage] = []
    paragraphs = extract_paragraphs(body, title=title, subtitle=subtitle, authors=authors)
    for n, para in enumerate(paragraphs):
        for piece, (lo, hi) in enumerate(_pack_sentences(para.text, max_chars)):
            text = para.text[lo:hi]
            context = ""
            if _ANAPHOR.match(text):
                previous = text_before(paragraphs, n, lo)
                context = previous + " " if previous else ""
            passages.append(
                Passage(
                    article_id=article_id,
                    seq=len(passages),
                    paragraph=para.number,
                    piece=piece,
                    section_path=para.section_path,
                    spans=_map_spans(para.spans, lo, hi),
                    text=text,
                    search_text=normalize_for_search(context + text),
                )
            )
    return passages


# "这个位于株洲经开区的新产业园…" names its subject in the sentence before: a passage that
# opens with a demonstrative is searched with that sentence too (its text stays its own).
_ANAPHOR = re.compile(r"^(?:这个|这些|这里|这一|这|该|此|其|上述|以上)")


def text_before(paragraphs: list[Paragraph], n: int, lo: int) -> str:
    """The sentence before offset `lo` of paragraph n, or the last one of paragraph n-1 in the
    same section."""
    para = paragraphs[n]
    if lo > 0:
        window = para.text[max(0, lo - 400) : lo]  # a sentence is shorter; the paragraph may not be
        spans = split_sentences(window)
        return window[spans[-1][0] : spans[-1][1]] if spans else ""
    if n == 0 or paragraphs[n - 1].section_path != para.section_path:
        return ""
    prev = paragraphs[n - 1].text[-400:]
    spans = split_sentences(prev)
    return prev[spans[-1][0] : spans[-1][1]] if spans else ""


def split_article(article: Article, *, max_chars: int = DEFAULT_MAX_CHARS) -> list[Passage]:
    """Passages of an article, its title, subtitle and byline taken out of the body."""
    return split_passages(
        article.body,
        article_id=article.id,
        title=article.title,
        subtitle=article.subtitle,
        authors=article.authors,
        max_chars=max_chars,
    )
