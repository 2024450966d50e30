"""Editors' handlers: article uploads and admin commands; index changes run one at a time."""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import logging
import re
import time
from collections.abc import Callable
from datetime import date
from pathlib import PurePosixPath
from typing import TypeVar

from telegram import (
    Message,
    Update,
)
from telegram.error import TelegramError

from bot import texts
from bot.feeds import new_articles
from bot.ingest import IngestError, read_feed, read_link, read_upload
from bot.render import pack_messages
from bot.services import (
    MAX_UPLOAD_BYTES,
    UPLOAD_SUFFIXES,
    Services,
    ShuziContext,
    send_html,
    user_language,
)
from corpus import ArticleError
from index import (
    ArticleClashError,
    ArticleStoreError,
    BuildCancelledError,
    BuildReport,
    ChangeRefusedError,
    IndexStoreError,
    Progress,
    Provenance,
    Submission,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
# what an index change refuses on purpose, with a message for the editor; anything else
# raised inside a change is a bug: logged with its traceback, the editor told "internal error"
REFUSALS = (ArticleError, ArticleStoreError, ArticleClashError, ChangeRefusedError, IndexStoreError)


async def _refuse_non_admin(update: Update, context: ShuziContext) -> bool:
    user = update.effective_user
    if context.services.is_admin(user.id if user else None):
        return False
    if update.effective_message:
        await update.effective_message.reply_text(texts.t("admin_only", user_language(update)))
    return True


_REPLACE_WORDS = ("replace", "替换")


def _caption_defaults(caption: str | None, upload_day: date) -> tuple[dict[str, str], bool]:
    """Caption "标题 | 2024-05-01" or "title: …; date: …" gives title and date; the word
    "replace" (替换) among its parts replaces an article of another source with the same id."""
    defaults = {"date": upload_day.isoformat()}
    if not caption:
        return defaults, False
    parts = [p.strip() for p in caption.replace("｜", "|").replace("；", ";").split("|")]
    if len(parts) == 1 and ";" in parts[0]:
        parts = [p.strip() for p in parts[0].split(";")]
    replace = False
    for part in parts:
        key, sep, value = part.partition(":")
        key = key.strip().lower()
        if part.lower() in _REPLACE_WORDS:
            replace = True
        elif sep and key in ("title", "标题", "date", "日期"):
            defaults["title" if key in ("title", "标题") else "date"] = value.strip()[:300]
        elif part[:4].isdigit():
            defaults["date"] = part[:40]
        elif part:
            defaults["title"] = part[:300]
    return defaults, replace


async def document(update: Update, context: ShuziContext) -> None:
    """An editor sends an article file: read in the worker process, kept in the article
    store, added incrementally, summarized."""
    if await _refuse_non_admin(update, context):
        return
    message = update.effective_message
    if message is None or message.document is None:
        return
    lang = user_language(update)
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
    with context.services.editor_job():
        await _read_and_add_upload(update, context, message, lang, name)


async def _read_and_add_upload(
    update: Update, context: ShuziContext, message: Message, lang: str, name: str
) -> None:
    doc = message.document
    assert doc is not None
    status = await _start_build(message, context.services, lang, name)
    if status is None:
        return
    failure = texts.t("upload_failed", lang).replace(
        "{name}", name.replace("{", "{{").replace("}", "}}")
    )
    services = context.services
    defaults, replace = _caption_defaults(message.caption, message.date.date())
    try:
        data = bytes(await (await doc.get_file()).download_as_bytearray())
        article = await read_upload(
            data, name=name, defaults=defaults, limits=services.ingest, cancel=services.cancel
        )
    except (IngestError, TelegramError) as exc:
        await status.edit_text(failure.format(why=exc))
        return
    user = update.effective_user
    submission = Submission(
        article, Provenance("upload", name, str(user.id) if user else ""), data, name
    )
    await _add_and_summarize(services, status, lang, name, submission, replace, failure)


async def _add_and_summarize(
    services: Services,
    status: Message,
    lang: str,
    label: str,
    submission: Submission,
    replace: bool,
    failure: str,
) -> None:
    """Keep the article and index it off the event loop; the summary names what changed."""
    engine = services.engine

    def summary(report: BuildReport) -> str:
        conflicts = engine.figure_conflicts(submission.article.id)
        return texts.upload_summary(lang, label, report, conflicts)

    await _run_build(
        services,
        status,
        lambda progress: engine.add([submission], progress=progress, replace=replace),
        summary,
        failure=failure,
    )


async def _start_build(
    message: Message, services: Services, lang: str, label: str
) -> Message | None:
    """The status message of an index change, or None (after saying so) if one is running."""
    if services.build_lock.locked():
        await message.reply_text(texts.t("busy", lang))
        return None
    return await message.reply_text(texts.t("working", lang).format(name=label))


def _stop_when_cancelled(services: Services) -> Progress:
    """A progress callback that ends the build at its next step once /cancel or a stop
    signal sets the services' cancel flag."""

    def check(stage: str, done: int, total: int) -> None:
        if services.cancel.is_set():
            raise BuildCancelledError("the build was cancelled (/cancel, or the bot is stopping)")

    return check


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

    stop = _stop_when_cancelled(services)

    def progress(stage: str, done: int, total: int) -> None:  # called from the build thread
        stop(stage, done, total)
        now = time.monotonic()
        if now - last[0] >= services.settings.progress_every_s:
            last[0] = now
            edit = status.edit_text(f"{header}\n{stage}: {done}/{total}")
            pending.append(asyncio.run_coroutine_threadsafe(edit, loop))

    async with services.build_lock:
        try:
            result = await asyncio.to_thread(job, progress)
            text = await asyncio.to_thread(describe, result)
        except REFUSALS as exc:
            text = failure.format(why=exc.args[0] if exc.args else exc)
        except Exception as exc:  # the editor is told; the traceback goes to the log
            log.exception("an index change failed")
            text = failure.format(why=f"an internal error ({type(exc).__name__})")
        # progress edits still in flight must not land after the final word
        await asyncio.gather(*map(asyncio.wrap_future, pending), return_exceptions=True)
        await status.edit_text(text)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def articles(update: Update, context: ShuziContext) -> None:
    """/articles: the articles with their ids, in as many messages as they need."""
    if await _refuse_non_admin(update, context) or update.effective_message is None:
        return
    engine = context.services.engine
    served = engine.articles()
    esc = html.escape
    lines = [f"generation {engine.serving().generation} · {len(served)} articles"] + [
        f"<code>{esc(_short(a.id))}</code> 《{esc(_short(a.title))}》 {esc(_short(a.date, 20))}"
        f" · {a.passages}"
        for a in served
    ]
    for chunk in pack_messages(lines):
        await send_html(update.effective_message, chunk)


async def _admin_job(
    update: Update,
    context: ShuziContext,
    job: Callable[[Progress], BuildReport | int],
    label: str,
) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = user_language(update)
    status = await _start_build(message, context.services, lang, label)
    if status is None:
        return

    def done(result: BuildReport | int) -> str:
        generation = result if isinstance(result, int) else result.generation
        return texts.t("job_done", lang).format(generation=generation)

    with context.services.editor_job():
        await _run_build(context.services, status, job, done, failure=texts.t("job_failed", lang))


async def remove(update: Update, context: ShuziContext) -> None:
    """/remove ID"""
    if await _refuse_non_admin(update, context):
        return
    ids = context.args or []
    if not ids and update.effective_message:
        await update.effective_message.reply_text(texts.t("remove_usage", user_language(update)))
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
    info = context.services.engine.serving()
    s = context.services.activity.stats()
    await update.effective_message.reply_text(
        texts.t("stats", user_language(update)).format(
            generation=info.generation,
            passages=info.counts.get("passages", 0),
            articles=info.counts.get("articles", 0),
            questions=s["questions"],
            answer_rate=s["answer_rate"],
            up=s["thumbs_up"],
            down=s["thumbs_down"],
            p50=s["latency_p50_ms"],
            p95=s["latency_p95_ms"],
        )
    )


# -- links and feeds ---------------------------------------------------------------------
_URL = re.compile(r"^https?://\S+$", re.I)


def is_link(text: str) -> bool:
    return bool(_URL.match(text.strip()))


async def add_link(update: Update, context: ShuziContext) -> None:
    """/add URL [replace], or an editor's message that is only a link: fetched and read in
    the worker process, kept, indexed."""
    if await _refuse_non_admin(update, context):
        return
    message = update.effective_message
    if message is None:
        return
    lang = user_language(update)
    args = context.args if context.args is not None else (message.text or "").split()
    url = args[0].strip() if args else ""
    replace = any(a.lower() in _REPLACE_WORDS for a in args[1:])
    if not is_link(url):
        await message.reply_text(texts.t("add_usage", lang))
        return
    with context.services.editor_job():
        await _read_and_add_link(update, context.services, message, lang, url, replace)


async def _read_and_add_link(
    update: Update, services: Services, message: Message, lang: str, url: str, replace: bool
) -> None:
    status = await _start_build(message, services, lang, url[:200])
    if status is None:
        return
    failure = texts.t("link_failed", lang).replace("{url}", url[:200].replace("{", "{{"))
    try:
        article, raw = await read_link(url, limits=services.ingest, cancel=services.cancel)
    except IngestError as exc:
        await status.edit_text(failure.format(why=exc))
        return
    user = update.effective_user
    submission = Submission(
        article, Provenance("link", url, str(user.id) if user else ""), raw, "page.html"
    )
    label = f"《{article.title}》 {url[:200]}"
    await _add_and_summarize(services, status, lang, label, submission, replace, failure)


async def _index_feed(services: Services, feed_url: str) -> tuple[str, list[str], list[str]]:
    """Read a feed and index its new items; (feed title, titles added, problems)."""
    title, items = await read_feed(feed_url, limits=services.ingest, cancel=services.cancel)
    found, problems = await new_articles(
        services.ingest, services.feeds, feed_url, items, services.cancel
    )
    if not found:
        return title, [], problems
    subs = [
        Submission(article, Provenance("feed", item.link, feed_url), raw, "page.html")
        for item, article, raw in found
    ]
    async with services.build_lock:
        report = await asyncio.to_thread(
            services.engine.add, subs, progress=_stop_when_cancelled(services), skip_clashes=True
        )
    kept = set(report.added) | set(report.replaced)
    for item, article, _ in found:
        status = "added" if article.id in kept else "duplicate"
        services.feeds.record(feed_url, item.link, article, article.title, status)
    return title, [a.title for _, a, _ in found if a.id in kept], problems


async def follow(update: Update, context: ShuziContext) -> None:
    """/follow URL: subscribe to an RSS/Atom feed; its items are indexed now and then on a
    schedule."""
    if await _refuse_non_admin(update, context) or update.effective_message is None:
        return
    message = update.effective_message
    lang = user_language(update)
    url = (context.args or [""])[0].strip()
    if not is_link(url):
        await message.reply_text(texts.t("follow_usage", lang))
        return
    services = context.services
    status = await message.reply_text(texts.t("working", lang).format(name=url[:200]))
    try:
        with services.editor_job():
            title, added, problems = await _index_feed(services, url)
    except (IngestError, *REFUSALS) as exc:
        await status.edit_text(texts.t("feed_failed", lang).format(url=url[:200], why=exc))
        return
    except Exception as exc:  # the status message never stays at "working…"
        log.exception("following %s failed", url[:200])
        why = f"an internal error ({type(exc).__name__})"
        await status.edit_text(texts.t("feed_failed", lang).format(url=url[:200], why=why))
        return
    services.feeds.follow(url, title, message.chat_id)
    services.feeds.succeeded(url, title, services.settings.feed_minutes * 60)
    await status.edit_text(
        texts.followed(lang, title, url, added, problems, services.settings.feed_minutes)
    )


async def cancel(update: Update, context: ShuziContext) -> None:
    """/cancel: stop the index change that is running; nothing it did is kept."""
    if await _refuse_non_admin(update, context) or update.effective_message is None:
        return
    lang = user_language(update)
    running = context.services.jobs > 0
    if running:
        context.services.cancel.set()
    await update.effective_message.reply_text(
        texts.t("cancelling" if running else "nothing_to_cancel", lang)
    )


async def feeds_list(update: Update, context: ShuziContext) -> None:
    """/feeds: the followed feeds and how they fare."""
    if await _refuse_non_admin(update, context) or update.effective_message is None:
        return
    await update.effective_message.reply_text(
        texts.feed_list(user_language(update), context.services.feeds.feeds())
    )


async def unfollow(update: Update, context: ShuziContext) -> None:
    """/unfollow URL: stop reading a feed (its articles stay indexed)."""
    if await _refuse_non_admin(update, context) or update.effective_message is None:
        return
    lang = user_language(update)
    url = (context.args or [""])[0].strip()
    done = context.services.feeds.unfollow(url)
    await update.effective_message.reply_text(
        texts.t("unfollowed" if done else "not_followed", lang).format(url=url)
    )


async def poll_feeds(context: ShuziContext) -> None:
    """The scheduled job: every followed feed that is due is read; a failure is counted,
    retried later with backoff and reported to the editors, never raised."""
    services = context.application.bot_data["services"]
    every = services.settings.feed_minutes * 60
    for feed in services.feeds.due(time.time()):
        try:
            title, added, problems = await _index_feed(services, feed.url)
        except Exception as exc:
            why = exc.args[0] if exc.args else type(exc).__name__
            failures, wait = services.feeds.failed(feed.url, str(why), every)
            log.warning("feed %s failed (%s in a row): %s", feed.url, failures, why)
            await _tell_editors(
                context, texts.feed_problem("zh", feed.url, str(why), failures, wait)
            )
            continue
        services.feeds.succeeded(feed.url, title, every)
        if problems:
            log.info("feed %s: %s items not fetched: %s", feed.url, len(problems), problems[:3])
        if added:
            log.info("feed %s: %s articles added", feed.url, len(added))


async def verify_index(context: ShuziContext) -> None:
    """The scheduled integrity check: every file of the serving index hashed; a generation
    that fails is no longer served, and the editors are told."""
    services = context.application.bot_data["services"]
    problem = await asyncio.to_thread(services.engine.check_integrity)
    if problem:
        await _tell_editors(context, f"⚠️ {problem}")


async def digest(context: ShuziContext) -> None:
    """The daily digest: what the feeds added since the last one, to every editor."""
    services = context.application.bot_data["services"]
    since = services.last_digest
    services.last_digest = time.time()
    added = services.feeds.added_since(since)
    if added:
        await _tell_editors(context, texts.digest("zh", added))


async def _tell_editors(context: ShuziContext, text: str) -> None:
    for admin in context.application.bot_data["services"].settings.admin_ids:
        try:
            await context.bot.send_message(admin, text, disable_web_page_preview=True)
        except TelegramError:
            log.warning("could not tell editor %s", admin, exc_info=True)
