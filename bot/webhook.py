"""Webhook mode: an aiohttp server that takes Telegram's POSTs (secret token required) and
answers a health check; updates go to the same Application as in polling mode."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.telegram_app import stop_on_signals

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def make_webhook_app(
    application: Application,
    *,
    secret: str,
    path: str = "/telegram",
    health: Callable[[], dict] | None = None,
) -> web.Application:
    if not secret:
        raise ValueError("webhook mode needs SHUZI_WEBHOOK_SECRET")

    async def telegram(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        await application.update_queue.put(Update.de_json(data, application.bot))
        return web.Response(text="ok")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, **(health() if health else {})})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(path, telegram)
    app.router.add_get("/healthz", healthz)
    return app


async def run_webhook(
    application: Application,
    *,
    url: str,
    secret: str,
    listen: str,
    port: int,
    health: Callable[[], dict] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM."""
    web_app = make_webhook_app(application, secret=secret, health=health)
    stop = asyncio.Event()
    async with application:
        if application.post_init:  # run_polling calls it; this runner must too (menus)
            await application.post_init(application)
        stop_on_signals(application, stop=stop.set)  # a build is cancelled, then we stop
        await application.bot.set_webhook(
            url=url, secret_token=secret, allowed_updates=Update.ALL_TYPES
        )
        await application.start()
        runner = web.AppRunner(web_app)
        await runner.setup()
        await web.TCPSite(runner, listen, port).start()
        log.info("webhook listening on %s:%s", listen, port)
        await stop.wait()
        await runner.cleanup()
        await application.stop()
