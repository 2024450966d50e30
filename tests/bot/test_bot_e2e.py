"""End to end: `shuzi bot`, started as users start it, polls a local fake Bot API server."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

from bot.render import utf16_len
from index.evaluation import load_fixtures
from tests.bot.fake_telegram import FakeTelegram
from tests.conftest import ARTICLE_PATH, FIXTURES, MODEL_CACHE

pytestmark = pytest.mark.model

TOKEN = "123456789:TEST-secret-token-do-not-log"
ADMIN = 1
SHUZI = str(Path(sys.executable).with_name("shuzi"))
FICTIONAL = """---
title: 青石市灯塔普查（虚构测试文章）
date: 2024-03-01
---
# 青石市灯塔普查（虚构测试文章）

本文为测试而虚构，文中地名与数字均不真实。

截至目前，青石市共有灯塔17座，其中新建灯塔5座。
"""
_ids = itertools.count(5000)


class _Checker(HTMLParser):
    allowed: ClassVar[set[str]] = {"b", "i", "code", "a", "u", "s", "pre"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag not in self.allowed:
            self.errors.append(f"tag {tag}")
        self.stack.append(tag)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced {tag}")


def valid_telegram_html(text: str) -> bool:
    checker = _Checker()
    checker.feed(text)
    checker.close()
    return not checker.errors and not checker.stack


def _run_bot(tmp_path_factory, extra_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """Build the index with the CLI, start `shuzi bot` against a fake Bot API server."""
    server = FakeTelegram(TOKEN).start()
    data = tmp_path_factory.mktemp("botdata")
    corpus = tmp_path_factory.mktemp("botcorpus")
    shutil.copy(ARTICLE_PATH, corpus / ARTICLE_PATH.name)
    env = {
        **os.environ,
        "SHUZI_DATA_DIR": str(data),
        "SHUZI_MODEL_CACHE": str(MODEL_CACHE),
        "SHUZI_CORPUS_DIR": str(corpus),
        "SHUZI_TELEGRAM_TOKEN": TOKEN,
        "SHUZI_TELEGRAM_API_URL": server.url,
        "SHUZI_ADMIN_IDS": str(ADMIN),
        "SHUZI_TELEGRAM_TIMEOUT": "2",
        "SHUZI_PROGRESS_EVERY_S": "0",
        "SHUZI_USER_QUOTA_PER_MINUTE": "1000",
        "SHUZI_FETCH_ALLOW_PRIVATE": "1",  # the test site is on 127.0.0.1
        "SHUZI_FEED_MINUTES": "0.05",  # feeds read every 3 s
        "SHUZI_DIGEST_HOURS": "0.003",  # a digest every 11 s
        "HF_HUB_OFFLINE": "1",
        **extra_env,
    }
    subprocess.run([SHUZI, "index", "build"], env=env, check=True, capture_output=True)
    log_path = data / "bot.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen([SHUZI, "bot"], env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            server.wait_for(lambda c: c.method == "deleteWebhook", timeout=60)
            server.log_path = log_path  # type: ignore[attr-defined]
            server.data_dir = data  # type: ignore[attr-defined]
            server.process = proc  # type: ignore[attr-defined]
            yield server
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
            server.stop()


@pytest.fixture(scope="module")
def fake(tmp_path_factory):  # type: ignore[no-untyped-def]
    yield from _run_bot(tmp_path_factory, {})


@pytest.fixture(scope="module")
def fake_on_milvus(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The same bot with its vectors and BM25 in Milvus Lite (a file in the data dir)."""
    pytest.importorskip("milvus_lite")
    yield from _run_bot(
        tmp_path_factory,
        {
            "SHUZI_STORE": "milvus",
            "SHUZI_MILVUS_TOKEN": "milvus-secret-9876",
            "SHUZI_MILVUS_TIMEOUT": "5",
        },
    )


def _text(calls) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(c.params.get("text", "") for c in calls)


def _buttons(fake: FakeTelegram, chat: int) -> dict[str, str]:
    """The inline buttons under the last message sent to a chat: label -> callback data."""
    markup = fake.sent(chat)[-1].params["reply_markup"]
    return {b["text"]: b["callback_data"] for row in markup["inline_keyboard"] for b in row}


def _bot_message(chat: int) -> dict:  # type: ignore[type-arg]
    """The bot's message a button press comes from."""
    return {
        "message_id": 1,
        "date": int(time.time()),
        "chat": {"id": chat, "type": "private"},
        "text": "x",
    }


def ask(fake: FakeTelegram, question: str, **kw) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    user = next(_ids)
    fake.message(question, user_id=user, **kw)
    chat = kw.get("chat_id", user)
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == chat
            and "reply_markup" in c.params
        ),
        60,
    )  # the last part of an answer has the buttons
    return chat, _text(fake.sent(chat))


def test_qa_fixtures_through_the_bot(fake):
    fixtures = load_fixtures(FIXTURES / "qa-dev.jsonl")
    chats = {}
    for fx in fixtures:
        user = next(_ids)
        chats[fx.id] = user
        fake.message(fx.question, user_id=user)
    for fx in fixtures:
        chat = chats[fx.id]
        fake.wait_for(
            lambda c, chat=chat: (
                c.method == "sendMessage"
                and int(c.params["chat_id"]) == chat
                and "reply_markup" in c.params
            ),
            120,
        )
        messages = [c.params["text"] for c in fake.sent(chat)]
        text = "\n".join(messages)
        for m in messages:
            assert utf16_len(m) <= 4096 and valid_telegram_html(m), m
            assert fake.sent(chat)[0].params.get("parse_mode") == "HTML"
        assert "[1]" in text and "《数字经济，制造名城“新引擎”》" in text, (fx.id, text)
        if fx.expect.no_answer:
            assert "没有找到" in text or "do not answer" in text, (fx.id, text)
        else:
            assert "没有找到" not in text and "do not answer" not in text, (fx.id, text)
            for figure in fx.expect.figures:
                assert figure in text, (fx.id, figure, text)


def test_answer_has_bold_figures_and_buttons(fake):
    chat, text = ask(fake, "株洲数字经济规模多少？")
    assert "<b>1118亿元</b>" in text and "（今年前三季度，2022年）" in text  # one bracket level
    markup = fake.sent(chat)[-1].params["reply_markup"]
    labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
    assert {"原文 [1]", "原文 [2]", "更多", "👍", "👎"} <= set(labels)


def test_buttons_show_source_more_and_store_feedback(fake):
    chat, _ = ask(fake, "株洲有多少家省级专精特新“小巨人”企业？")
    buttons = _buttons(fake, chat)
    message = _bot_message(chat)
    before = len(fake.sent(chat))
    fake.callback(buttons["原文 [1]"], user_id=chat, message=message)
    calls = fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == chat
            and "<b>201家</b>" in c.params["text"]
        )
    )
    assert "第12段" in calls[0].params["text"]
    fake.callback(buttons["更多"], user_id=chat, message=message)
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == chat
            and c.params["text"].startswith("<b>2.</b>")
        )
    )
    assert len(fake.sent(chat)) >= before + 2
    fake.callback(buttons["👍"], user_id=chat, message=message)
    fake.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params.get("text") == "谢谢反馈！"
    )


def test_start_tells_what_the_bot_knows(fake):
    user = next(_ids)
    fake.message("/start", user_id=user)
    calls = fake.wait_for(lambda c: c.method == "sendMessage" and int(c.params["chat_id"]) == user)
    assert (
        "数字经济，制造名城“新引擎”" in calls[0].params["text"]
        and "2022-12" in calls[0].params["text"]
    )
    user_en = next(_ids)
    fake.message("/help", user_id=user_en, lang="en")
    calls = fake.wait_for(
        lambda c: c.method == "sendMessage" and int(c.params["chat_id"]) == user_en
    )
    assert "privacy" in calls[0].params["text"]


def test_groups_answer_ask_mentions_and_replies_only(fake):
    group = -100 - next(_ids)
    user = next(_ids)
    fake.message("株洲数字经济规模多少？", user_id=user, chat_id=group, chat_type="supergroup")
    fake.message("/ask 株洲通信业规模有多大？", user_id=user, chat_id=group, chat_type="supergroup")
    calls = fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == group
            and "29.86亿元" in c.params["text"]
        )
    )
    fake.message(
        "@shuzi_test_bot 株洲千兆光纤网络的家庭覆盖率是多少？",
        user_id=user,
        chat_id=group,
        chat_type="supergroup",
    )
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == group
            and "92.3%" in c.params["text"]
        )
    )
    bot_msg = {
        "message_id": 9,
        "date": int(time.time()),
        "chat": {"id": group, "type": "supergroup"},
        "from": {"id": 777000, "is_bot": True, "first_name": "Shuzi"},
        "text": "…",
    }
    fake.message(
        "4G网络覆盖率呢？",
        user_id=user,
        chat_id=group,
        chat_type="supergroup",
        reply_to_message=bot_msg,
    )
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == group
            and "99.5%" in c.params["text"]
        )
    )
    texts = _text(fake.sent(group))
    assert "1118亿元" not in texts  # the plain group message was not for the bot
    assert len(calls) == 1


def test_inline_mode(fake):
    fake.inline("株洲数字经济规模", user_id=next(_ids))
    calls = fake.wait_for(lambda c: c.method == "answerInlineQuery")
    results = calls[-1].params["results"]
    assert "1118亿元" in results[0]["input_message_content"]["message_text"]


def test_editor_upload_then_reader_question(fake):
    fake.document("lighthouses.md", FICTIONAL.encode("utf-8"), user_id=ADMIN)
    edit = fake.wait_for(
        lambda c: (
            c.method == "editMessageText"
            and "lighthouses.md" in c.params["text"]
            and ("已添加" in c.params["text"] or "没有添加" in c.params["text"])
        ),
        120,
    )
    assert "已添加" in edit[0].params["text"] and "第" in edit[0].params["text"], edit[0].params
    progress = [
        c for c in fake.sent(method="editMessageText") if "lighthouses.md" in c.params["text"]
    ]
    assert any("embedding:" in c.params["text"] for c in progress)
    assert progress[-1].params["text"].startswith("已添加")  # the final word comes last
    _, text = ask(fake, "青石市有多少座灯塔？")
    assert "17座" in text and "青石市灯塔普查" in text
    fake.message("/articles", user_id=ADMIN)
    fake.wait_for(lambda c: c.method == "sendMessage" and "lighthouses" in c.params.get("text", ""))
    fake.message("/remove lighthouses", user_id=ADMIN)
    fake.wait_for(lambda c: c.method == "editMessageText" and "完成" in c.params["text"], 120)
    fake.message("/remove no-such-article", user_id=ADMIN)  # refused, with the chat's hint
    refused = fake.wait_for(
        lambda c: c.method == "editMessageText" and "no-such-article" in c.params["text"]
    )
    text = refused[-1].params["text"]
    assert "没有完成" in text and "/articles" in text and "shuzi index" not in text, text


def test_non_admins_are_refused_everywhere(fake):
    user = 424242
    downloads = len(fake.sent(method="downloadFile"))
    fake.document("evil.txt", "恶意文章：株洲数字经济规模9999亿元。".encode(), user_id=user)
    for command in (
        "/articles",
        "/remove zhuzhou-digital-economy",
        "/reindex",
        "/rollback",
        "/stats",
    ):
        fake.message(command, user_id=user)
    deadline = time.monotonic() + 60
    while len(fake.sent(user)) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    refusals = [c.params["text"] for c in fake.sent(user)]
    assert len(refusals) == 6 and all("只有编辑" in t for t in refusals), refusals
    assert len(fake.sent(method="downloadFile")) == downloads
    _, text = ask(fake, "株洲数字经济规模多少？")
    assert "9999" not in text and "1118亿元" in text


def test_bad_uploads_change_nothing(fake):
    fake.document("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)), user_id=ADMIN)
    fake.wait_for(
        lambda c: (
            c.method == "editMessageText"
            and "photo.txt" in c.params["text"]
            and "没有添加" in c.params["text"]
        )
    )
    downloads = len(fake.sent(method="getFile"))
    fake.document("huge.txt", b"x", user_id=ADMIN, size=25 * 1024 * 1024)
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and "huge.txt" in c.params.get("text", "")
            and "20 MB" in c.params["text"]
        )
    )
    assert len(fake.sent(method="getFile")) == downloads  # refused before any download
    fake.document("photo.jpg", b"\xff\xd8\xff\xe0 JFIF", user_id=ADMIN)
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and "photo.jpg" in c.params.get("text", "")
            and ".txt" in c.params["text"]
            and ".docx" in c.params["text"]
        )
    )
    fake.document("broken.pdf", b"%PDF-1.4 broken", user_id=ADMIN)
    fake.wait_for(
        lambda c: (
            c.method == "editMessageText"
            and "broken.pdf" in c.params["text"]
            and "没有添加" in c.params["text"]
        )
    )
    fake.message("/articles", user_id=ADMIN)
    listing = fake.wait_for(
        lambda c: c.method == "sendMessage" and c.params.get("text", "").startswith("generation")
    )
    assert "photo" not in listing[-1].params["text"] and "broken" not in listing[-1].params["text"]


def test_unknown_command_and_empty_ask(fake):
    user = next(_ids)
    fake.message("/frobnicate", user_id=user)
    fake.message("/ask", user_id=user)
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == user
            and "/help" in c.params["text"]
        )
    )
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == user
            and "/ask" in c.params["text"]
        )
    )


def test_server_faults(fake):
    # 429 with retry_after: the rate limiter waits and retries; the reply arrives once
    user = next(_ids)
    fake.fault("sendMessage", "429")
    fake.message("株洲通信业同比增长多少？", user_id=user)
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == user
            and "11.2%" in c.params["text"]
            and "reply_markup" in c.params
        ),
        60,
    )
    time.sleep(1.5)
    delivered = [c for c in fake.sent(user) if "reply_markup" in c.params]
    assert len(delivered) == 2  # the refused attempt and the retry; the user sees one
    # 500 and a timeout: the failure is logged and the bot keeps serving
    for kind in ("500", "slow"):
        user = next(_ids)
        fake.fault("sendMessage", kind)
        fake.message("株洲电子信息制造业增长了多少？", user_id=user)
        fake.wait_for(
            lambda c, user=user: c.method == "sendMessage" and int(c.params["chat_id"]) == user, 60
        )
        _, text = ask(fake, "株洲高技术制造业实现增加值多少？")
        assert "594亿元" in text
    log = fake.log_path.read_text()  # type: ignore[attr-defined]
    assert "error while handling an update" in log


def test_logs_never_contain_the_token(fake):
    log = fake.log_path.read_text()  # type: ignore[attr-defined]
    assert "error while handling an update" in log  # the log was written, tracebacks included
    assert TOKEN not in log and TOKEN.split(":")[1] not in log


def test_html_refused_by_telegram_is_resent_as_plain_text(fake):
    user = next(_ids)
    fake.fault("sendMessage", "parse")
    fake.message("株洲通信业规模有多大？", user_id=user)
    calls = fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == user
            and "parse_mode" not in c.params
            and "29.86亿元" in c.params["text"]
        ),
        60,
    )
    assert "<b>" not in calls[0].params["text"] and "[1]" in calls[0].params["text"]


def test_admin_reindex_rollback_and_stats(fake):
    fake.message("/reindex", user_id=ADMIN)
    done = fake.wait_for(
        lambda c: (
            c.method == "editMessageText"
            and "完成" in c.params["text"]
            and c.params.get("chat_id") == str(ADMIN)
            and "/reindex" not in c.params["text"]
        ),
        120,
    )
    fake.message("/rollback", user_id=ADMIN)
    fake.wait_for(
        lambda c: c.method == "editMessageText" and "完成" in c.params["text"] and c not in done, 60
    )
    fake.message("/stats", user_id=ADMIN)
    stats = fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == ADMIN
            and "提问" in c.params.get("text", "")
        )
    )
    assert "p95" in stats[-1].params["text"] and "篇文章" in stats[-1].params["text"]
    _, text = ask(fake, "株洲数字经济规模多少？")  # still answering after the rollback
    assert "1118亿元" in text


def test_the_bot_end_to_end_on_milvus(fake_on_milvus):
    """Questions, an editor's upload and removal, reindex and rollback, all on Milvus."""
    manifest = next((fake_on_milvus.data_dir / "index" / "generations").glob("*/manifest.json"))
    assert '"store": "milvus"' in manifest.read_text()
    test_qa_fixtures_through_the_bot(fake_on_milvus)
    test_editor_upload_then_reader_question(fake_on_milvus)
    test_admin_reindex_rollback_and_stats(fake_on_milvus)
    # Milvus lost mid-conversation: that reader gets an apology, the bot keeps running and
    # the next question reconnects (Milvus Lite runs as the bot's child process)
    import psutil

    db = str(fake_on_milvus.data_dir / "index" / "milvus.db")
    servers = [
        p for p in psutil.process_iter(["cmdline"]) if db in " ".join(p.info["cmdline"] or [])
    ]
    assert servers
    for server in servers:
        server.kill()
    user = next(_ids)
    fake_on_milvus.message("株洲数字经济规模多少？", user_id=user)
    sorry = fake_on_milvus.wait_for(
        lambda c: c.method == "sendMessage" and int(c.params["chat_id"]) == user, 60
    )
    assert "抱歉" in sorry[0].params["text"]
    _, text = ask(fake_on_milvus, "株洲数字经济规模多少？")
    assert "1118亿元" in text
    log = fake_on_milvus.log_path.read_text()
    assert "milvus-secret-9876" not in log and TOKEN not in log


@pytest.fixture(scope="module")
def site():  # type: ignore[no-untyped-def]
    from tests.bot.web_server import Site

    server = Site().start()
    yield server
    server.stop()


def test_menus_and_description_are_registered_at_start(fake):
    commands = fake.sent(method="setMyCommands")
    readers = [c for c in commands if "scope" not in c.params]
    assert {c.params.get("language_code") for c in readers} == {None, "en"}
    assert {cmd["command"] for cmd in readers[0].params["commands"]} == {
        "start",
        "help",
        "ask",
        "new",
    }
    editors = [c for c in commands if c.params.get("scope", {}).get("chat_id") == ADMIN]
    assert any("follow" in {cmd["command"] for cmd in c.params["commands"]} for c in editors)
    assert fake.sent(method="setMyDescription") and fake.sent(method="setMyShortDescription")


def test_a_follow_up_is_read_with_the_previous_question(fake):
    user = next(_ids)
    fake.message("株洲数字经济规模是多少？", user_id=user)
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == user
            and "reply_markup" in c.params
        ),
        60,
    )
    fake.message("那占GDP比重呢？", user_id=user)
    calls = fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == user
            and "理解" in c.params["text"]
        ),
        60,
    )
    text = calls[-1].params["text"]
    assert "按「株洲数字经济规模占GDP比重是多少」理解" in text and "42%" in text
    typing = fake.sent(user, method="sendChatAction")
    assert typing and typing[0].params["action"] == "typing"
    fake.message("/new", user_id=user)  # forget the context: the next question stands alone
    fake.wait_for(lambda c: c.method == "sendMessage" and "从头开始" in c.params["text"])
    before = len(fake.sent(user))
    fake.message("那去年呢？", user_id=user)
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == user
            and "reply_markup" in c.params
            and c in fake.sent(user)[before:]
        ),
        60,
    )
    assert not any("理解" in c.params["text"] for c in fake.sent(user)[before:])


def test_the_chart_button_sends_a_png(fake):
    chat, _ = ask(fake, "株洲数字经济规模多少？")
    buttons = _buttons(fake, chat)
    assert "📊 图表" in buttons
    message = _bot_message(chat)
    fake.callback(buttons["📊 图表"], user_id=chat, message=message)
    photo = fake.wait_for(lambda c: c.method == "sendPhoto" and int(c.params["chat_id"]) == chat)
    png = photo[0].params["photo"]["bytes"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert photo[0].params["caption"] == "数字经济规模"


def test_answers_in_forum_groups_go_to_the_question_s_topic(fake):
    user, group = next(_ids), -100777
    fake.message(
        "/ask 株洲有多少家软件和信息技术服务企业？",
        user_id=user,
        chat_id=group,
        chat_type="supergroup",
        message_thread_id=42,
        is_topic_message=True,
    )
    fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == group
            and "reply_markup" in c.params
        ),
        60,
    )
    sent = fake.sent(group)
    assert sent and all(int(c.params.get("message_thread_id", 0)) == 42 for c in sent)
    typing = fake.sent(group, method="sendChatAction")
    assert typing and int(typing[0].params["message_thread_id"]) == 42


def test_an_editor_adds_a_page_by_link_and_readers_see_its_address(fake, site):
    url = f"{site.url}/news/tea.html"
    fake.message(f"/add {url}", user_id=ADMIN)
    done = fake.wait_for(
        lambda c: (
            c.method == "editMessageText"
            and url in c.params["text"]
            and ("已添加" in c.params["text"] or "没有添加" in c.params["text"])
        ),
        60,
    )
    assert "已添加" in done[-1].params["text"], done[-1].params["text"]
    _, text = ask(fake, "白沙县今年茶叶产量是多少？")
    assert "3.6万吨" in text and f'href="{url}"' in text
    fake.message(f"/add {site.url}/missing.html", user_id=ADMIN)
    refused = fake.wait_for(
        lambda c: c.method == "editMessageText" and "missing.html" in c.params["text"], 30
    )
    assert (
        "HTTP 404" in refused[-1].params["text"] and "当前索引未改变" in refused[-1].params["text"]
    )
    fake.message("/remove 127-0-0-1-news-tea", user_id=ADMIN)
    fake.wait_for(lambda c: c.method == "editMessageText" and "完成" in c.params["text"], 60)


def test_feeds_are_followed_read_on_schedule_and_digested(fake, site):
    feed = f"{site.url}/changing.xml"
    fake.message(f"/follow {feed}", user_id=ADMIN)
    followed = fake.wait_for(
        lambda c: c.method == "editMessageText" and "已订阅" in c.params["text"], 60
    )
    assert (
        "石门村通讯" in followed[-1].params["text"] and "添加了 1 篇" in followed[-1].params["text"]
    )
    # the feed changes: the scheduled read adds the new item, once
    _, text = ask(fake, "石门村图书室藏书多少册？")
    deadline = time.monotonic() + 60
    while "5400册" not in text and time.monotonic() < deadline:
        time.sleep(1)
        _, text = ask(fake, "石门村图书室藏书多少册？")
    assert "5400册" in text
    digest = fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == ADMIN
            and "订阅源添加了" in c.params["text"]
            and "石门村图书室开放" in c.params["text"]
        ),
        60,
    )
    assert "/news/d.html" in digest[-1].params["text"]
    fake.message("/feeds", user_id=ADMIN)
    listed = fake.wait_for(
        lambda c: c.method == "sendMessage" and "changing.xml —" in c.params.get("text", "")
    )
    assert "正常" in listed[-1].params["text"]
    # a broken feed is refused at /follow; the bot keeps answering
    fake.message(f"/follow {site.url}/broken.xml", user_id=ADMIN)
    fake.wait_for(lambda c: c.method == "editMessageText" and "没有订阅" in c.params["text"], 30)
    # a feed that breaks after it was followed: retried with backoff, reported to editors
    fake.message(f"/follow {site.url}/flaky.xml", user_id=ADMIN)
    fake.wait_for(lambda c: c.method == "editMessageText" and "桃源快讯" in c.params["text"], 60)
    problem = fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == ADMIN
            and "flaky.xml 读取失败" in c.params["text"]
        ),
        60,
    )
    assert "HTTP 500" in problem[0].params["text"] and "分钟后重试" in problem[0].params["text"]
    fake.message(f"/unfollow {site.url}/flaky.xml", user_id=ADMIN)
    fake.message(f"/unfollow {feed}", user_id=ADMIN)
    fake.wait_for(lambda c: c.method == "sendMessage" and "已取消订阅" in c.params.get("text", ""))
    assert site.hits.count("/news/d.html") == 1  # fetched once, however often the feed was read
    _, text = ask(fake, "株洲数字经济规模多少？")
    assert "1118亿元" in text
