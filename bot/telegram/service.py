"""What the Telegram handlers call to answer: the loaded Citebot, run off the event loop.

Answering is CPU work (embedding, ranking): it runs in a thread pool so that one slow question
does not stall other chats. Before answering, at most every few seconds, a background check
looks for a newer build or a changed corpus (index/live/reloader.py): a new build is loaded beside the
loaded one and switched in one step, a changed corpus is rebuilt in a child process; the
question itself never waits for either. A reload that fails keeps the loaded index answering.
Further results for **More sources** are kept here for a while.
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

from index import Answer, ArticleRef, Citation, Conversations, LiveIndex

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
        self.live = LiveIndex(citebot, on_event=lambda level, message: getattr(log, level)(
            "%s", message))
        self._last_check = clock()
        self._more: OrderedDict[str, MoreSources] = OrderedDict()
        self._more_lock = threading.Lock()

    async def run(self, fn, *args, **kwargs):
        """Run blocking work in the pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self.live.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- the index ------------------------------------------------------------------------------
    def reload(self, force: bool = False) -> bool:
        """Look for a changed index or corpus (at most every few seconds), in the background;
        ``force`` (/reload) waits for the look (never for a build) and raises what it met.
        True when another index was loaded."""
        now = self.clock()
        if not force and now - self._last_check < self.reload_every_s:
            return False
        self._last_check = now
        check = self.live.check()
        return check.result() if force else False

    def searcher(self):
        """The current Searcher: never waits for a reload or a build."""
        self.reload()
        return self.citebot.searcher

    def articles(self) -> list[ArticleRef]:
        """The articles the index holds, as citation fields."""
        self.searcher()  # a due reload first
        return self.citebot.articles_covered()

    def stats(self) -> tuple[int, int]:
        store = self.searcher().store
        return len(store.articles), len(store.passages)

    # -- answering (called in the pool) ---------------------------------------------------------
    def answer(self, key, question: str, k: int = 3, more: int = 9,
               follow_ups: bool = True, as_of=None) -> tuple[Answer, list[ArticleRef] | None]:
        """An answer (read as a follow-up when it is one), and the articles when not found;
        as of the date ``as_of`` (articles published later are not used)."""
        searcher = self.searcher()  # a due reload first
        if follow_ups:
            answer = self.conversations.ask(searcher, key, question, k=k, more=more,
                                            as_of=as_of)
        else:
            answer = searcher.ask(question, k=k, more=more, as_of=as_of)
        covered = None
        if not answer.answered:
            covered = self.citebot.articles_covered()
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
