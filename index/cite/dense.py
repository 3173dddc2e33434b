"""The dense side of a close citation lookup, scored chunk by chunk.

The sentence vectors stay memory-mapped (float16 in new indexes): a float32 copy of them all
would be n * dim * 4 bytes (4.6 GB at 3M sentences). Instead, CHUNK rows at a time are read,
converted to float32 and scored, and only what the lookup needs is kept: the best ``k``
sentences, the best ``k`` adjacent pairs, and the scores of the rows asked for by name (the
sentences of the best BM25 passages). What stays per index is one float32 a pair (the pair
norms, n * 4 bytes).

Every score is bit-identical to scoring the whole matrix at once, whatever the chunk size:
rows are dotted with ``einsum`` rather than ``@``, because BLAS sums a row differently
depending on the rows around it (a chunk's last rows would differ in the last bit), einsum does
not. Ties are broken by the lower row, so the candidates do not depend on the chunking either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 16_384  # rows per chunk: 24 MB of float32 at 384 dims, within the CPU caches' reach
# Below this many bytes of float32 the vectors are copied once and kept: converting float16
# chunk by chunk costs ~2.5 ns an element on every lookup (100k passages: 276 -> 485 ms a
# lookup, benchmarks/bench_cite.py), a price only worth paying when a copy would be big.
RESIDENT_MAX = 512 * 2**20


def _chunk(chunk: int | None) -> int:
    return max(1, int(chunk or CHUNK))


def _float32(vecs, lo: int, hi: int) -> np.ndarray:
    return np.asarray(vecs[lo:hi], dtype=np.float32)


def resident(vecs) -> np.ndarray:
    """The vectors to score: a float32 copy when it stays under RESIDENT_MAX bytes, else the
    stored (memory-mapped) array, converted chunk by chunk."""
    if vecs.dtype == np.float32 or len(vecs) * vecs.shape[-1] * 4 > RESIDENT_MAX:
        return vecs
    return np.asarray(vecs, dtype=np.float32)


def pair_norms(vecs, chunk: int | None = None) -> np.ndarray:
    """|a + b| of every two adjacent sentence rows (unit vectors: sqrt(2 + 2 a.b)), float32;
    a pair's vector is the normalized sum of its sentences', so its cosine comes from theirs."""
    n, step = len(vecs), _chunk(chunk)
    dots = np.zeros(max(n - 1, 0), dtype=np.float32)
    for lo in range(0, n - 1, step):
        block = _float32(vecs, lo, min(n, lo + step + 1))  # one row more: the boundary pair
        dots[lo:lo + len(block) - 1] = np.einsum("ij,ij->i", block[:-1], block[1:])
    return np.sqrt(np.maximum(2.0 + 2.0 * dots, 1e-6)).astype(np.float32)


class _Best:
    """The best ``k`` (score, row) seen so far: higher score first, the lower row on ties."""

    def __init__(self, k: int):
        self.k = k
        self.scores = np.empty(0, dtype=np.float32)
        self.rows = np.empty(0, dtype=np.int64)

    def add(self, scores: np.ndarray, rows: np.ndarray) -> None:
        if self.k <= 0 or not len(scores):
            return
        if len(scores) > self.k:
            # argpartition's pick among equal scores is arbitrary: keep every row that ties
            # with the k-th best, the sort below takes the lowest of them.
            kth = scores[np.argpartition(-scores, self.k - 1)[self.k - 1]]
            keep = scores >= kth
            scores, rows = scores[keep], rows[keep]
        s = np.concatenate([self.scores, scores])
        r = np.concatenate([self.rows, rows])
        order = np.lexsort((r, -s))[:self.k]
        self.scores, self.rows = s[order], r[order]


@dataclass
class DenseScores:
    """The outcome of one pass: the best rows, and the score of every row kept."""

    singles: list[int]       # the k best sentence rows, best first
    pairs: list[int]         # the k best pairs (their first row), best first; pair_ok only
    single: dict[int, float]  # row -> cosine (np.float32) of the sentence
    pair: dict[int, float]    # row -> cosine (np.float32) of the pair (row, row + 1)


def _gather(out: dict, want: np.ndarray, lo: int, hi: int, values: np.ndarray) -> None:
    """out[row] = values[row - lo] for the wanted rows in [lo, hi)."""
    a, b = np.searchsorted(want, [lo, hi])
    for r in want[a:b].tolist():
        out[r] = values[r - lo]


def score(vecs, q: np.ndarray, pair_ok: np.ndarray, norms: np.ndarray, k: int,
          want_single=(), want_pair=(), chunk: int | None = None) -> DenseScores:
    """Cosines of ``q`` to every sentence and every pair (``pair_ok``) in one chunked pass."""
    n, step = len(vecs), _chunk(chunk)
    q = np.asarray(q, dtype=np.float32).reshape(-1)
    ws = np.unique(np.asarray(list(want_single), dtype=np.int64))
    wp = np.unique(np.asarray(list(want_pair), dtype=np.int64))
    best1, best2 = _Best(k), _Best(k)
    single: dict[int, float] = {}
    pair: dict[int, float] = {}
    prev = np.empty(0, dtype=np.float32)  # the previous chunk's last cosine: its pair's half
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        s = np.einsum("ij,j->i", _float32(vecs, lo, hi), q)
        best1.add(s, np.arange(lo, hi, dtype=np.int64))
        _gather(single, ws, lo, hi, s)
        # Pairs whose second row is in this chunk: first rows lo - 1 (if any) .. hi - 2.
        both = np.concatenate([prev, s])
        p_lo = lo - len(prev)
        p = (both[:-1] + both[1:]) / norms[p_lo:hi - 1]
        ok = pair_ok[p_lo:hi - 1]
        best2.add(p[ok], np.arange(p_lo, hi - 1, dtype=np.int64)[ok])
        _gather(pair, wp, p_lo, hi - 1, p)
        prev = s[-1:]
    for r, v in zip(best1.rows.tolist(), best1.scores):
        single[r] = v
    for r, v in zip(best2.rows.tolist(), best2.scores):
        pair[r] = v
    return DenseScores(best1.rows.tolist(), best2.rows.tolist(), single, pair)
