"""Speed of `citebot cite` lookups on the seed corpus, and calibration of its "none" cut-off.

    python benchmarks/bench_cite.py               # timing table (Markdown), median of runs
    python benchmarks/bench_cite.py --calibrate   # similarities of paraphrases vs outside text
    python benchmarks/bench_cite.py --scale 100000 [--compare REV]   # one close lookup, big index

Builds a private index of corpus/ in a temporary folder (the project's index is not touched).
``--scale N``: a synthetic index of N passages (bench_scale.synth: 3 sentences a passage,
vectors mixed from the real model's vectors of the seed corpus), then fresh processes that open
it and time one close lookup (the first, which sets up the sentence table, and warm ones after
it) with their memory; ``--compare REV`` runs the same child on git revision REV's code too,
alternated with this tree's.
Not a test: numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The calibration set, written for it (tests/index/cite/test_cite.py has sentences of its own).
# (paraphrase of a claim in the seed corpus, article id, words of the sentence it comes from)
PARAPHRASES = [
    ("the trust fund backed by the UN has only collected $21 million", "mss-deployment",
     "$21 million"),
    ("the mission is meant to have as many as 2,500 security personnel", "mss-deployment",
     "2,500 security personnel"),
    ("lack of money caused repeated delays in troops arriving", "mss-deployment",
     "repeated delays"),
    ("A Kenyan court declared the deployment of police to Haiti unconstitutional in "
     "January 2024", "mss-deployment", "January 26, 2024"),
    ("President Ruto is still determined to go ahead with the mission", "mss-deployment",
     "William Ruto remains"),
    ("The Third Voice Alliance filed another appeal in May 2024 to stop the deployment",
     "mss-deployment", "May 16, 2024"),
    ("About 200 Kenyan police arrived in Haiti on 25 June", "mss-deployment",
     "approximately 200"),
    ("The troops will reinforce the Haitian National Police", "mss-deployment",
     "strengthen the Haitian National Police"),
    ("Blinken and Nichols stressed America's commitment to work with Haiti's government",
     "mss-deployment", "both emphasized"),
    ("The Security Council unanimously renewed the mission for another year with resolution "
     "2751", "mss-renewal", "resolution 2751"),
    ("Kenya agreed in July 2023 to lead the mission and send 1,000 officers", "mss-renewal",
     "1,000 police officers"),
    ("Haiti's government asked for international help in October 2022", "mss-renewal",
     "urgent request"),
    ("China and Russia threatened to veto turning the mission into a UN peacekeeping force",
     "mss-renewal", "threats of a veto"),
    ("Funding shortages have kept the mission from extending its reach beyond Port-au-Prince",
     "mss-renewal", "beyond the capital"),
    ("Blinken confirmed that sustainable funding matters when he visited Haiti this month",
     "mss-renewal", "sustainable funding"),
    ("resolution 2699 authorized the mission in October 2023 to support the Haitian police "
     "and protect infrastructure", "mss-renewal", "mandated it to provide"),
    ("The mission is slowly making progress despite the obstacles", "mss-deployment",
     "progressing gradually"),
    ("the delays show how complex peacekeeping operations are", "mss-deployment",
     "underscore the complexity"),
    ("Haiti is ravaged by gang violence and a deepening humanitarian crisis", "mss-deployment",
     "ravaged by gang violence"),
    ("Both nations said conditions in Haiti were not right for a peacekeeping operation. The "
     "change shows how hard it is to secure international support.", "mss-renewal",
     "not conducive"),
    ("The government got approval to proceed on March 1, and legal challenges have continued "
     "since.", "mss-deployment", "March 1"),
]

# Sentences from outside the corpus: unrelated, and near its topic (Haiti, Kenya, the UN).
OUTSIDE = [
    "Argentina won the 2022 World Cup final in Qatar.",
    "The Eiffel Tower was completed in 1889.",
    "Water boils at 100 degrees Celsius at sea level.",
    "The central bank raised interest rates by half a percentage point.",
    "Apple unveiled a new iPhone at its September event.",
    "Scientists discovered a new species of frog in the Amazon.",
    "Tesla's quarterly profits fell by 20 percent.",
    "The hurricane season is expected to be more active than usual.",
    "The European Union imposed new sanctions on Iran.",
    "The World Health Organization declared the end of the mpox emergency.",
    "The UN Security Council voted to send peacekeepers to Mali.",
    "Kenya's marathon runners won gold at the Olympics.",
    "The earthquake in Haiti in 2010 killed more than 200,000 people.",
    "Gang leaders in Port-au-Prince announced a truce with the government.",
    "The Haitian prime minister resigned after weeks of protests.",
    "Kenya held a general election in August 2022.",
    "The United States announced new tariffs on Chinese steel.",
    "Police arrested three suspects after a bank robbery in Nairobi.",
    "Cholera cases are rising in rural Haiti, health workers say.",
    "The Dominican Republic closed its border with Haiti.",
]

LOOKUPS = [
    ("exact", "the Haitian government's  urgent request for international assistance"),
    ("exact, 2 sentences", "Both countries expressed concerns over the conditions in Haiti, "
     "arguing that they were not conducive to a new peacekeeping operation. This shift "
     "underscores the complexities"),
    ("close", "the trust fund raised only 21 million dollars"),
    ("close, 2 sentences", PARAPHRASES[19][0]),
    ("none", "Argentina won the 2022 World Cup final in Qatar."),
]


def open_bot(index_dir: Path):
    from index.config import resolve
    from index.engine import Citebot

    bot = Citebot(resolve(corpus=ROOT / "corpus", index=index_dir))
    bot.ensure_index()
    return bot


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, " \
           f"Python {platform.python_version()}"


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def timing(index_dir: Path, runs: int) -> None:
    from index.cite.lookup import lookup

    bot = open_bot(index_dir)
    store, emb = bot.store, bot.question_embedder(bot.store.manifest)
    print(f"machine: {machine()}\n")
    print("| command | result | median (ms) | runs |")
    print("|---|---|---:|---:|")
    for label, text in LOOKUPS:
        kind = lookup(store, text, embedder=emb).kind  # warm-up: caches, model
        ms = median_ms(lambda text=text: lookup(store, text, embedder=emb), runs)
        print(f"| in-process `lookup()` {label}: `{text[:40]}…` | {kind} | {ms:.2f} | {runs} |")
    from index.store.store import IndexStore

    fresh = [IndexStore(index_dir) for _ in range(runs)]  # loaded first, timed without loading
    ms = median_ms(lambda: lookup(fresh.pop(), LOOKUPS[0][1]), runs)
    print(f"| in-process first `lookup()` on a just-loaded store (exact; normalizes the bodies) "
          f"| exact | {ms:.2f} | {runs} |")
    env = {**os.environ, "CITEBOT_CORPUS": str(ROOT / "corpus"), "CITEBOT_INDEX": str(index_dir)}
    for label, text in (LOOKUPS[0], LOOKUPS[2]):
        cmd = [sys.executable, "-m", "bot", "cite", text]
        n = max(3, runs // 10)
        ms = median_ms(lambda cmd=cmd: subprocess.run(cmd, cwd=ROOT, env=env, check=True,
                                              capture_output=True), n)
        print(f"| fresh process `citebot cite` {label} | | {ms:.0f} | {n} |")


def calibrate(index_dir: Path) -> None:
    from index.cite.lookup import CUTOFF, LEX_CUTOFF, clean_text, find_close

    bot = open_bot(index_dir)
    store, emb = bot.store, bot.question_embedder(bot.store.manifest)
    for name, use, cut in (("cosine + lexical", emb, CUTOFF), ("lexical only", None, LEX_CUTOFF)):
        para, right = [], 0
        for text, art, needle in PARAPHRASES:
            a, s, e, sim = find_close(store, clean_text(text), 1, use, cutoff=-1.0)[0]
            right += a == art and needle in store.article_by_id[a].body[s:e]
            para.append(sim)
        out = [(find_close(store, clean_text(t), 1, use, cutoff=-1.0) or [(0, 0, 0, 0.0)])[0][3]
               for t in OUTSIDE]
        print(f"{name}: right sentence first for {right}/{len(PARAPHRASES)} paraphrases; "
              f"paraphrases {min(para):.3f}..{max(para):.3f} (median "
              f"{statistics.median(para):.3f}), outside {min(out):.3f}..{max(out):.3f}; "
              f"cut-off {cut}: {sum(p >= cut for p in para)}/{len(para)} paraphrases kept, "
              f"{sum(o >= cut for o in out)}/{len(out)} outside sentences let through")


SCALE_CHILD = r"""
import json, sys, time
import numpy as np, psutil
sys.path.insert(0, sys.argv[1])
from index.cite.lookup import lookup
from index.store.store import IndexStore

class Query:  # the question vector, computed once by the parent (no model in the timing)
    def __init__(self, vec): self.vec = vec
    def encode_query(self, text): return self.vec

proc = psutil.Process()
private = lambda: proc.memory_info().rss - proc.memory_info().shared  # less file-backed pages
store = IndexStore(sys.argv[2])
store.bm25
texts = json.loads(sys.argv[4])
emb = Query(np.load(sys.argv[3]))
def hwm():  # peak RSS (VmHWM) since the last reset
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

rss0, priv0 = proc.memory_info().rss, private()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM to the RSS now: the peak below is the lookups'
times, kinds = [], []
for text in texts:
    t = time.perf_counter(); r = lookup(store, text, embedder=emb); times.append(time.perf_counter() - t)
    kinds.append(r.kind)
    for m in r.matches:
        assert store.article_by_id[m.article.id].body[m.start:m.end] == m.quote
print(json.dumps({"times": times, "kinds": kinds, "rss0": rss0, "peak": hwm(),
                  "private": private() - priv0}))
"""


def scale(n: int, runs: int, compare: str | None) -> None:
    """One close lookup on a synthetic index of ``n`` passages: time and memory."""
    import json
    import shutil

    import bm25s
    import numpy as np
    from common import machine as machine_line
    from common import median, report, unit
    from scale_writer import synth

    from index.corpus.articles import load_corpus
    from index.corpus.passages import make_passages
    from index.embed.sbert import indexing_embedder
    from index.store.writer import BuildData, write_generation

    work = Path(tempfile.mkdtemp(prefix="citebot-cite-scale-"))
    try:
        codes = {"this tree": ROOT}
        if compare:
            old = work / "old"
            old.mkdir()
            tar = subprocess.run(["git", "-C", str(ROOT), "archive", compare],
                                 check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(old)], input=tar, check=True)
            codes = {compare: old, **codes}
        embedder = indexing_embedder(None)
        texts = [a.body[s:e] for a in load_corpus(ROOT / "corpus") for p in make_passages(a)
                 for s, e in [(p.start, p.end), *p.sentences]]
        base = unit(embedder.encode(texts))
        t0 = time.perf_counter()
        articles, passages, tokens, pvecs, svecs = synth(n, base, np.random.default_rng(0))
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        index = work / "index"
        write_generation(index, BuildData(
            articles=articles, passages=passages, passage_vectors=pvecs,
            sentence_vectors=svecs, bm25=bm25,
            manifest={"model": "synthetic", "dim": int(pvecs.shape[1])}))
        build_s = time.perf_counter() - t0
        # Close lookups: a sentence of a random passage with one word changed (its vector is
        # the real model's vector of a seed sentence, as the index's are mixed from them).
        rng = np.random.default_rng(1)
        looks = []
        for i in rng.integers(0, n, 1 + runs):
            p = passages[int(i)]
            s, e = p.sentences[1]
            words = next(a for a in articles if a.id == p.article_id).body[s:e].split()
            words[len(words) // 2] = "zzqx"
            looks.append(" ".join(words))
        qpath = work / "q.npy"
        np.save(qpath, np.asarray(embedder.encode_query(texts[3]), dtype=np.float32))
        del articles, passages, tokens, pvecs, svecs, bm25
        out = {name: [] for name in codes}
        for _ in range(3):  # fresh processes, the codes alternated
            for name, code in codes.items():
                r = subprocess.run([sys.executable, "-c", SCALE_CHILD, str(code), str(index),
                                    str(qpath), json.dumps(looks)], capture_output=True,
                                   timeout=3600)
                if r.returncode:
                    raise SystemExit(r.stderr.decode()[-3000:])
                out[name].append(json.loads(r.stdout))
        print(f"machine: {machine_line()}\nsynthetic index of {n:,} passages "
              f"({3 * n:,} sentences) built and written in {build_s:.0f} s\n")
        rows = []
        for name, res in out.items():
            rows.append([name, median([x["times"][0] for x in res]) * 1e3,
                         median([t for x in res for t in x["times"][1:]]) * 1e3,
                         median([(x["peak"] - x["rss0"]) / 2**20 for x in res]),
                         median([x["private"] / 2**20 for x in res]),
                         ", ".join(sorted(set(k for x in res for k in x["kinds"])))])
        report(f"One close `cite` lookup, synthetic index of {n:,} passages",
               ["code", "first lookup ms", "later lookups ms (median)",
                "peak RSS during the lookups MB (over the loaded store)",
                "private MB kept after", "kinds"], rows,
               [f"3 fresh processes per code, alternated; each: 1 + {runs} lookups; medians."])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--scale", type=int, default=None, help="passages of a synthetic index")
    ap.add_argument("--compare", default=None, help="with --scale: git revision to compare")
    args = ap.parse_args()
    if args.scale:
        scale(args.scale, min(args.runs, 10), args.compare)
        return
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        if args.calibrate:
            calibrate(index_dir)
        else:
            timing(index_dir, args.runs)


if __name__ == "__main__":
    main()
