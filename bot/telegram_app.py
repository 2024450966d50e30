"""The Telegram bot: all wiring in build_application; handlers in bot.questions, bot.editors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
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
from bot.editors import (
    add_link,
    articles,
    cancel,
    digest,
    document,
    feeds_list,
    follow,
    poll_feeds,
    reindex,
    remove,
    rollback,
    stats,
    unfollow,
    verify_index,
)
from bot.feeds import FeedStore
from bot.fetch import Fetcher
from bot.ingest import IngestLimits
from bot.questions import (
    ask_command,
    chart_button,
    group_text,
    inline_query,
    more_button,
    new_conversation,
    private_text,
    source_button,
    start,
    unknown_button,
    unknown_command,
    vote,
)
from bot.services import (
    Services,
    ShuziContext,
    user_language,
)
from bot.settings import Settings
from corpus import ReadLimits
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


_READER_COMMANDS = {
    "zh": [
        ("start", "开始 · 能回答哪些文章"),
        ("help", "怎么提问"),
        ("ask", "提问（群里用）"),
        ("new", "重新开始（不接上一个问题）"),
    ],
    "en": [
        ("start", "Start: what I can answer"),
        ("help", "How to ask"),
        ("ask", "Ask (in groups)"),
        ("new", "Start afresh (no follow-up)"),
    ],
}
_EDITOR_COMMANDS = {
    "zh": [
        ("add", "按链接添加文章"),
        ("follow", "订阅 RSS/Atom"),
        ("feeds", "已订阅的源"),
        ("unfollow", "取消订阅"),
        ("articles", "文章列表"),
        ("remove", "删除文章"),
        ("reindex", "重建索引"),
        ("rollback", "回到上一代索引"),
        ("cancel", "取消正在进行的索引任务"),
        ("stats", "统计"),
    ],
    "en": [
        ("add", "Add an article by link"),
        ("follow", "Follow an RSS/Atom feed"),
        ("feeds", "Followed feeds"),
        ("unfollow", "Stop following a feed"),
        ("articles", "The articles"),
        ("remove", "Remove an article"),
        ("reindex", "Rebuild the index"),
        ("rollback", "Serve the previous generation"),
        ("cancel", "Cancel the running index change"),
        ("stats", "Statistics"),
    ],
}
_DESCRIPTION = {
    "zh": "数字（Shuzi）回答关于新闻文章的问题，引用原句和数字，注明出处。直接提问即可。",
    "en": "Shuzi answers questions about news articles, quoting the sentence and the figure "
    "with their source. Just ask.",
}


def stop_on_signals(application: Application, stop: Callable[[], object] | None = None) -> None:
    """SIGINT and SIGTERM cancel the running index change at its next step (and kill a
    worker reading a file), then stop polling: the bot exits within seconds and the build
    lock is released. (PTB's own handlers would wait for the build to finish.)"""
    services: Services = application.bot_data["services"]
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        log.info("stop signal: cancelling the running index change and stopping")
        services.cancel.set()
        (stop or application.stop_running)()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


async def on_start(application: Application) -> None:
    stop_on_signals(application)
    await announce(application)


async def announce(application: Application) -> None:
    """The command menu per language (editors also see theirs) and the bot's description.
    A failure here is logged, not fatal: the bot answers without a menu."""
    bot = application.bot
    services: Services = application.bot_data["services"]
    try:
        for lang, commands in _READER_COMMANDS.items():
            code = None if lang == "zh" else lang  # Chinese is the default menu
            await bot.set_my_commands([BotCommand(*c) for c in commands], language_code=code)
            await bot.set_my_description(_DESCRIPTION[lang], language_code=code)
            await bot.set_my_short_description(_DESCRIPTION[lang][:120], language_code=code)
            editor = [BotCommand(*c) for c in (*commands, *_EDITOR_COMMANDS[lang])]
            for admin in services.settings.admin_ids:
                await bot.set_my_commands(
                    editor, scope=BotCommandScopeChat(admin), language_code=code
                )
    except TelegramError:
        log.warning("could not register the command menu", exc_info=True)


def ingest_limits(settings: Settings) -> IngestLimits:
    """How much one upload, link or feed may cost the worker that reads it."""
    return IngestLimits(
        seconds=settings.ingest_seconds,
        memory_mb=settings.ingest_memory_mb,
        read=ReadLimits(
            max_chars=settings.max_article_chars,
            max_paragraphs=settings.max_article_paragraphs,
            max_pdf_pages=settings.max_pdf_pages,
        ),
        fetcher=Fetcher(
            timeout=settings.fetch_timeout,
            max_bytes=settings.fetch_max_bytes,
            allow_private=settings.fetch_allow_private,
        ),
    )


async def check_token(settings: Settings) -> str | None:
    """Ask Telegram who the bot is before anything else starts: None when the token works,
    else one line saying what is wrong (never the token itself)."""
    from telegram import Bot

    assert settings.telegram_token is not None
    root = settings.telegram_api_url.rstrip("/")
    bot = Bot(settings.telegram_token.get_secret_value(), base_url=f"{root}/bot")
    try:
        await bot.get_me(read_timeout=settings.telegram_timeout)
    except InvalidToken:
        return (
            f"Telegram ({root}) rejected SHUZI_TELEGRAM_TOKEN: copy the token @BotFather gave "
            "you into .env or the environment"
        )
    except (NetworkError, TimedOut) as exc:
        return f"Telegram cannot be reached at {root} ({type(exc).__name__}); check the network"
    except TelegramError as exc:
        return f"Telegram refused to start the bot ({type(exc).__name__})"
    finally:
        with contextlib.suppress(Exception):
            await bot.shutdown()
    return None


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
        .post_init(on_start)
        .build()
    )
    engine.hints = texts.CHAT_HINTS  # the engine's messages name chat commands
    app.bot_data["services"] = Services(
        engine=engine,
        settings=settings,
        activity=activity,
        feeds=FeedStore(settings.data_dir / "feeds.sqlite"),
        ingest=ingest_limits(settings),
    )
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    app.add_handler(CommandHandler(["start", "help"], start))
    app.add_handler(CommandHandler("ask", ask_command))
    app.add_handler(CommandHandler("new", new_conversation))
    for name, handler in (
        ("articles", articles),
        ("remove", remove),
        ("reindex", reindex),
        ("rollback", rollback),
        ("stats", stats),
        ("add", add_link),
        ("follow", follow),
        ("feeds", feeds_list),
        ("unfollow", unfollow),
        ("cancel", cancel),
    ):
        app.add_handler(CommandHandler(name, handler))
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    links = filters.Regex(r"^\s*https?://\S+\s*$") & filters.User(user_id=settings.admin_ids)
    app.add_handler(MessageHandler(links & private, add_link))  # an editor's bare link
    app.add_handler(MessageHandler(filters.TEXT & private, private_text))
    app.add_handler(MessageHandler(filters.TEXT & groups, group_text))
    app.add_handler(CallbackQueryHandler(source_button, pattern=r"^src:"))
    app.add_handler(CallbackQueryHandler(chart_button, pattern=r"^chart:"))
    app.add_handler(CallbackQueryHandler(more_button, pattern=r"^more:"))
    app.add_handler(CallbackQueryHandler(vote, pattern=r"^fb:"))
    app.add_handler(CallbackQueryHandler(unknown_button))
    app.add_handler(InlineQueryHandler(inline_query))
    app.add_error_handler(on_error)  # type: ignore[arg-type]
    jobs = app.job_queue
    if jobs is not None:
        every = settings.feed_minutes * 60
        jobs.run_repeating(poll_feeds, interval=every, first=every, name="feeds")  # type: ignore[arg-type]
        hours = settings.digest_hours * 3600
        jobs.run_repeating(digest, interval=hours, first=hours, name="digest")  # type: ignore[arg-type]
        # the first full check soon after start: large files were trusted by their stamps
        verify = settings.verify_hours * 3600
        jobs.run_repeating(verify_index, interval=verify, first=min(60, verify), name="verify")  # type: ignore[arg-type]
    return app


__all__ = ["build_application"]
