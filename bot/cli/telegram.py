"""`citebot telegram`: run the Telegram bot (long polling, or a webhook server)."""

from __future__ import annotations

import contextlib
import os
import secrets
from urllib.parse import urlsplit

import click

from index import CitebotError, UsageError

from .common import index_options, open_bot

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
ENVIRONMENT = """\b
Environment:
  TELEGRAM_BOT_TOKEN          the bot's token from @BotFather (required; never logged)
  TELEGRAM_API_BASE_URL       Bot API base URL (default https://api.telegram.org/bot)
  TELEGRAM_API_BASE_FILE_URL  file base URL (default: derived from the base URL)
  TELEGRAM_WEBHOOK_SECRET     webhook secret (default: random per start)
  CITEBOT_ALLOWED_CHATS       chat ids the bot answers in, comma-separated (default: all)
  CITEBOT_ADMIN_CHATS         user or chat ids allowed to add and remove articles, /reload
  CITEBOT_FEEDS               feeds and pages to follow (comma or space separated)
  CITEBOT_FOLLOW_EVERY        how often to read them (default 15m)
  CITEBOT_RATE_LIMIT          questions per user, COUNT/SECONDS (default 10/60; 0: off)
  CITEBOT_MAX_QUESTION_CHARS  longest question accepted (default 500)
"""


@click.command(name="telegram", epilog=ENVIRONMENT)
@click.option("--webhook-url", metavar="URL",
              help="Run a webhook server; Telegram POSTs updates to this public HTTPS URL "
                   "(its path is the path served). Default: long polling.")
@click.option("--webhook-secret", metavar="SECRET",
              help="Secret Telegram sends with every webhook call, checked on each "
                   "[env TELEGRAM_WEBHOOK_SECRET; default: a random one per start].")
@click.option("--listen", default="0.0.0.0", show_default=True,
              help="Address the webhook server listens on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port the webhook server listens on.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(LOG_LEVELS, case_sensitive=False), help="Logging on stderr.")
@click.option("--follow", "follow_urls", multiple=True, metavar="URL",
              help="Follow this feed or page: its new entries are added and answerable "
                   "(repeatable) [env CITEBOT_FEEDS].")
@click.option("--follow-every", metavar="INTERVAL",
              help="How often followed URLs are read: 30s, 15m, 2h [env CITEBOT_FOLLOW_EVERY; "
                   "default 15m].")
@click.option("--admin-chats", metavar="IDS",
              help="User or chat ids (comma-separated) allowed to add and remove articles "
                   "[env CITEBOT_ADMIN_CHATS].")
@index_options
def telegram_cmd(webhook_url, webhook_secret, listen, port, log_level, corpus, index_dir,
                 model, follow_urls=(), follow_every=None, admin_chats=None):
    """Run the Telegram bot (token in TELEGRAM_BOT_TOKEN; see README, "Telegram")."""
    from index import admin_chats as read_admin_chats
    from index import feeds
    from index import follow_every as read_follow_every

    from ..telegram import app as tg
    from ..telegram.logging import configure
    from ..telegram.webhook import run_webhook

    overrides = {}  # flags win over the environment (index/config.py)
    if follow_urls:
        overrides["follow_urls"] = feeds(follow_urls)
    if follow_every:
        overrides["follow_every_s"] = read_follow_every(follow_every)
    if admin_chats:
        overrides["admin_chats"] = read_admin_chats(admin_chats)
    # no token: said before anything loads
    settings = tg.TelegramSettings.from_env(**overrides)
    secret = None
    if webhook_url:
        tg.check_webhook_url(webhook_url, settings.token)  # before the URL is echoed anywhere
        parts = urlsplit(webhook_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"--webhook-url must be an http(s) URL, not {webhook_url!r}")
        secret = tg.check_webhook_secret(webhook_secret or os.environ.get(
            "TELEGRAM_WEBHOOK_SECRET") or secrets.token_urlsafe(32))
    elif webhook_secret:
        raise UsageError("--webhook-secret needs --webhook-url")
    configure(log_level)
    with _telegram_errors():
        username = tg.check_token(settings)  # a wrong token fails before the model loads
    click.echo(f"citebot: starting @{username}", err=True)
    bot = open_bot(corpus, index_dir, model)
    bot.keep_warm()  # answers for hours: each loaded index is mapped in, in the background
    # The model and index load once, now: an index that is there answers at once (a changed
    # corpus is rebuilt in the background once the bot runs); a missing one is built first.
    if not _load_existing(bot):
        _ = bot.searcher
    with _telegram_errors():
        if webhook_url:
            try:
                run_webhook(bot, settings, webhook_url, secret, listen, port)
            except OSError as exc:  # the port is taken, or not ours to bind
                raise CitebotError(f"cannot start the webhook server on {listen}:{port}: "
                                   f"{exc.strerror or exc}") from None
        else:
            tg.run_polling(bot, settings)


def _load_existing(bot) -> bool:
    """Load the index as it is (never building); False when there is none."""
    from index import IndexMissing

    try:
        return bot.load_newer()
    except IndexMissing:
        return False


@contextlib.contextmanager
def _telegram_errors():
    """Telegram's errors as one line (the token scrubbed from anything quoted)."""
    from telegram.error import InvalidToken, NetworkError, TelegramError

    from ..telegram.logging import scrub

    try:
        yield
    except InvalidToken:
        raise UsageError("Telegram rejected the token in TELEGRAM_BOT_TOKEN",
                         fix="copy it again from @BotFather") from None
    except NetworkError as exc:
        raise CitebotError(f"cannot reach the Telegram Bot API: {scrub(str(exc))}",
                           fix="check the network or TELEGRAM_API_BASE_URL") from None
    except TelegramError as exc:
        raise CitebotError(f"Telegram refused to start the bot: {scrub(str(exc))}") from None
    except Exception as exc:  # noqa: BLE001 - an internal error is printed: never the token
        if isinstance(exc, CitebotError) or scrub(str(exc)) == str(exc):
            raise
        raise CitebotError(f"internal error: {type(exc).__name__}: {scrub(str(exc))}") from None
