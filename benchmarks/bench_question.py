"""Cold one-shot questions: `citebot ask "..."` as a fresh process, index already built.

    python benchmarks/bench_question.py [--runs 7]

Builds a private index of corpus/ in a temporary folder, then times fresh processes, in turns
(so that a burst of load elsewhere hits every variant alike):

- `citebot ask` (the console script): the ONNX question encoder stored in the index;
- the same answer with the question embedded by sentence-transformers (citebot's code, only the
  question embedder swapped: what `ask` did before the ONNX path);
- `python -c pass` and the bare imports, for scale.

Also an in-process breakdown of the fast path. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, median, report, timed_run

QUESTION = "How many Kenyan police officers arrived in the first contingent?"
TORCH_PATH = """
import sys
from index.config import resolve
from index.embed.sbert import SentenceTransformerEmbedder
from index.engine import Citebot
from bot import render
bot = Citebot(resolve(sys.argv[1], sys.argv[2]),
              question_embedder=SentenceTransformerEmbedder())
print(render.answer_text(bot.ask(sys.argv[3])))
"""
BREAKDOWN = """
import sys, time, json
t0 = time.perf_counter()
from index.config import resolve
from index.engine import Citebot
t1 = time.perf_counter()
bot = Citebot(resolve(sys.argv[1], sys.argv[2]))
store = bot.store
t2 = time.perf_counter()
emb = bot.question_embedder(store.manifest)
t3 = time.perf_counter()
answer = bot.ask(sys.argv[3])
t4 = time.perf_counter()
assert answer.answered
print(json.dumps({"imports": t1 - t0, "open + verify index": t2 - t1,
                  "question encoder (onnxruntime session)": t3 - t2,
                  "first answer": t4 - t3}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="citebot-bench-"))
    try:
        corpus, index = tmp / "corpus", tmp / "index"
        shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns(".*"))
        env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(index)}
        citebot = shutil.which("citebot") or "citebot"
        _, _, r = timed_run([citebot, "index", "build"], env=env)
        assert r.returncode == 0, r.stderr.decode()
        variants = {
            "`citebot ask` (ONNX question encoder in the index)": [citebot, "ask", QUESTION],
            "same answer, question embedded by sentence-transformers (torch)":
                [sys.executable, "-c", TORCH_PATH, str(corpus), str(index), QUESTION],
            "`python -c pass` (interpreter start)": [sys.executable, "-c", "pass"],
            "`import torch, sentence_transformers` alone":
                [sys.executable, "-c", "import torch, sentence_transformers"],
        }
        walls = {k: [] for k in variants}
        peaks = {k: [] for k in variants}
        for _ in range(args.runs):
            for name, cmd in variants.items():
                wall, peak, r = timed_run(cmd, env=env)
                if r.returncode != 0:
                    raise SystemExit(f"{name} failed: {r.stderr.decode()[-2000:]}")
                if "arrived" in name or "ask" in name:
                    assert b"approximately 200" in r.stdout, r.stdout
                walls[name].append(wall)
                peaks[name].append(peak)
        fast = median(walls[next(iter(variants))])
        rows = [[name, median(walls[name]), min(walls[name]), max(walls[name]),
                 median(peaks[name]), median(walls[name]) / fast] for name in variants]
        report("Cold one-shot question (seed corpus)",
               ["fresh process", "median s", "min s", "max s", "peak RSS MB", "× citebot ask"],
               rows, [f"{args.runs} runs each, in turns; wall time of the whole process "
                      "(start, imports, index load and checks, embedding, search, output).",
                      "Target: `citebot ask` median < 1.0 s."])
        import json

        parts = []
        for _ in range(args.runs):
            _, _, r = timed_run([sys.executable, "-c", BREAKDOWN, str(corpus), str(index),
                                 QUESTION], env=env)
            parts.append(json.loads(r.stdout))
        report("Where the fast path's time goes (in-process, after interpreter start)",
               ["phase", "median s"], [[k, median([p[k] for p in parts])] for k in parts[0]])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - t0:.0f} s)")
