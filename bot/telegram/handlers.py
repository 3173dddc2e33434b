"""The bot's handlers: who gets answered, with what, and what is deliberately ignored.

Private chats: any text is a question. Groups: `/ask`, messages that mention the bot, and
replies to the bot's own messages; the rest of the conversation is ignored. Edited messages,
channel posts and service messages are ignored; stickers, photos and other media get a one-line
hint in private chats. Inline mode and the More sources button are in bot/telegram/buttons.py.
Every reply is rendered by bot/telegram/render.py from the same Answer the CLI prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from telegram import BotCommand, LinkPreviewOptions, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, MessageEntityType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from index import BadQuestion, CitebotError, UnknownCitation, citation_id_text

from ..dates import utc_day
from . import render
from .admin import AdminTools
from .buttons import Buttons, more_button
from .cite import CiteCommand, command_text
from .limits import UserRateLimit
from .service import AnswerService

log = logging.getLogger("citebot.telegram")
Ctx = ContextTypes.DEFAULT_TYPE

SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
UNDELIVERED = ("Sorry, Telegram did not take my answer to “{}” in time, so it was not sent. "
               "Please ask again.")
NOT_ALLOWED = "Sorry, this bot only answers in the chats it has been set up for."
TEXT_ONLY = "I answer questions sent as text. Send your question as a message, or /help."
COMMANDS = [("ask", "Ask a question about the articles"),
            ("source", "Show a cited paragraph in context: /source article:p3"),
            ("new", "Forget the previous question (start a new topic)"),
            ("help", "What the bot knows and how to ask")]
_GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL)



class Handlers:
    """All update handlers of one Application, with the state they share."""

    def __init__(self, citebot, settings):
        self.settings = settings
        self.service = AnswerService(citebot, workers=settings.workers,
                                     follow_up_window_s=settings.follow_up_window_s,
                                     reload_every_s=settings.reload_every_s)
        self.questions = UserRateLimit(*settings.rate)
        self.inline_budget = UserRateLimit(settings.rate[0] * 3, settings.rate[1] or 1.0)
        self.strangers = UserRateLimit(1, 3600.0)  # one "not allowed" reply an hour
        self.cite = CiteCommand(self)
        self.admin = AdminTools(self)
        self.buttons = Buttons(self)
        self._chat_locks: dict[int, list] = {}
        self._left: set[int] = set()

    # -- wiring -------------------------------------------------------------------------------
    def register(self, app: Application) -> None:
        msg = filters.UpdateType.MESSAGE
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        app.add_handler(CommandHandler(["start", "help"], self.cmd_help, filters=msg))
        app.add_handler(CommandHandler("ask", self.cmd_ask, filters=msg))
        app.add_handler(CommandHandler("source", self.cmd_source, filters=msg))
        app.add_handler(CommandHandler("new", self.cmd_new, filters=msg))
        app.add_handler(CommandHandler("reload", self.cmd_reload, filters=msg))
        self.admin.register(app)  # URLs and files from admins, before questions and media
        app.add_handler(CommandHandler("cite", self.cite.handle, filters=msg))
        app.add_handler(MessageHandler(msg & filters.COMMAND, self.on_unknown_command))
        app.add_handler(MessageHandler(msg & filters.TEXT, self.on_text))
        app.add_handler(MessageHandler(msg & filters.StatusUpdate.ALL, self.ignore))
        app.add_handler(MessageHandler(msg, self.on_media))
        app.add_handler(MessageHandler(filters.UpdateType.EDITED, self.ignore))
        app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POSTS, self.ignore))
        app.add_handler(CallbackQueryHandler(self.buttons.on_more, pattern=r"^more:"))
        app.add_handler(CallbackQueryHandler(self.buttons.on_stale_button))
        app.add_handler(InlineQueryHandler(self.buttons.on_inline))
        app.add_handler(ChatMemberHandler(self.ignore, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_error_handler(self.on_error)

    async def post_init(self, app: Application) -> None:
        """Log who we are, and give Telegram the command menu (a failure there is harmless)."""
        articles, passages = await self.service.run(self.service.stats)
        log.info("citebot is running as @%s: %d articles, %d passages", app.bot.username,
                 articles, passages)
        self.admin.post_init(app)  # background checks and the follow job
        commands = [*COMMANDS, ("cite", "Where does a quote come from?")]
        try:
            await app.bot.set_my_commands([BotCommand(c, d) for c, d in commands])
        except TelegramError as exc:
            log.warning("could not set the command menu: %s", type(exc).__name__)

    async def post_shutdown(self, app: Application) -> None:
        self.service.close()

    # -- who may talk to the bot ----------------------------------------------------------------
    async def gate(self, update: Update, context: Ctx) -> None:
        """Allowlist (CITEBOT_ALLOWED_CHATS): others get nothing; groups not allowed are left."""
        allowed = self.settings.allowed_chats
        if allowed is None:
            return
        if update.inline_query:
            if update.inline_query.from_user.id not in allowed:
                await update.inline_query.answer([], cache_time=0, is_personal=True)
                raise ApplicationHandlerStop
            return
        chat = update.effective_chat
        if chat is None or chat.id in allowed:
            return
        if update.callback_query:
            await update.callback_query.answer(NOT_ALLOWED)
        elif update.my_chat_member and update.my_chat_member.new_chat_member.status in (
                ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
            pass  # removed from the chat: nothing to leave
        elif chat.type in _GROUPS:
            if chat.id not in self._left:
                self._left.add(chat.id)
                log.info("leaving chat %d: not in CITEBOT_ALLOWED_CHATS", chat.id)
                with contextlib.suppress(TelegramError):
                    await context.bot.leave_chat(chat.id)
        elif update.message and not self.strangers.take(chat.id):
            await update.message.reply_text(NOT_ALLOWED)
        raise ApplicationHandlerStop

    async def admit(self, update: Update, message: Message, text: str, empty: str,
                    limit: int | None = None, too_long: str = "") -> bool:
        """The checks every request passes, in this order: not empty, at most ``limit``
        characters, within the user's rate limit. False: refused, and the reply is sent
        (``too_long`` may name ``{n}`` and ``{limit}``)."""
        if not text:
            await message.reply_text(empty)
            return False
        if limit is not None and len(text) > limit:
            await message.reply_text(too_long.format(n=len(text), limit=limit))
            return False
        wait = self._allowed_now(update)
        if wait:
            await self._refuse_rate(message, wait)
            return False
        return True

    def _allowed_now(self, update: Update) -> float:
        """0 when the user may ask now, else seconds to wait (the rate limit)."""
        user = update.effective_user
        return self.questions.take(user.id if user else update.effective_chat.id)

    async def _refuse_rate(self, message: Message, wait: float) -> None:
        if self.questions.should_notify(message.from_user.id if message.from_user else
                                        message.chat_id, wait):
            await message.reply_text(
                f"You are asking faster than I can keep up with. Please wait {int(wait) + 1} "
                "seconds and ask again.")

    @contextlib.asynccontextmanager
    async def chat_lock(self, chat_id: int):
        """Questions of one chat are answered in order (follow-ups depend on it)."""
        entry = self._chat_locks.setdefault(chat_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._chat_locks[chat_id]

    # -- questions ------------------------------------------------------------------------------
    async def answer_question(self, update: Update, question: str) -> None:
        """Check, answer off the event loop, reply with quotes (and a More sources button)."""
        message = update.effective_message
        chat, user = update.effective_chat, update.effective_user
        question = question.strip()
        if not await self.admit(
                update, message, question,
                empty="Ask me a question about the articles, like <code>/ask who leads the "
                      "mission?</code> — /help lists the articles.",
                limit=self.settings.max_question_chars,
                too_long="That question is too long ({n} characters). Please ask in at most "
                         "{limit} characters."):
            return
        key = (chat.id, user.id if user else chat.id)
        async with self.chat_lock(chat.id):
            try:
                answer, covered = await self.service.run(  # as of the message's date
                    self.service.answer, key, question, k=self.settings.k,
                    more=self.settings.more, as_of=utc_day(message.date))
            except BadQuestion as exc:
                await message.reply_text(render.esc(f"Sorry: {exc}."))
                return
            markup = None
            if answer.more:
                token = self.service.keep_more(chat.id, answer.more)
                markup = more_button(token, 0, len(answer.more))
            try:
                await self.send_all(message, render.answer_messages(answer, covered), markup)
            except BadRequest:
                raise  # Telegram refused the message itself: on_error apologises
            except (NetworkError, RetryAfter) as exc:  # retried until the delivery deadline
                await self.undelivered(message, question, exc)

    async def undelivered(self, message: Message, question: str, exc: Exception) -> None:
        """An answer Telegram did not take before the delivery deadline: apologise instead
        (retried as long again), so that every question gets an answer or an apology."""
        log.error("could not deliver an answer in chat %d (%s): sending an apology",
                  message.chat_id, type(exc).__name__)
        await self.reply_or_log(message, UNDELIVERED.format(render.esc(render.shorten(
            " ".join(question.split()), 120))))

    async def reply_or_log(self, message: Message, text: str) -> None:
        """A last reply (an apology): when even that fails, the loss is logged, never silent."""
        try:
            await message.reply_text(text)
        except TelegramError as exc:
            log.error("could not deliver an apology in chat %d either (%s): the update went "
                      "unanswered", message.chat_id, type(exc).__name__)

    async def send_all(self, message: Message, texts: list[str], markup=None,
                       preview: LinkPreviewOptions | None = None) -> None:
        """Reply with each message in turn; the keyboard goes under the last one."""
        for i, text in enumerate(texts):
            last = i == len(texts) - 1
            kwargs = {"link_preview_options": preview} if preview else {}
            await message.reply_text(text, reply_markup=markup if last else None, **kwargs)

    async def on_text(self, update: Update, context: Ctx) -> None:
        """A text message: a question in private chats; in groups only when addressed to us."""
        message = update.message
        if message.chat.type == ChatType.PRIVATE:
            if message.forward_origin is not None:
                # A forwarded text is a quote someone holds: where does it come from?
                await self.cite.lookup(update, message, message.text)
                return
            stripped = self.addressed_text(message, context.bot)  # "@ourbot question" works too
            await self.answer_question(update, message.text if stripped is None else stripped)
            return
        question = self.addressed_text(message, context.bot)
        if question is not None:
            await self.answer_question(update, question)

    @staticmethod
    def addressed_text(message: Message, bot) -> str | None:
        """The text without our @mention when the message mentions us or replies to us."""
        text = message.text or ""
        mentioned = False
        for entity, value in message.parse_entities([MessageEntityType.MENTION,
                                                     MessageEntityType.TEXT_MENTION]).items():
            if (entity.type == MessageEntityType.MENTION and bot.username
                    and value.lower() == f"@{bot.username.lower()}") or \
                    (entity.user is not None and entity.user.id == bot.id):
                mentioned = True
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and \
                replied.from_user.id == bot.id:
            mentioned = True
        if not mentioned:
            return None
        if bot.username:
            text = re.sub(rf"@{re.escape(bot.username)}\b", " ", text, flags=re.I)
        return " ".join(text.split())

    async def cmd_ask(self, update: Update, context: Ctx) -> None:
        """/ask QUESTION (or /ask as a reply to a message holding the question)."""
        message = update.message
        question = command_text(message)
        if not question and message.reply_to_message is not None:
            question = message.reply_to_message.text or message.reply_to_message.caption or ""
        await self.answer_question(update, question)

    async def cmd_new(self, update: Update, context: Ctx) -> None:
        """/new: forget the previous question; the next one is read on its own."""
        user = update.effective_user
        chat = update.effective_chat
        self.service.conversations.forget((chat.id, user.id if user else chat.id))
        await update.message.reply_text("New topic: your next question is read on its own.")

    async def cmd_help(self, update: Update, context: Ctx) -> None:
        """/start and /help: the articles held (titles, dates) and how to ask."""
        articles = await self.service.run(self.service.articles)
        texts = render.help_messages(articles, context.bot.username,
                                     int(self.settings.follow_up_window_s // 60),
                                     cite=True)
        await self.send_all(update.message, texts)

    async def cmd_source(self, update: Update, context: Ctx) -> None:
        """/source ID: the cited paragraph with the paragraphs around it."""
        message = update.message
        cid = citation_id_text(command_text(message))
        if not await self.admit(update, message, cid,
                                empty="Send <code>/source</code> with a citation id, like "
                                      "<code>/source article:p3</code> — the code under a "
                                      "quote."):
            return
        try:
            view = await self.service.run(self.service.source, cid.split()[0][:200])
        except UnknownCitation:
            await message.reply_text(f"No such citation: <code>{render.esc(cid[:200])}</code>. "
                                     "The ids are the codes under each quote, like "
                                     "<code>article:p3</code>.")
            return
        preview = None
        if render.link(view.article.url):  # the user asked for this source: show its page
            preview = LinkPreviewOptions(url=view.article.url, is_disabled=False)
        await self.send_all(message, render.source_messages(view), preview=preview)

    async def cmd_reload(self, update: Update, context: Ctx) -> None:
        """/reload (admins only): pick up a changed corpus or a new index now."""
        user, chat = update.effective_user, update.effective_chat
        admins = self.settings.admin_chats
        if not ((user and user.id in admins) or chat.id in admins):
            await update.message.reply_text("Only the bot's admins can do that.")
            return
        try:
            reloaded = await self.service.run(self.service.reload, True)
            articles, passages = await self.service.run(self.service.stats)
        except CitebotError as exc:
            await update.message.reply_text(render.esc(f"Reload failed: {exc.user_message()}. "
                                                       "Still answering from the loaded index."))
            return
        what = "Reloaded" if reloaded else "Already up to date"
        if self.service.live.building:  # never built here: questions go on meanwhile
            what = "Rebuilding the index in the background; answering meanwhile from"
        await update.message.reply_text(f"{what}: {articles} articles, {passages} passages.")

    # -- everything else ------------------------------------------------------------------------
    async def on_unknown_command(self, update: Update, context: Ctx) -> None:
        """An unknown /command: a hint in private chats or when addressed to us by name."""
        message = update.message
        first = (message.text or "").split()[0] if message.text else ""
        name = (context.bot.username or "").lower()
        if message.chat.type == ChatType.PRIVATE or (name and first.lower().endswith(f"@{name}")):
            await message.reply_text("I don't know that command. Send /help to see what I do.")

    async def on_media(self, update: Update, context: Ctx) -> None:
        """Stickers, photos, voice, files...: a hint in private chats, silence in groups."""
        message = update.message
        if message.chat.type == ChatType.PRIVATE and not self.strangers.take(("media",
                                                                               message.chat.id)):
            await message.reply_text(TEXT_ONLY)

    async def ignore(self, update: Update, context: Ctx) -> None:
        """Edited messages, channel posts, service messages, membership changes: no reply.

        Answering an edit would answer the same question twice; channels are not chats.
        """
        log.debug("ignored an update of kind %s", _kind(update))

    async def on_error(self, update: object, context: Ctx) -> None:
        """Log the error (never the token) and tell the user something went wrong."""
        err = context.error
        if isinstance(err, Forbidden):
            log.info("cannot write to a chat (blocked or removed): %s", err)
            return
        log.error("error while handling an update: %s", type(err).__name__, exc_info=err)
        if not isinstance(update, Update):
            return
        if update.callback_query:
            with contextlib.suppress(TelegramError):  # expires within seconds anyway
                await update.callback_query.answer(SORRY)
        elif update.message:
            await self.reply_or_log(update.message, SORRY)


def _kind(update: Update) -> str:
    for name in ("edited_message", "channel_post", "edited_channel_post", "my_chat_member",
                 "message"):
        if getattr(update, name, None) is not None:
            return name
    return "other"
