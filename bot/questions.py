"""Readers' handlers: questions in private chats and groups, buttons, inline mode."""

from __future__ import annotations

import asyncio
import logging
import re

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError

from bot import texts
from bot.activity import Asked
from bot.charts import chart_of_answer, render_chart
from bot.render import answer_blocks, hits_blocks, pack_messages, passage_html, strip_html
from bot.services import (
    ShuziContext,
    send_html,
    turn_key,
    user_language,
)
from index import (
    Answer,
    EmptyQuestionError,
    IndexStoreError,
)

log = logging.getLogger(__name__)


def answer_keyboard(qid: int, answer: Answer) -> InlineKeyboardMarkup:
    sources = [
        InlineKeyboardButton(f"原文 [{c.n}]", callback_data=f"src:{qid}:{c.n}")
        for c in answer.citations
    ]
    chart = (
        [InlineKeyboardButton("📊 图表", callback_data=f"chart:{qid}:0")]
        if chart_of_answer(answer, answer.language) is not None
        else []
    )
    row2 = [
        *chart,
        InlineKeyboardButton("更多", callback_data=f"more:{qid}:0"),
        InlineKeyboardButton("👍", callback_data=f"fb:{qid}:1"),
        InlineKeyboardButton("👎", callback_data=f"fb:{qid}:-1"),
    ]
    return InlineKeyboardMarkup([sources, row2] if sources else [row2])


async def start(update: Update, context: ShuziContext) -> None:
    """/start and /help: what the bot knows and how to ask."""
    if update.effective_message is None:
        return
    articles = context.services.engine.articles()
    await send_html(update.effective_message, texts.help_text(user_language(update), articles))


async def answer_question(update: Update, context: ShuziContext, question: str) -> None:
    """Answer one question in the chat it came from."""
    message = update.effective_message
    user = update.effective_user
    if message is None:
        return
    lang = user_language(update)
    services = context.services
    if user:
        quota = services.quota(user.id)
        if quota != "ok":
            if quota == "notify":  # one notice per window; a flood gets no more replies
                await message.reply_text(texts.t("quota", lang))
            return
    key = turn_key(message, user.id if user else None)
    try:
        await message.reply_chat_action(ChatAction.TYPING)  # in the question's forum topic
    except TelegramError:  # a courtesy: the answer matters more
        log.info("could not show typing", exc_info=True)
    try:
        answer = await asyncio.to_thread(
            services.engine.ask,
            question,
            k=services.settings.top_k,
            previous=services.previous_turn(key),
        )
    except EmptyQuestionError:
        await message.reply_text(texts.t("empty", lang))
        return
    except IndexStoreError:
        log.error("no index to answer from", exc_info=True)
        await message.reply_text(texts.t("index_down", lang))
        return
    services.remember_turn(key, answer)
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
        await update.effective_message.reply_text(texts.t("ask_usage", user_language(update)))
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


# Buttons: callback data the bot wrote, "kind:question id:argument"; anything else (an old
# client, a forged query) is answered with a notice and changes nothing.
BUTTON = re.compile(r"^(src|chart|more|fb):(\d{1,12}):(-?\d{1,3})$")


async def _button_question(
    update: Update, context: ShuziContext
) -> tuple[CallbackQuery, Message, int, int, Asked] | None:
    """The pressed button's query, message, question id, argument and question, when the
    data is well-formed and the question belongs to the chat the button is in."""
    query = update.callback_query
    if query is None:
        return None
    lang = user_language(update)
    match = BUTTON.match(query.data or "")
    message = query.message if isinstance(query.message, Message) else None
    asked = context.services.activity.asked(int(match.group(2))) if match else None
    if match is None or message is None or asked is None or asked.chat_id != message.chat_id:
        await query.answer(texts.t("stale_button", lang))
        return None
    return query, message, int(match.group(2)), int(match.group(3)), asked


async def _cached_answer(context: ShuziContext, qid: int, question: str) -> Answer:
    services = context.services
    answer = services.answers.get(qid)
    if answer is None:
        answer = await asyncio.to_thread(services.engine.ask, question, k=services.settings.top_k)
        services.remember(qid, answer)
    return answer


async def vote(update: Update, context: ShuziContext) -> None:
    """👍 / 👎: only the reader who asked votes on an answer, once (a second vote replaces)."""
    found = await _button_question(update, context)
    if found is None:
        return
    query, _, qid, value, asked = found
    lang = user_language(update)
    if value not in (-1, 1) or query.from_user.id != asked.user_id:
        await query.answer(texts.t("not_your_vote", lang))
        return
    context.services.activity.record_feedback(qid, query.from_user.id, value)
    await query.answer(texts.t("thanks", lang))


async def chart_button(update: Update, context: ShuziContext) -> None:
    """📊 图表: the answer's figures as a chart."""
    found = await _button_question(update, context)
    if found is None:
        return
    query, message, qid, _, asked = found
    answer = await _cached_answer(context, qid, asked.question)
    await query.answer()
    data = chart_of_answer(answer, answer.language)
    if data is not None:
        png = await asyncio.to_thread(render_chart, data)
        await message.reply_photo(png, caption=data.title, filename="chart.png")


async def source_button(update: Update, context: ShuziContext) -> None:
    """原文 [n]: the cited passage whole, its figures in bold."""
    found = await _button_question(update, context)
    if found is None:
        return
    query, message, qid, n, asked = found
    answer = await _cached_answer(context, qid, asked.question)
    await query.answer()
    cite = next((c for c in answer.citations if c.n == n), None)
    if cite is None:
        return
    spans = [(af.figure.start, af.figure.end) for af in answer.figures if af.citation == n]
    for chunk in pack_messages(passage_html(cite, spans, answer.language)):
        await send_html(message, chunk)


async def more_button(update: Update, context: ShuziContext) -> None:
    """更多: the next passages, three at a time."""
    found = await _button_question(update, context)
    if found is None:
        return
    query, message, qid, page, asked = found
    answer = await _cached_answer(context, qid, asked.question)
    await query.answer()
    start = len(answer.citations) + max(page, 0) * 3
    hits = list(answer.hits)[start : start + 3]
    if not hits:
        await message.reply_text(texts.t("no_more", user_language(update)))
        return
    more = InlineKeyboardMarkup(
        [[InlineKeyboardButton("更多", callback_data=f"more:{qid}:{page + 1}")]]
    )
    chunks = pack_messages(hits_blocks(hits, answer.language, start + 1))
    for i, chunk in enumerate(chunks):
        await send_html(message, chunk, reply_markup=more if i == len(chunks) - 1 else None)


async def unknown_button(update: Update, context: ShuziContext) -> None:
    """Callback data no handler above takes."""
    if update.callback_query is not None:
        await update.callback_query.answer(texts.t("stale_button", user_language(update)))


async def inline_query(update: Update, context: ShuziContext) -> None:
    """@bot 数字经济规模 in any chat: the answer as an inline result."""
    query = update.inline_query
    if query is None or not query.query.strip():
        return
    services = context.services
    if services.quota(query.from_user.id) != "ok":
        await query.answer([], cache_time=5)
        return
    answer = await asyncio.to_thread(services.engine.ask, query.query, k=services.settings.top_k)
    blocks = answer_blocks(answer)
    body = pack_messages(blocks)[0]
    title = strip_html(blocks[0])[:100]
    result = InlineQueryResultArticle(
        id=str(abs(hash((query.query, answer.generation))))[:60],
        title=title or query.query,
        description=answer.sentences[0].text[:120] if answer.sentences else "",
        input_message_content=InputTextMessageContent(body, parse_mode=ParseMode.HTML),
    )
    await query.answer([result], cache_time=60)


async def new_conversation(update: Update, context: ShuziContext) -> None:
    """/new: the next question starts afresh, not as a follow-up of the last one."""
    message = update.effective_message
    if message is None:
        return
    user = update.effective_user
    context.services.forget_turn(turn_key(message, user.id if user else None))
    await message.reply_text(texts.t("new", user_language(update)))


async def unknown_command(update: Update, context: ShuziContext) -> None:
    """Any other /command."""
    if update.effective_message:
        await update.effective_message.reply_text(texts.t("unknown", user_language(update)))
