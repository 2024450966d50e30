"""Handler-side services without Telegram: quota, admin check, caption parsing, activity log."""

from __future__ import annotations

from datetime import date

import pytest

from bot import texts
from bot.activity import ActivityLog
from bot.editors import _caption_defaults, _run_build
from bot.feeds import FeedStore
from bot.ingest import IngestLimits
from bot.services import Services
from bot.settings import Settings
from index import ChangeRefusedError, Engine, HashEmbedder, IndexFolder
from tests.conftest import make_article


def _services(tmp_path, **settings) -> Services:  # type: ignore[no-untyped-def]
    engine = Engine(store=IndexFolder(tmp_path / "index"), embedder=HashEmbedder())
    return Services(
        engine=engine,
        settings=Settings(**settings),
        activity=ActivityLog(),
        feeds=FeedStore(tmp_path / "feeds.sqlite"),
        ingest=IngestLimits(),
    )


def test_per_user_quota(tmp_path):
    services = _services(tmp_path, user_quota_per_minute=3)
    assert [services.over_quota(1) for _ in range(4)] == [False, False, False, True]
    assert services.over_quota(2) is False  # another user has a quota of their own


def test_admins_come_from_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("SHUZI_ADMIN_IDS", "11, 22")
    services = _services(tmp_path)
    assert services.is_admin(11) and services.is_admin(22)
    assert not services.is_admin(33) and not services.is_admin(None)


def test_caption_gives_title_and_date():
    today = date(2024, 5, 2)
    assert _caption_defaults(None, today) == ({"date": "2024-05-02"}, False)
    assert _caption_defaults("青石市灯塔 | 2024-03-01", today) == (
        {"title": "青石市灯塔", "date": "2024-03-01"},
        False,
    )
    assert _caption_defaults("title: Lighthouses; date: 2023-01-09", today) == (
        {"title": "Lighthouses", "date": "2023-01-09"},
        False,
    )
    # "replace" replaces an article of another source with the same id, explicitly
    assert _caption_defaults("青石市灯塔 | replace", today) == (
        {"title": "青石市灯塔", "date": "2024-05-02"},
        True,
    )


def test_activity_log_stats_and_feedback():
    log = ActivityLog()
    q1 = log.record_question(
        user_id=1, chat_id=1, question="a", answered=True, latency_ms=10, generation=1
    )
    log.record_question(
        user_id=2, chat_id=2, question="b", answered=False, latency_ms=30, generation=1
    )
    log.record_feedback(q1, 1, 1)
    log.record_feedback(q1, 1, -1)  # a user's second vote replaces the first
    stats = log.stats()
    assert stats["questions"] == 2 and stats["answer_rate"] == 0.5
    assert (stats["thumbs_up"], stats["thumbs_down"]) == (0, 1)
    assert log.question(q1) == "a" and log.question(999) is None


def test_activity_log_forgets_old_questions_and_their_feedback():
    log = ActivityLog(keep_days=30)
    old = log.record_question(
        user_id=1, chat_id=1, question="old", answered=True, latency_ms=5, generation=1
    )
    log.record_feedback(old, 1, 1)
    new = log.record_question(
        user_id=1, chat_id=1, question="new", answered=True, latency_ms=5, generation=1
    )
    import time

    assert log.prune(now=time.time() + 10 * 86400) == 0  # nothing is 30 days old yet
    with log._db:
        log._db.execute(
            "UPDATE questions SET asked_at = asked_at - 31 * 86400 WHERE qid = ?", (old,)
        )
    assert log.prune() == 1
    assert log.question(old) is None and log.question(new) == "new"
    assert log.stats()["questions"] == 1 and log.stats()["thumbs_up"] == 0


def test_a_follow_up_is_read_with_the_readers_last_answer_only_while_recent(tmp_path):
    import time

    services = _services(tmp_path, followup_minutes=10)
    services.engine.build([make_article("a", "株洲数字经济规模1118亿元，占GDP比重达42%。")])
    key = (100, 0, 7)
    first = services.engine.ask("株洲数字经济规模是多少？")
    services.remember_turn(key, first)
    assert services.previous_turn(key) is first
    assert services.previous_turn((100, 0, 8)) is None  # another reader in the same chat
    assert services.previous_turn((100, 5, 7)) is None  # another forum topic
    services.turns[key] = (first, time.monotonic() - 11 * 60)
    assert services.previous_turn(key) is None  # too long ago: a new conversation


class _Status:
    """A stand-in for the status message an index change edits."""

    def __init__(self) -> None:
        self.text = "working"
        self.edits: list[str] = []

    async def edit_text(self, text: str) -> bool:
        self.edits.append(text)
        return True


async def test_a_bug_inside_a_build_is_logged_not_shown_to_the_editor(tmp_path, caplog):
    services = _services(tmp_path)
    status = _Status()

    def job(progress):  # type: ignore[no-untyped-def]
        return {}["secret-internal-key"]  # a KeyError bug, not a refusal

    await _run_build(services, status, job, str, failure=texts.t("job_failed", "en"))  # type: ignore[arg-type]
    assert status.edits[-1].startswith("Not done: an internal error (KeyError)")
    assert "secret-internal-key" not in status.edits[-1]
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and logged[0].exc_info[0] is KeyError  # type: ignore[index]


async def test_a_refused_change_names_the_chat_command_in_chat(tmp_path):
    services = _services(tmp_path)
    engine = services.engine
    engine.build([make_article("known", "株洲数字经济规模1118亿元。")])
    engine.hints = texts.CHAT_HINTS
    status = _Status()
    await _run_build(
        services,
        status,  # type: ignore[arg-type]
        lambda _: engine.remove(["nowhere"]),
        str,
        failure=texts.t("job_failed", "en"),
    )
    assert "no article with id nowhere" in status.edits[-1]
    assert "/articles" in status.edits[-1] and "shuzi index" not in status.edits[-1]
    with pytest.raises(ChangeRefusedError, match="shuzi index list"):
        Engine(store=engine.store, embedder=HashEmbedder()).remove(["nowhere"])  # the CLI's
