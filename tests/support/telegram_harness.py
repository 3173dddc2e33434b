"""The real citebot Telegram bot against the fake Bot API server (tests and load/fault tests)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging

from fake_bot_api import FakeBotAPI


def bot_settings(api: FakeBotAPI, **overrides):
    """TelegramSettings for ``api``: short long polls and backoffs, for a local server."""
    from bot.telegram.app import TelegramSettings

    values = dict(token=api.token, base_url=api.base_url, poll_timeout_s=1,
                  request_timeout_s=5, backoff_s=0.05)
    values.update(overrides)
    return TelegramSettings(**values)


@contextlib.asynccontextmanager
async def running_bot(citebot, api: FakeBotAPI, **overrides):
    """The real python-telegram-bot Application, polling ``api``: ``async with ... as app``."""
    from bot.telegram.app import build_application, polling

    settings = bot_settings(api, **overrides)
    app = build_application(citebot, settings)
    async with polling(app, settings):
        yield app


def run_bot(citebot, scenario, api: FakeBotAPI | None = None, **overrides):
    """Run ``await scenario(api, app)`` against the real bot polling ``api`` (a new server if
    none is given); returns what the scenario returns. Fails after 60 s."""
    async def main(server):
        async with running_bot(citebot, server, **overrides) as app:
            return await asyncio.wait_for(scenario(server, app), 60)

    if api is not None:
        return asyncio.run(main(api))
    with FakeBotAPI() as server:
        return asyncio.run(main(server))


@contextlib.contextmanager
def root_log_at_debug():
    """Everything logged anywhere, at DEBUG, into the StringIO this yields (the root logger's
    level and handlers are put back afterwards)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
