"""A fake Telegram Bot API server on 127.0.0.1: real HTTP, scriptable, recording every call.

The real python-telegram-bot ``Application`` talks to it through ``base_url``, exactly as it
would talk to api.telegram.org. It

* serves ``getUpdates`` from a queue with Telegram's offset semantics (an update is served again
  until a later ``offset`` confirms it) and long polling (``timeout``);
* answers ``getMe``, ``sendMessage``, ``editMessage*``, ``answerCallbackQuery``,
  ``answerInlineQuery``, ``leaveChat``, ``setWebhook``... with Telegram-shaped results, and checks
  what Telegram checks: HTML that Telegram's parser accepts, at most 4,096 characters of text,
  callback data of at most 64 bytes, at most 50 inline results; a failed check is a 400, as on
  Telegram;
* serves ``getFile`` and the file download under ``/file/bot<token>/`` for documents queued
  with ``api.document(chat, name, data)`` (recorded as ``downloadFile``);
* records every call (method, decoded parameters, status, fault) in ``calls``;
* can be told to fail: ``fail("sendMessage", status=429, retry_after=1)``,
  ``fail("*", status=500, times=3)``, ``fail(kind="timeout", delay=10)`` (no answer until the
  delay has passed, then the connection is closed), ``fail(kind="drop")`` (connection closed
  without an answer), ``fail(kind="delay", delay=0.5)`` (answered normally, late).

Updates are queued with the builders of tests/support/fake_updates.py (``api.message(chat,
text)``, ``api.callback(...)``, ``api.inline_query(...)``...); HTML is checked by
tests/support/telegram_html.py.
It runs in its own threads (``ThreadingHTTPServer``), so a test's event loop never blocks it.
Load and fault tests reuse it, with the real bot from tests/support/telegram_harness.py::

    with FakeBotAPI() as api:
        async with running_bot(seed_bot, api, rate=(5, 60)) as app:   # the real Application
            api.message(42, "Who leads the mission?")
            [reply] = await api.wait_for("sendMessage", chat_id=42)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from fake_updates import UpdateBuilders
from telegram_html import TelegramHTMLError, parse_telegram_html, telegram_length

TEST_TOKEN = "7123456789:AAFakeTokenForTestsOnly_xyz0123456789"
MAX_TEXT = 4096

# Values PTB sends as raw strings (everything else is JSON-encoded): never JSON-decode these.
_STRING_FIELDS = frozenset({
    "text", "caption", "query", "inline_query_id", "callback_query_id", "inline_message_id",
    "url", "secret_token", "description", "short_description", "name", "next_offset",
    "parse_mode", "action", "title", "emoji", "language_code", "ip_address",
})


def _visible_text(params: dict) -> str:
    """The text a message shows after entity parsing; raises TelegramHTMLError."""
    text = params.get("text") or params.get("message_text") or ""
    if (params.get("parse_mode") or "").upper() == "HTML":
        return parse_telegram_html(text).text
    return text


# -- recorded calls and scripted faults ---------------------------------------------------------
@dataclass
class Call:
    """One request the bot made, recorded when it was answered (``at``: when it arrived)."""

    method: str
    params: dict
    status: int = 0
    fault: str | None = None      # error | timeout | drop | delay, when a rule applied
    result: object = None
    at: float = 0.0
    token_ok: bool = True

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self):
        return self.params.get("chat_id")

    @property
    def text(self) -> str:
        return self.params.get("text", "")


@dataclass
class Fault:
    """A scripted failure: applies to ``times`` matching calls (None: until cleared)."""

    method: str = "*"             # "*": every method except getUpdates
    kind: str = "error"           # error | timeout | drop | delay
    status: int = 500
    retry_after: int | None = None
    description: str | None = None
    delay: float = 0.0
    times: int | None = 1
    chat_id: object = None

    def matches(self, method: str, params: dict) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method == "*" and method == "getUpdates":
            return False
        if self.method not in ("*", method):
            return False
        return self.chat_id is None or params.get("chat_id") == self.chat_id


class FakeBotAPI(UpdateBuilders):
    """The server. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, token: str = TEST_TOKEN, username: str = "citebot_test_bot",
                 bot_id: int = 7123456789):
        self.token = token
        self.username = username
        self.bot_id = bot_id
        self.calls: list[Call] = []
        self.webhook: dict = {}
        self._faults: list[Fault] = []
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._chats: dict[object, dict] = {}
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self._file_ids = itertools.count(1)
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeBotAPI:
        handler = type("Handler", (_Handler,), {"api": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
        server.daemon_threads = True
        server.request_queue_size = 512     # many chats connect at once in load tests
        server.allow_reuse_address = True
        server.server_bind()
        server.server_activate()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-bot-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """What ``TELEGRAM_API_BASE_URL`` / PTB's ``base_url`` should be."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def bot_user(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Citebot Test",
                "username": self.username, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": True}

    # -- faults ------------------------------------------------------------------------------
    def fail(self, method: str = "*", *, kind: str = "error", status: int = 500,
             retry_after: int | None = None, description: str | None = None,
             delay: float = 0.0, times: int | None = 1, chat_id=None) -> Fault:
        """Script a failure for the next ``times`` matching calls (see the module docstring)."""
        if retry_after is not None and status == 500:
            status = 429
        rule = Fault(method, kind, status, retry_after, description, delay, times, chat_id)
        with self._cond:
            self._faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    def _take_fault(self, method: str, params: dict) -> Fault | None:
        with self._cond:
            for rule in self._faults:
                if rule.matches(method, params):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    # -- updates (builders for each kind: tests/support/fake_updates.py) ----------------------
    def push_update(self, payload: dict) -> int:
        """Queue a raw update (``update_id`` is added); returns its id."""
        with self._cond:
            update = {"update_id": next(self._update_ids), **payload}
            self._updates.append(update)
            self._cond.notify_all()
        return update["update_id"]

    def confirmed(self, update_id: int) -> bool:
        """Has the bot fetched and confirmed this update (a later getUpdates offset)?"""
        with self._cond:
            return all(u["update_id"] != update_id for u in self._updates)

    # -- looking at what the bot did ------------------------------------------------------------
    def calls_to(self, method: str, chat_id=None, ok: bool | None = True) -> list[Call]:
        """Recorded calls of a method (successful ones unless ``ok`` says otherwise)."""
        with self._cond:
            calls = list(self.calls)
        return [c for c in calls if c.method == method
                and (chat_id is None or c.params.get("chat_id") == chat_id)
                and (ok is None or c.ok == ok)]

    def sent(self, chat_id=None) -> list[Call]:
        """Messages delivered (sendMessage answered 200)."""
        return self.calls_to("sendMessage", chat_id)

    async def wait_for(self, method: str = "sendMessage", count: int = 1, *, chat_id=None,
                       where=None, timeout: float = 15.0) -> list[Call]:
        """Wait (without blocking the event loop) until ``count`` successful calls match."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.calls_to(method, chat_id) if where is None or where(c)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                summary = [(c.method, c.params.get("chat_id"), c.status, c.fault)
                           for c in self.calls[-30:]]
                raise AssertionError(f"waited {timeout}s for {count} x {method} "
                                     f"(chat {chat_id}); got {len(found)}; last calls: {summary}")
            await asyncio.sleep(0.01)

    def wait_for_sync(self, method: str = "sendMessage", count: int = 1, *, chat_id=None,
                      where=None, timeout: float = 15.0) -> list[Call]:
        """``wait_for`` for code outside an event loop (e.g. a bot in a subprocess)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if c.method == method and c.ok
                         and (chat_id is None or c.params.get("chat_id") == chat_id)
                         and (where is None or where(c))]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    break
                self._cond.wait(left)
        if len(found) < count:
            raise AssertionError(f"waited {timeout}s for {count} x {method}; got {len(found)}")
        return found

    async def wait_confirmed(self, update_id: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.confirmed(update_id):
            if time.monotonic() > deadline:
                raise AssertionError(f"update {update_id} was never fetched")
            await asyncio.sleep(0.01)

    # -- the Bot API itself ---------------------------------------------------------------------
    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def _get_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or self._stopping.is_set():
                    return self._updates[:limit]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)

    def _new_message(self, params: dict, text: str) -> dict:
        chat_id = params.get("chat_id")
        chat = self._chats.get(chat_id) or {"id": chat_id, "type": "private",
                                            "first_name": "User"}
        msg = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
               "from": self.bot_user, "text": text}
        if params.get("reply_markup"):
            msg["reply_markup"] = params["reply_markup"]
        return msg

    def handle(self, method: str, params: dict) -> tuple[int, dict]:
        """Answer one Bot API call: (HTTP status, JSON body)."""
        try:
            result = self._dispatch(method, params)
        except _BadRequest as exc:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
        return 200, {"ok": True, "result": result}

    def _dispatch(self, method: str, params: dict):
        if method == "getMe":
            return self.bot_user
        if method == "getUpdates":
            return self._get_updates(params)
        if method in ("sendMessage", "editMessageText"):
            try:
                text = _visible_text(params)
            except TelegramHTMLError as exc:
                raise _BadRequest(f"can't parse entities: {exc}") from None
            if not text.strip():
                raise _BadRequest("message text is empty")
            if telegram_length(text) > MAX_TEXT:
                raise _BadRequest("message is too long")
            _check_markup(params.get("reply_markup"))
            return self._new_message(params, text)
        if method == "editMessageReplyMarkup":
            _check_markup(params.get("reply_markup"))
            return self._new_message(params, "…") if params.get("chat_id") else True
        if method == "answerInlineQuery":
            _check_inline_results(params.get("results") or [])
            return True
        if method == "getFile":
            found = self.files.get(str(params.get("file_id")))
            if found is None:
                raise _BadRequest("invalid file_id")
            return {"file_id": params["file_id"], "file_unique_id": f"u{params['file_id']}",
                    "file_size": len(found[1]), "file_path": found[0]}
        if method == "setWebhook":
            self.webhook = dict(params)
            return True
        if method == "deleteWebhook":
            self.webhook = {}
            return True
        if method == "getWebhookInfo":
            return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)}
        return True  # answerCallbackQuery, leaveChat, setMyCommands, sendChatAction, ...


class _BadRequest(Exception):
    pass


def _check_markup(markup) -> None:
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise _BadRequest("BUTTON_DATA_INVALID")


def _check_inline_results(results: list) -> None:
    if len(results) > 50:
        raise _BadRequest("RESULTS_TOO_MUCH")
    ids = [r.get("id", "") for r in results]
    if len(set(ids)) != len(ids) or any(not 1 <= len(i.encode()) <= 64 for i in ids):
        raise _BadRequest("RESULT_ID_INVALID")
    for r in results:
        content = r.get("input_message_content") or {}
        try:
            text = _visible_text(content)
        except TelegramHTMLError as exc:
            raise _BadRequest(f"can't parse entities: {exc}") from None
        if not text.strip() or telegram_length(text) > MAX_TEXT:
            raise _BadRequest("MESSAGE_TEXT_INVALID")
        _check_markup(r.get("reply_markup"))


def decode_params(raw: bytes, content_type: str) -> dict:
    """Parameters of a Bot API request: form-encoded (PTB: JSON values, raw strings) or JSON."""
    if content_type.startswith("application/json"):
        return json.loads(raw or b"{}")
    params = {}
    if content_type.startswith("multipart/"):
        return params  # uploads: not used by citebot; recorded without parameters
    for key, value in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
        if key in _STRING_FIELDS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Telegram's servers
    api: FakeBotAPI

    def log_message(self, *args) -> None:  # request lines hold the token: never print them
        pass

    def do_GET(self) -> None:
        m = re.fullmatch(r"/file/bot([^/]+)/(.+)", unquote(urlsplit(self.path).path))
        if m:  # a file download (getFile's file_path under the file URL)
            self._download(*m.groups())
            return
        self.do_POST()

    def _download(self, token: str, file_path: str) -> None:
        api = self.api
        data = next((d for p, d in list(api.files.values()) if p == file_path), None)
        status = 401 if token != api.token else 404 if data is None else 200
        data = data if status == 200 else b""
        api._record(Call("downloadFile", {"file_path": file_path}, status=status,
                         at=time.monotonic(), token_ok=token == api.token))
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_POST(self) -> None:
        api = self.api
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        m = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", path)
        if not m:
            self._send(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, method = m.groups()
        query = dict(parse_qsl(urlsplit(self.path).query))
        try:
            params = {**query, **decode_params(raw, self.headers.get("Content-Type") or "")}
        except ValueError:
            params = {}
        call = Call(method, params, at=time.monotonic(), token_ok=token == api.token)
        if token != api.token:
            call.status = 401
            api._record(call)
            self._send(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        fault = api._take_fault(method, params)
        if fault is not None:
            call.fault = fault.kind
            if fault.kind in ("drop", "timeout"):
                if fault.kind == "timeout":
                    api._stopping.wait(fault.delay or 30.0)
                api._record(call)
                self.close_connection = True
                return
            if fault.kind == "error":
                body = {"ok": False, "error_code": fault.status,
                        "description": fault.description or _phrase(fault.status)}
                if fault.retry_after is not None:
                    body["parameters"] = {"retry_after": fault.retry_after}
                call.status = fault.status
                api._record(call)
                self._send(fault.status, body)
                return
            api._stopping.wait(fault.delay)  # "delay": answered normally, late
        status, body = api.handle(method, params)
        call.status, call.result = status, body.get("result", body)
        api._record(call)
        self._send(status, body)

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
