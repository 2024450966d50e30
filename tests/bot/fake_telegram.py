"""A local fake Telegram Bot API server (aiohttp on 127.0.0.1) that records every call.

It serves what the bot uses: getMe, deleteWebhook, getUpdates (long polling), sendMessage,
sendPhoto (the PNG is recorded), sendChatAction, setMyCommands and the descriptions,
editMessageText, answerCallbackQuery, answerInlineQuery, getFile and the file download.
Tests queue updates, inject faults (429 with retry_after, 500, a slow answer) and read
the recorded calls. It runs in a thread of its own so that the bot under test, in a
separate process or event loop, is served as by the real API.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {
    "id": 777000,
    "is_bot": True,
    "first_name": "Shuzi",
    "username": "shuzi_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FakeTelegram:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list[str]] = {}
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.port = 0

    # -- control from tests -----------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeTelegram:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake Telegram server did not start")
        return self

    def stop(self) -> None:
        """Stop the server and close its sockets and loop (no ResourceWarning left to GC)."""
        if self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    def fault(self, method: str, *kinds: str) -> None:
        """The next calls of `method` fail: "429", "500" or "slow"."""
        with self._lock:
            self.faults.setdefault(method, []).extend(kinds)

    def push(self, update: dict[str, Any]) -> int:
        with self._lock:
            update = {"update_id": next(self._update_ids), **update}
            self.updates.append(update)
            return update["update_id"]

    def message(
        self,
        text: str,
        *,
        user_id: int,
        chat_id: int | None = None,
        chat_type: str = "private",
        lang: str = "zh",
        **extra: Any,
    ) -> int:
        chat: dict[str, Any] = {"id": chat_id or user_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "测试群"
        if extra.get("is_topic_message"):
            chat["is_forum"] = True
        msg = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": f"u{user_id}",
                "language_code": lang,
            },
            "text": text,
            **extra,
        }
        if text.startswith("/"):
            command = text.split()[0]
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.push({"message": msg})

    def document(
        self, name: str, data: bytes, *, user_id: int, caption: str = "", size: int | None = None
    ) -> int:
        file_id = f"file{next(self._ids)}"
        self.files[file_id] = data
        msg = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "editor", "language_code": "zh"},
            "document": {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_name": name,
                "file_size": len(data) if size is None else size,
            },
        }
        if caption:
            msg["caption"] = caption
        return self.push({"message": msg})

    def callback(self, data: str, *, user_id: int, message: dict[str, Any]) -> int:
        return self.push(
            {
                "callback_query": {
                    "id": str(next(self._ids)),
                    "chat_instance": "ci",
                    "data": data,
                    "message": message,
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": f"u{user_id}",
                        "language_code": "zh",
                    },
                }
            }
        )

    def inline(self, query: str, *, user_id: int) -> int:
        return self.push(
            {
                "inline_query": {
                    "id": str(next(self._ids)),
                    "query": query,
                    "offset": "",
                    "from": {"id": user_id, "is_bot": False, "first_name": f"u{user_id}"},
                }
            }
        )

    def sent(self, chat_id: int | None = None, method: str = "sendMessage") -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == method
                and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)
            ]

    def wait_for(self, predicate, timeout: float = 30.0) -> list[Call]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [c for c in self.calls if predicate(c)]
            if found:
                return found
            time.sleep(0.02)
        raise TimeoutError("the bot did not make the expected call in time")

    # -- the server --------------------------------------------------------------------
    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        out: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str):
                try:
                    out[key] = json.loads(value) if value[:1] in "[{" else value
                except ValueError:
                    out[key] = value
            elif isinstance(value, web.FileField):  # an uploaded file (sendPhoto)
                out[key] = {"filename": value.filename, "bytes": value.file.read()}
        return out

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = await self._params(request)
        if method != "getUpdates":
            with self._lock:
                self.calls.append(Call(method, params))
                fault = self.faults.get(method, []).pop(0) if self.faults.get(method) else None
            if fault == "429":
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": "Too Many Requests: retry after 1",
                        "parameters": {"retry_after": 1},
                    },
                    status=429,
                )
            if fault == "500":
                return web.json_response(
                    {"ok": False, "error_code": 500, "description": "Internal Server Error"},
                    status=500,
                )
            if fault == "parse":
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 400,
                        "description": "Bad Request: can't parse entities: unexpected end tag",
                    },
                    status=400,
                )
            if fault == "slow":
                await asyncio.sleep(4)
        result = await self._result(method, params)
        return web.json_response({"ok": True, "result": result})

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            offset = int(params.get("offset", 0) or 0)
            timeout = min(float(params.get("timeout", 0) or 0), 1.0)
            deadline = time.monotonic() + timeout
            while True:
                with self._lock:
                    pending = [u for u in self.updates if u["update_id"] >= offset]
                if pending or time.monotonic() >= deadline:
                    return pending[:100]
                await asyncio.sleep(0.01)
        if method in ("sendMessage", "editMessageText"):
            chat_id = int(params.get("chat_id", 0))
            return {
                "message_id": int(params.get("message_id") or next(self._ids)),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
        if method == "sendPhoto":
            return {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                "from": BOT_USER,
                "photo": [{"file_id": "p1", "file_unique_id": "p1", "width": 792, "height": 462}],
            }
        if method == "getFile":
            file_id = params["file_id"]
            return {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(self.files.get(file_id, b"")),
                "file_path": f"documents/{file_id}",
            }
        return True

    async def _file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        with self._lock:
            self.calls.append(Call("downloadFile", {"file_id": file_id}))
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])
