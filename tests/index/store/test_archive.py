"""The archive-size index (index/store/archive.py): IVF-PQ candidates re-ranked by exact vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_exact_quotes, run_cli

QUESTIONS = ["Which country agreed to lead the security mission in Haiti?",
             "How many police officers did Kenya pledge?",
             "When did the Security Council renew the mission?"]


def _clustered(n: int, dim: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(1, n // 20), dim)).astype(np.float32)
    x = centers[rng.integers(0, len(centers), n)] + 0.5 * rng.standard_normal(
        (n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_index_type_by_size():
    from index.store.archive import ARCHIVE_ABOVE
    from index.store.writer import FLAT_MAX, choose_index_type

    assert choose_index_type(FLAT_MAX) == "flat"
    assert choose_index_type(ARCHIVE_ABOVE) == "hnsw"
    assert choose_index_type(ARCHIVE_ABOVE + 1) == "archive"


@pytest.fixture(scope="module")
def ivf20k():
    """20,000 clustered vectors and the archive index a build would make of them (trained
    once for the tests below: neither changes it)."""
    from index.store import archive

    x = _clustered(20_000)
    info = archive.params_for(len(x), x.shape[1])
    index = archive.build(x, info)
    archive.configure(index, info)
    return x, info, index


def test_reranked_search_finds_the_exact_neighbours(ivf20k):
    """Recall@10 against brute force, with the parameters a build would choose."""
    import faiss

    from index.store import archive

    x, info, index = ivf20k
    assert faiss.extract_index_ivf(index).nprobe == info["nprobe"]
    # 4-bit codes scanned by FAISS's SIMD kernels, as many bytes a vector as 8-bit PQ of half
    # the sub-quantizers (what indexes before it were: still read and searched the same way)
    assert isinstance(index, faiss.IndexIVFPQFastScan) and info["fast_scan"]
    assert info["pq_m"] * info["pq_bits"] // 8 == 32  # bytes a vector at 64 dims (PQ32x8's)
    assert archive.factory_string(len(x), {**info, "fast_scan": None}).endswith(
        f"PQ{info['pq_m']}x8")
    exact = x.astype(np.float16)
    queries = _clustered(50, seed=1)
    truth = np.argsort(-(queries @ x.T), axis=1)[:, :10]
    got = [archive.search(index, exact, q, 10)[0] for q in queries]
    recall = np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got, truth)])
    assert recall >= 0.95, recall
    # A search deeper than a few percent of the index is done exactly, in order.
    idx, sc = archive.search(index, exact, queries[0], 5000)
    assert np.array_equal(idx[:10], truth[0]) and np.all(np.diff(sc) <= 1e-6)


def test_int8_pass_keeps_the_exact_answers(ivf20k, tmp_path):
    """The PQ candidates scored by the int8 copy, the best EXACT_DEPTH again by the exact
    vectors: the same best hits with the same exact scores as re-ranking every candidate
    exactly, the others' scores within the int8 rounding, and only the best EXACT_DEPTH rows
    of the exact file read."""
    from index.store import archive

    x, info, index = ivf20k
    exact = x.astype(np.float16)
    archive.write_codes(tmp_path, exact)
    manifest = {"passages": len(x), "dim": x.shape[1]}
    codes, scales = archive.open_codes(manifest, tmp_path)
    assert codes.dtype == np.int8 and codes.shape == x.shape and scales.shape == (len(x),)
    approx = codes.astype(np.float32) * scales[:, None]
    assert np.abs(approx - exact.astype(np.float32)).max() <= scales.max() / 2 + 1e-6
    queries = _clustered(50, seed=4)
    lead, read = archive.EXACT_DEPTH, []
    overlap = []
    for k in (10, 50, 80):  # k above EXACT_DEPTH too
        for q in queries:
            a = archive.search(index, exact, q, k, depth=archive.CODES_DEPTH)
            b = archive.search(index, exact, q, k, coarse=(codes, scales, None),
                               prefetch=lambda rows: read.append(len(rows)))
            assert np.array_equal(a[0][:lead // 2], b[0][:lead // 2])
            assert np.allclose(a[1][:lead // 2], b[1][:lead // 2], rtol=0, atol=1e-6)
            exact_of = dict(zip(a[0].tolist(), a[1].tolist()))
            for i, s in zip(b[0].tolist(), b[1].tolist()):
                if i in exact_of:
                    assert abs(s - exact_of[i]) <= 5e-3  # typically ~1e-3
            overlap.append(len(set(a[0]) & set(b[0])) / k)
            if k < lead:  # the int8 order only brings candidates: the exact one picks the k
                assert set(a[0]) == set(b[0])
    assert read and max(read) == lead
    assert np.mean(overlap) >= 0.98, np.mean(overlap)
    assert archive.open_codes(manifest, tmp_path / "none") is None  # built without them
    with pytest.raises(ValueError):
        archive.open_codes({"passages": 5, "dim": x.shape[1]}, tmp_path)


def test_sentence_codes_approximate_the_cosines(ivf20k, tmp_path):
    """Sentence PQ codes: written from the vectors as stored (float16), read back as the
    quantizer decodes them, within a few hundredths of the exact cosines; none for an index
    built without them, an error for codes of another index."""
    from index.store import archive

    x = ivf20k[0]
    archive.write_sentence_codes(tmp_path, x)
    codes = archive.SentenceCodes.open(tmp_path, len(x), x.shape[1])
    assert codes.codes.dtype == np.uint8 and codes.pq.nbits == 8
    assert codes.codes.shape == (len(x), codes.pq.code_size)
    rng = np.random.default_rng(3)
    errors = []
    for q in _clustered(20, seed=5):
        rows = np.sort(rng.choice(len(x), 300, replace=False))
        got = codes.cosines(rows, q)
        decoded = codes.pq.decode(np.ascontiguousarray(codes.codes[rows])) @ q
        assert np.allclose(got, decoded, rtol=0, atol=1e-5)
        errors.append(got - x[rows] @ q)
    assert np.abs(np.concatenate(errors)).mean() < 0.05
    assert len(codes.cosines(np.zeros(0, dtype=np.int64), q)) == 0
    assert archive.SentenceCodes.open(tmp_path / "none", len(x), x.shape[1]) is None
    (tmp_path / "tiny").mkdir()
    archive.write_sentence_codes(tmp_path / "tiny", x[:5])  # too few to train: none written
    assert archive.SentenceCodes.open(tmp_path / "tiny", 5, x.shape[1]) is None
    with pytest.raises(ValueError):
        archive.SentenceCodes.open(tmp_path, len(x) - 1, x.shape[1])


def test_filtered_search_stays_among_the_rows(ivf20k, monkeypatch):
    """--since/--source: only the allowed rows, found by the IVF lists with a selector (or
    exactly when few), still re-ranked by the exact vectors."""
    from index.store import archive

    x, info, index = ivf20k
    exact = x.astype(np.float16)
    rows = np.sort(np.random.default_rng(3).choice(len(x), 6000, replace=False))
    queries = _clustered(30, seed=2)
    truth = rows[np.argsort(-(queries @ x[rows].T), axis=1)[:, :10]]
    for filtered_exact in (archive.FILTERED_EXACT, 1000):  # exactly, then by the IVF lists
        monkeypatch.setattr(archive, "FILTERED_EXACT", filtered_exact)
        got = [archive.search(index, exact, q, 10, rows=rows)[0] for q in queries]
        assert all(np.isin(g, rows).all() and len(g) == 10 for g in got)
        recall = np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got, truth)])
        assert recall >= (1.0 if filtered_exact > len(rows) else 0.9), (filtered_exact, recall)
    # Rows that none of the scanned lists hold: exact scoring among them, not fewer hits.
    import faiss

    ivf = faiss.extract_index_ivf(index)
    q = queries[0].reshape(1, -1)
    _, probed = ivf.quantizer.search(q, ivf.nprobe)
    _, list_of = ivf.quantizer.search(x, 1)
    away = np.flatnonzero(~np.isin(list_of[:, 0], probed[0]))[:400]
    assert len(away) == 400
    idx, _ = archive.search(index, exact, queries[0], 10, rows=away)
    assert idx.tolist() == away[np.argsort(-(x[away] @ queries[0]))[:10]].tolist()


@pytest.fixture(scope="module")
def archive_index(seed_dir, embedder, tmp_path_factory):
    from index.build import build_index

    index = tmp_path_factory.mktemp("archive") / "index"
    manifest = build_index(seed_dir, index, embedder, index_type="archive")
    return index, manifest


def test_archive_index_answers_like_exact_search(archive_index, seed_bot, seed_dir):
    """On the seed corpus the re-rank sees every passage: the same answers as the flat index."""
    from index.store.store import IndexStore

    index, manifest = archive_index
    assert manifest["index_type"] == "archive" and manifest["faiss"]["vector_dtype"] == "float16"
    store = IndexStore(index)
    assert store.exact.dtype == np.float16 and store.sentence_vectors.dtype == np.float16
    # larger than memory at archive sizes: scattered rows read page by page (pages.py)
    assert {k: r.map is not None for k, r in store._random.items()} == {
        "exact": True, "sentences": True, "codes": True}
    flat = IndexStore(seed_bot.config.index)
    assert flat._random == {}  # an index that fits memory keeps the kernel's read-ahead
    q = flat.sentence_vectors[3].astype(np.float32)
    a_idx, a_sc = store.dense_search(q, 5)
    f_idx, f_sc = flat.dense_search(q, 5)
    assert a_idx.tolist() == f_idx.tolist() and np.allclose(a_sc, f_sc, atol=2e-3)
    assert np.allclose(store.passage_vector(2), flat.passage_vector(2), atol=1e-3)
    rows = np.array([1, 4, 6, 9])  # a filtered question (--source): the same rows either way
    a_idx, _ = store.dense_search(q, 3, rows=rows)
    f_idx, _ = flat.dense_search(q, 3, rows=rows)
    assert a_idx.tolist() == f_idx.tolist() and set(a_idx) <= set(rows)
    env = {"CITEBOT_CORPUS": str(seed_dir)}
    answered = 0
    for question in QUESTIONS:
        got = [json.loads(run_cli("ask", "--json", "--index", str(ix), question, env=env).stdout)
               for ix in (index, seed_bot.config.index)]
        assert_exact_quotes(got[0]["citations"], seed_dir)
        assert [c["quote"] for c in got[0]["citations"]] == \
            [c["quote"] for c in got[1]["citations"]]
        assert got[0]["answered"] == got[1]["answered"]
        answered += bool(got[0]["citations"])
    assert answered  # the comparison compares something


def test_sentence_codes_rank_like_the_sentence_vectors(archive_index, embedder, monkeypatch):
    """Ranked first by the sentence codes, then by the exact vectors of the best few (and of
    any of the head still approximate): the same answers as reading every candidate's vectors
    at once."""
    from threadpoolctl import threadpool_info

    from index.search import rank
    from index.search.searcher import Searcher
    from index.store.store import IndexStore

    index, _ = archive_index
    store, plain = IndexStore(index), IndexStore(index)
    assert store.sentence_codes is not None
    faiss_threads = next(i["num_threads"] for i in threadpool_info()
                         if i["user_api"] == "blas" and "faiss" in i["filepath"])
    plain.sentence_codes = None
    read, read_all = [], []
    for st, log in ((store, read), (plain, read_all)):
        monkeypatch.setattr(st, "prefetch_sentences",
                            lambda rows, log=log, f=st.prefetch_sentences: (log.append(len(rows)),
                                                                           f(rows)))
    monkeypatch.setattr(rank, "SENT_EXACT", 4)  # fewer than the head: read again, in rounds
    coarse, rounds = Searcher(store, embedder), []
    inner = rank.Ranker._sentence_cosines_coarse

    def counted(self, *a, **kw):
        before = len(read)
        out = inner(self, *a, **kw)
        rounds.append(len(read) - before)
        return out
    monkeypatch.setattr(rank.Ranker, "_sentence_cosines_coarse", counted)
    exact = Searcher(plain, embedder)
    for question in [*QUESTIONS, "Who leads the police in Haiti?", "What did Kenya's court rule?"]:
        a, b = coarse.ask(question, k=3), exact.ask(question, k=3)
        assert a.to_dict() == b.to_dict()
    assert rounds and max(rounds) >= 2  # the head needed a second read
    # an archive index answers with numpy's BLAS at one thread; FAISS's keeps its own
    blas = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert {n for f, n in blas.items() if "faiss" not in f} == {1}  # numpy's (scipy's, …)
    assert [n for f, n in blas.items() if "faiss" in f] == [faiss_threads]
    # first the few best candidates' sentences, not every candidate's (on this small corpus
    # the head and its margin hold most passages: the rounds end up reading them all)
    assert 0 < min(read) < min(read_all)


def test_index_info_says_which_index_and_why(archive_index, seed_bot, seed_dir):
    index, _ = archive_index
    env = {"CITEBOT_CORPUS": str(seed_dir)}
    r = run_cli("index", "info", "--json", "--index", str(index), env=env)
    info = json.loads(r.stdout)
    assert info["index_type"] == "archive" and "asked for at build" in info["index_type_why"]
    assert "re-rank" in info["index_type_why"]
    r = run_cli("index", "info", "--index", str(seed_bot.config.index), env=env)
    assert "exact search is fast enough" in r.stdout.decode()


def test_index_info_names_the_fast_scan_codes():
    from index.store import archive
    from index.store.writer import FLAT_MAX

    n = archive.ARCHIVE_ABOVE + 1
    manifest = {"index_type": "archive", "passages": n, "faiss": archive.params_for(n, 384)}
    why = archive.index_reason(manifest, FLAT_MAX)
    assert "IVF1024,PQ96x4 fast-scan" in why and "PQ codes in memory" in why
    old = {**manifest, "faiss": {**manifest["faiss"], "fast_scan": None, "pq_m": 48}}
    assert "IVF1024,PQ48, nprobe" in archive.index_reason(old, FLAT_MAX)  # built before


def test_damaged_exact_vectors_are_refused(archive_index, tmp_path):
    import shutil

    from index.errors import IndexCorrupt
    from index.store.store import IndexStore

    index = tmp_path / "copy"
    shutil.copytree(archive_index[0], index)
    gen = index / json.loads((index / "manifest.json").read_text())["generation"]
    data = (gen / "vectors.npy").read_bytes()
    (gen / "vectors.npy").write_bytes(data[:-2] + bytes([data[-2] ^ 1, data[-1]]))
    with pytest.raises(IndexCorrupt, match="vectors.npy"):
        IndexStore(index)
