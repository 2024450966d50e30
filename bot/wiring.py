"""Build the engine from settings: the one place that turns configuration into objects."""

from __future__ import annotations

import logging

from bot.settings import Settings
from index import (
    ArticleStore,
    Embedder,
    Engine,
    EngineOptions,
    FusionConfig,
    IndexFolder,
    LazyEmbedder,
    MilvusConfig,
    MilvusConnection,
    Reader,
    ReaderSettings,
    ReaderWeightsError,
    configure_faiss_threads,
    configure_torch_threads,
    load_embedder,
    load_reader,
)

log = logging.getLogger(__name__)


def engine_options(settings: Settings) -> EngineOptions:
    return EngineOptions(
        max_passage_chars=settings.max_passage_chars,
        lexical_tokenizer=settings.lexical_tokenizer,
        faiss_index=settings.faiss_index,
        store=settings.store,
        lexicon_max_terms=settings.lexicon_max_terms,
        fusion=FusionConfig(
            method=settings.fusion,
            dense_weight=settings.dense_weight,
            candidates=settings.candidates,
        ),
    )


def build_engine(
    settings: Settings, *, embedder: Embedder | None = None, batch_job: bool = False
) -> Engine:
    """The engine for these settings; the embedding model is loaded when something is first
    embedded (a question, an article), once. A batch job (an index command) answers nothing:
    no reader is loaded.

    A batch job (the `shuzi index` commands) uses SHUZI_INDEX_THREADS; serving uses
    SHUZI_TORCH_THREADS, which stays at 1 by default: on a busy 2-core machine a second
    intra-op thread spins against other work and slows queries down.
    """
    model: Embedder = embedder or LazyEmbedder(
        settings.model,
        lambda: load_embedder(
            settings.model,
            cache_dir=settings.model_cache_dir,
            threads=settings.index_threads if batch_job else settings.torch_threads,
            allow_download=settings.allow_download,
            batch_size=settings.embed_batch_size,
            dtype=settings.embed_dtype,
            device=settings.device,
        ),
    )
    configure_faiss_threads(settings.index_threads if batch_job else settings.search_threads)
    reader = None if batch_job else serving_reader(settings, model)
    return Engine(
        store=index_store(settings),
        embedder=model,
        options=engine_options(settings),
        article_store=ArticleStore(settings.data_dir / "articles"),
        reader=reader,
        reader_settings=ReaderSettings(windows=settings.reader_windows),
    )


def serving_reader(settings: Settings, embedder: Embedder) -> Reader | None:
    """The trained reader when SHUZI_READER is on and its weights can be used; else None (the
    rules answer), said loudly."""
    if settings.reader != "on":
        return None
    try:
        extra = {"weights": settings.reader_weights} if settings.reader_weights else {}
        return load_reader(
            settings.model_cache_dir,
            embedder=embedder,
            quantize=settings.reader_quantize,
            **extra,  # type: ignore[arg-type]
        )
    except ReaderWeightsError as exc:
        log.error("the reader cannot be used (%s); answering with the rules instead", exc)
        return None


def index_store(settings: Settings) -> IndexFolder:
    """The index folder, and the Milvus connection its Milvus generations are read through
    (made on first use)."""
    milvus = MilvusConfig(
        uri=settings.milvus_uri or str(settings.index_dir / "milvus.db"),
        token=settings.milvus_token.get_secret_value() if settings.milvus_token else "",
        prefix=settings.milvus_prefix,
        index_type=settings.milvus_index,
        bm25=settings.milvus_bm25,
        timeout=settings.milvus_timeout,
    )
    return IndexFolder(
        settings.index_dir,
        milvus=MilvusConnection(milvus),
        hash_at_start_bytes=settings.hash_at_start_mb * 2**20,
    )


def configure_serving_threads(settings: Settings) -> None:
    """After a batch job in the same process (an evaluation's build), serve with the
    serving thread count."""
    configure_torch_threads(settings.torch_threads)
    configure_faiss_threads(settings.search_threads)
