"""Bursts through the Telegram bot: N chats ask at once, the real Application answers through a
fake Bot API server on 127.0.0.1 (tests/support/fake_bot_api.py); time until every chat has its
answer.

    python benchmarks/bench_telegram.py                    # 50 and 200 chats, paced and not
    python benchmarks/bench_telegram.py --chats 500 --pace 0

Builds a private index of corpus/ in a temporary folder (the project's index is not touched).
Not a test: numbers depend on the machine and on what else runs on it. Latency is from the
update being queued to the answer's sendMessage reaching the fake server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = ["When did the first Kenyan contingent arrive?", "Which countries threatened a veto?",
             "How much money has the trust fund raised?", "Who is Brian A. Nichols?"]


async def burst(citebot, chats: int, pace: float) -> str:
    from fake_bot_api import FakeBotAPI
    from telegram_harness import running_bot

    with FakeBotAPI() as api:
        async with running_bot(citebot, api, messages_per_s=pace, rate=(0, 0.0)):
            pushed = {}
            t0 = time.monotonic()
            for i in range(chats):
                pushed[5000 + i] = time.monotonic()
                api.message(5000 + i, QUESTIONS[i % len(QUESTIONS)])
            sent = await api.wait_for(count=chats, timeout=600)
            wall = time.monotonic() - t0
    lat = sorted(c.at - pushed[c.chat_id] for c in sent)
    p99 = lat[max(0, int(len(lat) * 0.99) - 1)]
    return (f"| {chats} | {pace or 'off'} | {wall:.2f} | {chats / wall:.0f} | "
            f"{lat[len(lat) // 2] * 1000:.0f} | {p99 * 1000:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chats", type=int, nargs="*", default=[50, 200])
    ap.add_argument("--pace", type=float, nargs="*", default=[30.0, 0.0],
                    help="messages per second over all chats (0: no pacing)")
    args = ap.parse_args()
    from index.config import resolve
    from index.engine import Citebot

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns(".*"))
        citebot = Citebot(resolve(corpus=corpus, index=Path(tmp) / "index"))
        citebot.build()
        _ = citebot.searcher
        print("| chats | pacing (msg/s) | all answered (s) | answers/s | p50 ms | p99 ms |")
        print("|---|---|---|---|---|---|")
        for chats in args.chats:
            for pace in args.pace:
                print(asyncio.run(burst(citebot, chats, pace)), flush=True)


if __name__ == "__main__":
    main()
