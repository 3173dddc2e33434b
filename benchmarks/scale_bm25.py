"""A BM25 index in bm25s's files, written without bm25s from passages seen a chunk at a time
(scale_writer.py: bm25s needs every passage's tokens, and its arrays, in memory at once; at 10
million passages that does not fit in 24 GB).

The files and the scores are the ones ``bm25s.BM25().index(tokens)`` then ``.save(folder)`` write
with bm25s's defaults (method and idf "lucene", k1 1.5, b 0.75, float32 scores, int32 rows), which
is what writer.write_generation stores and store.Bm25Arrays reads:

    idf(t)      = float32(log(1 + (N - df + 0.5) / (df + 0.5)))
    score(t, d) = float32(idf(t) * tf / (k1 * ((1 - b) + b * len(d) / mean len) + tf)), in float64
    data, indices, indptr = the CSC matrix passages x terms: one column per term, its passages'
                  rows ascending; vocab.index.json maps each term to its column, and the empty
                  string to one past the last (bm25s adds it; it has no column)

Only the term ids differ: bm25s numbers terms in the order of a Python set, this writer by word
id. Pass 1 (``add``, during generation) counts each term's passages and keeps the word ids in a
scratch file; pass 2 (``write``) reads them back a chunk at a time and scatters each chunk's
scores into the term-major arrays (a counting sort: passages arrive in order, so each column's
rows stay ascending). Memory: 8 bytes per (passage, distinct term) pair, ~4 GB at 10M passages.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

K1, B, METHOD = 1.5, 0.75, "lucene"


def pairs(words: np.ndarray):
    """(doc, term, tf) of a block of passages' word ids ``(m, length)``: passage by passage,
    terms ascending within one."""
    s = np.sort(words, axis=1)
    new = np.ones(s.shape, dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    flat = np.flatnonzero(new)  # where each run of one term starts (a row always starts one)
    return flat // s.shape[1], s.ravel()[flat], np.diff(np.append(flat, s.size))


class ChunkedBm25:
    """BM25 of ``n`` passages of ``length`` word ids each (< ``vocab``), added in order."""

    def __init__(self, n: int, length: int, vocab: int, scratch: Path, names):
        from index.store.table import NpyAppender

        self.n, self.length, self.vocab, self.names = n, length, vocab, names
        self.words_path = Path(scratch) / "words.npy"
        dtype = np.uint16 if vocab <= 1 << 16 else np.int32
        self._words = NpyAppender(self.words_path, dtype, (n, length))
        self.df = np.zeros(vocab, dtype=np.int64)

    def add(self, words: np.ndarray) -> None:
        """The next passages' word ids, ``(m, length)``."""
        words = words.reshape(len(words), self.length)
        self._words.append(words)
        _, terms, _ = pairs(words)
        self.df += np.bincount(terms, minlength=self.vocab)

    def finish_adding(self) -> None:
        self._words.close()

    def words(self, rows) -> np.ndarray:
        """Word ids of some passages (the BM25 queries are drawn from them)."""
        return np.array(np.load(self.words_path, mmap_mode="r")[rows])

    def write(self, folder: Path, chunk: int = 200_000) -> int:
        """Write the bm25s files into ``folder``; the number of (passage, term) entries."""
        from index.store.bm25_arrays import compact, write_impacts

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        seen = np.flatnonzero(self.df)
        tid = np.full(self.vocab, -1, dtype=np.int64)
        tid[seen] = np.arange(len(seen))
        df = self.df[seen]
        indptr = np.zeros(len(seen) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        nnz = int(indptr[-1])
        # bm25s: math.log of Python numbers, stored as float32
        idf = np.array([math.log(1 + (self.n - d + 0.5) / (d + 0.5)) for d in df.tolist()],
                       dtype=np.float32).astype(np.float64)
        avg_len = np.float64(self.n * self.length) / self.n  # bm25s: the mean of the lengths
        # bm25s's float64 arithmetic, in its order (one length: one denominator constant)
        k = K1 * ((1 - B) + B * self.length / avg_len)
        data = np.empty(nnz, dtype=np.float32)
        indices = np.empty(nnz, dtype=np.int32)
        heads = indptr[:-1].copy()
        for lo in range(0, self.n, chunk):
            docs, terms, tf = pairs(self.words(slice(lo, lo + chunk)).astype(np.int64))
            t = tid[terms]
            order = np.argsort(t, kind="stable")  # term-major, passages still in order
            t, docs, tf = t[order], docs[order] + lo, tf[order].astype(np.float64)
            counts = np.bincount(t, minlength=len(seen))
            first = np.cumsum(counts) - counts
            pos = heads[t] + np.arange(len(t)) - first[t]
            data[pos] = idf[t] * (tf / (k + tf))
            indices[pos] = docs
            heads += counts
        if not np.array_equal(heads, indptr[1:]):
            raise AssertionError("BM25 postings miscounted")
        np.save(folder / "data.csc.index.npy", data)
        np.save(folder / "indices.csc.index.npy", indices)
        np.save(folder / "indptr.csc.index.npy", indptr)
        del data, indices
        vocab = {self.names(int(w)): i for i, w in enumerate(seen.tolist())}
        vocab[""] = len(seen)
        (folder / "vocab.index.json").write_text(
            json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        params = {"k1": K1, "b": B, "delta": 0.5, "method": METHOD, "idf_method": METHOD,
                  "dtype": "float32", "int_dtype": "int32", "num_docs": self.n,
                  "version": _bm25s_version(), "backend": "numpy"}
        with open(folder / "params.index.json", "w") as fh:
            json.dump(params, fh, indent=4)
        compact(folder, self.n)  # as writer.write_generation does after bm25s's save
        write_impacts(folder)
        return nnz


def _bm25s_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bm25s")  # the format written is this version's
    except PackageNotFoundError:
        return "0.3.16"
