"""The webhook server: Telegram POSTs updates; the secret header is checked in constant time.

python-telegram-bot's own webhook server compares the secret with ``!=`` and logs a wrong one;
this small tornado server does neither. The path is taken from the webhook URL (never the
token), bodies are capped, and nothing of a request is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from http import HTTPStatus
from urllib.parse import urlsplit

import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram import Update
from telegram.ext import Application

from .app import (
    ALLOWED_UPDATES,
    TelegramSettings,
    build_application,
    check_webhook_url,
    stop_retrying,
    until_stopped,
)

log = logging.getLogger("citebot.telegram")
MAX_BODY = 1 << 20  # an update is a few kB; Telegram never sends a megabyte


class _UpdateHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("POST",)

    def initialize(self, app: Application, secret: str) -> None:
        self.app = app
        self.secret = secret.encode()

    async def post(self) -> None:
        given = (self.request.headers.get("X-Telegram-Bot-Api-Secret-Token") or "").encode()
        if not hmac.compare_digest(given, self.secret):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        try:
            data = json.loads(self.request.body)
            update = Update.de_json(data, self.app.bot)
        except Exception:  # noqa: BLE001 - whatever was posted, it is not an update
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST) from None
        if update is not None:
            await self.app.update_queue.put(update)
        self.set_status(HTTPStatus.OK)

    def log_exception(self, typ, value, tb) -> None:  # no request details in the logs
        if not isinstance(value, tornado.web.HTTPError):
            log.error("webhook handler failed: %s", typ.__name__ if typ else "?")


def webhook_path(url: str) -> str:
    """The local path the server answers on: the webhook URL's path ('/' when none)."""
    return urlsplit(url).path.rstrip("/") or "/"


def make_server(app: Application, path: str, secret: str) -> tornado.httpserver.HTTPServer:
    """A tornado HTTP server routing ``path`` to the update handler."""
    route = tornado.web.Application([(rf"{path.rstrip('/')}/?", _UpdateHandler,
                                      {"app": app, "secret": secret})],
                                    log_function=lambda _handler: None)
    return tornado.httpserver.HTTPServer(route, max_body_size=MAX_BODY, xheaders=True)


@contextlib.asynccontextmanager
async def webhook(app: Application, url: str, secret: str, listen: str, port: int):
    """Serve updates at ``listen:port`` and register ``url`` with Telegram; yields the port."""
    check_webhook_url(url, app.bot.token)
    await app.initialize()
    server = None
    try:
        if app.post_init:
            await app.post_init(app)
        await app.start()
        server = make_server(app, webhook_path(url), secret)
        sockets = tornado.netutil.bind_sockets(port, address=listen)
        server.add_sockets(sockets)
        bound = sockets[0].getsockname()[1]
        await app.bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        log.info("webhook server listening on %s:%d, path %s", listen, bound, webhook_path(url))
        yield bound
    finally:
        stop_retrying(app)
        if server is not None:
            server.stop()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.close_all_connections(), 5)
        if app.running:
            await app.stop()
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


def run_webhook(citebot, settings: TelegramSettings, url: str, secret: str,
                listen: str, port: int) -> None:
    """`citebot telegram --webhook-url`: a webhook server until SIGINT or SIGTERM."""
    async def main():
        app = build_application(citebot, settings)
        async with webhook(app, url, secret, listen, port):
            await until_stopped()

    asyncio.run(main())
