"""Archive-size dense search (index/store/archive.py): build, load, memory, latency and recall@10 at
millions of passages, with synthetic vectors made and indexed chunk by chunk.

    python benchmarks/bench_archive.py [--sizes 1000000,10000000] [--queries 200]

Vectors (384-dim, unit length) are CLUSTERED, not uniform noise, so that nearest neighbours mean
something: topics (random directions), about 100 subtopics per topic (cosine ~0.78 to their
topic), about 50 passages per subtopic (cosine ~0.89 to their subtopic; two passages of one
subtopic ~0.8, of one topic ~0.5, of two topics ~0). Queries are new points of random subtopics,
a little noisier. Each chunk of 200,000 is made in float32, scored against the queries for the
exact ground truth (brute force, a running top-10), then written as float16 into the
``vectors.npy`` that the index re-ranks from: nothing of size n is ever held in float32.

The index is then built exactly as writer.write_generation builds an archive index
(archive.params_for, archive.build: trained on a sample, filled chunk by chunk) and a fresh
process opens it the way store.IndexStore does (memory-mapped FAISS file, memory-mapped vectors)
and answers the queries one at a time with one thread, sweeping nprobe and the re-rank depth.
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
from common import ROOT, median, merge_top10, percentile, report, unit

DIM, CHUNK, PER_SUB, SUBS_PER_TOPIC = 384, 200_000, 50, 100

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np, faiss, psutil
sys.path.insert(0, sys.argv[4])
from index.store import archive
faiss.omp_set_num_threads(1)  # one question at a time, as the bot answers
proc = psutil.Process()
mem = lambda: (proc.memory_info().rss, proc.memory_info().shared)
imports = time.perf_counter() - t0
rss0 = mem()
info = json.loads(sys.argv[3])
t = time.perf_counter()
index = faiss.read_index(sys.argv[1] + "/faiss.index", faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
archive.configure(index, info)
exact = np.load(sys.argv[1] + "/vectors.npy", mmap_mode="r")
load = time.perf_counter() - t
rss_load = mem()
Q = np.load(sys.argv[2])
t = time.perf_counter(); archive.search(index, exact, Q[0], 10); first = time.perf_counter() - t
out = {}
for nprobe in json.loads(sys.argv[5]):
    for depth in json.loads(sys.argv[6]):
        archive.configure(index, {**info, "nprobe": nprobe})
        ids, lat = [], []
        for q in Q:
            t = time.perf_counter(); i, _ = archive.search(index, exact, q, 10, depth)
            lat.append(time.perf_counter() - t); ids.append(i.tolist())
        out[f"{nprobe},{depth}"] = (ids, lat)
print(json.dumps({"imports": imports, "load": load, "first": first, "rss0": rss0,
                  "rss_load": rss_load, "rss_after": mem(), "runs": out}))
"""


class Clustered:
    """Topics > subtopics > passages (see the module docstring)."""

    def __init__(self, n: int, rng):
        self.rng = rng
        n_sub = max(100, n // PER_SUB)
        topics = unit(rng.standard_normal((max(1, n_sub // SUBS_PER_TOPIC), DIM), np.float32))
        t_of = rng.integers(0, len(topics), n_sub)
        self.subs = unit(topics[t_of] + 0.8 * rng.standard_normal((n_sub, DIM), np.float32)
                         / np.sqrt(DIM))

    def points(self, m: int, noise: float = 0.5) -> np.ndarray:
        s = self.rng.integers(0, len(self.subs), m)
        return unit(self.subs[s] + noise * self.rng.standard_normal((m, DIM), np.float32)
                    / np.sqrt(DIM))


def make_vectors(n: int, queries: np.ndarray, gen: Clustered, path: Path):
    """Write ``n`` float16 vectors to ``path`` in chunks; the exact top-10 of each query."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, DIM))
    best_s = np.full((len(queries), 10), -np.inf, np.float32)
    best_i = np.zeros((len(queries), 10), np.int64)
    for lo in range(0, n, CHUNK):
        block = gen.points(min(CHUNK, n - lo))
        s = queries @ block.T  # exact float32 scores of this chunk
        best_s, best_i = merge_top10(best_s, best_i, s, lo)
        out[lo:lo + len(block)] = block.astype(np.float16)
    out.flush()
    del out
    return best_i


def run_size(n: int, n_queries: int, nprobes, depths, work: Path, rng) -> dict:
    import faiss

    from index.store import archive

    folder = work / f"archive-{n}"
    folder.mkdir()
    t0 = time.perf_counter()
    gen = Clustered(n, rng)
    queries = gen.points(n_queries, noise=0.6)
    truth = make_vectors(n, queries, gen, folder / archive.VECTORS)
    gen_s = time.perf_counter() - t0
    del gen
    info = archive.params_for(n, DIM)
    exact = np.load(folder / archive.VECTORS, mmap_mode="r")
    stamps = []
    t0 = time.perf_counter()
    index = archive.build(exact, info, progress=lambda done, total: stamps.append(
        time.perf_counter()))
    build_s = time.perf_counter() - t0
    train_s = (stamps[0] - t0) - (stamps[1] - stamps[0] if len(stamps) > 1 else 0)
    t0 = time.perf_counter()
    faiss.write_index(index, str(folder / "faiss.index"))
    write_s = time.perf_counter() - t0
    del index, exact
    qpath = work / "queries.npy"
    np.save(qpath, queries)
    r = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(qpath), json.dumps(info),
                        str(ROOT), json.dumps(nprobes), json.dumps(depths)],
                       capture_output=True, timeout=7200)
    if r.returncode:
        raise SystemExit(r.stderr.decode()[-3000:])
    child = json.loads(r.stdout)

    def recall(ids):
        return float(np.mean([len(set(a) & set(t.tolist())) / 10 for a, t in zip(ids, truth)]))

    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    out = {"n": n, "info": info, "gen_s": gen_s, "train_s": train_s, "build_s": build_s,
           "write_s": write_s, "sizes": sizes,
           "sweep": {k: (recall(ids), median(lat), percentile(lat, 99))
                     for k, (ids, lat) in child["runs"].items()}}
    out.update({k: child[k] for k in ("imports", "load", "first", "rss0", "rss_load",
                                      "rss_after")})
    shutil.rmtree(folder, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--nprobes", default="16,32,64,128")
    ap.add_argument("--depths", default="64,256")
    ap.add_argument("--workdir", default=None, help="where the indexes go (8.3 GB at 10M)")
    args = ap.parse_args()
    t_all = time.perf_counter()
    rng = np.random.default_rng(0)
    nprobes = [int(x) for x in args.nprobes.split(",")]
    depths = [int(x) for x in args.depths.split(",")]
    work = Path(tempfile.mkdtemp(prefix="citebot-archive-", dir=args.workdir))
    results = []
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            results.append(run_size(n, args.queries, nprobes, depths, work, rng))
            print(json.dumps({k: v for k, v in results[-1].items()}), file=sys.stderr,
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ms, mb = 1e3, 2**20
    rows = []
    for r in results:
        default = r["sweep"].get(f"{r['info']['nprobe']},{r['info']['rerank']}")
        rows.append([f"{r['n']:,}", f"IVF{r['info']['nlist']},PQ{r['info']['pq_m']}",
                     r["gen_s"], r["train_s"], r["build_s"], r["sizes"]["faiss.index"] / mb,
                     r["sizes"]["vectors.npy"] / mb, r["load"] * ms, r["first"] * ms,
                     *(default and (default[1] * ms, default[2] * ms, default[0]) or ("",) * 3),
                     (r["rss_load"][0] - r["rss0"][0]) / mb,
                     (r["rss_after"][0] - r["rss0"][0]) / mb,
                     ((r["rss_after"][0] - r["rss_after"][1]) - (r["rss0"][0] - r["rss0"][1]))
                     / mb])
    report("Archive index: synthetic clustered vectors (see bench_archive.py), one query at a "
           "time, one thread",
           ["passages", "index", "make vectors + truth s", "train s", "train + add s",
            "faiss.index MB", "vectors.npy MB", "load ms", "first search ms",
            "search p50 ms", "search p99 ms", "recall@10", "RSS after load MB",
            "RSS after queries MB", "private MB after queries"], rows,
           [f"{args.queries} queries; recall@10 against exact float32 search over all vectors; "
            "search = IVF-PQ candidates re-ranked by the float16 vectors (archive.search) at "
            "the default nprobe and depth (archive.NPROBE, archive.RERANK_DEPTH).",
            "RSS over a bare interpreter with the same imports; private = RSS less file-backed "
            "pages (those are page cache, shared, reclaimable)."])
    report("Archive index: nprobe x re-rank depth",
           ["passages", "nprobe", "depth", "recall@10", "p50 ms", "p99 ms"],
           [[f"{r['n']:,}", *k.split(","), v[0], v[1] * ms, v[2] * ms]
            for r in results for k, v in r["sweep"].items()])
    print(f"(benchmark took {time.perf_counter() - t_all:.0f} s)")


if __name__ == "__main__":
    main()
