"""The Telegram bot: settings, the python-telegram-bot Application, and how it runs.

The Application is built around an already loaded Citebot (the model and index load once, at
start) and answers through the same core as the CLI; bot/telegram/handlers.py holds the
handlers and bot/telegram/render.py the HTML. ``build_application`` is what the tests and
`citebot telegram` share: the tests point it at a fake Bot API server through ``base_url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from dataclasses import dataclass, field

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, Defaults

from index import UsageError, admin_chats, chat_ids, feeds, follow_every

from .limits import RetryingLimiter, parse_rate
from .logging import protect, quiet_http_logs, scrub

log = logging.getLogger("citebot.telegram")

# The updates the bot asks Telegram for (anything else is never sent to it).
ALLOWED_UPDATES = ["message", "edited_message", "channel_post", "edited_channel_post",
                   "callback_query", "inline_query", "my_chat_member"]
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass
class TelegramSettings:
    """Everything the bot needs besides the Citebot; ``from_env`` reads the environment."""

    token: str
    base_url: str | None = None
    base_file_url: str | None = None
    allowed_chats: frozenset[int] | None = None
    admin_chats: frozenset[int] = field(default_factory=frozenset)
    rate: tuple[int, float] = (10, 60.0)
    max_question_chars: int = 500
    k: int = 3                       # quotes per answer (and per "More sources" page)
    more: int = 9                    # further results kept for "More sources"
    follow_up_window_s: float = 300.0
    workers: int = 4                 # threads answering questions off the event loop
    concurrency: int = 64            # updates handled at once
    reload_every_s: float = 5.0      # how often a question checks for a changed index
    poll_timeout_s: float = 30.0     # long polling
    request_timeout_s: float = 15.0
    network_retries: int = 4         # calls other than messages: retries after network errors
    backoff_s: float = 0.5           # first retry delay, doubling ...
    max_backoff_s: float = 15.0      # ... up to this
    max_flood_wait_s: float = 120.0  # longest 429 wait honoured
    delivery_deadline_s: float = 600.0  # a reply is retried this long, then apologised for
    messages_per_s: float = 30.0     # Telegram's overall limit for a bot; 0: no pacing
    group_messages_per_min: float = 20.0  # Telegram's limit per group or channel; 0: none
    follow_urls: tuple[str, ...] = ()  # feeds and pages read every follow_every_s (--follow)
    follow_every_s: float = 900.0
    follow_first_s: float = 5.0      # the first round, after start

    def __post_init__(self):
        if not self.token or not self.token.strip():
            raise UsageError("TELEGRAM_BOT_TOKEN is not set",
                             fix="create a bot with @BotFather and export its token")
        self.token = self.token.strip()
        if self.base_url:
            self.base_url = self.base_url.strip()
            if not re.match(r"^https?://\S+$", self.base_url):
                raise UsageError("TELEGRAM_API_BASE_URL must be an http(s) URL",
                                 fix="e.g. http://localhost:8081/bot")
            self.base_file_url = self.base_file_url or derive_file_url(self.base_url)
        # From here on no log record can carry the token, nor its secret half alone.
        half = self.token.partition(":")[2]
        protect(self.token, half if len(half) >= 16 else "")

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> TelegramSettings:
        """Settings from environment variables (`citebot telegram --help`), then ``overrides``."""
        env = os.environ if env is None else env
        values = dict(token=env.get("TELEGRAM_BOT_TOKEN", ""),
                      base_url=env.get("TELEGRAM_API_BASE_URL") or None,
                      base_file_url=env.get("TELEGRAM_API_BASE_FILE_URL") or None,
                      allowed_chats=chat_ids(env.get("CITEBOT_ALLOWED_CHATS"),
                                             "CITEBOT_ALLOWED_CHATS"))
        for key, read in (("admin_chats", admin_chats), ("follow_urls", feeds),
                          ("follow_every_s", follow_every)):
            if key not in overrides:  # a flag wins, even over a bad environment variable
                values[key] = read(env=env)
        try:
            values["rate"] = parse_rate(env.get("CITEBOT_RATE_LIMIT"), cls.rate)
        except ValueError as exc:
            raise UsageError(f"CITEBOT_RATE_LIMIT: {exc}") from None
        if env.get("CITEBOT_MAX_QUESTION_CHARS"):
            try:
                values["max_question_chars"] = int(env["CITEBOT_MAX_QUESTION_CHARS"])
            except ValueError:
                raise UsageError("CITEBOT_MAX_QUESTION_CHARS must be a number") from None
            if values["max_question_chars"] < 1:
                raise UsageError("CITEBOT_MAX_QUESTION_CHARS must be at least 1")
        values.update(overrides)
        return cls(**values)


def derive_file_url(base_url: str) -> str:
    """The file URL beside a base URL: .../bot -> .../file/bot (as on api.telegram.org)."""
    head, sep, tail = base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else base_url


def check_webhook_secret(secret: str) -> str:
    """Telegram's rule for secret tokens: 1-256 characters of A-Z a-z 0-9 _ -."""
    if not _SECRET.match(secret or ""):
        raise UsageError("the webhook secret must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    protect(secret)
    return secret


def check_webhook_url(url: str, token: str) -> str:
    """A webhook URL must not hold the token (the path is served, logged by proxies, shown by
    getWebhookInfo): the secret header authenticates Telegram, not a secret path."""
    half = token.partition(":")[2]
    if token in url or (len(half) >= 16 and half in url):
        raise UsageError("the webhook URL must not contain the bot token",
                         fix="use a path of your own, e.g. https://bot.example.org/citebot; "
                             "TELEGRAM_WEBHOOK_SECRET authenticates Telegram")
    return url


def check_token(settings: TelegramSettings) -> str:
    """Ask Telegram who the token belongs to (before the model loads); returns the username.

    Raises telegram.error.InvalidToken when Telegram rejects it.
    """
    from telegram import Bot

    async def who():
        kwargs = {}
        if settings.base_url:
            kwargs = dict(base_url=settings.base_url, base_file_url=settings.base_file_url)
        async with Bot(settings.token, **kwargs) as bot:
            return bot.username

    return asyncio.run(who())


def build_application(citebot, settings: TelegramSettings) -> Application:
    """The real python-telegram-bot Application around a loaded Citebot."""
    from .handlers import Handlers

    quiet_http_logs()
    handlers = Handlers(citebot, settings)
    t = settings.request_timeout_s
    builder = (Application.builder().token(settings.token)
               .defaults(Defaults(parse_mode=ParseMode.HTML, allow_sending_without_reply=True,
                                  link_preview_options=LinkPreviewOptions(is_disabled=True)))
               .rate_limiter(RetryingLimiter(settings.network_retries, settings.backoff_s,
                                             max_backoff_s=settings.max_backoff_s,
                                             max_flood_wait_s=settings.max_flood_wait_s,
                                             messages_per_s=settings.messages_per_s,
                                             group_messages_per_min=(
                                                 settings.group_messages_per_min),
                                             delivery_deadline_s=settings.delivery_deadline_s))
               .concurrent_updates(settings.concurrency)
               .read_timeout(t).write_timeout(t).connect_timeout(t).pool_timeout(t)
               .get_updates_read_timeout(settings.poll_timeout_s + t)
               .get_updates_connect_timeout(t).get_updates_pool_timeout(t)
               .post_init(handlers.post_init).post_shutdown(handlers.post_shutdown))
    if settings.base_url:
        builder = builder.base_url(settings.base_url).base_file_url(settings.base_file_url)
    app = builder.build()
    handlers.register(app)
    app.bot_data["handlers"] = handlers
    return app


@contextlib.asynccontextmanager
async def polling(app: Application, settings: TelegramSettings):
    """Run ``app`` with long polling inside an ``async with`` (tests and the CLI both use it).

    A failing getUpdates is retried by python-telegram-bot for as long as it fails (backoff up
    to 30 s; updates wait on Telegram's side meanwhile), with one warning line per failure.
    ``app.bot_data["polling_task"]`` is the polling task: it ends only when stopped, or when
    Telegram rejects the token (``until_stopped`` then raises InvalidToken).
    """
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=int(settings.poll_timeout_s),
                                        allowed_updates=ALLOWED_UPDATES,
                                        error_callback=_polling_error)
        app.bot_data["polling_task"] = next((t for t in asyncio.all_tasks()
                                             if t.get_name() == _POLLING_TASK), None)
        yield app
    finally:
        stop_retrying(app)
        if app.updater.running:
            try:
                await app.updater.stop()
            except TelegramError as exc:  # the polling task's own end (a rejected token)
                log.debug("polling ended with %s", type(exc).__name__)
        if app.running:
            await app.stop()  # answers what was fetched; failed sends no longer retried
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


_POLLING_TASK = "Updater:start_polling:polling_task"  # python-telegram-bot's name for it


def _polling_error(exc: TelegramError) -> None:
    """getUpdates failed (it is retried): one line, not python-telegram-bot's traceback."""
    log.warning("fetching updates failed (%s: %s); retrying", type(exc).__name__,
                scrub(str(exc)))


def stop_retrying(app: Application) -> None:
    """Shutting down: replies still failing give up now (each is logged) instead of waiting
    out an outage for up to ``delivery_deadline_s``."""
    limiter = getattr(app.bot, "rate_limiter", None)
    if isinstance(limiter, RetryingLimiter):
        limiter.stop_retrying()


async def until_stopped(app: Application | None = None) -> None:
    """Until SIGINT or SIGTERM; or until polling ends by itself (a revoked token: raised)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    waits = [asyncio.ensure_future(stop.wait())]
    task = app.bot_data.get("polling_task") if app is not None else None
    if task is not None:
        waits.append(task)
    done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    waits[0].cancel()
    if task is not None and task in done and not task.cancelled() and task.exception():
        log.error("polling stopped: %s", type(task.exception()).__name__)
        raise task.exception()


def run_polling(citebot, settings: TelegramSettings) -> None:
    """`citebot telegram`: long polling until SIGINT or SIGTERM."""
    async def main():
        app = build_application(citebot, settings)
        async with polling(app, settings):
            await until_stopped(app)

    asyncio.run(main())
