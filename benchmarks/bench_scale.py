"""Scale: build, load, search and memory at 10,000 / 100,000 / 1,000,000 passages.

    python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--questions 500]

The corpus is SYNTHETIC (nobody has a million embedded news passages lying around, and
embedding them here would take hours): ten paragraphs per article, three sentences of twenty
words per paragraph drawn from a Zipf-distributed vocabulary of 50,000 words, and vectors made
from the real model's vectors of the SQuAD subset texts (each passage: a random mix of three
real vectors plus Gaussian noise; each sentence: its passage's vector plus noise), so that they
cluster like real embeddings rather than spreading uniformly. Dense queries are the real
model's vectors of real questions; BM25 queries are four words of a random passage.

Each size is written with citebot's own writer (writer.write_generation: FAISS index chosen by
size, passage table, BM25 by bm25s, checksums), all of it in memory (20.6 GB at 2M passages);
an archive index (above archive.ARCHIVE_ABOVE, or --index-type archive) is written chunk by
chunk instead, the same files (scale_writer.py; check_scale_writer.py compares the two), in a
few GB at 10M passages (``--writer``: either way). Then a fresh process opens it with
store.IndexStore and searches: FAISS top-10 (recall@10 against exact search), BM25 top-10
(store.bm25_top), the whole hybrid ranking + quote selection (search.Searcher), `source` and
`cite` (cite.source.source_view, cite.lookup without a model). At 1M: about
10 minutes on 2 cores, 10 GB of memory at peak, 8 GB of disk in a temporary folder (removed).

``--keep DIR`` keeps the indexes (and their queries and build figures) in DIR, and a later run
with the same DIR searches them again instead of building them; ``--compare ROOT --rounds R``
also times the hybrid ask with another checkout's code (e.g. ``git worktree add /tmp/old
HEAD~3``), R searching processes per tree, alternated.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scale_writer
from common import ROOT, median, percentile, report, squad_articles

EF_SWEEP = (64, 128, 256, 384, 512)
WARM = False  # --warm
WRITER = "auto"  # --writer

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
sys.path.insert(0, sys.argv[5])
from index.store.store import IndexStore
from index.search.searcher import Searcher
import psutil
proc = psutil.Process()
imports = time.perf_counter() - t0
mem = lambda: (proc.memory_info().rss, proc.memory_info().shared)  # shared: file-backed
rss0 = mem()
t = time.perf_counter(); store = IndexStore(sys.argv[1]); load = time.perf_counter() - t
t = time.perf_counter(); store.bm25; bm25_load = time.perf_counter() - t
rss_load = mem()
Q = np.load(sys.argv[2]); bq = json.load(open(sys.argv[3])); efs = json.loads(sys.argv[4])

def dense(queries):
    ids, lat = [], []
    for q in queries:
        t = time.perf_counter(); i, _ = store.dense_search(q, 10); lat.append(time.perf_counter() - t)
        ids.append(i.tolist())
    return ids, lat

t = time.perf_counter(); store.dense_search(Q[0], 10); first = time.perf_counter() - t
ids, lat = dense(Q)
bl = []
for toks in bq:
    t = time.perf_counter(); store.bm25_top(toks, 10); bl.append(time.perf_counter() - t)
searcher = Searcher(store, None)
warm = None
if sys.argv[6] == "1" and hasattr(store, "warm"):  # as the bot and the prompt do at start
    t = time.perf_counter(); thread = store.warm()
    if thread is not None:
        thread.join()
        warm = time.perf_counter() - t
# The first answer also reads every article's date once (Searcher.days): timed apart, on a
# question outside the timed ones.
text = " ".join(bq[-1])
t = time.perf_counter(); searcher.answer_from(text, text, Q[-1], bq[-1]); h_first = time.perf_counter() - t
hl, hc, b_new, b_old = [], [], [], []
cands = searcher.params.candidates
for q, toks in list(zip(Q, bq))[:100]:
    text = " ".join(toks)
    t, c = time.perf_counter(), time.thread_time()
    a = searcher.answer_from(text, text, q, toks)
    hl.append(time.perf_counter() - t); hc.append(time.thread_time() - c)
    for c in a.citations:  # the promise holds at any size
        assert store.article_by_id[c.article.id].body[c.start:c.end] == c.quote
    # The BM25 step of the ranking, now and before (full score array), alternated.
    d_idx, _ = store.dense_search(q, cands)
    t = time.perf_counter(); store.bm25_top(toks, cands, also=d_idx); b_new.append(time.perf_counter() - t)
    t = time.perf_counter()
    bm = store.bm25_scores(toks); hits = np.flatnonzero(bm)
    if len(hits) > cands:
        hits = hits[np.argpartition(-bm[hits], cands - 1)[:cands]]
    hits = hits[np.argsort(-bm[hits], kind="stable")]; bm[d_idx]
    b_old.append(time.perf_counter() - t)
# `citebot source` and `citebot cite` in-process: a passage id or a character range, and an
# exact sentence (the first lookup also reads every article once: timed apart), then the same
# sentence with one word changed (no model: the lexical close lookup).
from index.cite.lookup import lookup
try:
    from index.cite.source import source_view
except ImportError:  # a tree from before it moved out of engine.py (--compare)
    from index.engine import source_view
pick = np.random.default_rng(1).integers(0, len(store.passages), 101).tolist()
src, cit, close, kinds, cite_first = [], [], [], {}, None
for j, r in enumerate(pick):
    p = store.passages[r]
    body = store.article_by_id[p.article_id].body
    cid = p.id if j % 2 else f"{p.article_id}:{p.start}-{p.end}"
    t = time.perf_counter(); v = source_view(store, cid); src.append(time.perf_counter() - t)
    assert v.text == body[v.start:v.end]
    s, e = p.sentences[j % len(p.sentences)]
    t = time.perf_counter(); res = lookup(store, body[s:e]); took = time.perf_counter() - t
    assert res.kind == "exact" and all(m.quote == body[m.start:m.end] for m in res.matches)
    if cite_first is None:
        cite_first = took
    else:
        cit.append(took)
    ws = body[s:e].split()
    ws[len(ws) // 2] = "zzqx"
    t = time.perf_counter(); res = lookup(store, " ".join(ws)); close.append(time.perf_counter() - t)
    kinds[res.kind] = kinds.get(res.kind, 0) + 1
rss_after = mem()
sweep = {}
if store.manifest["index_type"] == "hnsw":
    default_ef = store.faiss.hnsw.efSearch
    for ef in efs:
        store.faiss.hnsw.efSearch = ef
        sweep[ef] = dense(Q)
    store.faiss.hnsw.efSearch = default_ef
print(json.dumps({"imports": imports, "load": load, "bm25_load": bm25_load, "first": first,
                  "ids": ids, "lat": lat, "bm25": bl, "hybrid": hl, "hybrid_cpu": hc,
                  "hybrid_first": h_first, "rss0": rss0, "warm": warm,
                  "rank_bm25_new": b_new, "rank_bm25_old": b_old,
                  "source": src, "cite": cit, "cite_close": close, "cite_first": cite_first,
                  "close_kinds": kinds,
                  "rss_load": rss_load, "rss_after": rss_after, "sweep": sweep,
                  "index_type": store.manifest["index_type"]}))
"""


def base_vectors():
    """Real vectors of the SQuAD subset's passages and sentences, and of its questions."""
    from index.corpus.passages import make_passages
    from index.embed.sbert import indexing_embedder

    articles, questions = squad_articles()
    texts = [a.body[s:e] for a in articles for p in make_passages(a) for s, e in
             [(p.start, p.end), *p.sentences]]
    embedder = indexing_embedder(None)
    return embedder.encode(texts), embedder.encode([q for q, _, _ in questions])


def run_size(n: int, vectors, work: Path, rng,
             index_type: str | None = None, keep: bool = False, codes=(ROOT,),
             rounds: int = 1) -> dict:
    """Build (or, with ``keep``, reuse) the index of ``n`` passages and measure it."""
    index = work / f"index-{n}"
    saved = work / f"build-{n}.json"
    if keep and saved.is_file() and index.is_dir():  # built by an earlier --keep run
        out = json.loads(saved.read_text())
        return _measure(out, index, work, codes, rounds)
    base, questions = vectors()  # the real vectors: only a build needs them
    out = _build(n, base, questions, work, rng, index_type)
    if keep:
        saved.write_text(json.dumps(out))
    try:
        return _measure(out, index, work, codes, rounds)
    finally:
        if not keep:
            shutil.rmtree(index, ignore_errors=True)


def _build(n: int, base: np.ndarray, questions: np.ndarray, work: Path, rng,
           index_type: str | None) -> dict:
    """Write the synthetic index of ``n`` passages and its queries into ``work``; the build
    figures, and the exact search's recall truth and timing. An archive index is written chunk
    by chunk (scale_writer.build_chunked: 10M passages in a few GB), the others in memory with
    bm25s and writer.write_generation (--writer: either way)."""
    from index.store.writer import choose_index_type

    chunked = WRITER == "chunked" or (
        WRITER == "auto" and (index_type or choose_index_type(n)) == "archive")
    build = scale_writer.build_chunked if chunked else scale_writer.build_in_memory
    out, bq = build(work / f"index-{n}", n, base, questions, rng, index_type,
                    scratch=work / f"scratch-{n}")
    np.save(work / f"q-{n}.npy", questions)
    (work / f"bq-{n}.json").write_text(json.dumps(bq))
    return out


def _child(index: Path, work: Path, n: int, code: Path) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, str(index), str(work / f"q-{n}.npy"),
                        str(work / f"bq-{n}.json"), json.dumps(list(EF_SWEEP)), str(code),
                        "1" if WARM else "0"],
                       capture_output=True, timeout=3600)
    if r.returncode:
        raise SystemExit(r.stderr.decode()[-3000:])
    return json.loads(r.stdout)


def _measure(built: dict, index: Path, work: Path, codes, rounds: int) -> dict:
    """Search the index in fresh processes: ``rounds`` times with each code tree in
    ``codes`` (the first is the one reported; the others' hybrid asks are compared with it,
    the runs alternated)."""
    n, truth = built["n"], built["truth"]
    runs = {str(c): [] for c in codes}
    for _ in range(rounds):
        for c in codes:
            runs[str(c)].append(_child(index, work, n, Path(c)))
    child = runs[str(codes[0])][0]

    def recall(ids):
        return float(np.mean([len(set(a) & set(t)) / 10 for a, t in zip(ids, truth)]))

    out = {k: v for k, v in built.items() if k != "truth"}
    out.update({"recall": recall(child["ids"]), "questions": len(child["ids"]),
                "sweep": {int(ef): (recall(ids), median(lt), percentile(lt, 99))
                          for ef, (ids, lt) in child["sweep"].items()}})
    out.update({k: child[k] for k in ("imports", "load", "bm25_load", "first", "rss0",
                                      "rss_load", "rss_after", "index_type", "cite_first",
                                      "close_kinds", "hybrid_first", "warm")})
    for k in ("lat", "bm25", "hybrid", "source", "cite", "cite_close", "rank_bm25_new",
              "rank_bm25_old"):
        out[k] = (median(child[k]), percentile(child[k], 99))
    # Each code tree's hybrid asks, every round: (p50, p99) per round.
    out["hybrid_by_code"] = {c: [(median(r["hybrid"]), percentile(r["hybrid"], 99),
                                  r["hybrid_first"], median(r["hybrid_cpu"]),
                                  percentile(r["hybrid_cpu"], 99)) for r in rs]
                             for c, rs in runs.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--questions", type=int, default=500)
    ap.add_argument("--workdir", default=None, help="where the indexes are written (~8 GB)")
    ap.add_argument("--index-type", default=None, choices=["flat", "hnsw", "archive"],
                    help="FAISS index type instead of the choice by size")
    ap.add_argument("--keep", default=None, metavar="DIR",
                    help="write the indexes into DIR and keep them; an index already there "
                         "(from an earlier --keep run) is searched again, not rebuilt")
    ap.add_argument("--compare", default=None, metavar="ROOT",
                    help="another checkout of citebot: its hybrid asks are timed too, the two "
                         "trees' child processes alternated (--rounds each)")
    ap.add_argument("--rounds", type=int, default=1, help="searching processes per tree")
    ap.add_argument("--writer", default="auto", choices=["auto", "memory", "chunked"],
                    help="how an index is written: auto (chunked for an archive index, "
                         "scale_writer.py), all in memory (bm25s + writer.write_generation) or "
                         "chunked")
    ap.add_argument("--warm", action="store_true",
                    help="map the index in before the timed questions (IndexStore.warm, as "
                         "the bot and the prompt do; a tree without it is not warmed)")
    args = ap.parse_args()
    global WARM, WRITER
    WARM, WRITER = args.warm, args.writer
    t_all = time.perf_counter()
    vectors = []

    def base():  # the real model's vectors, computed once and only if an index is built
        if not vectors:
            b, q = base_vectors()
            vectors.append((b, q[: args.questions]))
        return vectors[0]

    rng = np.random.default_rng(0)
    if args.keep:
        work = Path(args.keep)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="citebot-scale-", dir=args.workdir))
    codes = (ROOT, Path(args.compare).resolve()) if args.compare else (ROOT,)
    results = []
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            results.append(run_size(n, base, work, rng, args.index_type,
                                    keep=bool(args.keep), codes=codes,
                                    rounds=max(1, args.rounds)))
            print(json.dumps({k: v for k, v in results[-1].items() if k != "sweep"}),
                  file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    ms = 1e3
    rows = [[f"{r['n']:,}", r["index_type"], r["bm25_s"], r["write_s"], r["verify_s"],
             r["load"], r["bm25_load"], r["first"] * ms, r["lat"][0] * ms, r["lat"][1] * ms,
             r["recall"], r["exact_p50"] * ms, r["bm25"][0] * ms, r["bm25"][1] * ms,
             r["hybrid"][0] * ms, r["hybrid"][1] * ms, r["hybrid_first"] * ms,
             (r["rss_load"][0] - r["rss0"][0]) / 2**20,
             (r["rss_after"][0] - r["rss0"][0]) / 2**20,
             ((r["rss_after"][0] - r["rss_after"][1]) - (r["rss0"][0] - r["rss0"][1])) / r["n"],
             r["disk"] / r["n"]] for r in results]
    report("Scale: synthetic passages (see bench_scale.py), one question at a time",
           ["passages", "FAISS", "BM25 build s", "write s (FAISS + files + sha256)",
            "full verify s", "load s", "BM25 load s", "first search ms", "dense p50 ms",
            "dense p99 ms", "recall@10", "exact p50 ms", "BM25 p50 ms", "BM25 p99 ms",
            "hybrid ask p50 ms", "hybrid ask p99 ms", "first hybrid ask ms", "RSS after load MB",
            "RSS after queries MB", "private memory per passage B", "disk per passage B"], rows,
           [f"{results[0]['questions'] if results else 0} real questions (dense), as many "
            "4-word BM25 queries; hybrid: "
            "the first 100, full ranking and quote selection (search.Searcher.answer_from), "
            "after a first one timed apart (it also reads every article's date).",
            "load = IndexStore() in a fresh process: manifest, sizes, sha256 of files up to "
            "128 MiB, stat stamps of larger ones, memory maps; full verify = every sha256.",
            "RSS (over a bare interpreter with the same imports) counts the pages of "
            "memory-mapped files that searching touched (page cache, shared, reclaimable); "
            "private = RSS less those file-backed pages, per passage, after all queries.",
            "exact p50 = IndexFlatIP over the same vectors, one thread: why HNSW above "
            "writer.FLAT_MAX passages (a chunked build: over each chunk, added up)."])
    chunked = [r for r in results if r.get("phases")]
    if chunked:
        report("Scale: the chunked build (scale_writer.build_chunked), phase by phase",
               ["passages", "make passages s", "append to files s", "recall truth s",
                "BM25 s", "FAISS train s", "FAISS train + add s", "fsync + sha256 s",
                "full verify s", "peak RSS GB", "BM25 pairs"],
               [[f"{r['n']:,}", *(r["phases"][k] for k in (
                   "generate_s", "append_s", "truth_s", "bm25_s", "faiss_train_s",
                   "faiss_build_s", "seal_s")), r["verify_s"], r["peak_rss_gb"],
                 f"{r['phases']['bm25_pairs']:,}"] for r in chunked],
               ["peak RSS: the building process's, the model that made the base vectors "
                "included (ru_maxrss)."])
    report("Scale: the BM25 step of a question's ranking, before and after issue #12",
           ["passages", "bm25_top + dense candidates' scores p50 ms", "p99 ms",
            "full score array (before) p50 ms", "p99 ms"],
           [[f"{r['n']:,}", r["rank_bm25_new"][0] * ms, r["rank_bm25_new"][1] * ms,
             r["rank_bm25_old"][0] * ms, r["rank_bm25_old"][1] * ms] for r in results],
           ["The same 100 questions, the two alternated in one process."])
    report("Scale: `source` and `cite` in-process (index.cite.source.source_view, "
           "index.cite.lookup.lookup without a model)",
           ["passages", "source p50 ms", "source p99 ms", "cite exact p50 ms",
            "cite exact p99 ms", "first cite ms", "cite close (lexical) p50 ms",
            "cite close (lexical) p99 ms", "close outcomes"],
           [[f"{r['n']:,}", r["source"][0] * ms, r["source"][1] * ms, r["cite"][0] * ms,
             r["cite"][1] * ms, r["cite_first"] * ms, r["cite_close"][0] * ms,
             r["cite_close"][1] * ms,
             ", ".join(f"{k} {v}" for k, v in sorted(r["close_kinds"].items()))]
            for r in results],
           ["100 random passages: `source` by id and by character range alternately; `cite` "
            "of one of their sentences (exact), then of it with one word changed.",
            "first cite: the first lookup on a just-loaded index also reads every article "
            "once (which ones hold characters that normalize into other letters)."])
    sweep_rows = [[f"{r['n']:,}", ef, *vals[:1], vals[1] * ms, vals[2] * ms]
                  for r in results for ef, vals in sorted(r["sweep"].items())]
    if sweep_rows:
        report("HNSW efSearch sweep (M and efConstruction as in store.HNSW)",
               ["passages", "efSearch", "recall@10", "p50 ms", "p99 ms"], sweep_rows)
    if args.compare:
        by = [(r["n"], r["hybrid_by_code"]) for r in results]

        def mid(rs, j):
            return median([x[j] for x in rs]) * ms

        report(f"Scale: the hybrid ask, this tree vs {args.compare} (medians of "
               f"{max(1, args.rounds)} alternated processes each)",
               ["passages", *(f"{who} {what}" for who in ("this", "other") for what in (
                   "p50 ms", "p99 ms", "first ms", "CPU p50 ms", "CPU p99 ms"))],
               [[f"{n:,}", *(mid(h[str(c)], j) for c in codes for j in range(5))]
                for n, h in by],
               ["CPU: the asking thread's CPU time (time.thread_time): what a busy machine's "
                "waits for a core leave out.",
                *(["--warm: this tree mapped the index in before its questions (IndexStore."
                   "warm, as the bot and the prompt do at start) in "
                   + ", ".join(f"{r['warm']:.2f} s" for r in results if r.get("warm"))]
                  if args.warm else [])])
    print(f"(benchmark took {time.perf_counter() - t_all:.0f} s)")


if __name__ == "__main__":
    main()
