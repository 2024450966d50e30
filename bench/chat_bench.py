"""Conversations, charts and links, measured as a user meets them (issue 11).

Run: .venv/bin/python -m bench.chat_bench   (make bench-chat)

- follow-ups: the conversation fixtures' last turns answered right in conversation and
  asked alone; complete questions wrongly merged when the dev set is asked in sequence in
  one chat (the engine, in process: the bot passes the same previous answer);
- charts: `shuzi bot` against the fake Bot API on 127.0.0.1; from the press of "📊 图表" to
  the sendPhoto call, over --charts presses (p50, p95);
- links: from "/add URL" (a page on a local HTTP server) to the "已添加" summary, for each
  page, and whether a question about it is then answered from it.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.settings import Settings
from bot.wiring import build_engine
from index import Answer, Judged, load_fixtures
from index.evaluation import evaluate_conversations, load_conversations, percentile
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.web_server import Site

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TOKEN = "987654321:BENCH-token"
ADMIN = 1
PAGES = {  # page: a question its article answers, and the figure
    "/news/tea.html": ("白沙县今年茶叶产量是多少？", "3.6万吨"),
    "/news/a.html": ("桃源镇光伏电站装机容量是多少？", "45兆瓦"),
    "/news/b.html": ("桃源镇今年新修了多少公里乡村公路？", "73公里"),
    "/news/c.html": ("石门村养蜂合作社有多少箱蜂？", "1300箱"),
    "/news/d.html": ("石门村图书室藏书多少册？", "5400册"),
}


def conversations(data: Path) -> dict[str, Any]:
    base = Settings()
    settings = base.model_copy(update={"data_dir": data, "model_cache": base.model_cache_dir})
    engine = build_engine(settings)
    engine.warm_up()

    def ask(question: str, previous: Answer | None) -> tuple[Judged, Answer]:
        answer = engine.ask(question, previous=previous)
        return Judged.of_answer(answer), answer

    report = evaluate_conversations(load_conversations(FIXTURES / "conversations.jsonl"), ask)
    merged, previous = 0, None
    dev = load_fixtures(FIXTURES / "qa-dev.jsonl")
    for fx in dev:
        previous = engine.ask(fx.question, previous=previous)
        merged += previous.question != fx.question
    return {
        "conversations": report.n,
        "right_in_conversation": report.right_in_conversation,
        "right_alone": report.right_alone,
        "wrong_with_a_figure_in_conversation": report.wrong_with_a_figure_in_conversation,
        "wrong_with_a_figure_alone": report.wrong_with_a_figure_alone,
        "dev_questions_in_sequence": len(dev),
        "complete_questions_merged": merged,
    }


def _answer(fake: FakeTelegram, user: int, question: str) -> list[Any]:
    fake.message(question, user_id=user)
    return fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and int(c.params["chat_id"]) == user
            and "reply_markup" in c.params
        ),
        60,
    )


def bot_measures(data: Path, charts: int) -> dict[str, Any]:
    fake = FakeTelegram(TOKEN).start()
    site = Site().start()
    corpus = data / "corpus"
    shutil.copytree(ROOT / "corpus" / "articles", corpus, dirs_exist_ok=True)
    env = {
        **os.environ,
        "SHUZI_DATA_DIR": str(data),
        "SHUZI_CORPUS_DIR": str(corpus),
        "SHUZI_MODEL_CACHE": str(Settings().model_cache_dir),
        "SHUZI_TELEGRAM_TOKEN": TOKEN,
        "SHUZI_TELEGRAM_API_URL": fake.url,
        "SHUZI_ADMIN_IDS": str(ADMIN),
        "SHUZI_USER_QUOTA_PER_MINUTE": "1000",
        "SHUZI_PROGRESS_EVERY_S": "0",
        "SHUZI_FETCH_ALLOW_PRIVATE": "1",
        "HF_HUB_OFFLINE": "1",
    }
    shuzi = str(Path(sys.executable).with_name("shuzi"))
    subprocess.run([shuzi, "index", "build"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [shuzi, "bot"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    users = itertools.count(1000)
    try:
        fake.wait_for(lambda c: c.method == "deleteWebhook", 60)
        chart_ms = []
        for _ in range(charts):
            user = next(users)
            last = _answer(fake, user, "株洲数字经济规模多少？")[-1]
            data_button = next(
                b["callback_data"]
                for row in last.params["reply_markup"]["inline_keyboard"]
                for b in row
                if b["text"] == "📊 图表"
            )
            message = {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": user, "type": "private"},
                "text": "x",
            }
            t0 = time.monotonic()
            fake.callback(data_button, user_id=user, message=message)
            photo = fake.wait_for(
                lambda c, u=user: c.method == "sendPhoto" and int(c.params["chat_id"]) == u, 30
            )
            chart_ms.append((photo[0].at - t0) * 1000)
        link_ms, answered = [], 0
        for page, (question, figure) in PAGES.items():
            url = f"{site.url}{page}"
            t0 = time.monotonic()
            fake.message(f"/add {url}", user_id=ADMIN)
            done = fake.wait_for(
                lambda c, u=url: (
                    c.method == "editMessageText"
                    and u in c.params["text"]
                    and ("已添加" in c.params["text"] or "没有添加" in c.params["text"])
                ),
                60,
            )
            link_ms.append((done[-1].at - t0) * 1000)
            text = "\n".join(c.params["text"] for c in _answer(fake, next(users), question))
            answered += figure in text and url in text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        fake.stop()
        site.stop()
    return {
        "chart_presses": len(chart_ms),
        "chart_p50_ms": round(statistics.median(chart_ms), 1),
        "chart_p95_ms": round(percentile(chart_ms, 95), 1),
        "links": len(link_ms),
        "link_added_p50_ms": round(statistics.median(link_ms), 1),
        "link_added_max_ms": round(max(link_ms), 1),
        "link_questions_answered_from_the_page": answered,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--charts", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shuzi-chat-") as tmp:
        data = Path(tmp)
        results = {}
        seed = data / "seed"
        base = Settings()
        engine = build_engine(
            base.model_copy(update={"data_dir": seed, "model_cache": base.model_cache_dir}),
            batch_job=True,
        )
        from corpus import discover_articles, load_article

        engine.build([load_article(p) for p in discover_articles(base.corpus_dir)])
        results.update(conversations(seed))
        print(json.dumps(results, ensure_ascii=False), flush=True)
        results.update(bot_measures(data / "bot", args.charts))
    out = ROOT / "bench" / "results" / "chat.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
