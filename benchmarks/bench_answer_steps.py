"""The full answer over a kept bench_scale.py index, step by step, in this process.

    python benchmarks/bench_answer_steps.py DIR [--questions 100] [--start 0] [--root TREE] [--no-warm]

DIR is a ``bench_scale.py --keep DIR`` folder (index-N, q-N.npy, bq-N.json). The index is
loaded, warmed as the bot and the prompt do (IndexStore.warm), then ``--questions`` of the
benchmark's questions are answered by Searcher.answer_from after one untimed; printed: the full
answer's p50/p90 and the asking thread's CPU p50, and the wall time of each step (FAISS search,
dense search, BM25, stored vectors, sentence reads and cosines) per question. ``--root``: the
citebot tree to import (another checkout, e.g. ``git worktree add /tmp/old REV``), to compare
two trees on one index (docs/benchmarks.md, "The full answer at 10M").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from common import ROOT


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--start", type=int, default=0,
                    help="ask the questions from this one on: a run after another that asked "
                         "the same questions finds their rows in the page cache")
    ap.add_argument("--root", default=str(ROOT))
    ap.add_argument("--no-warm", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(args.root).resolve()))
    from index.search import rank
    from index.search.searcher import Searcher
    from index.store.store import IndexStore

    kdir = Path(args.dir)
    index = next(kdir.glob("index-*"))
    n = index.name.split("-")[1]
    t = time.perf_counter()
    store = IndexStore(index)
    print(f"load {time.perf_counter() - t:.1f} s")
    vectors, queries = np.load(kdir / f"q-{n}.npy"), json.loads((kdir / f"bq-{n}.json").read_text())
    if not args.no_warm:
        t = time.perf_counter()
        thread = store.warm()
        if thread is not None:
            thread.join()
        print(f"warm {time.perf_counter() - t:.1f} s ({'done' if thread else 'nothing to warm'})")
    steps = defaultdict(list)

    def timed(owner, name, key=None):
        inner = getattr(owner, name)

        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                steps[key or name].append(time.perf_counter() - t0)
        setattr(owner, name, wrapper)

    for name in ("dense_search", "bm25_top", "passage_vectors", "prefetch_sentences"):
        timed(store, name)
    timed(rank.Ranker, "_sentence_cosines")
    timed(rank.Ranker, "_sentence_cosines_coarse")
    searcher = Searcher(store, None)
    first = args.start - 1 if args.start else -1  # a question outside the timed ones
    text = " ".join(queries[first])
    searcher.answer_from(text, text, vectors[first], queries[first])  # reads every date
    steps.clear()
    wall, cpu = [], []
    for q, toks in list(zip(vectors, queries))[args.start:args.start + args.questions]:
        text = " ".join(toks)
        t, c = time.perf_counter(), time.thread_time()
        searcher.answer_from(text, text, q, toks)
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    ms = 1e3
    print(f"full answer p50 {np.median(wall) * ms:.1f} ms, p90 {np.percentile(wall, 90) * ms:.1f} ms,"
          f" CPU p50 {np.median(cpu) * ms:.1f} ms ({len(wall)} questions, {args.root})")
    for name, took in steps.items():
        took = np.array(took) * ms
        print(f"  {name:20s} calls {len(took):4d}  p50 {np.median(took):7.2f} ms  "
              f"per question {took.sum() / len(wall):7.2f} ms")


if __name__ == "__main__":
    main()
