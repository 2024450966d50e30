"""The Telegram bot: all wiring in build_application; handlers in bot.readers, bot.editors."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import texts
from bot.activity import ActivityLog
from bot.editors import articles, document, reindex, remove, rollback, stats
from bot.readers import (
    ask_command,
    button,
    group_text,
    inline_query,
    private_text,
    start,
    unknown_command,
)
from bot.services import (
    Services,
    ShuziContext,
    user_language,
)
from bot.settings import Settings
from index import Engine

log = logging.getLogger(__name__)


async def on_error(update: object, context: ShuziContext) -> None:
    """Log with the traceback (the token is redacted by the log filter) and apologise."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await update.effective_message.reply_text(texts.t("sorry", user_language(update)))
        except Exception:  # the apology itself may fail for the same reason
            log.warning("could not send the apology", exc_info=True)


# -- wiring -----------------------------------------------------------------------------
def build_application(settings: Settings, engine: Engine, activity: ActivityLog) -> Application:
    """The whole bot: builder, handlers, error handler. Polls by default."""
    if settings.telegram_token is None:
        raise ValueError("SHUZI_TELEGRAM_TOKEN is not set")
    root = settings.telegram_api_url.rstrip("/")
    context_types = ContextTypes(context=ShuziContext)
    app = (
        Application.builder()
        .token(settings.telegram_token.get_secret_value())
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .context_types(context_types)
        .rate_limiter(AIORateLimiter(max_retries=settings.telegram_max_retries))
        .concurrent_updates(settings.max_concurrent_updates)
        .connect_timeout(settings.telegram_timeout)
        .read_timeout(settings.telegram_timeout)
        .write_timeout(settings.telegram_timeout)
        .build()
    )
    app.bot_data["services"] = Services(engine=engine, settings=settings, activity=activity)
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    app.add_handler(CommandHandler(["start", "help"], start))
    app.add_handler(CommandHandler("ask", ask_command))
    for name, handler in (
        ("articles", articles),
        ("remove", remove),
        ("reindex", reindex),
        ("rollback", rollback),
        ("stats", stats),
    ):
        app.add_handler(CommandHandler(name, handler))
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    app.add_handler(MessageHandler(filters.TEXT & private, private_text))
    app.add_handler(MessageHandler(filters.TEXT & groups, group_text))
    app.add_handler(CallbackQueryHandler(button))
    app.add_handler(InlineQueryHandler(inline_query))
    app.add_error_handler(on_error)  # type: ignore[arg-type]
    return app


__all__ = ["build_application"]
