"""The Telegram bot: settings, the python-telegram-bot Application, and how it runs.

The Application is built around an already loaded Citebot (the model and index load once, at
start) and answers through the same core as the CLI; bot/telegram_handlers.py holds the
handlers and bot/telegram_render.py the HTML. ``build_application`` is what the tests and
`citebot telegram` share: the tests point it at a fake Bot API server through ``base_url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from dataclasses import dataclass, field

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import Application, Defaults

from index.errors import UsageError

from .telegram_limits import RetryingLimiter, parse_rate
from .telegram_logging import protect, quiet_http_logs

# The updates the bot asks Telegram for (anything else is never sent to it).
ALLOWED_UPDATES = ["message", "edited_message", "channel_post", "edited_channel_post",
                   "callback_query", "inline_query", "my_chat_member"]
ENVIRONMENT = {
    "TELEGRAM_BOT_TOKEN": "the bot's token from @BotFather (required; never logged)",
    "TELEGRAM_API_BASE_URL": "Bot API base URL, as python-telegram-bot's base_url "
                             "(default https://api.telegram.org/bot)",
    "TELEGRAM_API_BASE_FILE_URL": "file base URL (default: derived from the base URL)",
    "TELEGRAM_WEBHOOK_SECRET": "secret Telegram sends with each webhook call "
                               "(default: a random one per start)",
    "CITEBOT_ALLOWED_CHATS": "comma-separated chat ids the bot answers in (default: all)",
    "CITEBOT_ADMIN_CHATS": "comma-separated user or chat ids allowed to /reload",
    "CITEBOT_RATE_LIMIT": "questions per user, as COUNT/SECONDS (default 10/60; 0 = off)",
    "CITEBOT_MAX_QUESTION_CHARS": "longest question accepted (default 500)",
}
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
    network_retries: int = 4
    backoff_s: float = 0.5
    max_flood_wait_s: float = 120.0
    messages_per_s: float = 30.0     # Telegram's overall limit for a bot; 0: no pacing

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
    def from_env(cls, env: dict | None = None, **overrides) -> "TelegramSettings":
        """Settings from environment variables (see ENVIRONMENT), then ``overrides``."""
        env = os.environ if env is None else env
        values = dict(token=env.get("TELEGRAM_BOT_TOKEN", ""),
                      base_url=env.get("TELEGRAM_API_BASE_URL") or None,
                      base_file_url=env.get("TELEGRAM_API_BASE_FILE_URL") or None,
                      allowed_chats=_ids(env, "CITEBOT_ALLOWED_CHATS"),
                      admin_chats=_ids(env, "CITEBOT_ADMIN_CHATS") or frozenset())
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


def _ids(env, name: str) -> frozenset[int] | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        return frozenset(int(x) for x in re.split(r"[,\s]+", raw) if x)
    except ValueError:
        raise UsageError(f"{name} must be comma-separated chat ids, like 12345,-100987") from None


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
    from .telegram_handlers import Handlers

    quiet_http_logs()
    handlers = Handlers(citebot, settings)
    t = settings.request_timeout_s
    builder = (Application.builder().token(settings.token)
               .defaults(Defaults(parse_mode=ParseMode.HTML, allow_sending_without_reply=True,
                                  link_preview_options=LinkPreviewOptions(is_disabled=True)))
               .rate_limiter(RetryingLimiter(settings.network_retries, settings.backoff_s,
                                             max_flood_wait_s=settings.max_flood_wait_s,
                                             messages_per_s=settings.messages_per_s))
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
    """Run ``app`` with long polling inside an ``async with`` (tests and the CLI both use it)."""
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=int(settings.poll_timeout_s),
                                        allowed_updates=ALLOWED_UPDATES)
        yield app
    finally:
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def run_polling(citebot, settings: TelegramSettings) -> None:
    """`citebot telegram`: long polling until SIGINT or SIGTERM."""
    async def main():
        app = build_application(citebot, settings)
        async with polling(app, settings):
            await _until_signalled()

    asyncio.run(main())


def run_webhook(citebot, settings: TelegramSettings, url: str, secret: str,
                listen: str, port: int) -> None:
    """`citebot telegram --webhook-url`: a webhook server until SIGINT or SIGTERM."""
    from .telegram_webhook import webhook

    async def main():
        app = build_application(citebot, settings)
        async with webhook(app, url, secret, listen, port):
            await _until_signalled()

    asyncio.run(main())
