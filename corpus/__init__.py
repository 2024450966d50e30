"""Documents to passages and figures: pure Python, no ML, no I/O beyond reading files."""

from corpus.article import (
    SUPPORTED_SUFFIXES,
    Article,
    ArticleError,
    ReadLimits,
    check_article_id,
    decode_article_bytes,
    discover_articles,
    load_article,
    parse_article,
    read_article_bytes,
)
from corpus.figures import Figure, Mention, extract_figures, resolve_period, scan_numbers
from corpus.passages import (
    CHUNKER_VERSION,
    Paragraph,
    Passage,
    extract_paragraphs,
    left_out,
    normalize_for_search,
    split_article,
    split_passages,
    split_sentences,
)

__all__ = [
    "CHUNKER_VERSION",
    "SUPPORTED_SUFFIXES",
    "Article",
    "ArticleError",
    "Figure",
    "Mention",
    "Paragraph",
    "Passage",
    "ReadLimits",
    "check_article_id",
    "decode_article_bytes",
    "discover_articles",
    "extract_figures",
    "extract_paragraphs",
    "left_out",
    "load_article",
    "normalize_for_search",
    "parse_article",
    "read_article_bytes",
    "resolve_period",
    "scan_numbers",
    "split_article",
    "split_passages",
    "split_sentences",
]
