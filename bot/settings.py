"""Configuration: one pydantic-settings class, read once at start-up from SHUZI_* or .env."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from corpus import ReadLimits
from index import EngineOptions, FusionConfig, ReaderSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = "intfloat/multilingual-e5-small"
_ENGINE = EngineOptions()
_FUSION = FusionConfig()


class SettingsError(ValueError):
    """A setting with a value that cannot be used: one line naming the variable."""


def load_settings(**overrides: object) -> Settings:
    """The settings, or SettingsError naming each bad SHUZI_ variable, its value and what is
    allowed (not pydantic's traceback)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            value = error.get("input")
            shown = value if isinstance(value, str | int | float) else "(not readable)"
            problems.append(f"SHUZI_{field.upper()}={shown!r}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None


class Settings(BaseSettings):
    """Every option has a default that works offline."""

    model_config = SettingsConfigDict(
        env_prefix="SHUZI_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(REPO_ROOT / "data", description="index generations, SQLite, model cache")
    corpus_dir: Path = Field(REPO_ROOT / "corpus" / "articles", description="articles to index")
    model: str = Field(DEFAULT_MODEL, description="sentence-transformers model id or local path")
    allow_download: bool = Field(False, description="let sentence-transformers reach a model hub")
    torch_threads: int = Field(
        1, ge=0, description="torch intra-op threads while serving (0: torch's default)"
    )
    index_threads: int = Field(
        2, ge=0, description="torch and FAISS threads for `shuzi index` commands"
    )
    search_threads: int = Field(
        1, ge=0, description="FAISS (OpenMP) threads while serving (0: FAISS's default)"
    )
    embed_batch_size: int = Field(32, ge=1)
    embed_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="bfloat16 where the CPU has it natively, else float32"
    )
    max_passage_chars: int = Field(_ENGINE.max_passage_chars, ge=50, le=2000)
    lexical_tokenizer: Literal["bigram", "jieba", "jieba+bigram"] = _ENGINE.lexical_tokenizer  # type: ignore[assignment]
    faiss_index: str = Field(
        _ENGINE.faiss_index,
        description="auto (exact while small, HNSW beyond), or a faiss.index_factory string",
    )
    fusion: Literal["convex", "rrf"] = _FUSION.method
    dense_weight: float = Field(_FUSION.dense_weight, ge=0.0, le=1.0)
    candidates: int = Field(_FUSION.candidates, ge=5)
    top_k: int = Field(5, ge=1, le=20)
    lexicon_max_terms: int = Field(
        _ENGINE.lexicon_max_terms,
        ge=0,
        description="most corpus words in the cross-lingual lexicon (English questions)",
    )
    store: Literal["local", "milvus"] = Field(
        "local", description="where new generations keep vectors and BM25: files or Milvus"
    )
    milvus_uri: str | None = Field(
        None,
        description="a file path (Milvus Lite, default DATA_DIR/index/milvus.db) or "
        "http(s)://host:19530 (Milvus standalone or cluster)",
    )
    milvus_token: SecretStr | None = Field(None, description="user:password or an API key")
    milvus_timeout: float = Field(10.0, gt=0, description="seconds to connect or answer")
    milvus_prefix: str = Field("shuzi", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
    milvus_index: str = Field("auto", description="auto (FLAT on Lite, HNSW on servers)")
    milvus_bm25: Literal["shuzi", "jieba"] = Field(
        "shuzi",
        description="BM25 over the index's own tokens (as the local engine) or Milvus's jieba",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="where the model runs: cuda when one is there (auto), else cpu"
    )

    reader: Literal["on", "off"] = Field(
        "on", description="the trained reader writes answers (off: the rules of before)"
    )
    reader_windows: int = Field(
        ReaderSettings().windows, ge=1, le=10, description="windows the reader reads a question"
    )
    reader_quantize: bool = Field(True, description="int8 linear layers in the reader (faster)")
    reader_weights: Path | None = Field(
        None, description="other reader weights (a .safetensors with its .sha256 beside it)"
    )

    telegram_token: SecretStr | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_api_url: str = "https://api.telegram.org"
    telegram_timeout: float = Field(20.0, gt=0, description="seconds per Bot API request")
    telegram_max_retries: int = Field(3, ge=0, description="retries after a 429 RetryAfter")
    max_concurrent_updates: int = Field(8, ge=1)
    user_quota_per_minute: int = Field(20, ge=1, description="questions per user per minute")
    activity_keep_days: float | None = Field(
        90.0, gt=0, description="days the bot keeps questions and feedback in bot.sqlite"
    )
    followup_minutes: float = Field(
        10.0, ge=0, description="a question this soon after a reader's last one may follow it up"
    )
    feed_minutes: float = Field(30.0, gt=0, description="how often followed feeds are read")
    digest_hours: float = Field(24.0, gt=0, description="how often editors get the feeds' digest")
    fetch_allow_private: bool = Field(
        False, description="let /add and /follow fetch private or loopback addresses (tests)"
    )
    fetch_timeout: float = Field(15.0, gt=0, description="seconds to fetch a link or a feed")
    fetch_max_bytes: int = Field(5_000_000, gt=0, description="largest page or feed fetched")
    ingest_seconds: float = Field(
        60.0, gt=0, description="wall-clock limit to read one upload, link or feed item"
    )
    ingest_memory_mb: int = Field(
        1024, ge=200, description="memory limit of the worker process that reads it"
    )
    max_article_chars: int = Field(
        ReadLimits().max_chars, gt=0, description="most characters of text in one article"
    )
    max_article_paragraphs: int = Field(
        ReadLimits().max_paragraphs, gt=0, description="most paragraphs in one article"
    )
    max_pdf_pages: int = Field(ReadLimits().max_pdf_pages, gt=0, description="most PDF pages")
    verify_hours: float = Field(
        6.0, gt=0, description="how often the bot hashes every file of the serving index"
    )
    hash_at_start_mb: int = Field(
        256, ge=0, description="index files up to this size are hashed at every start"
    )
    progress_every_s: float = Field(3.0, ge=0, description="editors' build progress updates")
    webhook_url: str | None = Field(
        None, description="public https URL: webhook mode instead of polling"
    )
    webhook_secret: SecretStr | None = Field(None, description="required in webhook mode")
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
            bad = [v for v in parts if not v.lstrip("-").isdigit()]
            if bad:
                raise ValueError(
                    f"Telegram user ids are numbers, comma-separated ({bad[0]!r} is not one; "
                    "@userinfobot tells you yours)"
                )
            return [int(v) for v in parts]
        if isinstance(value, int):
            return [value]
        return value

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    model_cache: Path | None = Field(
        None, description="where the offline model is materialized (default: DATA_DIR/models)"
    )

    @property
    def model_cache_dir(self) -> Path:
        return self.model_cache or self.data_dir / "models"
