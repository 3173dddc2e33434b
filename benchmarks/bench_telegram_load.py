"""The Telegram load test, timed: 200 chats send 5 questions each as fast as they can (plus 10
chats over the rate limit), the real bot answers through the fake Bot API server on 127.0.0.1.

    python benchmarks/bench_telegram_load.py                 # pacing off, then Telegram's 30/s
    python benchmarks/bench_telegram_load.py --pace 0 --runs 3

Shares the load and its checks with tests/bot/telegram/test_load.py (every question answered once,
the refusals exact). Builds a private index of corpus/ in a temporary folder. Throughput: answers
per second from the first question queued to the last answer at the server. Latency: from a
question being queued to its answer reaching the server (a chat's questions are answered in
order, so its fifth waits for its first four). Numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(TESTS / "support"), str(TESTS / "bot" / "telegram")]
from common import ROOT, percentile, report  # noqa: E402


async def one_run(citebot, pace: float) -> list:
    from fake_bot_api import FakeBotAPI
    from telegram_harness import running_bot
    from telegram_traffic import Traffic, rss_mb
    from test_load import CHATS, GREEDY, PER_CHAT, RATE, run_load

    with FakeBotAPI() as api:
        async with running_bot(citebot, api, rate=RATE, messages_per_s=pace):
            await run_load(api, Traffic(api, citebot), chats=50, per_chat=2, first_chat=1000,
                           greedy=0)  # warm-up
            gc.collect()
            rss0 = rss_mb()
            traffic = Traffic(api, citebot)
            t0 = time.monotonic()
            await run_load(api, traffic)
            wall = time.monotonic() - t0
            gc.collect()
            rss1 = rss_mb()
        traffic.asked = {c: q for c, q in traffic.asked.items() if c < 10_000 + CHATS}
        assert traffic.check_each_answered_once() == {"answered": CHATS * PER_CHAT}
        lat = traffic.latencies()
    messages = CHATS * PER_CHAT + GREEDY * (RATE[0] + 1)
    return [f"{pace:g}/s" if pace else "off", len(lat), messages, wall, len(lat) / wall,
            percentile(lat, 50) * 1000, percentile(lat, 99) * 1000, rss0, rss1 - rss0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pace", type=float, nargs="*", default=[0.0, 30.0],
                    help="messages per second over all chats (0: no pacing)")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    from index.config import resolve
    from index.engine import Citebot

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns(".*"))
        citebot = Citebot(resolve(corpus=corpus, index=Path(tmp) / "index"))
        citebot.build()
        _ = citebot.searcher
        for pace in args.pace:
            for _ in range(args.runs):
                rows.append(asyncio.run(one_run(citebot, pace)))
    report("Telegram load: 200 chats x 5 questions",
           ["pacing", "answers", "messages", "wall s", "answers/s", "p50 ms", "p99 ms",
            "RSS MB", "RSS growth MB"], rows,
           notes=["answers: the 1,000 questions of the 200 chats (all answered once: checked); "
                  "messages adds the 10 greedy chats' 5 answers and 1 'please wait' each",
                  "RSS: this process (bot, model, fake server and its call log) before the "
                  "load, after a warm-up of 100 questions, and its growth over the load"])


if __name__ == "__main__":
    main()
