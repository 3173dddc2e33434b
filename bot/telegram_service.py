"""What the Telegram handlers call to answer: the loaded Citebot, run off the event loop.

Answering is CPU work (embedding, ranking): it runs in a thread pool so that one slow question
does not stall other chats. Before answering, at most every few seconds, the index is checked
for a newer build or a changed corpus (a cheap stat) and reloaded; a reload that fails keeps
the loaded index answering. Further results for **More sources** are kept here for a while.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from index.answer import Answer, ArticleRef, Citation
from index.conversation import Conversations
from index.errors import CitebotError

log = logging.getLogger("citebot.telegram")
MORE_TTL_S = 3600.0       # a "More sources" button works this long
MORE_KEEP = 5000          # answers whose further sources are kept


@dataclass
class MoreSources:
    """The further citations of one answer, for its **More sources** button."""

    chat_id: int
    citations: list[Citation]
    at: float


class AnswerService:
    """The Citebot behind the bot: thread pool, follow-ups, reloads, More sources."""

    def __init__(self, citebot, workers: int = 4, follow_up_window_s: float = 300.0,
                 reload_every_s: float = 5.0, clock=time.monotonic):
        self.citebot = citebot
        self.conversations = Conversations(window_s=follow_up_window_s)
        self.reload_every_s = reload_every_s
        self.clock = clock
        self.executor = ThreadPoolExecutor(max_workers=workers,
                                           thread_name_prefix="citebot-answer")
        self._reload_lock = threading.Lock()
        self._last_check = clock()
        self._more: OrderedDict[str, MoreSources] = OrderedDict()
        self._more_lock = threading.Lock()

    async def run(self, fn, *args, **kwargs):
        """Run blocking work in the pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- the index ------------------------------------------------------------------------------
    def reload(self, force: bool = False) -> bool:
        """Reload when the index or corpus changed (checked at most every few seconds)."""
        now = self.clock()
        if not force and now - self._last_check < self.reload_every_s:
            return False
        if not self._reload_lock.acquire(blocking=force):
            return False  # another thread is checking right now
        try:
            self._last_check = now
            reloaded = self.citebot.reload_if_changed()
            if reloaded:
                store = self.citebot.store
                log.info("reloaded the index: %d articles, %d passages", len(store.articles),
                         len(store.passages))
            return reloaded
        except Exception as exc:  # noqa: BLE001 - keep answering from the loaded index
            if force:
                raise
            why = exc.user_message() if isinstance(exc, CitebotError) else type(exc).__name__
            log.warning("the index could not be reloaded; answering from the loaded one: %s",
                        why)
            return False
        finally:
            self._reload_lock.release()

    def searcher(self):
        """The current Searcher (waits while a reload is switching it)."""
        self.reload()
        with self._reload_lock:
            return self.citebot.searcher

    def articles(self) -> list[ArticleRef]:
        """The articles the index holds, as citation fields."""
        return [ArticleRef(**a.meta()) for a in self.searcher().store.articles]

    def stats(self) -> tuple[int, int]:
        store = self.searcher().store
        return len(store.articles), len(store.passages)

    # -- answering (called in the pool) ---------------------------------------------------------
    def answer(self, key, question: str, k: int = 3, more: int = 9,
               follow_ups: bool = True, as_of=None) -> tuple[Answer, list[ArticleRef] | None]:
        """An answer (read as a follow-up when it is one), and the articles when not found;
        as of the date ``as_of`` (articles published later are not used)."""
        searcher = self.searcher()
        if follow_ups:
            answer = self.conversations.ask(searcher, key, question, k=k, more=more,
                                            as_of=as_of)
        else:
            answer = searcher.ask(question, k=k, more=more, as_of=as_of)
        covered = None
        if not answer.answered:
            covered = [ArticleRef(**a.meta()) for a in searcher.store.articles]
        return answer, covered

    def source(self, citation_id: str):
        self.searcher()
        return self.citebot.source(citation_id)

    # -- More sources ---------------------------------------------------------------------------
    def keep_more(self, chat_id: int, citations: list[Citation]) -> str:
        """Keep further citations; returns the short token the button carries."""
        token = secrets.token_urlsafe(6)
        with self._more_lock:
            self._more[token] = MoreSources(chat_id, list(citations), self.clock())
            while len(self._more) > MORE_KEEP:
                self._more.popitem(last=False)
        return token

    def more_for(self, token: str, chat_id: int) -> list[Citation] | None:
        """The further citations behind a button, or None when expired or not this chat's."""
        with self._more_lock:
            entry = self._more.get(token)
        if entry is None or entry.chat_id != chat_id or \
                self.clock() - entry.at > MORE_TTL_S:
            return None
        return entry.citations
