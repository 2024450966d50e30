"""Shared by the bot's handlers: services, the typed context, language and sending HTML."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from telegram import (
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    CallbackContext,
    ExtBot,
)

from bot.activity import ActivityLog
from bot.feeds import FeedStore
from bot.ingest import IngestLimits
from bot.render import strip_html
from bot.settings import Settings
from corpus import SUPPORTED_SUFFIXES
from index import (
    Answer,
    Engine,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_SUFFIXES = SUPPORTED_SUFFIXES
ANSWER_CACHE = 512
TURNS_KEPT = 10_000  # readers whose last answer is kept for a follow-up


def turn_key(message: Message, user_id: int | None) -> tuple[int, int, int]:
    """A conversation: one reader in one chat (and one forum topic)."""
    thread = message.message_thread_id if message.is_topic_message else None
    return (message.chat_id, thread or 0, user_id or 0)


@dataclass
class Services:
    """What handlers share; reached through context.services, never module globals."""

    engine: Engine
    settings: Settings
    activity: ActivityLog
    feeds: FeedStore
    ingest: IngestLimits
    build_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # set by /cancel or a stop signal: the running index change ends at its next step
    cancel: threading.Event = field(default_factory=threading.Event)
    jobs: int = 0  # editors' reads and builds under way
    answers: OrderedDict[int, Answer] = field(default_factory=OrderedDict)
    last_digest: float = field(default_factory=time.time)
    recent: dict[int, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    notified: dict[int, float] = field(default_factory=dict)  # quota notices, per window
    # each reader's last answer per chat and forum thread, for follow-up questions
    turns: OrderedDict[tuple[int, int, int], tuple[Answer, float]] = field(
        default_factory=OrderedDict
    )

    def previous_turn(self, key: tuple[int, int, int]) -> Answer | None:
        """The reader's previous answer in this chat, if it is recent enough to follow up."""
        found = self.turns.get(key)
        if found is None:
            return None
        answer, at = found
        if time.monotonic() - at > self.settings.followup_minutes * 60:
            self.turns.pop(key, None)
            return None
        return answer

    def remember_turn(self, key: tuple[int, int, int], answer: Answer) -> None:
        self.turns[key] = (answer, time.monotonic())
        self.turns.move_to_end(key)
        while len(self.turns) > TURNS_KEPT:
            self.turns.popitem(last=False)

    def forget_turn(self, key: tuple[int, int, int]) -> None:
        self.turns.pop(key, None)

    def remember(self, qid: int, answer: Answer) -> None:
        self.answers[qid] = answer
        while len(self.answers) > ANSWER_CACHE:
            self.answers.popitem(last=False)

    def over_quota(self, user_id: int) -> bool:
        return self.quota(user_id) != "ok"

    def quota(self, user_id: int) -> str:
        """ "ok" to answer; "notify" for the first question over the per-minute quota, which
        gets one notice; "silent" for the ones after it in the same window (a flood gets one
        reply, not one each, and costs the other readers nothing)."""
        now = time.monotonic()
        window = self.recent[user_id]
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= self.settings.user_quota_per_minute:
            if self.notified.get(user_id) == window[0]:
                return "silent"
            self.notified[user_id] = window[0]
            return "notify"
        window.append(now)
        return "ok"

    @contextlib.contextmanager
    def editor_job(self) -> Iterator[None]:
        """An editor's read and build: the first one after a /cancel starts uncancelled."""
        if self.jobs == 0:
            self.cancel.clear()
        self.jobs += 1
        try:
            yield
        finally:
            self.jobs -= 1

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_ids


class ShuziContext(CallbackContext[ExtBot, dict, dict, dict]):
    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]  # type: ignore[no-any-return]


def user_language(update: Update) -> str:
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
