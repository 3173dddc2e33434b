"""Updates as Telegram sends them, for the fake Bot API server: messages, commands with their
entities, edits, channel posts, media, button taps, inline queries, membership changes.
"""

from __future__ import annotations

import re
import time

from telegram_html import telegram_length


class UpdateBuilders:
    """Mixed into FakeBotAPI: ``api.message(chat_id, "text")`` queues an update for the bot."""

    # FakeBotAPI provides: _chats, _message_ids, _update_ids, bot_user, push_update(),
    # files and _file_ids

    def chat(self, chat_id: int, chat_type: str = "private", title: str | None = None) -> dict:
        """The chat object for an id (remembered, so replies carry the right chat type)."""
        if chat_id not in self._chats:
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = f"User{abs(chat_id)}"
            else:
                chat["title"] = title or f"Group {abs(chat_id)}"
            self._chats[chat_id] = chat
        return self._chats[chat_id]

    def user(self, user_id: int) -> dict:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                "language_code": "en"}

    def make_message(self, chat_id: int, text: str | None = None, *, user_id: int | None = None,
                     chat_type: str | None = None, reply_to: dict | None = None,
                     entities: list[dict] | None = None, **extra) -> dict:
        """A message object as Telegram sends it; commands and @mentions get their entities."""
        chat = self.chat(chat_id, chat_type or ("private" if chat_id > 0 else "supergroup"))
        uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1)
        msg = {"message_id": next(self._message_ids), "date": int(time.time()),
               "chat": chat, "from": self.user(uid), **extra}
        if text is not None:
            msg["text"] = text
            msg["entities"] = entities if entities is not None else _auto_entities(text)
            if not msg["entities"]:
                del msg["entities"]
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        return msg

    def message(self, chat_id: int, text: str | None = None, **kw) -> dict:
        """Queue a new message from a user; returns the message object."""
        msg = self.make_message(chat_id, text, **kw)
        self.push_update({"message": msg})
        return msg

    def edited_message(self, chat_id: int, text: str, **kw) -> dict:
        msg = self.make_message(chat_id, text, **kw)
        msg["edit_date"] = msg["date"] + 1
        self.push_update({"edited_message": msg})
        return msg

    def channel_post(self, chat_id: int, text: str) -> dict:
        chat = self.chat(chat_id, "channel")
        msg = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
               "text": text}
        self.push_update({"channel_post": msg})
        return msg

    def sticker(self, chat_id: int, **kw) -> dict:
        sticker = {"file_id": "CAACAgIAAx0", "file_unique_id": "AgAD", "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False}
        return self.message(chat_id, None, sticker=sticker, **kw)

    def photo(self, chat_id: int, caption: str | None = None, **kw) -> dict:
        photo = [{"file_id": "AgACAgIAAx0", "file_unique_id": "AQAD", "width": 90,
                  "height": 90, "file_size": 1234}]
        extra = {"caption": caption} if caption else {}
        return self.message(chat_id, None, photo=photo, **extra, **kw)

    def document(self, chat_id: int, file_name: str, data: bytes,
                 mime_type: str = "application/octet-stream", **kw) -> dict:
        """A file sent to the bot; its bytes are served by getFile and the file URL."""
        file_id = f"BQACAgIAAx{next(self._file_ids)}"
        self.files[file_id] = (f"documents/file_{file_id}{_suffix(file_name)}", bytes(data))
        document = {"file_id": file_id, "file_unique_id": f"AgAD{file_id[-4:]}",
                    "file_name": file_name, "mime_type": mime_type, "file_size": len(data)}
        return self.message(chat_id, None, document=document, **kw)

    def callback(self, message: dict, data: str, user_id: int | None = None) -> str:
        """A tap on an inline button of ``message`` (a message the bot sent); returns its id."""
        uid = user_id if user_id is not None else message["chat"]["id"]
        qid = f"cbq{next(self._update_ids)}"
        self.push_update({"callback_query": {"id": qid, "from": self.user(uid),
                                             "chat_instance": "ci1", "message": message,
                                             "data": data}})
        return qid

    def inline_query(self, user_id: int, query: str, offset: str = "") -> str:
        qid = f"iq{next(self._update_ids)}"
        self.push_update({"inline_query": {"id": qid, "from": self.user(user_id),
                                           "query": query, "offset": offset,
                                           "chat_type": "sender"}})
        return qid

    def my_chat_member(self, chat_id: int, status: str = "member", chat_type="group",
                       user_id: int = 1) -> None:
        """The bot's own membership changed in a chat (e.g. someone added it to a group)."""
        chat = self.chat(chat_id, chat_type)
        me = {"user": self.bot_user, "status": status}
        if status == "restricted":
            me.update(is_member=True)
        self.push_update({"my_chat_member": {
            "chat": chat, "from": self.user(user_id), "date": int(time.time()),
            "old_chat_member": {"user": self.bot_user, "status": "left"},
            "new_chat_member": me}})


def _auto_entities(text: str) -> list[dict]:
    """Entities Telegram adds by itself: a leading /command and @mentions."""
    entities = []
    m = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if m:
        entities.append({"type": "bot_command", "offset": 0, "length": _u16(m.group())})
    for m in re.finditer(r"(?<![\w/])@[A-Za-z0-9_]{5,32}", text):
        entities.append({"type": "mention", "offset": _u16(text[:m.start()]),
                         "length": _u16(m.group())})
    return entities


def _u16(s: str) -> int:
    return telegram_length(s)


def _suffix(name: str) -> str:
    m = re.search(r"\.[A-Za-z0-9]{1,8}$", name)
    return m.group(0).lower() if m else ""
