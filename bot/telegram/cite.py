"""`/cite TEXT` on Telegram: where a quote comes from, and whether it is quoted right.

Also `/cite` sent as a reply to a message holding the quote, and a text forwarded to the bot
in a private chat. The lookup itself is the core's (index/cite/lookup.py), as for `citebot cite`.
"""

from __future__ import annotations

import re

from telegram import Message, Update

from index import BadQuestion, lookup_with_bot

from . import render

MAX_CITE_CHARS = 4096  # a Telegram message; the core takes up to 5,000


_COMMAND_TEXT = re.compile(r"^/\S*\s*(.*)$", re.S)


def command_text(message: Message) -> str:
    """What follows the command, newlines kept (``context.args`` splits on whitespace)."""
    m = _COMMAND_TEXT.match(message.text or message.caption or "")
    return m.group(1).strip() if m else ""


class CiteCommand:
    """The /cite handler (and forwarded texts in private chats)."""

    def __init__(self, handlers):
        self.handlers = handlers

    def _lookup(self, text: str):
        service = self.handlers.service
        service.searcher()  # a due reload first, as for questions
        return lookup_with_bot(service.citebot, text, limit=3)

    async def handle(self, update: Update, context) -> None:
        """/cite TEXT, or /cite as a reply to the message holding the text."""
        message = update.message
        text = command_text(message)
        replied = message.reply_to_message
        if not text and replied is not None:
            text = replied.text or replied.caption or ""
        await self.lookup(update, message, text)

    async def lookup(self, update: Update, message: Message, text: str) -> None:
        """Look ``text`` up and reply with the matches."""
        handlers = self.handlers
        text = (text or "").strip()
        if not await handlers.admit(
                update, message, text,
                empty="Send <code>/cite</code> with the words to look up, or reply "
                      "<code>/cite</code> to a message holding them.",
                limit=MAX_CITE_CHARS,
                too_long="That text is too long to look up ({n} characters; at most {limit})."):
            return
        try:
            result = await handlers.service.run(self._lookup, text)
        except BadQuestion as exc:
            await message.reply_text(render.esc(f"Sorry: {exc}."))
            return
        await handlers.send_all(message, render.cite_messages(result))
