"""Logging set-up: one format, noisy libraries quieted, the bot token redacted everywhere."""

from __future__ import annotations

import io
import logging
import sys
from typing import Any


class RedactingFilter(logging.Filter):
    """Replaces secrets in every record, including ones in arguments (httpx logs URLs)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self.secrets:
            message = message.replace(secret, "<token>")
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "<token>")
        record.msg, record.args = message, None
        return True


class RedactingStream(io.TextIOBase):
    """stdout or stderr with the secrets replaced in everything written through it: what no
    log filter sees (a library's print, an uncaught exception's traceback) is covered too."""

    def __init__(self, stream: Any, secrets: list[str]) -> None:
        self._stream = stream
        self._secrets = [s for s in secrets if s]

    def write(self, text: str) -> int:
        for secret in self._secrets:
            text = text.replace(secret, "<token>")
        return self._stream.write(text)  # type: ignore[no-any-return]

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()  # type: ignore[no-any-return]

    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(self._stream.encoding)


def redact_output(secrets: list[str]) -> None:
    """From now on stdout and stderr never show these secrets."""
    if any(secrets):
        sys.stdout = RedactingStream(sys.stdout, secrets)  # type: ignore[assignment]
        sys.stderr = RedactingStream(sys.stderr, secrets)  # type: ignore[assignment]


def setup_logging(*, level: int = logging.INFO, secrets: list[str] | None = None) -> None:
    redact_output(secrets or [])
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact = RedactingFilter(secrets or [])
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    for noisy in ("httpx", "httpcore", "sentence_transformers", "transformers", "telegram.ext"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
