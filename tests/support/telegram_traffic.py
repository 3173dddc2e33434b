"""Traffic for the Telegram load and fault tests (and benchmarks/bench_telegram_load.py): many
chats asking through the fake Bot API server, and the bookkeeping that proves every question got
exactly one reply: the answer the core gives (rendered as the bot renders it) or an apology.
"""

from __future__ import annotations

import os
import time
from collections import Counter

from fake_bot_api import FakeBotAPI

# Questions that stand on their own (none is read as a follow-up of another), each answered
# with a different first quote, and one that the articles do not answer.
QUESTIONS = ["When did the first Kenyan contingent arrive?",
             "Which countries threatened a veto?",
             "When did a Kenyan court rule the deployment unconstitutional?",
             "How much money has the trust fund raised?",
             "Who is Brian A. Nichols?"]
NOT_FOUND = "Who won the 2022 World Cup final?"


def expected_replies(citebot, question: str, k: int = 3, more: int = 9) -> list[str]:
    """The HTML messages the bot sends for a question asked on its own: the core's Answer,
    rendered by bot/telegram/render.py (what the CLI would print, in Telegram's form)."""
    from bot.telegram import render
    from index.answer import ArticleRef

    answer = citebot.ask(question, k=k, more=more)
    covered = None if answer.answered else [ArticleRef(**a.meta())
                                            for a in citebot.store.articles]
    return render.answer_messages(answer, covered)


class Traffic:
    """Questions pushed to the fake server, per chat, and the check that each got one reply."""

    def __init__(self, api: FakeBotAPI, citebot):
        self.api = api
        self.citebot = citebot
        self.asked: dict[int, list[str]] = {}
        self.pushed_at: dict[tuple[int, str], float] = {}  # (chat, question) -> first queued
        self.last_update_id = 0
        self._replies: dict[str, str] = {}

    def ask(self, chat_id: int, question: str) -> int:
        """A user in a private chat sends a question; returns the update id."""
        self.reply_for(question)  # computed first: the bot may answer at once
        self.last_update_id = self.api.push_update({"message": self.api.make_message(
            chat_id, question)})
        self.pushed_at.setdefault((chat_id, question), time.monotonic())
        self.asked.setdefault(chat_id, []).append(question)
        return self.last_update_id

    def reply_for(self, question: str) -> str:
        """The one message the bot answers ``question`` with (the questions used fit one)."""
        if question not in self._replies:
            [self._replies[question]] = expected_replies(self.citebot, question)
        return self._replies[question]

    def delivered(self) -> int:
        """Messages delivered so far to this traffic's chats."""
        return sum(1 for c in self.api.sent() if c.chat_id in self.asked)

    async def wait_delivered(self, count: int, timeout: float = 180.0) -> None:
        """Until ``count`` messages reached this traffic's chats (checked ten times a second:
        the load's own event loop and threads keep the CPU)."""
        import asyncio

        deadline = time.monotonic() + timeout
        while self.delivered() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.delivered()} of {count} messages in {timeout} s")
            await asyncio.sleep(0.1)

    @property
    def questions(self) -> int:
        return sum(len(qs) for qs in self.asked.values())

    def latencies(self) -> list[float]:
        """Seconds from each question being queued to its answer reaching the server."""
        out = []
        for chat_id, asked in self.asked.items():
            answers = {self.reply_for(q): q for q in set(asked)}
            out += [c.at - self.pushed_at[(chat_id, answers[c.text])]
                    for c in self.api.sent(chat_id) if c.text in answers]
        return sorted(out)

    def check_each_answered_once(self, apologies_allowed: bool = False) -> dict:
        """Every question got exactly one reply: its answer, or (when allowed) the apology that
        names it; none missing, none twice, nothing else. Returns how many got which:
        {"answered": n, "apologised": m}."""
        totals = Counter()
        for chat_id, asked in self.asked.items():
            apologies = {undelivered_text(q): q for q in asked}
            got = Counter(c.text for c in self.api.sent(chat_id))
            apologised = Counter({apologies[t]: n for t, n in got.items() if t in apologies})
            if not apologies_allowed:
                assert not apologised, f"chat {chat_id}: apologies for {apologised}"
            assert not apologised - Counter(asked), f"chat {chat_id}: {apologised}"
            answered = Counter(asked) - apologised  # the rest must have got their answers
            want = Counter(self.reply_for(q) for q in answered.elements())
            answers = Counter({t: n for t, n in got.items() if t not in apologies})
            assert answers == want, (f"chat {chat_id}: missing {want - answers}, "
                                     f"unexpected or twice {answers - want}")
            totals.update(answered=sum(answered.values()), apologised=sum(apologised.values()))
        return dict(+totals)


def undelivered_text(question: str) -> str:
    """The apology sent instead of an answer Telegram did not take in time (HTML, as sent)."""
    from bot.telegram import handlers as telegram_handlers
    from bot.telegram import render

    return telegram_handlers.UNDELIVERED.format(render.esc(render.shorten(
        " ".join(question.split()), 120)))


def rss_mb() -> float:
    """Resident memory of this process, in MB (from /proc: no extra package needed)."""
    with open(f"/proc/{os.getpid()}/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
