"""Nothing an editor adds is lost by a restart: an upload, a link and a feed item added
through the real bot, then the bot restarted through each deploy path's own start command
(the Makefile's `run`, the systemd unit's ExecStartPre and ExecStart, the Docker image's
CMD run as a command), and the same questions answered every time."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.fake_telegram import FakeTelegram
from tests.bot.test_bot_e2e import ADMIN, FICTIONAL, SHUZI, TOKEN
from tests.bot.web_server import Site
from tests.conftest import ARTICLE_PATH, MODEL_CACHE

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(SHUZI).parent
QUESTIONS = {  # question -> what its answer must quote
    "青石市有多少座灯塔？": "17座",  # the upload
    "白沙县茶叶产量是多少？": "3.6万吨",  # the link
    "桃源镇光伏电站装机容量是多少？": "45兆瓦",  # a feed item
    "株洲数字经济规模多少？": "1118亿元",  # the corpus
}


def _env(data: Path, corpus: Path, server: FakeTelegram) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "SHUZI_DATA_DIR": str(data),
        "SHUZI_MODEL_CACHE": str(MODEL_CACHE),
        "SHUZI_CORPUS_DIR": str(corpus),
        "SHUZI_TELEGRAM_TOKEN": TOKEN,
        "SHUZI_TELEGRAM_API_URL": server.url,
        "SHUZI_ADMIN_IDS": str(ADMIN),
        "SHUZI_TELEGRAM_TIMEOUT": "2",
        "SHUZI_USER_QUOTA_PER_MINUTE": "1000",
        "SHUZI_FETCH_ALLOW_PRIVATE": "1",
        "SHUZI_FEED_MINUTES": "600",
        "HF_HUB_OFFLINE": "1",
    }


def _started(
    server: FakeTelegram, cmd: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen:  # type: ignore[type-arg]
    """A start command in its own process group, once the bot it starts is polling."""
    before = len([c for c in server.calls if c.method == "deleteWebhook"])
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while len([c for c in server.calls if c.method == "deleteWebhook"]) <= before:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{cmd} did not start the bot:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return proc


def _stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


_users = iter(range(20_000, 30_000))


def _answers(server: FakeTelegram) -> dict[str, str]:
    out = {}
    for question in QUESTIONS:
        user = next(_users)
        server.message(question, user_id=user)
        server.wait_for(
            lambda c, user=user: (
                c.method == "sendMessage"
                and int(c.params["chat_id"]) == user
                and "reply_markup" in c.params
            ),
            90,
        )
        out[question] = "\n".join(c.params["text"] for c in server.sent(user))
    return out


def _systemd_commands() -> list[list[str]]:
    unit = (ROOT / "deploy" / "shuzi.service").read_text()
    commands = re.findall(r"^(ExecStartPre|ExecStart)=(.+)$", unit, flags=re.M)
    assert [k for k, _ in commands] == ["ExecStartPre", "ExecStart"]
    return [
        shlex.split(c.lstrip("-").replace("/opt/shuzi/.venv/bin/", f"{BIN}/")) for _, c in commands
    ]


def _docker_command(corpus: Path) -> list[str]:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.+\])$", dockerfile, flags=re.M).group(1))  # type: ignore[union-attr]
    # the image's corpus and data paths are this test's (the volume is the data dir)
    return [part.replace("/opt/shuzi/corpus/articles", str(corpus)) for part in cmd]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[FakeTelegram, Site, Path, Path]]:  # type: ignore[no-untyped-def]
    server = FakeTelegram(TOKEN).start()
    site = Site().start()
    data = tmp_path_factory.mktemp("restart-data")
    corpus = tmp_path_factory.mktemp("restart-corpus")
    shutil.copy(ARTICLE_PATH, corpus / ARTICLE_PATH.name)
    yield server, site, data, corpus
    site.stop()
    server.stop()


def test_editors_articles_survive_restarts_through_every_deploy_path(world):
    server, site, data, corpus = world
    env = _env(data, corpus, server)
    log = data / "restarts.log"
    subprocess.run([SHUZI, "index", "sync"], env=env, check=True, capture_output=True)
    bot = _started(server, [SHUZI, "bot"], env, log)
    try:
        server.document("lighthouses.md", FICTIONAL.encode(), user_id=ADMIN)
        server.message(f"/add {site.url}/news/tea.html", user_id=ADMIN)
        server.message(f"/follow {site.url}/feed.xml", user_id=ADMIN)
        for marker in ("lighthouses.md", "tea.html", "乡村日报"):
            server.wait_for(
                lambda c, marker=marker: (
                    c.method == "editMessageText"
                    and marker in c.params["text"]
                    and ("已添加" in c.params["text"] or "已订阅" in c.params["text"])
                ),
                180,
            )
        first = _answers(server)
    finally:
        _stop(bot)
    for question, quoted in QUESTIONS.items():
        assert quoted in first[question], (question, first[question])

    starts = {
        "Makefile": [["make", "-s", "run"]],
        "systemd": _systemd_commands(),
        "Docker": [_docker_command(corpus)],
    }
    for path, commands in starts.items():
        for pre in commands[:-1]:
            subprocess.run(pre, env=env, cwd=ROOT, check=True, capture_output=True)
        bot = _started(server, commands[-1], env, log)
        try:
            again = _answers(server)
        finally:
            _stop(bot)
        for question, quoted in QUESTIONS.items():
            assert quoted in again[question], (path, question, again[question])
    report = subprocess.run(
        [SHUZI, "articles", "list"], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert "upload" in report and "link" in report and "feed" in report
