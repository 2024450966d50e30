"""Hostile inputs through the real `shuzi bot` (a local fake Bot API, a local news site):
the bot keeps answering, every editor's action ends with one clear message, nothing is
indexed that should not be, buttons and floods cannot be abused, the token never shows."""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from bot.render import strip_html
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.test_bot_e2e import ADMIN, SHUZI, TOKEN, _bot_message, _buttons, _run_bot, ask
from tests.bot.web_server import Site
from tests.conftest import MODEL_CACHE
from tests.hostile import inputs

pytestmark = pytest.mark.model
_users = itertools.count(9000)
FINAL = ("已添加", "没有添加")  # how an editor's upload or link ends: added, or not


@pytest.fixture(scope="module")
def site():  # type: ignore[no-untyped-def]
    server = Site().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fake(tmp_path_factory):  # type: ignore[no-untyped-def]
    yield from _run_bot(tmp_path_factory, {"SHUZI_USER_QUOTA_PER_MINUTE": "5"})


def _final_status(fake: FakeTelegram, marker: str, timeout: float = 120) -> str:
    """The last word on an editor's action: the status message edited away from working…"""
    calls = fake.wait_for(
        lambda c: (
            c.method == "editMessageText"
            and marker in c.params["text"]
            and c.params["text"].startswith(FINAL)
        ),
        timeout,
    )
    return str(calls[-1].params["text"])


def _generation(fake: FakeTelegram) -> str:
    return (fake.data_dir / "index" / "CURRENT").read_text().strip()  # type: ignore[attr-defined]


def test_hostile_uploads_are_refused_and_readers_are_answered_meanwhile(fake):
    before = _generation(fake)
    uploads = {
        "many.docx": inputs.docx_of_many_paragraphs(),
        "bomb.md": inputs.yaml_alias_bomb(),
        "longid.md": inputs.article_with_id("x" * 200),
        "intruder.md": inputs.article_with_id(
            "zhuzhou-digital-economy", "株洲数字经济规模9999亿元。"
        ),
    }
    for name, data in uploads.items():
        fake.document(name, data, user_id=ADMIN)
    _, text = ask(fake, "株洲数字经济规模多少？")  # asked while the uploads are read
    assert "1118亿元" in text
    for name, why in (
        ("many.docx", "paragraphs"),
        ("bomb.md", "aliases"),
        ("longid.md", "at most 80"),
        ("intruder.md", "already exists"),
    ):
        status = _final_status(fake, name)
        assert "没有添加" in status and why in status, status
    assert _generation(fake) == before  # nothing was indexed
    _, text = ask(fake, "株洲数字经济规模多少？")
    assert "9999" not in text and "1118亿元" in text


def test_a_long_text_without_sentence_ends_is_indexed_in_findable_pieces(fake):
    body = inputs.text_without_sentence_ends(30_000).decode() + "青石市灯塔管理站站长是王海峰"
    fake.document("flat.txt", body.encode(), user_id=ADMIN, caption="无标点的长文 | 2024-01-01")
    status = _final_status(fake, "flat.txt", 300)
    assert "已添加" in status, status
    _, text = ask(fake, "青石市灯塔管理站站长是谁？")
    assert "站长是王海峰" in strip_html(text)  # the sentence at the far end is found


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/bomb.html", "decompressed"),
        ("/report.pdf", "not a web page"),
        ("/missing.html", "HTTP 404"),
    ],
)
def test_hostile_links_end_with_a_reason_not_working(fake, site, path, why):
    url = f"{site.url}{path}"
    fake.message(f"/add {url}", user_id=ADMIN)
    status = _final_status(fake, path)
    assert "没有添加" in status and why in status, status


def test_a_malformed_link_is_a_clear_message(fake):
    fake.message("/add http://127.0.0.1:99999/x", user_id=ADMIN)
    status = _final_status(fake, "99999")
    assert "not a valid link" in status


def test_buttons_are_tied_to_the_asker_and_the_chat(fake):
    chat, _ = ask(fake, "株洲有多少家省级专精特新“小巨人”企业？")
    buttons = _buttons(fake, chat)
    qid = buttons["👍"].split(":")[1]
    stranger = next(_users)
    fake.callback(buttons["👍"], user_id=stranger, message=_bot_message(chat))
    fake.wait_for(
        lambda c: c.method == "answerCallbackQuery" and "只有提问的人" in c.params.get("text", "")
    )
    for forged in (f"fb:{qid}:999999", f"fb:{qid}:5", "fb:abc:1", "src:1:1:1"):
        fake.callback(forged, user_id=chat, message=_bot_message(chat))
    other_chat = next(_users)  # the asker's own button pressed in another chat
    fake.callback(buttons["原文 [1]"], user_id=other_chat, message=_bot_message(other_chat))
    fake.wait_for(
        lambda c: (
            c.method == "answerCallbackQuery"
            and "已失效" in c.params.get("text", "")
            and len([x for x in fake.calls if "已失效" in x.params.get("text", "")]) >= 4
        )
    )
    fake.callback(buttons["👍"], user_id=chat, message=_bot_message(chat))  # the asker: counted
    fake.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params.get("text") == "谢谢反馈！"
    )
    db = sqlite3.connect(fake.data_dir / "bot.sqlite")  # type: ignore[attr-defined]
    votes = db.execute("SELECT user_id, vote FROM feedback WHERE qid = ?", (int(qid),)).fetchall()
    db.close()
    assert votes == [(chat, 1)]
    assert not any(
        c.method == "sendMessage" and int(c.params["chat_id"]) == other_chat for c in fake.calls
    )


def test_a_flood_gets_one_notice_and_no_more(fake):
    user = next(_users)
    for i in range(12):
        fake.message(f"株洲数字经济规模多少？{i}", user_id=user)
    fake.wait_for(
        lambda c: (
            sum("reply_markup" in x.params for x in fake.sent(user)) >= 5
            and any("太频繁" in x.params["text"] for x in fake.sent(user))
        ),
        120,
    )
    ask(fake, "株洲通信业规模有多大？")  # one more question: by its answer the flood is done
    sent = [c.params["text"] for c in fake.sent(user)]
    assert sum("太频繁" in t for t in sent) == 1
    assert sum("reply_markup" in c.params for c in fake.sent(user)) == 5  # the quota's answers


def test_a_question_with_no_words_asks_for_one(fake):
    user = next(_users)
    fake.message("🤔🤔❓", user_id=user)
    calls = fake.wait_for(lambda c: c.method == "sendMessage" and int(c.params["chat_id"]) == user)
    assert calls[0].params["text"] == "请输入一个问题。"


def test_a_rejected_token_never_appears_in_any_output(tmp_path):
    server = FakeTelegram(TOKEN).start()  # it accepts only TOKEN: any other gets 401
    rejected = "987654321:REJECTED-very-secret-token-value"
    env = {
        **os.environ,
        "SHUZI_DATA_DIR": str(tmp_path),
        "SHUZI_MODEL_CACHE": str(MODEL_CACHE),
        "SHUZI_TELEGRAM_TOKEN": rejected,
        "SHUZI_TELEGRAM_API_URL": server.url,
        "HF_HUB_OFFLINE": "1",
    }
    try:
        done = subprocess.run([SHUZI, "bot"], env=env, capture_output=True, timeout=120)
    finally:
        server.stop()
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert b"rejected SHUZI_TELEGRAM_TOKEN" in output
    secret = rejected.split(":", 1)[1].encode()
    assert rejected.encode() not in output and secret not in output
    assert len(done.stderr.decode().strip().splitlines()) == 1  # one line, no traceback


def _big_article(chars: int = 150_000) -> bytes:
    sentence = "青石市第{n}号灯塔建于{y}年，塔高{h}米，由{k}名灯塔工看守。"
    text = "".join(
        sentence.format(n=i, y=1900 + i % 100, h=10 + i % 40, k=1 + i % 5)
        for i in range(chars // 30)
    )
    return ("# 青石市灯塔大全（虚构）\n\n" + text).encode()


def test_cancel_stops_a_build_and_changes_nothing(fake):
    before = _generation(fake)
    fake.document("big.md", _big_article(), user_id=ADMIN)
    fake.wait_for(
        lambda c: (
            c.method == "editMessageText"
            and "big.md" in c.params["text"]
            and "embedding:" in c.params["text"]
        ),
        120,
    )
    fake.message("/cancel", user_id=ADMIN)
    status = _final_status(fake, "big.md", 60)
    assert "没有添加" in status and "cancelled" in status, status
    assert _generation(fake) == before
    store = sqlite3.connect(fake.data_dir / "articles" / "articles.sqlite")  # type: ignore[attr-defined]
    assert store.execute("SELECT COUNT(*) FROM articles WHERE id = 'big'").fetchone() == (0,)
    store.close()


def test_sigterm_stops_the_bot_within_seconds_during_a_build(tmp_path_factory):
    gen = _run_bot(tmp_path_factory, {})
    server = next(gen)
    try:
        server.document("big.md", _big_article(), user_id=ADMIN)
        server.wait_for(
            lambda c: c.method == "editMessageText" and "embedding:" in c.params["text"], 120
        )
        proc = server.process  # type: ignore[attr-defined]
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert time.monotonic() - t0 < 20  # it waited for the build to end (minutes) before
        lock = server.data_dir / "index" / ".build.lock"  # type: ignore[attr-defined]
        with lock.open("w") as handle:  # released: a new build could start at once
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        with contextlib.suppress(StopIteration):
            next(gen)
