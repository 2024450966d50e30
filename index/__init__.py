"""Passages to vectors and BM25, ranked hits, cited answers. Knows nothing of Telegram."""

from index.answering.answers import (
    Answer,
    AnswerFigure,
    AnswerSentence,
    AnswerSpan,
    Citation,
    UnsupportedFigureError,
    verify_answer,
)
from index.answering.extract import ReaderSettings
from index.engine import (
    EmptyQuestionError,
    Engine,
    EngineOptions,
    Progress,
    Question,
    SearchResult,
    check_question,
)
from index.evaluation import Fixture, Judged, Report, evaluate, load_fixtures
from index.reader import Reader, ReaderWeightsError, load_reader
from index.records import ArticleInfo, BuildReport, Hit, IndexInfo
from index.search.embedder import (
    Embedder,
    HashEmbedder,
    LazyEmbedder,
    SentenceTransformerEmbedder,
    configure_torch_threads,
    load_embedder,
)
from index.search.retriever import FusionConfig, HybridRetriever
from index.stores.article_store import (
    ArticleClashError,
    ArticleStore,
    ArticleStoreError,
    Provenance,
    StoredArticle,
    Submission,
    export_article_store,
)
from index.stores.dense import configure_faiss_threads
from index.stores.folder import (
    BuildCancelledError,
    BuildLockedError,
    IndexCorruptError,
    IndexFolder,
    IndexMismatchError,
    IndexMissingError,
    IndexStoreError,
    IndexWriteError,
)
from index.stores.milvus import MilvusConfig, MilvusConnection, MilvusUnavailableError

__all__ = [
    "Answer",
    "AnswerFigure",
    "AnswerSentence",
    "AnswerSpan",
    "ArticleClashError",
    "ArticleInfo",
    "ArticleStore",
    "ArticleStoreError",
    "BuildCancelledError",
    "BuildLockedError",
    "BuildReport",
    "Citation",
    "Embedder",
    "EmptyQuestionError",
    "Engine",
    "EngineOptions",
    "Fixture",
    "FusionConfig",
    "HashEmbedder",
    "Hit",
    "HybridRetriever",
    "IndexCorruptError",
    "IndexFolder",
    "IndexInfo",
    "IndexMismatchError",
    "IndexMissingError",
    "IndexStoreError",
    "IndexWriteError",
    "Judged",
    "LazyEmbedder",
    "MilvusConfig",
    "MilvusConnection",
    "MilvusUnavailableError",
    "Progress",
    "Provenance",
    "Question",
    "Reader",
    "ReaderSettings",
    "ReaderWeightsError",
    "Report",
    "SearchResult",
    "SentenceTransformerEmbedder",
    "StoredArticle",
    "Submission",
    "UnsupportedFigureError",
    "check_question",
    "configure_faiss_threads",
    "configure_torch_threads",
    "evaluate",
    "export_article_store",
    "load_embedder",
    "load_fixtures",
    "load_reader",
    "verify_answer",
]
