"""The BM25 index of a generation, read without bm25s, and its impact prefixes.

Impact prefixes: exact BM25 top-k without reading the longest posting lists in full
(archive-size indexes).

At 10 million passages a question's common words have posting lists of hundreds of thousands
of passages, and adding them all up was ~17 ms of a 40 ms answer (docs/benchmarks.md, "The
full answer at 10M"). Yet a common word scores little in any passage, so the best passages are
mostly settled by the rarer words. At build, every term with more than ``LONG`` postings also
gets its ``PREFIX`` highest-scoring postings (its *impact prefix*) and ``tau``, the best score
it gives any passage outside them. A question then adds up the short lists in full and only the
prefixes of the long ones; a passage outside a long term's prefix can gain at most that term's
``tau``, so once the k-th best score found is above what the unread tails could add to any
passage, the top k is known (after checking the few passages that could still reach it
against the full lists, binary search in each). When that bound does not settle it, the
caller adds up every list as before.

The result is the full computation's exactly: the same passages in the same order (best score
first, then the lowest row), the same float32 scores, each summed in the question's term order.
Indexes built without the prefix files are searched in full.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np


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
        # The long lists' impact prefixes (below), where the build wrote them.
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


# -- impact prefixes -----------------------------------------------------------------------
LONG = 65_536    # posting lists longer than this get an impact prefix
PREFIX = 16_384  # postings kept in a prefix (the best-scoring ones)
# Binary search of the candidates in a full list costs ~log2(its length) per candidate; past
# this share of the list's length, scattering the list into a buffer is quicker.
LOOKUP_SHARE = 1 / 16
FILES = ("terms", "indptr", "docs", "vals", "tau")  # impact.<name>.npy in the BM25 folder


def write_impacts(folder: Path, long: int = LONG, prefix: int = PREFIX) -> int:
    """Write the impact prefixes of the BM25 index in ``folder`` (bm25s's CSC files): for each
    term with more than ``long`` postings, its ``prefix`` best by score (ties: lowest rows),
    stored in row order, and the best score outside them. Nothing is written when no term is
    that long (small indexes stay as they were). The number of terms given a prefix."""
    if prefix > long:
        raise ValueError("an impact prefix must be shorter than the lists that get one")
    folder = Path(folder)
    data = np.load(folder / "data.csc.index.npy", mmap_mode="r")
    rows = np.load(folder / "indices.csc.index.npy", mmap_mode="r")
    indptr = np.load(folder / "indptr.csc.index.npy")
    lengths = np.diff(indptr)
    terms, docs, vals, tau = [], [], [], []
    for t in np.flatnonzero(lengths > long).tolist():
        v = np.asarray(data[indptr[t]:indptr[t + 1]])
        d = np.asarray(rows[indptr[t]:indptr[t + 1]])
        if len(d) > 1 and not bool((d[1:] > d[:-1]).all()):
            continue  # rows not ascending: lookups need them so; this term is read in full
        # the best ``prefix`` by (-score, row): everything above the cut value, then the
        # first (lowest) rows at it
        cut = np.partition(v, len(v) - prefix)[len(v) - prefix]
        above = np.flatnonzero(v > cut)
        at = np.flatnonzero(v == cut)[:prefix - len(above)]
        keep = np.sort(np.concatenate([above, at]))
        rest = np.ones(len(v), dtype=bool)
        rest[keep] = False
        terms.append(t)
        docs.append(d[keep].astype(np.int32))
        vals.append(v[keep].astype(np.float32))
        tau.append(float(v[rest].max()))
    if not terms:
        return 0
    ptr = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=ptr[1:])
    arrays = {"terms": np.array(terms, dtype=np.int64), "indptr": ptr,
              "docs": np.concatenate(docs), "vals": np.concatenate(vals),
              "tau": np.array(tau, dtype=np.float32)}
    for name in FILES:
        np.save(folder / f"impact.{name}.npy", arrays[name])
    return len(terms)


class Impacts:
    """The impact prefixes of a BM25 index (memory-mapped), or None from ``load`` when the
    index has none."""

    def __init__(self, arrays: dict):
        self.arrays = arrays
        self._where = {int(t): i for i, t in enumerate(arrays["terms"].tolist())}

    @classmethod
    def load(cls, folder: Path) -> Impacts | None:
        folder = Path(folder)
        if not (folder / "impact.terms.npy").exists():
            return None
        arrays = {name: np.load(folder / f"impact.{name}.npy", mmap_mode="r").view(np.ndarray)
                  for name in FILES}
        n = len(arrays["terms"])
        if len(arrays["indptr"]) != n + 1 or len(arrays["tau"]) != n or \
                len(arrays["docs"]) != len(arrays["vals"]) or \
                (n and int(arrays["indptr"][-1]) != len(arrays["docs"])):
            raise ValueError("BM25 impact prefixes are inconsistent")
        return cls(arrays)

    def prefix(self, term_id: int):
        """(rows ascending, scores, tau) of a term's prefix, or None when it has none."""
        i = self._where.get(int(term_id))
        if i is None:
            return None
        a = self.arrays
        lo, hi = int(a["indptr"][i]), int(a["indptr"][i + 1])
        return a["docs"][lo:hi], a["vals"][lo:hi], float(a["tau"][i])

    def mapped(self) -> list[np.ndarray]:
        return list(self.arrays.values())


def lookup(docs: np.ndarray, vals: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The scores of ``rows`` in one posting list (rows ascending), 0 where absent."""
    out = np.zeros(len(rows), dtype=np.float32)
    if not len(docs) or not len(rows):
        return out
    # In the list's own type: given int64 rows, numpy would copy the whole int32 list first.
    rows = np.asarray(rows).astype(docs.dtype, copy=False)
    pos = np.searchsorted(docs, rows)
    pos[pos == len(docs)] = 0
    hit = docs[pos] == rows
    out[hit] = vals[pos[hit]]
    return out


def exact_scores(lists, rows: np.ndarray) -> np.ndarray:
    """BM25 scores of ``rows``: float32, added in the lists' order as the full scatter adds
    them (adding 0 where a list lacks a row changes nothing), so the two agree bitwise."""
    acc = np.zeros(len(rows), dtype=np.float32)
    for docs, vals, _ in lists:
        acc += lookup(docs, vals, rows)
    return acc


def _resolve(docs, vals, pdocs, rows, scratch: np.ndarray) -> np.ndarray:
    """Each row's score in one posting list (0 where absent), or -1 where the row is in the
    list's prefix: by binary search for few rows, else by scattering the list into
    ``scratch`` (zeroed, and left zeroed)."""
    if len(rows) <= LOOKUP_SHARE * len(docs):
        got = lookup(docs, vals, rows)
        got[lookup(pdocs, np.ones(len(pdocs), dtype=np.float32), rows) > 0] = -1.0
        return got
    d, p = docs.astype(np.intp), pdocs.astype(np.intp)
    scratch[d] = vals
    scratch[p] = -1.0
    got = scratch[rows]
    scratch[d] = 0.0
    return got


def impact_top(lists, k: int, buf: np.ndarray, tbuf: np.ndarray,
               allowed: np.ndarray | None = None):
    """The k best rows by BM25 and their scores, as the full computation gives them, or None
    when the prefixes cannot settle them (the caller then adds up every list).

    ``lists``: one (rows ascending, scores, prefix or None) per query term occurrence, in the
    question's order; ``buf`` and ``tbuf``: zeroed float32 buffers of one slot per passage,
    left zeroed; ``allowed``: a boolean mask of the rows that may be returned."""
    long_terms = [i for i, (_, _, pre) in enumerate(lists) if pre is not None]
    if not long_terms or k <= 0:
        return None
    bound = float(sum(lists[i][2][2] for i in long_terms))  # what the unread tails may add
    written = []
    try:
        for docs, vals, pre in lists:
            if pre is None:
                d = docs.astype(np.intp)
                buf[d] += vals
            else:
                d = pre[0].astype(np.intp)
                buf[d] += pre[1]
                tbuf[d] += pre[2]  # tails this row cannot be in
            written.append(d)
        cat = np.concatenate(written)
        if allowed is not None:
            cat = cat[allowed[cat]]
        lb = buf[cat]  # what is known of each row's score: a lower bound
        m = k * len(lists)  # the best k*terms entries hold at least k distinct rows
        if len(cat) < k:
            return None
        top = np.argpartition(-lb, m - 1)[:m] if len(cat) > m else slice(None)
        seed = np.unique(cat[top])
        if len(seed) < k:
            return None
        # A lower bound of the k-th best score: the k-th best of these rows' exact scores.
        theta = float(np.partition(exact_scores(lists, seed), len(seed) - k)[len(seed) - k])
        eps = 1e-5 * max(1.0, abs(theta), bound)  # float32 sums in other orders
        if theta <= bound + eps:
            return None  # a row no prefix holds might still reach the top k
        high = lb + (bound - tbuf[cat])  # an upper bound
        near = high >= theta - eps
        cand, low, high = cat[near], lb[near].astype(np.float64), high[near]
        for i in long_terms:
            tbuf[written[i]] = 0.0  # tbuf is scratch from here on
        # One entry per row (a row is listed once per term that holds it; its bounds are the
        # same in each): the last position written for a row keeps it. No sort: ~10x quicker
        # than np.unique over the ~100k entries a question can have here.
        slot = tbuf.view(np.int32)
        at = np.arange(len(cand), dtype=np.int32)
        slot[cand] = at
        first = slot[cand] == at
        slot[cand] = 0
        cand, low, high = cand[first], low[first], high[first]
        # Read the long terms' full lists for the remaining candidates only, the term whose
        # tail may add most first, dropping candidates that can no longer reach theta.
        for i in sorted(long_terms, key=lambda i: -lists[i][2][2]):
            docs, vals, (pdocs, _, tau) = lists[i]
            got = _resolve(docs, vals, pdocs, cand, tbuf)
            out = got >= 0  # not in the prefix (whose scores ``low`` holds already)
            low[out] += got[out]
            high[out] += got[out] - tau
            keep = high >= theta - eps
            cand, low, high = cand[keep], low[keep], high[keep]
            if len(low) > k:
                theta = max(theta, float(np.partition(low, len(low) - k)[len(low) - k]) - eps)
        score = exact_scores(lists, cand)
        order = np.lexsort((cand, -score))[:k]
        return cand[order].astype(np.int64), score[order]
    finally:
        for (_, _, pre), d in zip(lists, written):
            buf[d] = 0.0
            if pre is not None:
                tbuf[d] = 0.0
