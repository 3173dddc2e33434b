"""Buttons and inline mode: **More sources** under an answer, and `@bot words` in any chat."""

from __future__ import annotations

import contextlib

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest

from index import BadQuestion

from ..dates import dates_differ, utc_day
from . import render


def more_button(token: str, page: int, left: int) -> InlineKeyboardMarkup:
    """The **More sources** button: the page it shows next and how many sources are left."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(
        f"{render.MORE_BUTTON} ({left})", callback_data=f"more:{token}:{page}")]])


class Buttons:
    """The callback-query and inline-query handlers, sharing the Handlers' state."""

    def __init__(self, handlers):
        self.h = handlers

    async def on_more(self, update: Update, context) -> None:
        """The **More sources** button: the next page of further quotes."""
        query = update.callback_query
        parts = (query.data or "").split(":")
        message = query.message if isinstance(query.message, Message) else None
        cites = None
        if len(parts) == 3 and parts[2].isdigit() and message is not None:
            cites = self.h.service.more_for(parts[1], message.chat.id)
        if not cites:
            await query.answer("These sources have expired. Please ask again.")
            return
        k, page = self.h.settings.k, int(parts[2])
        batch = cites[page * k:(page + 1) * k]
        if not batch:
            await query.answer("No more sources.")
            return
        await query.answer()
        left = len(cites) - (page + 1) * k
        markup = more_button(parts[1], page + 1, left) if left > 0 else None
        for i, text in enumerate(texts := render.more_messages(batch)):
            await message.reply_text(text, do_quote=False,
                                     reply_markup=markup if i == len(texts) - 1 else None)
        with contextlib.suppress(BadRequest):  # the old button has done its work
            await query.edit_message_reply_markup(None)

    async def on_stale_button(self, update: Update, context) -> None:
        """A button this bot no longer knows."""
        await update.callback_query.answer("This button has expired.")

    async def on_inline(self, update: Update, context) -> None:
        """Inline mode: quotes matching the typed words; choosing one posts it with its citation."""
        query = update.inline_query
        text = " ".join((query.query or "").split())
        personal = self.h.settings.allowed_chats is not None
        help_button = InlineQueryResultsButton(text="How to ask citebot", start_parameter="help")
        if not text or len(text) > self.h.settings.max_question_chars:
            await query.answer([], cache_time=300, is_personal=personal, button=help_button)
            return
        wait = self.h.inline_budget.take(query.from_user.id)
        if wait:
            await query.answer([], cache_time=0, is_personal=True, button=InlineQueryResultsButton(
                text=f"Too many questions: try again in {int(wait) + 1} s",
                start_parameter="help"))
            return
        try:  # inline queries carry no date: answered as of now
            answer, _ = await self.h.service.run(self.h.service.answer, None, text,
                                                 k=self.h.settings.k, more=7, follow_ups=False,
                                                 as_of=utc_day(None))
        except BadQuestion:
            answer = None
        results = []
        shown = (answer.citations + answer.more) if answer else []
        mixed = dates_differ(shown)
        for i, c in enumerate(shown):
            body = render.inline_message(c, mixed)
            if body is None:
                continue
            results.append(InlineQueryResultArticle(
                id=str(i), title=render.shorten(c.quote, 90),
                description=render.inline_description(c, mixed),
                input_message_content=InputTextMessageContent(
                    body, parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True))))
        button = None if results else InlineQueryResultsButton(
            text="Not found in the articles: see what they cover", start_parameter="help")
        with contextlib.suppress(BadRequest):  # "query is too old": the user typed on
            await query.answer(results[:10], cache_time=60, is_personal=personal, button=button)
