"""Passage vectors in FAISS: float32 (before) against float16 (writer.PASSAGE_DTYPE), same run.

    python benchmarks/bench_vector_storage.py [--hnsw 100000] [--flat 20000] [--queries 300]

Synthetic unit vectors in clusters (dimension 384, like the default model's), queries near
stored vectors. For each size, the index citebot would build (exact up to writer.FLAT_MAX, HNSW
with store.HNSW's parameters above, efSearch as the store sets it) in both storages: file
size, add time, search latency p50/p99 of single questions on one thread (measured in turns:
float32 then float16, question by question), recall@10 against exact float32 search, and the
largest reconstruct error.
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.store.store import HNSW  # noqa: E402
from index.store.writer import HNSW_DEEP_ABOVE, HNSW_DEEP_EF  # noqa: E402

DIM = 384


def vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 200, 1), DIM)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal(
        (n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make(kind: str, storage: str):
    import faiss

    ip, fp16 = faiss.METRIC_INNER_PRODUCT, faiss.ScalarQuantizer.QT_fp16
    if kind == "flat":
        return faiss.IndexFlatIP(DIM) if storage == "float32" else \
            faiss.IndexScalarQuantizer(DIM, fp16, ip)
    index = faiss.IndexHNSWFlat(DIM, HNSW["M"], ip) if storage == "float32" else \
        faiss.IndexHNSWSQ(DIM, fp16, HNSW["M"], ip)
    index.hnsw.efConstruction = HNSW["efConstruction"]
    return index


def run(kind: str, n: int, n_queries: int, folder: Path) -> list[str]:
    import faiss

    x = vectors(n)
    rng = np.random.default_rng(1)
    q = x[rng.integers(0, n, n_queries)] + 0.3 * rng.standard_normal(
        (n_queries, DIM)).astype(np.float32) / np.sqrt(DIM)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
    built = {}
    for storage in ("float32", "float16"):
        index = make(kind, storage)
        t = time.perf_counter()
        index.add(x)
        add_s = time.perf_counter() - t
        path = folder / f"{kind}-{storage}.index"
        faiss.write_index(index, str(path))
        del index
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        if kind == "hnsw":
            index.hnsw.efSearch = HNSW_DEEP_EF if n > HNSW_DEEP_ABOVE else HNSW["efSearch"]
        err = float(np.abs(index.reconstruct_n(0, min(n, 5000)) - x[:5000]).max())
        built[storage] = {"index": index, "add_s": add_s, "bytes": path.stat().st_size,
                          "err": err, "ms": [], "hits": 0}
    faiss.omp_set_num_threads(1)
    for i in range(n_queries):
        for storage in ("float32", "float16"):
            b = built[storage]
            t = time.perf_counter()
            _, idx = b["index"].search(q[i:i + 1], 10)
            b["ms"].append((time.perf_counter() - t) * 1000)
            b["hits"] += len(set(idx[0].tolist()) & set(exact[i].tolist()))
    rows = []
    for storage, b in built.items():
        ms = np.array(b["ms"])
        rows.append(f"| {kind} | {n:,} | {storage} | {b['bytes'] / 1e6:.1f} | {b['add_s']:.1f} | "
                    f"{np.percentile(ms, 50):.3f} | {np.percentile(ms, 99):.3f} | "
                    f"{b['hits'] / (10 * n_queries):.3f} | {b['err']:.1e} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hnsw", type=int, default=100_000)
    ap.add_argument("--flat", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    print("| index | passages | vectors | file MB | add s | search p50 ms | p99 ms | "
          "recall@10 | max reconstruct error |\n|---|---:|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, n in (("flat", args.flat), ("hnsw", args.hnsw)):
            if n:
                print("\n".join(run(kind, n, args.queries, Path(tmp))), flush=True)
    with open("/proc/loadavg") as fh:
        print(f"\nload average at the end: {' '.join(fh.read().split()[:3])}")


if __name__ == "__main__":
    main()
