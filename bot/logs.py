"""Logging set-up: one format, noisy libraries quieted, the bot token redacted everywhere."""

from __future__ import annotations

import logging


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


def setup_logging(*, level: int = logging.INFO, secrets: list[str] | None = None) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact = RedactingFilter(secrets or [])
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    for noisy in ("httpx", "httpcore", "sentence_transformers", "transformers", "telegram.ext"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
