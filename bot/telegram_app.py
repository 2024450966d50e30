"""The Telegram bot: one small async handler per user action, all wiring in build_application."""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import logging
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePosixPath
from typing import TypeVar

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import texts
from bot.activity import ActivityLog
from bot.render import answer_blocks, hits_blocks, pack_messages, passage_html, strip_html
from bot.settings import Settings
from corpus import SUPPORTED_SUFFIXES, ArticleError, read_article_bytes
from index import (
    Answer,
    BuildLockedError,
    BuildReport,
    EmptyQuestionError,
    Engine,
    IndexError_,
    Progress,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_SUFFIXES = SUPPORTED_SUFFIXES
ANSWER_CACHE = 512


@dataclass
class Services:
    """What handlers share; reached through context.services, never module globals."""

    engine: Engine
    settings: Settings
    activity: ActivityLog
    build_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    answers: OrderedDict[int, Answer] = field(default_factory=OrderedDict)
    recent: dict[int, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def remember(self, qid: int, answer: Answer) -> None:
        self.answers[qid] = answer
        while len(self.answers) > ANSWER_CACHE:
            self.answers.popitem(last=False)

    def over_quota(self, user_id: int) -> bool:
        now = time.monotonic()
        window = self.recent[user_id]
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= self.settings.user_quota_per_minute:
            return True
        window.append(now)
        return False

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_ids


class ShuziContext(CallbackContext[ExtBot, dict, dict, dict]):
    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]  # type: ignore[no-any-return]


def _lang(update: Update) -> str:
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "en" if code.startswith("en") else "zh"


async def send_html(message: Message, html_text: str, **kwargs: object) -> Message:
    """Send HTML; if Telegram cannot parse it, resend the same words as plain text."""
    try:
        return await message.reply_text(html_text, parse_mode=ParseMode.HTML, **kwargs)  # type: ignore[arg-type]
    except BadRequest as exc:
        if "parse entities" not in str(exc).lower():
            raise
        log.warning("HTML refused by Telegram (%s); resending as plain text", exc)
        return await message.reply_text(strip_html(html_text), **kwargs)  # type: ignore[arg-type]


def answer_keyboard(qid: int, answer: Answer) -> InlineKeyboardMarkup:
    sources = [
        InlineKeyboardButton(f"原文 [{c.n}]", callback_data=f"src:{qid}:{c.n}")
        for c in answer.citations
    ]
    row2 = [
        InlineKeyboardButton("更多", callback_data=f"more:{qid}:0"),
        InlineKeyboardButton("👍", callback_data=f"fb:{qid}:1"),
        InlineKeyboardButton("👎", callback_data=f"fb:{qid}:-1"),
    ]
    return InlineKeyboardMarkup([sources, row2] if sources else [row2])


# -- readers ----------------------------------------------------------------------------
async def start(update: Update, context: ShuziContext) -> None:
    """/start and /help: what the bot knows and how to ask."""
    if update.effective_message is None:
        return
    articles = list(context.services.engine.generation.articles.values())
    await send_html(update.effective_message, texts.help_text(_lang(update), articles))


async def answer_question(update: Update, context: ShuziContext, question: str) -> None:
    """Answer one question in the chat it came from."""
    message = update.effective_message
    user = update.effective_user
    if message is None:
        return
    lang = _lang(update)
    services = context.services
    if user and services.over_quota(user.id):
        await message.reply_text(texts.t("quota", lang))
        return
    try:
        answer = await asyncio.to_thread(services.engine.ask, question, k=services.settings.top_k)
    except EmptyQuestionError:
        await message.reply_text(texts.t("empty", lang))
        return
    qid = services.activity.record_question(
        user_id=user.id if user else None,
        chat_id=message.chat_id,
        question=answer.question,
        answered=not answer.abstained,
        latency_ms=answer.latency_ms,
        generation=answer.generation,
    )
    services.remember(qid, answer)
    chunks = pack_messages(answer_blocks(answer))
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        await send_html(message, chunk, reply_markup=answer_keyboard(qid, answer) if last else None)


async def private_text(update: Update, context: ShuziContext) -> None:
    """In a private chat every text message is a question."""
    if update.effective_message and update.effective_message.text:
        await answer_question(update, context, update.effective_message.text)


async def ask_command(update: Update, context: ShuziContext) -> None:
    """/ask 问题 — in groups and private chats."""
    question = " ".join(context.args or [])
    if not question.strip() and update.effective_message:
        await update.effective_message.reply_text(texts.t("ask_usage", _lang(update)))
        return
    await answer_question(update, context, question)


async def group_text(update: Update, context: ShuziContext) -> None:
    """In groups: a mention of the bot or a reply to one of its messages is a question."""
    message = update.effective_message
    if message is None or not message.text:
        return
    me = context.bot.username or ""
    mention = f"@{me}"
    replied = message.reply_to_message
    to_bot = bool(replied and replied.from_user and replied.from_user.id == context.bot.id)
    if mention.lower() in message.text.lower():
        await answer_question(update, context, message.text.replace(mention, " "))
    elif to_bot:
        await answer_question(update, context, message.text)


async def _cached_answer(context: ShuziContext, qid: int) -> Answer | None:
    services = context.services
    answer = services.answers.get(qid)
    if answer is None:
        question = services.activity.question(qid)
        if question is None:
            return None
        answer = await asyncio.to_thread(services.engine.ask, question, k=services.settings.top_k)
        services.remember(qid, answer)
    return answer


async def button(update: Update, context: ShuziContext) -> None:
    """原文 [n], 更多, 👍 / 👎."""
    query = update.callback_query
    if query is None or not query.data:
        return
    lang = _lang(update)
    kind, qid_text, arg = [*query.data.split(":"), "", ""][:3]
    qid = int(qid_text) if qid_text.isdigit() else -1
    if kind == "fb" and update.effective_user:
        context.services.activity.record_feedback(qid, update.effective_user.id, int(arg))
        await query.answer(texts.t("thanks", lang))
        return
    answer = await _cached_answer(context, qid)
    await query.answer()
    if answer is None or query.message is None or not isinstance(query.message, Message):
        return
    if kind == "src":
        n = int(arg)
        cite = next((c for c in answer.citations if c.n == n), None)
        if cite is None:
            return
        spans = [(af.figure.start, af.figure.end) for af in answer.figures if af.citation == n]
        for chunk in pack_messages(passage_html(cite, spans, answer.language)):
            await send_html(query.message, chunk)
    elif kind == "more":
        page = int(arg or 0)
        start = len(answer.citations) + page * 3
        hits = list(answer.hits)[start : start + 3]
        if not hits:
            await query.message.reply_text(texts.t("no_more", lang))
            return
        more = InlineKeyboardMarkup(
            [[InlineKeyboardButton("更多", callback_data=f"more:{qid}:{page + 1}")]]
        )
        chunks = pack_messages(hits_blocks(hits, answer.language, start + 1))
        for i, chunk in enumerate(chunks):
            await send_html(
                query.message, chunk, reply_markup=more if i == len(chunks) - 1 else None
            )


async def inline_query(update: Update, context: ShuziContext) -> None:
    """@bot 数字经济规模 in any chat: the answer as an inline result."""
    query = update.inline_query
    if query is None or not query.query.strip():
        return
    services = context.services
    if services.over_quota(query.from_user.id):
        await query.answer([], cache_time=5)
        return
    answer = await asyncio.to_thread(services.engine.ask, query.query, k=services.settings.top_k)
    body = pack_messages(answer_blocks(answer))[0]
    title = strip_html(answer_blocks(answer)[0])[:100]
    result = InlineQueryResultArticle(
        id=str(abs(hash((query.query, answer.generation))))[:60],
        title=title or query.query,
        description=answer.sentences[0].text[:120] if answer.sentences else "",
        input_message_content=InputTextMessageContent(body, parse_mode=ParseMode.HTML),
    )
    await query.answer([result], cache_time=60)


# -- editors ----------------------------------------------------------------------------
async def _refuse_non_admin(update: Update, context: ShuziContext) -> bool:
    user = update.effective_user
    if context.services.is_admin(user.id if user else None):
        return False
    if update.effective_message:
        await update.effective_message.reply_text(texts.t("admin_only", _lang(update)))
    return True


def _caption_defaults(caption: str | None, upload_day: date) -> dict[str, str]:
    """Caption "标题 | 2024-05-01" or "title: …; date: …" gives title and date."""
    defaults = {"date": upload_day.isoformat()}
    if not caption:
        return defaults
    parts = [p.strip() for p in caption.replace("｜", "|").replace("；", ";").split("|")]
    if len(parts) == 1 and ";" in parts[0]:
        parts = [p.strip() for p in parts[0].split(";")]
    for part in parts:
        key, sep, value = part.partition(":")
        key = key.strip().lower()
        if sep and key in ("title", "标题", "date", "日期"):
            defaults["title" if key in ("title", "标题") else "date"] = value.strip()
        elif part[:4].isdigit():
            defaults["date"] = part
        elif part:
            defaults["title"] = part
    return defaults


async def document(update: Update, context: ShuziContext) -> None:
    """An editor sends an article file: check, add incrementally, summarize."""
    if await _refuse_non_admin(update, context):
        return
    message = update.effective_message
    if message is None or message.document is None:
        return
    lang = _lang(update)
    doc = message.document
    name = doc.file_name or "article.txt"
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        await message.reply_text(
            texts.t("bad_type", lang).format(name=name, types=", ".join(UPLOAD_SUFFIXES))
        )
        return
    if doc.file_size and doc.file_size > MAX_UPLOAD_BYTES:
        await message.reply_text(texts.t("too_big", lang).format(name=name))
        return
    status = await _start_build(message, context.services, lang, name)
    if status is None:
        return
    try:
        data = await (await doc.get_file()).download_as_bytearray()
        defaults = _caption_defaults(message.caption, message.date.date())
        article = read_article_bytes(
            bytes(data), name=name, origin=f"telegram:{name}", defaults=defaults
        )
    except ArticleError as exc:
        await status.edit_text(texts.t("upload_failed", lang).format(name=name, why=exc))
        return
    engine = context.services.engine

    def summary(report: BuildReport) -> str:
        conflicts = _figure_conflicts(engine, article.id)
        return texts.upload_summary(lang, name, report, conflicts)

    await _run_build(
        context.services,
        status,
        lambda progress: engine.add([article], progress=progress),
        summary,
        failure=texts.t("upload_failed", lang).replace(
            "{name}", name.replace("{", "{{").replace("}", "}}")
        ),
    )


async def _start_build(
    message: Message, services: Services, lang: str, label: str
) -> Message | None:
    """The status message of an index change, or None (after saying so) if one is running."""
    if services.build_lock.locked():
        await message.reply_text(texts.t("busy", lang))
        return None
    return await message.reply_text(texts.t("working", lang).format(name=label))


async def _run_build(
    services: Services,
    status: Message,
    job: Callable[[Progress], T],
    describe: Callable[[T], str],
    *,
    failure: str,
) -> None:
    """Run an index change off the event loop, one at a time; readers keep being answered
    from the serving generation meanwhile. The status message shows progress every few
    seconds, then how it ended."""
    loop = asyncio.get_running_loop()
    header = status.text or ""
    pending: list[concurrent.futures.Future[Message | bool]] = []
    last = [time.monotonic() - services.settings.progress_every_s]

    def progress(stage: str, done: int, total: int) -> None:  # called from the build thread
        now = time.monotonic()
        if now - last[0] >= services.settings.progress_every_s:
            last[0] = now
            edit = status.edit_text(f"{header}\n{stage}: {done}/{total}")
            pending.append(asyncio.run_coroutine_threadsafe(edit, loop))

    async with services.build_lock:
        try:
            result = await asyncio.to_thread(job, progress)
            text = await asyncio.to_thread(describe, result)
        except (ArticleError, IndexError_, KeyError, LookupError, BuildLockedError) as exc:
            text = failure.format(why=exc.args[0] if exc.args else exc)
        # progress edits still in flight must not land after the final word
        await asyncio.gather(*map(asyncio.wrap_future, pending), return_exceptions=True)
        await status.edit_text(text)


def _figure_conflicts(engine: Engine, article_id: str, limit: int = 10) -> list[str]:
    """Figures of the new article that differ from figures already indexed for the metric."""
    gen = engine.generation
    lines: list[str] = []
    for pid, _ in gen.article_passages(article_id):
        for fig in gen.figures([pid])[pid]:
            if len(fig.metric) < 3:
                continue
            for other_pid, other in gen.figures_with_metric(fig.metric):
                other_passage = gen.passages([other_pid])[other_pid]
                if other_passage.article_id == article_id or other.text == fig.text:
                    continue
                if other.kind == fig.kind:
                    lines.append(f"{fig.metric}: {fig.text} ≠ {other.text} ({other_passage.key})")
                    break
            if len(lines) >= limit:
                return lines
    return lines


async def articles(update: Update, context: ShuziContext) -> None:
    """/articles: the articles with their ids."""
    if await _refuse_non_admin(update, context) or update.effective_message is None:
        return
    gen = context.services.engine.generation
    esc = html.escape
    lines = [
        f"<code>{esc(a.id)}</code> 《{esc(a.title)}》 {esc(a.date)} · {a.passages}"
        for a in gen.articles.values()
    ]
    await send_html(update.effective_message, f"generation {gen.number}\n" + "\n".join(lines))


async def _admin_job(
    update: Update,
    context: ShuziContext,
    job: Callable[[Progress], BuildReport | int],
    label: str,
) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = _lang(update)
    status = await _start_build(message, context.services, lang, label)
    if status is None:
        return

    def done(result: BuildReport | int) -> str:
        generation = result if isinstance(result, int) else result.generation
        return texts.t("job_done", lang).format(generation=generation)

    await _run_build(context.services, status, job, done, failure=texts.t("job_failed", lang))


async def remove(update: Update, context: ShuziContext) -> None:
    """/remove ID"""
    if await _refuse_non_admin(update, context):
        return
    ids = context.args or []
    if not ids and update.effective_message:
        await update.effective_message.reply_text("/remove ID")
        return
    await _admin_job(update, context, lambda _: context.services.engine.remove(ids), "/remove")


async def reindex(update: Update, context: ShuziContext) -> None:
    """/reindex: rebuild everything from the stored articles."""
    if await _refuse_non_admin(update, context):
        return
    engine = context.services.engine
    await _admin_job(update, context, lambda p: engine.reindex(progress=p), "/reindex")


async def rollback(update: Update, context: ShuziContext) -> None:
    """/rollback: serve the previous generation."""
    if await _refuse_non_admin(update, context):
        return
    await _admin_job(update, context, lambda _: context.services.engine.rollback(), "/rollback")


async def stats(update: Update, context: ShuziContext) -> None:
    """/stats: counts, questions, answer rate, feedback, latency."""
    if await _refuse_non_admin(update, context) or update.effective_message is None:
        return
    gen = context.services.engine.generation
    s = context.services.activity.stats()
    await update.effective_message.reply_text(
        f"generation {gen.number}: {gen.manifest.counts}\n"
        f"questions {s['questions']}, answered {s['answer_rate']:.0%}, "
        f"👍 {s['thumbs_up']} 👎 {s['thumbs_down']}, "
        f"latency p50 {s['latency_p50_ms']:.0f} ms, p95 {s['latency_p95_ms']:.0f} ms"
    )


async def unknown_command(update: Update, context: ShuziContext) -> None:
    """Any other /command."""
    if update.effective_message:
        await update.effective_message.reply_text(texts.t("unknown", _lang(update)))


async def on_error(update: object, context: ShuziContext) -> None:
    """Log with the traceback (the token is redacted by the log filter) and apologise."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await update.effective_message.reply_text(texts.t("sorry", _lang(update)))
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


__all__ = ["ChatType", "Services", "build_application"]
