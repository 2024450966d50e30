"""Webhook mode on loopback: Telegram's secret token is required; a health endpoint answers."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from telegram.ext import Application

from bot.webhook import SECRET_HEADER, make_webhook_app

UPDATE = {
    "update_id": 7,
    "message": {
        "message_id": 1,
        "date": 0,
        "chat": {"id": 5, "type": "private"},
        "text": "株洲数字经济规模多少？",
    },
}


async def test_secret_token_is_required_and_health_answers():
    application = Application.builder().token("123:WEBHOOK").build()
    app = make_webhook_app(application, secret="s3cret", health=lambda: {"generation": 3})
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/telegram", json=UPDATE) as r:
                assert r.status == 403
            async with http.post(
                f"{base}/telegram", json=UPDATE, headers={SECRET_HEADER: "wrong"}
            ) as r:
                assert r.status == 403
            assert application.update_queue.empty()
            async with http.post(
                f"{base}/telegram", json=UPDATE, headers={SECRET_HEADER: "s3cret"}
            ) as r:
                assert r.status == 200
            update = application.update_queue.get_nowait()
            assert update.update_id == 7 and update.message.text == "株洲数字经济规模多少？"
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200 and (await r.json()) == {"ok": True, "generation": 3}
    finally:
        await runner.cleanup()
