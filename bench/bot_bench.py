"""The bot under load: `shuzi bot` polls the fake Bot API server from tests/ on 127.0.0.1.

Run: .venv/bin/python -m bench.bot_bench [--questions 200] [--users 20] [--rate 20]
Reports start-up to first answer, and for the load: latency from the update's arrival at the
server to the answer's sendMessage (p50, p95), against the engine's own answer latency for the
same questions in the same run (read from the bot's activity log), and anything dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from index.evaluation import load_fixtures, percentile
from tests.bot.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "987654321:BENCH-token"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rate", type=float, default=20.0, help="questions per second")
    args = parser.parse_args()
    questions = [f.question for f in load_fixtures(ROOT / "tests" / "fixtures" / "qa.jsonl")]
    fake = FakeTelegram(TOKEN).start()
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
            "SHUZI_USER_QUOTA_PER_MINUTE": "1000",
            "HF_HUB_OFFLINE": "1",
        }
        shuzi = str(Path(sys.executable).with_name("shuzi"))
        subprocess.run([shuzi, "index", "build"], env=env, check=True, capture_output=True)
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [shuzi, "bot"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            fake.message("株洲数字经济规模多少？", user_id=1)
            first = fake.wait_for(
                lambda c: c.method == "sendMessage" and "reply_markup" in c.params, 120
            )
            startup = first[0].at - t0
            pushed: dict[int, float] = {}
            users = [100 + u for u in range(args.users)]
            start = time.monotonic()
            for i in range(args.questions):
                due = start + i / args.rate
                time.sleep(max(0.0, due - time.monotonic()))
                chat = 10_000 + i  # one chat per question, so each reply is matched exactly
                pushed[chat] = time.monotonic()
                fake.message(
                    questions[i % len(questions)], user_id=users[i % len(users)], chat_id=chat
                )
            deadline = time.monotonic() + 60
            latencies: dict[int, float] = {}
            while time.monotonic() < deadline and len(latencies) < len(pushed):
                for call in fake.sent():
                    chat = int(call.params.get("chat_id", 0))
                    if chat in pushed and chat not in latencies and "reply_markup" in call.params:
                        latencies[chat] = call.at - pushed[chat]
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            fake.stop()
        with sqlite3.connect(data / "bot.sqlite") as db:
            engine = [
                r[0] for r in db.execute("SELECT latency_ms FROM questions WHERE chat_id >= 10000")
            ]
    bot_ms = [v * 1000 for v in latencies.values()]
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cores": os.cpu_count(),
        "startup_to_first_answer_s": round(startup, 2),
        "questions": args.questions,
        "users": args.users,
        "rate_per_s": args.rate,
        "answered": len(latencies),
        "dropped": args.questions - len(latencies),
        "bot_p50_ms": round(statistics.median(bot_ms), 1),
        "bot_p95_ms": round(percentile(bot_ms, 95), 1),
        "engine_p50_ms": round(statistics.median(engine), 1),
        "engine_p95_ms": round(percentile(engine, 95), 1),
    }
    result["bot_p50_minus_engine_p50_ms"] = round(result["bot_p50_ms"] - result["engine_p50_ms"], 1)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "bot.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
