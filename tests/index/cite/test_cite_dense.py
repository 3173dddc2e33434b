"""Close lookups scored chunk by chunk (index.cite.dense) give exactly what scoring the whole
sentence matrix at once gives, on the real index of the seed corpus (30 sentences: a chunk of
7 rows puts boundaries inside articles, inside paragraphs and between pair halves)."""

import mmap

import numpy as np
import pytest
from conftest import assert_exact_quotes

from index.cite import dense
from index.cite import lookup as lookup_mod
from index.store.store import IndexStore

# Texts written for this test: paraphrases of seed sentences (one of two sentences), and words
# the corpus has in other places.
TEXTS = [
    "the fund set up with UN backing has collected just 21 million dollars",
    "Kenya said in July 2023 it would lead the force and send a thousand officers",
    "Both countries doubted conditions allowed a peacekeeping force. The change shows how "
    "hard winning support is.",
    "police from Kenya reached Haiti at the end of June",
    "gang violence and a humanitarian crisis in Haiti",
]


def whole_matrix(vecs, q, pair_ok, k):
    """The straightforward computation: a float32 copy of every vector, full sorts."""
    full = np.asarray(vecs, dtype=np.float32)
    single = np.einsum("ij,j->i", full, q)
    dots = np.einsum("ij,ij->i", full[:-1], full[1:])
    norms = np.sqrt(np.maximum(2.0 + 2.0 * dots, 1e-6)).astype(np.float32)
    pair = np.where(pair_ok, (single[:-1] + single[1:]) / norms, -1.0)
    singles = np.argsort(-single, kind="stable")[:k]
    ok = np.flatnonzero(pair_ok)
    pairs = ok[np.argsort(-pair[ok], kind="stable")[:k]]
    return single, pair, norms, singles.tolist(), pairs.tolist()


def _mapped(a) -> bool:
    """Is this array (a view of) a memory-mapped file?"""
    while a is not None:
        if isinstance(a, (np.memmap, mmap.mmap)):
            return True
        a = getattr(a, "base", None)
    return False


def test_vectors_are_copied_only_while_small(seed_bot, monkeypatch):
    stored = seed_bot.store.sentence_vectors
    assert _mapped(stored) and stored.dtype == np.float16
    small = dense.resident(stored)  # the seed index is far below RESIDENT_MAX: one copy
    assert small.dtype == np.float32 and not _mapped(small)
    assert np.array_equal(small, stored.astype(np.float32))
    monkeypatch.setattr(dense, "RESIDENT_MAX", stored.size * 4 - 1)  # one byte too many
    assert dense.resident(stored) is stored
    monkeypatch.setattr(lookup_mod, "_DATA", type(lookup_mod._DATA)())
    _owner, _spans, vecs, norms, _ = lookup_mod._data(seed_bot.store).sentences()
    assert vecs is stored and _mapped(vecs)  # big: memory-mapped, no copy
    assert norms.dtype == np.float32 and len(norms) == len(vecs) - 1


@pytest.mark.parametrize("chunk", [1, 2, 7, 29, 30, None])
def test_chunked_scores_are_the_whole_matrix_scores(seed_bot, chunk):
    store = seed_bot.store
    vecs = store.sentence_vectors
    n = len(vecs)
    assert n >= 30  # enough rows for 7-row chunks to cross boundaries
    pair_ok = lookup_mod._data(store).all_pairs()
    assert pair_ok.any() and not pair_ok.all()  # pairs, and rows that make none
    data = lookup_mod._data(store)
    assert pair_ok.tolist() == [data.pair_ok(r) for r in range(n - 1)]
    emb = seed_bot.question_embedder(store.manifest)
    for text in TEXTS:
        q = np.asarray(emb.encode_query(text), dtype=np.float32).reshape(-1)
        for k in (1, 5, 30, n + 5):
            single, pair, norms, singles, pairs = whole_matrix(vecs, q, pair_ok, k)
            got_norms = dense.pair_norms(vecs, chunk=chunk)
            assert np.array_equal(got_norms, norms)
            want = [0, 6, 7, 13, n - 1]
            s = dense.score(vecs, q, pair_ok, got_norms, k, want_single=want,
                            want_pair=[r for r in want if r < n - 1], chunk=chunk)
            assert s.singles == singles and s.pairs == pairs
            for r, v in s.single.items():  # bit for bit, not approximately
                assert v == single[r] and v.dtype == np.float32, (r, v, single[r])
            for r, v in s.pair.items():
                assert v == pair[r], (r, v, pair[r])
            assert set(want) <= set(s.single) and set(singles) <= set(s.single)
            assert set(pairs) <= set(s.pair)


def test_ties_go_to_the_lower_row_whatever_the_chunks():
    # The same vector in many rows (a boilerplate sentence): the k best cut through the ties.
    rng = np.random.default_rng(3)
    base = rng.standard_normal((5, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    vecs = base[rng.integers(0, 5, 61)].astype(np.float16)
    q = base[2]
    pair_ok = rng.random(60) < 0.7
    for k in (1, 3, 10, 25):
        _single, _pair, norms, singles, pairs = whole_matrix(vecs, q, pair_ok, k)
        for chunk in (1, 4, 7, 61, 100):
            s = dense.score(vecs, q, pair_ok, dense.pair_norms(vecs, chunk), k, chunk=chunk)
            assert (s.singles, s.pairs) == (singles, pairs), (k, chunk)


@pytest.fixture
def fresh_store(seed_bot):
    """A store of its own (its lookup data is built anew under the chunk size of the test)."""
    return lambda: IndexStore(seed_bot.config.index)


def test_close_lookups_are_the_same_at_any_chunk_size(seed_bot, seed_dir, fresh_store,
                                                      monkeypatch):
    emb = seed_bot.question_embedder(seed_bot.store.manifest)
    results = {}
    for chunk in (10**9, 7, 1):  # one chunk (the whole matrix at once), then many
        monkeypatch.setattr(dense, "CHUNK", chunk)
        store = fresh_store()
        results[chunk] = [lookup_mod.lookup(store, t, limit=5, embedder=emb).to_dict()
                          for t in TEXTS]
        # Unrounded similarities too (to_dict rounds them to 4 places).
        results[chunk].append([lookup_mod.find_close(store, t, 5, emb, cutoff=-1.0)
                               for t in TEXTS])
    whole = results[10**9]
    assert whole == results[7] == results[1]
    kinds = [r["kind"] for r in whole[:-1]]
    assert kinds.count("close") >= 4, kinds  # the texts do exercise close lookups
    for r in whole[:-1]:
        assert_exact_quotes(r["matches"], seed_dir)


def test_pairs_never_cross_a_heading_or_an_article(tmp_path):
    """all_pairs (vectorized) is pair_ok row by row: headings, articles, paragraphs."""
    from conftest import HashEmbedder

    from index.config import resolve
    from index.corpus.articles import Article, write_article
    from index.engine import Citebot

    bodies = {
        "harbour": "# Harbour notes\n\nThe quay was closed. Boats moored outside.\n\n"
                   "## Winter tides\n\nTides rose early. The gulls left.\n\nA last line here.",
        "market": "Stalls opened at six. Fish sold out by nine.\n\n## Prices\n\nCod cost more.",
    }
    for aid, body in bodies.items():
        write_article(tmp_path / "corpus", Article(id=aid, title=f"Report {aid}", body=body))
    bot = Citebot(resolve(corpus=tmp_path / "corpus", index=tmp_path / "index"),
                  embedder=HashEmbedder())
    bot.build()
    data = lookup_mod._data(bot.store)
    n = len(bot.store.sentence_vectors)
    pairs = data.all_pairs()
    assert pairs.tolist() == [data.pair_ok(r) for r in range(n - 1)]
    assert pairs.any() and not pairs.all()
