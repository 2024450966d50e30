"""docs/conversation.png: a conversation with the bot, as the bot writes it.

`make docs-screenshot` runs this: it asks the engine a few questions (follow-ups included)
on the bundled article in a throwaway index, renders each answer with the bot's own message
renderer (bot/render.py: the HTML the bot sends to Telegram), lays the messages out as a chat
in one HTML page, and screenshots it with Debian's Chromium, headless, offline.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bot.render import answer_blocks, pack_messages
from bot.settings import load_settings
from bot.wiring import build_engine, configure_serving_threads
from corpus import load_article

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "conversation.png"
QUESTIONS = [
    "株洲数字经济规模多少？",
    "那占GDP比重呢？",
    "国家先进制造业集群首次现场会在哪里举行？",
    "How many software and IT service companies does Zhuzhou have?",
    "株洲的平均房价是多少？",
]
PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
@font-face {{ font-family: "Shuzi CJK"; src: url("{font}"); }}
body {{ font-family: "Shuzi CJK", sans-serif; background: #e6ebee; margin: 0;
       padding: 24px; width: 760px; }}
.me {{ background: #effdde; margin: 10px 0 10px 180px; }}
.bot {{ background: #fff; margin: 10px 120px 10px 0; }}
.msg {{ border-radius: 12px; padding: 10px 14px; font-size: 15px; line-height: 1.5;
        white-space: pre-wrap; box-shadow: 0 1px 1px rgba(0,0,0,.15); }}
.who {{ color: #3a8bc9; font-weight: bold; font-size: 13px; margin-bottom: 2px; }}
</style></head><body>{messages}</body></html>"""


def main() -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("Debian's chromium is needed: apt-get install chromium")
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="shuzi-docs-") as tmp:
        local = settings.model_copy(
            update={"data_dir": Path(tmp) / "data", "model_cache": settings.model_cache_dir}
        )
        engine = build_engine(local, batch_job=True)
        engine.build([load_article(ROOT / "corpus" / "articles" / "zhuzhou-digital-economy.md")])
        configure_serving_threads(local)
        from bot.wiring import serving_reader

        engine.reader = serving_reader(local, engine.embedder)
        parts, previous = [], None
        for question in QUESTIONS:
            previous = engine.ask(question, previous=previous)
            parts.append(f'<div class="msg me">{html.escape(question)}</div>')
            for message in pack_messages(answer_blocks(previous)):
                parts.append(f'<div class="msg bot"><div class="who">Shuzi</div>{message}</div>')
        page = Path(tmp) / "conversation.html"
        from noto_cjk_sans_otc import FONT_PATH  # the font the charts use: no system font

        font = Path(FONT_PATH).as_uri()
        page.write_text(PAGE.format(messages="\n".join(parts), font=font), encoding="utf-8")
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                f"--user-data-dir={Path(tmp) / 'chromium'}",
                "--hide-scrollbars",
                "--window-size=810,1900",
                f"--screenshot={OUT}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
        )
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
