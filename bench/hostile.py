"""Hostile inputs against the running bot: `make bench-hostile` (python -m bench.hostile).

`shuzi bot` polls the fake Bot API server from tests/ on 127.0.0.1; pages come from the local
news site in tests/bot/web_server.py. For each hostile input (an upload, a link, a feed) an
editor sends it while a reader asks a question every half second; printed per input: the
bot's peak RSS against its serving RSS (and the peak of the bot with its worker processes),
the reader's reply times meanwhile (p50, p95, longest), whether the index changed, and the
editor's final word. Then the bot is restarted RESTARTS times through `shuzi index sync` and
`shuzi bot` (what the Makefile, the systemd unit and the image run), counting the editors'
articles served after each; and every output of every run is searched for the token. The
last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from index import ArticleStore
from index.evaluation import percentile
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.web_server import Site
from tests.hostile import inputs

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "987654321:BENCH-hostile-secret-token"
ADMIN = 1
SHUZI = str(Path(sys.executable).with_name("shuzi"))
RESTARTS = 10
FINAL = ("已添加", "没有添加", "已订阅", "没有订阅")


def _legit_article(chars: int) -> bytes:
    """The largest kind of input that is accepted: a long, ordinary article."""
    sentence = "青石市第{n}号灯塔建于{y}年，塔高{h}米，由{k}名灯塔工看守。"
    parts: list[str] = []
    size = 0
    for i in range(chars):  # whole sentences while they fit in `chars`
        part = sentence.format(n=i, y=1900 + i % 100, h=10 + i % 40, k=1 + i % 5)
        if size + len(part) > chars:
            break
        parts.append(part)
        size += len(part)
    text = "".join(parts)
    return ("# 青石市灯塔大全（虚构）\n\n" + text).encode()


class Bot:
    """`shuzi bot` in a process of its own, with its output kept for the token search."""

    def __init__(self, env: dict[str, str], fake: FakeTelegram, log: Path) -> None:
        self.env, self.fake, self.log = env, fake, log

    def start(self) -> Bot:
        before = len([c for c in self.fake.calls if c.method == "deleteWebhook"])
        with self.log.open("ab") as out:
            subprocess.run(
                [SHUZI, "index", "sync"], env=self.env, check=True, stdout=out, stderr=out
            )
            self.proc = subprocess.Popen(
                [SHUZI, "bot"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.fake.wait_for(
            lambda c: (
                c.method == "deleteWebhook"
                and len([x for x in self.fake.calls if x.method == "deleteWebhook"]) > before
            ),
            240,
        )
        self.ps = psutil.Process(self.proc.pid)
        return self

    def rss_mb(self) -> tuple[float, float]:
        """The bot's own RSS and that of the bot with its worker processes, in MB."""
        try:
            own = self.ps.memory_info().rss
            children = sum(c.memory_info().rss for c in self.ps.children(recursive=True))
        except psutil.Error:
            return 0.0, 0.0
        return own / 2**20, (own + children) / 2**20

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


class Reader(threading.Thread):
    """Asks a question every half second and times each reply."""

    def __init__(self, fake: FakeTelegram, first_user: int) -> None:
        super().__init__(daemon=True)
        self.fake, self.user = fake, first_user
        self.replies: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.user += 1
            user = self.user
            t0 = time.monotonic()
            self.fake.message("株洲数字经济规模多少？", user_id=user)
            try:
                self.fake.wait_for(
                    lambda c, user=user: (
                        c.method == "sendMessage"
                        and int(c.params["chat_id"]) == user
                        and "reply_markup" in c.params
                    ),
                    60,
                )
                self.replies.append(time.monotonic() - t0)
            except TimeoutError:
                self.replies.append(60.0)
            self.stopping.wait(0.5)


def _serving_rss(bot: Bot) -> float:
    """The bot's RSS once warm: after twenty questions, the median of ten readings."""
    reader = Reader(bot.fake, 100_000)
    reader.start()
    while len(reader.replies) < 20:
        time.sleep(0.2)
    samples = []
    for _ in range(10):
        samples.append(bot.rss_mb()[0])
        time.sleep(0.2)
    reader.stopping.set()
    reader.join()
    return sorted(samples)[len(samples) // 2]


def _current(data: Path) -> str:
    return (data / "index" / "CURRENT").read_text().strip()


def run_input(
    bot: Bot, data: Path, name: str, send: Any, marker: str, user0: int
) -> dict[str, Any]:
    before_gen = _current(data)
    n_calls = len(bot.fake.calls)
    peak_own = peak_all = 0.0
    reader = Reader(bot.fake, user0)
    reader.start()
    time.sleep(1.0)  # the reader is under way before the input arrives
    t0 = time.monotonic()
    send()
    final = ""
    while time.monotonic() - t0 < 900:
        own, everything = bot.rss_mb()
        peak_own, peak_all = max(peak_own, own), max(peak_all, everything)
        done = [
            c
            for c in bot.fake.calls[n_calls:]
            if c.method == "editMessageText"
            and marker in c.params.get("text", "")
            and c.params["text"].startswith(FINAL)
        ]
        if done:
            final = done[-1].params["text"].split("\n")[0][:160]
            break
        time.sleep(0.1)
    seconds = time.monotonic() - t0
    time.sleep(1.0)
    reader.stopping.set()
    reader.join()
    replies = reader.replies or [0.0]
    return {
        "input": name,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_own, 1),
        "peak_rss_with_workers_mb": round(peak_all, 1),
        "reader_replies": len(reader.replies),
        "reader_p50_s": round(percentile(replies, 50), 2),
        "reader_p95_s": round(percentile(replies, 95), 2),
        "reader_max_s": round(max(replies), 2),
        "index_changed": _current(data) != before_gen,
        "final": final,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--restarts", type=int, default=RESTARTS)
    parser.add_argument("--only", default="", help="comma-separated input names")
    args = parser.parse_args()
    fake = FakeTelegram(TOKEN).start()
    site = Site().start()
    with tempfile.TemporaryDirectory() as tmp:
        data, corpus = Path(tmp) / "data", Path(tmp) / "corpus"
        corpus.mkdir()
        shutil.copytree(ROOT / "corpus" / "articles", corpus, dirs_exist_ok=True)
        env = {
            **os.environ,
            "SHUZI_DATA_DIR": str(data),
            "SHUZI_CORPUS_DIR": str(corpus),
            "SHUZI_MODEL_CACHE": str(ROOT / "data" / "models"),
            "SHUZI_TELEGRAM_TOKEN": TOKEN,
            "SHUZI_TELEGRAM_API_URL": fake.url,
            "SHUZI_ADMIN_IDS": str(ADMIN),
            "SHUZI_USER_QUOTA_PER_MINUTE": "100000",
            "SHUZI_FETCH_ALLOW_PRIVATE": "1",
            "SHUZI_FEED_MINUTES": "600",
            "SHUZI_PROGRESS_EVERY_S": "3",
            "HF_HUB_OFFLINE": "1",
        }
        log = Path(tmp) / "bot-output.log"
        bot = Bot(env, fake, log).start()
        serving = _serving_rss(bot)
        url = site.url
        doc = lambda name, data: lambda: fake.document(name, data, user_id=ADMIN)  # noqa: E731
        say = lambda text: lambda: fake.message(text, user_id=ADMIN)  # noqa: E731
        cases = [
            (
                "docx, 20,000 paragraphs",
                doc("many.docx", inputs.docx_of_many_paragraphs()),
                "many.docx",
            ),
            ("PDF, 20,000 pages", doc("many.pdf", inputs.pdf_of_many_pages()), "many.pdf"),
            (
                "HTML nested 1,000,000 deep (11 MB)",
                doc("nested.html", inputs.nested_html(1_000_000)),
                "nested.html",
            ),
            (
                "text, 1 MB, no sentence end",
                doc("flat.txt", inputs.text_without_sentence_ends()),
                "flat.txt",
            ),
            ("YAML alias bomb", doc("bomb.md", inputs.yaml_alias_bomb()), "bomb.md"),
            (
                "id of 100,000 characters",
                doc("longid.md", inputs.article_with_id("x" * 100_000)),
                "longid.md",
            ),
            ("link: gzip, gzip bomb", say(f"/add {url}/bomb.html"), "bomb.html"),
            ("link: 1 byte a second", say(f"/add {url}/drip.html"), "drip.html"),
            ("link: a PDF, not a page", say(f"/add {url}/report.pdf"), "report.pdf"),
            ("link: bad port", say("/add http://127.0.0.1:99999/x"), "99999"),
            ("feed", say(f"/follow {url}/feed.xml"), "feed.xml"),
            (
                "article, 280,000 characters (accepted)",
                doc("big.md", _legit_article(280_000)),
                "big.md",
            ),
        ]
        wanted = {n.strip() for n in args.only.split(",") if n.strip()}
        rows = []
        for i, (name, send, marker) in enumerate(cases):
            if wanted and not any(w in name for w in wanted):
                continue
            row = run_input(bot, data, name, send, marker, 200_000 + 10_000 * i)
            row["rss_over_serving_mb"] = round(row["peak_rss_mb"] - serving, 1)
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
        fake.document("lighthouses.md", inputs.article_with_id("lighthouses"), user_id=ADMIN)
        fake.wait_for(
            lambda c: c.method == "editMessageText" and "已添加 lighthouses.md" in c.params["text"],
            300,
        )
        bot.stop()
        editors = sorted(s.article.id for s in ArticleStore(data / "articles").live())
        kept_per_restart = []
        for _ in range(args.restarts):
            bot = Bot(env, fake, log).start()
            n = len(fake.calls)
            fake.message("/articles", user_id=ADMIN)
            fake.wait_for(
                lambda c, n=n: (
                    c.method == "sendMessage"
                    and c.params["text"].startswith("generation")
                    and c in fake.calls[n:]
                ),
                60,
            )
            listing = "\n".join(
                c.params["text"] for c in fake.calls[n:] if c.method == "sendMessage"
            )
            kept_per_restart.append(sum(f"<code>{aid}</code>" in listing for aid in editors))
            bot.stop()
        output = log.read_bytes()
        secret = TOKEN.split(":", 1)[1].encode()
        worst = max(rows, key=lambda r: r["reader_p95_s"]) if rows else {}
        summary = {
            "serving_rss_mb": round(serving, 1),
            "max_rss_over_serving_mb": max((r["rss_over_serving_mb"] for r in rows), default=0),
            "worst_input_for_readers": worst.get("input"),
            "reader_p95_s_during_worst": worst.get("reader_p95_s"),
            "editors_articles": editors,
            "kept_after_each_restart": kept_per_restart,
            "articles_lost_over_restarts": len(editors)
            - min(kept_per_restart, default=len(editors)),
            "token_bytes_in_output": output.count(TOKEN.encode()) + output.count(secret),
            "inputs": rows,
        }
    site.stop()
    fake.stop()
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
