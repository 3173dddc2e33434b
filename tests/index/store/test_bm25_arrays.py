"""BM25 by impact prefixes (bm25_arrays.py) gives exactly what adding up every posting list
gives: the same passages, order and float32 scores, with filters, extra rows and ties."""

import numpy as np
import pytest
from conftest import ROOT

from index.store import bm25_arrays
from index.store import store as store_mod
from index.store.bm25_arrays import Impacts, write_impacts
from index.store.store import IndexStore


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A real index of 6,000 synthetic passages (Zipf words, as benchmarks/bench_scale.py makes
    them: many equal scores), then impact prefixes for lists over 300 postings."""
    pytest.importorskip("bm25s")
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import scale_writer
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    tmp = tmp_path_factory.mktemp("impact")
    rng = np.random.default_rng(3)
    base = rng.standard_normal((40, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    # The benchmark's queries (four words of a passage), and four of 2,000 words drawn evenly.
    _, queries = scale_writer.build_in_memory(tmp / "index", 6000, base, base, rng,
                                              scratch=tmp / "scratch")
    queries += scale_writer.bm25_queries(6000, 100, rng, lambda rows: [
        [f"w{j}" for j in row] for row in rng.choice(2000, (len(rows), 60))])
    store = IndexStore(tmp / "index")
    assert store.bm25.impacts is None  # 6,000 passages: no list is long at the default
    folder = store.gen_dir / "bm25"
    assert write_impacts(folder, long=300, prefix=64) > 50
    return tmp / "index", folder, queries


def test_prefixes_are_each_long_terms_best_postings(synthetic):
    _, folder, _ = synthetic
    sc = {n: np.load(folder / f"{n}.csc.index.npy") for n in ("data", "indices", "indptr")}
    imp = Impacts.load(folder)
    lengths = np.diff(sc["indptr"])
    assert imp.arrays["terms"].tolist() == np.flatnonzero(lengths > 300).tolist()
    for t in imp.arrays["terms"].tolist()[::7]:
        docs, vals, tau = imp.prefix(t)
        lo, hi = sc["indptr"][t], sc["indptr"][t + 1]
        d, v = sc["indices"][lo:hi].astype(np.int64), sc["data"][lo:hi]
        best = np.lexsort((d, -v))[:64]  # by score, then the lowest row
        assert docs.tolist() == sorted(d[best].tolist()) and len(docs) == 64
        assert np.array_equal(vals, v[np.sort(best)])
        rest = np.setdiff1d(np.arange(len(d)), best)
        assert tau == v[rest].max() and tau <= vals.min()
    assert imp.prefix(int(np.argmin(lengths))) is None  # a short list has none
    with pytest.raises(ValueError):
        write_impacts(folder, long=10, prefix=20)


@pytest.mark.parametrize("share", [1e9, 0.0])  # long lists read by binary search / scatter
def test_impact_top_equals_the_full_computation(synthetic, monkeypatch, share):
    index, _, queries = synthetic
    fast, full = IndexStore(index), IndexStore(index)
    assert fast.bm25.impacts is not None
    full.bm25.impacts = None  # the same index, every list added up
    settled = []
    real = bm25_arrays.impact_top

    def counted(lists, *args, **kw):
        got = real(lists, *args, **kw)
        if any(pre is not None for _, _, pre in lists):  # a long list: prefixes apply
            settled.append(got is not None)
        return got

    monkeypatch.setattr(store_mod, "impact_top", counted)
    monkeypatch.setattr(bm25_arrays, "LOOKUP_SHARE", share)
    n = len(fast.passages)
    rng = np.random.default_rng(0)
    half = rng.random(n) < 0.5
    # Queries as the benchmark draws them, plus commoner words (their prefixes cannot settle
    # the top: the full lists decide), a repeated word, and a word no passage has.
    extra = [["w3", "w4", "w5"], ["w120", "w120", "w700"], ["w150", "nowhere"], ["w2"]]
    for q in queries + extra:
        for k, allowed in ((1, None), (10, None), (50, None), (10, half)):
            also = rng.integers(0, n, 40)
            a = fast.bm25_top(q, k, allowed=allowed, also=also)
            b = full.bm25_top(q, k, allowed=allowed, also=also)
            assert np.array_equal(a[0], b[0]), (q, k)
            assert a[1].dtype == b[1].dtype == np.float32
            assert np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2]), (q, k)
            assert np.array_equal(full.bm25_scores_of(q, also), b[2])  # looked up apart
    # Both ways were taken: the bound settles most questions, not all.
    assert sum(settled) > len(settled) // 2 and not all(settled)
    assert not fast._local.buf.any() and not fast._local.tbuf.any()  # left cleared


def test_index_without_prefixes_adds_every_list(synthetic):
    index, folder, queries = synthetic
    store = IndexStore(index)
    store.bm25.impacts = None
    idx, scores = store.bm25_top(queries[0], 10)
    full = store.bm25_scores(queries[0])
    assert np.array_equal(scores, full[idx]) and len(idx) == 10
