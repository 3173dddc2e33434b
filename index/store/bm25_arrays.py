"""The BM25 index of a generation, read without bm25s (moved out of store.py unchanged)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .bm25_impact import Impacts


class Bm25Arrays:
    """A BM25 index as bm25s saves it, read without importing bm25s (which pulls in scipy: 0.2 s
    on every one-shot question): one column of precomputed scores per term, memory-mapped.
    ``vocab_dict`` and ``scores`` have bm25s's names and meaning."""

    METHODS = ("lucene", "robertson", "atire")  # those without a non-occurrence array

    def __init__(self, folder: Path):
        folder = Path(folder)
        params = _load_json(folder / "params.index.json")
        if params.get("method") not in self.METHODS:
            raise ValueError(f"BM25 method {params.get('method')!r} is not supported")
        self.vocab_dict = _load_json(folder / "vocab.index.json")
        # Plain arrays over the memory maps (np.memmap indexes slowly: see table.py).
        self.scores = {name: np.load(folder / f"{name}.csc.index.npy", mmap_mode="r").view(
            np.ndarray) for name in ("data", "indices", "indptr")}
        self.scores["num_docs"] = int(params["num_docs"])
        # bm25s adds an empty-string term with no column: one column per other term.
        if len(self.scores["indptr"]) - 1 not in (len(self.vocab_dict), len(self.vocab_dict) - 1):
            raise ValueError("BM25 vocabulary and score columns disagree")
        # The long lists' impact prefixes (bm25_impact.py), where the build wrote them.
        self.impacts = Impacts.load(folder)


def compact(folder: Path, num_docs: int) -> None:
    """Store the posting lists' passage rows in uint16 when every row fits (up to 65,536
    passages): bm25s writes int32, so this halves the file (2.4 MB of the news dev index).
    Readers get int32 rows either way (store.IndexStore._postings)."""
    path = Path(folder) / "indices.csc.index.npy"
    if num_docs > 1 << 16:
        return
    rows = np.load(path)
    if rows.dtype != np.uint16 and (not len(rows) or int(rows.min()) >= 0):
        np.save(path, rows.astype(np.uint16))


def _load_json(path: Path):
    try:
        import orjson  # a million-term vocabulary loads 3x faster
    except ImportError:  # pragma: no cover
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    with open(path, "rb") as fh:
        return orjson.loads(fh.read())


class DocFreq(Mapping):
    """Passage frequency of a BM25 term, read off the BM25 index (one posting list per term)."""

    def __init__(self, store):  # an IndexStore (store.py)
        self._store = store

    def __getitem__(self, term: str) -> int:
        bm25 = self._store.bm25
        tid = bm25.vocab_dict[term]
        indptr = bm25.scores["indptr"]
        return int(indptr[tid + 1] - indptr[tid]) if tid + 1 < len(indptr) else 0

    def __iter__(self):
        return (t for t in self._store.bm25.vocab_dict if t not in ("", "\x00"))

    def __len__(self) -> int:
        return sum(1 for _ in self)
