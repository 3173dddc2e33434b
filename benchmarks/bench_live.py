"""Questions while the corpus is rebuilt: latency of questions asked while a 300 KB article is
built in (index/live/reloader.py, a background child process), against the same questions idle.

    python benchmarks/bench_live.py                    # 3 runs, 300 KB in 60 paragraphs
    python benchmarks/bench_live.py --paragraphs 1     # one paragraph (slow sentence splitting)

Builds a private index of corpus/ in a temporary folder (the project's index is not touched).
Each run adds another invented article (new text: nothing comes from the embedding cache) and
asks the seed questions one after another, in this process, until the build is loaded. Before
background builds, a question arriving after such a change waited for the whole build: the
"build s" column is that wait. Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, command, machine, median, percentile

sys.path.insert(0, str(ROOT / "tests" / "support"))
QUESTIONS = ["When did the first Kenyan contingent arrive?", "Which countries threatened a veto?",
             "How much money has the trust fund raised?", "Who is Brian A. Nichols?"]


def ask_all(bot, seconds=None, until=None) -> list[float]:
    """Ask the questions in turn for ``seconds``, or while ``until()`` holds; latencies (s)."""
    out, t_end = [], None if seconds is None else time.monotonic() + seconds
    i = 0
    while (until() if until else time.monotonic() < t_end):
        t0 = time.perf_counter()
        bot.ask(QUESTIONS[i % len(QUESTIONS)])
        out.append(time.perf_counter() - t0)
        i += 1
        time.sleep(0.05)  # a question every ~50 ms: a busy bot, not a tight loop
    return out


def main() -> None:
    from follow_fixtures import big_article

    from index.config import resolve
    from index.engine import Citebot
    from index.live.reloader import LiveIndex

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", type=int, default=300_000)
    ap.add_argument("--paragraphs", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns(".*"))
        bot = Citebot(resolve(corpus=corpus, index=Path(tmp) / "index"))
        bot.build()
        _ = bot.searcher
        live = LiveIndex(bot)
        idle = ask_all(bot, seconds=5)
        rows = [("idle", idle, None)]
        for run in range(args.runs):
            (corpus / f"almanac-{run}.md").write_text(
                f"---\ntitle: Almanac {run}\n---\n"
                + big_article(args.size, args.paragraphs, seed=100 + run), encoding="utf-8")
            t0 = time.monotonic()
            done = live.request_build()
            during = ask_all(bot, until=lambda done=done: not done.done())
            done.result()
            rows.append((f"during build {run + 1}", during, time.monotonic() - t0))
        live.close()
    print(f"Machine: {machine()}\n\nCommand: `{command()}`\n")
    print("| questions | asked | p50 ms | p95 ms | max ms | build s |")
    print("|---|---|---|---|---|---|")
    for name, lat, build in rows:
        ms = [x * 1000 for x in lat]
        print(f"| {name} | {len(ms)} | {median(ms):.0f} | {percentile(ms, 95):.0f} | "
              f"{max(ms):.0f} | {'' if build is None else f'{build:.1f}'} |")


if __name__ == "__main__":
    main()
