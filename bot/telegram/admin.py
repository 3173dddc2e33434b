"""The bot's admins add and remove articles; followed feeds are read on a schedule.

Admins (CITEBOT_ADMIN_CHATS) send a URL (a page, a PDF or a feed) or a document (HTML, PDF, a
feed file...) in a private chat to add it, and `/remove ID`; anyone else gets a polite refusal
and nothing changes. Adding goes through the same ingest code as `citebot add`; the index is
then rebuilt in the background (index/live/reloader.py) while questions are answered from the loaded
one, and the reply names what was added once it can be asked about. Followed feeds
(`--follow`, CITEBOT_FEEDS) are read by python-telegram-bot's JobQueue (index/ingest/follow.py); a
feed that fails is logged and read again next round, never stopping the bot.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from pathlib import Path

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from index import INGEST_KINDS, CitebotError, UsageError, describe_error, slugify

from . import render

log = logging.getLogger("citebot.telegram")
ADMINS_ONLY = ("Sorry, only the bot's admins can add or remove articles. Ask me a question "
               "about the articles instead, or send /help.")
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024  # what the Bot API lets a bot download
MAX_LISTED = 15                        # articles named in one reply
URL_ONLY = re.compile(r"^\s*(https?://\S+)\s*$", re.I)


def is_admin(settings, update: Update) -> bool:
    """An admin is a user id or a chat id in CITEBOT_ADMIN_CHATS (as for /reload)."""
    user, chat = update.effective_user, update.effective_chat
    admins = settings.admin_chats
    return bool((user and user.id in admins) or (chat and chat.id in admins))


class AdminTools:
    """Handlers for adding and removing articles, and the follow job, of one Application."""

    def __init__(self, handlers):
        self.handlers = handlers
        self.settings = handlers.settings
        self.service = handlers.service

    @property
    def citebot(self):
        return self.service.citebot

    def register(self, app: Application) -> None:
        """Before the question handlers: a URL or a file sent in private is an addition."""
        msg, private = filters.UpdateType.MESSAGE, filters.ChatType.PRIVATE
        app.add_handler(CommandHandler("remove", self.cmd_remove, filters=msg))
        app.add_handler(CommandHandler("add", self.cmd_add, filters=msg))
        app.add_handler(MessageHandler(msg & private & filters.Regex(URL_ONLY), self.on_url))
        app.add_handler(MessageHandler(msg & private & filters.Document.ALL, self.on_document))

    def post_init(self, app: Application) -> None:
        """At start: look for a changed corpus (rebuilt in the background) and start the
        follow job."""
        self.service.live.check()
        self.start_following(app)

    def start_following(self, app: Application) -> None:
        """Read the followed feeds every follow_every_s, the first time soon after start."""
        urls = self.settings.follow_urls
        if not urls:
            return
        if app.job_queue is None:
            raise UsageError("following feeds needs python-telegram-bot's job queue",
                             fix='pip install "python-telegram-bot[webhooks,job-queue]"')
        app.job_queue.run_repeating(self.follow_round, interval=self.settings.follow_every_s,
                                    first=self.settings.follow_first_s, name="citebot-follow",
                                    job_kwargs={"max_instances": 1, "coalesce": True})
        log.info("following %d feeds or pages, every %d s", len(urls),
                 int(self.settings.follow_every_s))

    # -- following ------------------------------------------------------------------------------
    async def follow_round(self, context) -> None:
        """One round of the follow job: new entries are added, then built in the background."""
        from index import display_url, follow_once

        try:
            results = await asyncio.to_thread(follow_once, self.settings.follow_urls,
                                              self.citebot.config.corpus,
                                              self.citebot.config.index)
        except Exception as exc:  # noqa: BLE001 - never stops the bot: next round tries again
            log.warning("following feeds failed (%s); trying again next round",
                        describe_error(exc))
            return
        for r in results:
            if r.error:
                log.warning("could not read the followed %s (%s); reading it again next round",
                            display_url(r.url), r.error)
            elif r.added:
                log.info("%d new articles from %s", len(r.added), display_url(r.url))
        if any(r.added for r in results):
            self.service.live.request_build()  # not awaited: the job ends, questions go on

    # -- adding -------------------------------------------------------------------------------
    async def on_url(self, update: Update, context) -> None:
        """A URL sent in private: admins add it (a page, a PDF or a feed's entries)."""
        message = update.message
        if not is_admin(self.settings, update):
            await message.reply_text(ADMINS_ONLY)
            return
        await self.add(update, URL_ONLY.match(message.text).group(1), message.text.strip())

    async def cmd_add(self, update: Update, context) -> None:
        """/add URL (admins): the same as sending the URL."""
        message = update.message
        if not is_admin(self.settings, update):
            await message.reply_text(ADMINS_ONLY)
            return
        m = URL_ONLY.match(" ".join(context.args or []))
        if not m:
            await message.reply_text("Send <code>/add</code> with the address of a page, a PDF "
                                     "or a feed, or send the file itself.")
            return
        await self.add(update, m.group(1), m.group(1))

    async def on_document(self, update: Update, context) -> None:
        """A file sent in private: admins add it (HTML, PDF, a feed file, Markdown, text)."""
        message = update.message
        if not is_admin(self.settings, update):
            await message.reply_text(ADMINS_ONLY)
            return
        doc = message.document
        suffix = Path(doc.file_name or "").suffix.lower()
        if suffix not in INGEST_KINDS:
            await message.reply_text("I can add HTML pages, PDFs, RSS/Atom feeds, JSON Lines, "
                                     "Markdown and text files; this file is none of these.")
            return
        if doc.file_size and doc.file_size > MAX_DOCUMENT_BYTES:
            await message.reply_text("That file is too large: bots can download at most 20 MB.")
            return
        try:
            data = await (await context.bot.get_file(doc.file_id)).download_as_bytearray()
        except TelegramError as exc:  # its text may quote a file URL, which holds the token
            log.warning("could not download a document (%s)", type(exc).__name__)
            await message.reply_text("Could not download the file from Telegram; please send "
                                     "it again.")
            return
        name = f"{slugify(Path(doc.file_name or 'document').stem)}{suffix}"
        with tempfile.TemporaryDirectory(prefix="citebot-upload-") as folder:
            path = Path(folder) / name
            path.write_bytes(bytes(data))
            await self.add(update, str(path), doc.file_name or name, folder=folder)

    async def add(self, update: Update, source: str, shown: str, folder: str | None = None):
        """Ingest one URL or file, rebuild in the background, reply once it is answerable."""
        from index import add_articles

        message = update.message
        try:
            report = await asyncio.to_thread(add_articles, [source], self.citebot.config.corpus)
        except CitebotError as exc:
            await message.reply_text(render.esc(f"Nothing was added: {exc.user_message()}"))
            return
        except OSError as exc:  # a read-only or full disk
            log.warning("could not add an article: %s", exc.strerror or type(exc).__name__)
            await message.reply_text(render.esc("Nothing was added: the corpus cannot be "
                                                f"written ({exc.strerror or 'disk error'})."))
            return

        def tidy(text: str | None) -> str:  # the upload's temporary folder means nothing here
            text = (text or "").replace(f"{folder}/", "") if folder else (text or "")
            return render.shorten(" ".join(text.split()), 300)

        added = report.of("added")
        lines = [f"Already in the corpus as <code>{render.esc(o.article_id)}</code>."
                 for o in report.of("duplicate")][:MAX_LISTED]
        lines += [f"Skipped {render.esc(tidy(o.origin))}: {render.esc(tidy(o.message))}"
                  for o in report.of("failed")][:MAX_LISTED]
        if not added:
            head = f"Nothing was added from {render.esc(tidy(shown))}."
            await message.reply_text("\n".join([head] + lines))
            return
        await message.reply_text(f"Adding {len(added)} article{'s' * (len(added) > 1)} from "
                                 f"{render.esc(tidy(shown))}; I'll reply when "
                                 f"{'they' if len(added) > 1 else 'it'} can be asked about.")
        built = await self.rebuilt()
        named = [f"• <b>{render.esc(tidy(o.title))}</b> (<code>{render.esc(o.article_id)}</code>)"
                 for o in added[:MAX_LISTED]]
        if len(added) > MAX_LISTED:
            named.append(f"… and {len(added) - MAX_LISTED} more")
        head = ("Added, and answerable now:" if built is None else
                f"Added, but not answerable yet: {render.esc(built)}")
        await message.reply_text("\n".join([head] + named + lines))

    async def rebuilt(self) -> str | None:
        """Wait (off every thread) for a background build covering the change; None when it is
        loaded, else why not."""
        try:
            await asyncio.wrap_future(self.service.live.request_build())
        except Exception as exc:  # noqa: BLE001 - said to the admin; the loaded index answers
            return describe_error(exc)
        return None

    # -- removing -----------------------------------------------------------------------------
    async def cmd_remove(self, update: Update, context) -> None:
        """/remove ID... (admins): delete articles; replies once they are no longer quoted."""
        from index import remove_articles

        message = update.message
        if not is_admin(self.settings, update):
            await message.reply_text(ADMINS_ONLY)
            return
        ids = [i.strip("[]()<>`'\"") for i in context.args or []][:50]
        if not ids:
            await message.reply_text("Send <code>/remove</code> with an article id, like "
                                     "<code>/remove mss-renewal</code> (the part before the "
                                     "colon in a citation).")
            return
        titles = {a.id: a.title for a in self.citebot.store.articles}
        try:
            removed = await asyncio.to_thread(remove_articles, self.citebot.config.corpus, ids)
        except CitebotError as exc:
            await message.reply_text(render.esc(f"Nothing was removed: {exc.user_message()}"))
            return
        except OSError as exc:
            await message.reply_text(render.esc("Nothing was removed: the corpus cannot be "
                                                f"written ({exc.strerror or 'disk error'})."))
            return
        built = await self.rebuilt()
        named = [f"• <b>{render.esc(render.shorten(titles.get(i, i), 300))}</b> "
                 f"(<code>{render.esc(i)}</code>)" for i, _path in removed]
        head = ("Removed, and no longer quoted:" if built is None else
                f"Removed from the corpus, but still quoted until the index is rebuilt "
                f"({render.esc(built)}):")
        await message.reply_text("\n".join([head] + named))

