"""Load: 200 chats sending 5 questions each as fast as they can, through the real bot and the
fake Bot API server. All 1,000 are answered, none twice; the per-user rate limit refuses what
it documents (README, "Limits and access"); memory is stable. The same run, timed, is
benchmarks/bench_telegram_load.py (figures in docs/benchmarks.md): no timing is asserted here.
"""

from __future__ import annotations

import asyncio
import gc
import re

import pytest
from fake_bot_api import FakeBotAPI
from telegram_harness import running_bot
from telegram_html import checked
from telegram_traffic import QUESTIONS, Traffic, rss_mb

pytestmark = pytest.mark.slow

CHATS, PER_CHAT = 200, 5
# The test's limit, set explicitly: 5 questions at once, then one every 12 minutes. The
# default (10/60: ten at once, then one every 6 s) lets 5 through as well; a fixed, slow refill
# makes the refusals below exact whatever the speed of the machine.
RATE = (5, 3600.0)
GREEDY, GREEDY_ASKS = 10, 8      # chats that ask more than the limit allows
RSS_GROWTH_MB = 60               # bound on memory growth over the 1,000 questions


def load(api, traffic: Traffic, chats=CHATS, per_chat=PER_CHAT, first_chat=10_000,
         greedy=GREEDY, greedy_asks=GREEDY_ASKS) -> None:
    """Queue the whole load at once: every chat's questions in rounds (question r of every
    chat, then question r + 1...), then the greedy chats' bursts."""
    for r in range(per_chat):
        for i in range(chats):
            traffic.ask(first_chat + i, QUESTIONS[(i + r) % len(QUESTIONS)])
    for i in range(greedy):
        for _ in range(greedy_asks):
            traffic.ask(first_chat + chats + i, QUESTIONS[i % len(QUESTIONS)])


async def run_load(api, traffic: Traffic, **kw) -> None:
    """The load, then wait until every expected message has reached the server."""
    load(api, traffic, **kw)
    greedy, chats = kw.get("greedy", GREEDY), kw.get("chats", CHATS)
    per_chat = kw.get("per_chat", PER_CHAT)
    # Each greedy chat: RATE[0] answers and one "please wait" reply.
    await traffic.wait_delivered(chats * per_chat + greedy * (RATE[0] + 1))


def test_two_hundred_chats_five_questions_each(seed_bot):
    out: dict = {}

    async def main(api):
        # The fake server has no flood limit: pacing to Telegram's 30 messages/s is off.
        async with running_bot(seed_bot, api, rate=RATE, messages_per_s=0):
            warm = Traffic(api, seed_bot)  # warm-up: caches, thread pool, connections
            await run_load(api, warm, chats=50, per_chat=2, first_chat=1000, greedy=0)
            gc.collect()
            out["rss_before"] = rss_mb()
            traffic = out["traffic"] = Traffic(api, seed_bot)
            await run_load(api, traffic)
            gc.collect()
            out["rss_after"] = rss_mb()
        # Stopped: every fetched update has been handled, so whatever came twice is here too.

    with FakeBotAPI() as api:
        asyncio.run(asyncio.wait_for(main(api), 600))  # ~20 s here; a slow CI machine: more
    traffic: Traffic = out["traffic"]
    api = traffic.api
    # Each of the 200 chats: its 5 answers, once each, and nothing else.
    greedy = {c: qs for c, qs in traffic.asked.items() if c >= 10_000 + CHATS}
    traffic.asked = {c: qs for c, qs in traffic.asked.items() if c not in greedy}
    assert len(traffic.asked) == CHATS and traffic.questions == CHATS * PER_CHAT
    assert traffic.check_each_answered_once() == {"answered": CHATS * PER_CHAT}
    for chat, asked in greedy.items():
        sent = [checked(c).text for c in api.sent(chat)]
        polite = [t for t in sent if "faster than I can keep up" in t]
        assert len(polite) == 1  # said once, then silence
        assert 600 < int(re.search(r"wait (\d+) seconds", polite[0])[1]) <= 721  # 3600 s / 5
        answers = [c.text for c in api.sent(chat) if c.text == traffic.reply_for(asked[0])]
        assert len(answers) == RATE[0] and len(sent) == RATE[0] + 1
    assert all(c.ok for c in api.calls_to("sendMessage", ok=None))  # valid HTML, all of it
    growth = out["rss_after"] - out["rss_before"]
    print(f"\nRSS {out['rss_before']:.0f} -> {out['rss_after']:.0f} MB (+{growth:.1f})")
    assert growth < RSS_GROWTH_MB
