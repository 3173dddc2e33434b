"""What lets the index grow (small sizes here; speed is in benchmarks/bench_scale.py): the index
type chosen by size, the compact passage table, BM25 without bm25s, and load-time checks."""

import shutil
import time

import numpy as np
import pytest
from conftest import HashEmbedder, hash_index

from index.build import build_index
from index.corpus.articles import Article, load_corpus
from index.corpus.passages import make_passages
from index.errors import IndexCorrupt
from index.search.lexical import tokenize
from index.store import store as store_mod
from index.store.store import IndexStore, read_manifest
from index.store.writer import FLAT_MAX, choose_index_type


@pytest.fixture()
def built(tmp_path):
    return hash_index(tmp_path)


def test_index_type_follows_size():
    assert choose_index_type(13) == choose_index_type(FLAT_MAX) == "flat"
    assert choose_index_type(FLAT_MAX + 1) == "hnsw"


def test_hnsw_index_is_recorded_and_finds_the_exact_neighbours(tmp_path, monkeypatch):
    # 120 articles of 8 paragraphs, HNSW forced: the same top hits as exact search.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(120):
        body = "\n\n".join(f"Story {i} paragraph {j}: the harbour {i * j % 17} counted "
                           f"{j} ships, {i % 9} boats and {(i + j) % 13} cranes." for j in range(8))
        (corpus / f"s{i}.md").write_text(f"---\ntitle: Story {i}\n---\n{body}")
    exact, ann = tmp_path / "exact", tmp_path / "ann"
    build_index(corpus, exact, HashEmbedder())
    manifest = build_index(corpus, ann, HashEmbedder(), index_type="hnsw")
    assert manifest["index_type"] == "hnsw" and manifest["faiss"]["M"] == store_mod.HNSW["M"]
    a, b = IndexStore(exact), IndexStore(ann)
    # Both store their vectors in float16 (FAISS's scalar quantizer), as the manifest says.
    assert a.manifest["index_type"] == "flat" and type(b.faiss).__name__ == "IndexHNSWSQ"
    assert type(a.faiss).__name__ == "IndexScalarQuantizer"
    assert a.manifest["faiss"]["vector_dtype"] == manifest["faiss"]["vector_dtype"] == "float16"
    assert b.faiss.hnsw.efSearch == store_mod.HNSW["efSearch"]
    emb, hits, total = HashEmbedder(), 0, 0
    for q in ["harbour ships", "boats and cranes", "story 7 paragraph 3", "counted 5 ships"]:
        qv = emb.encode_query(q)
        tenth = a.dense_search(qv, 10)[1][-1]
        got, scores = b.dense_search(qv, 10)
        exact = a.faiss.reconstruct_n(0, a.faiss.ntotal)[got] @ qv[0]
        assert np.allclose(scores, exact, atol=1e-5)  # exact inner products of the stored vectors
        # Hash vectors tie a lot: a hit is any passage as close as the exact 10th.
        hits, total = hits + int((exact >= tenth - 1e-6).sum()), total + 10
    assert hits / total >= 0.9
    # --since/--source: only some articles' rows are searched; the same hits as filtering an
    # exact search of everything (flat: FAISS with a selector; HNSW: scored exactly).
    rows = np.concatenate([a.rows_of_articles(["s3", "s40"]), b.rows_of_articles(["s77"])])
    rows = np.unique(rows)
    for q in ["harbour ships", "boats and cranes"]:
        qv = emb.encode_query(q)
        sims = a.faiss.reconstruct_n(0, a.faiss.ntotal)[rows] @ qv[0]
        want = np.sort(sims)[::-1][:5]
        for store in (a, b):
            got, scores = store.dense_search(qv, 5, rows=rows)
            assert set(got.tolist()) <= set(rows.tolist()) and len(got) == 5
            assert np.allclose(np.sort(scores)[::-1], want, atol=1e-5)
    monkeypatch.setattr(store_mod, "EXACT_FILTERED", 0)  # a large filter: HNSW with a selector
    got, _ = b.dense_search(emb.encode_query("harbour ships"), 5, rows=rows)
    assert len(got) == 5 and set(got.tolist()) <= set(rows.tolist())


def test_bm25_top_breaks_ties_by_row(tmp_path):
    """Equal scores at the cut: the lowest rows, always (not whichever entries came first)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(12):
        (corpus / f"t{i:02}.md").write_text(f"---\ntitle: Tide table\n---\nThe ferry to the "
                                            f"island leaves at dawn.\n\nPage {i} of the log.")
    build_index(corpus, tmp_path / "index", HashEmbedder())
    store = IndexStore(tmp_path / "index")
    tokens = tokenize("ferry island dawn")
    full = store.bm25_scores(tokens)
    tied = np.flatnonzero(full == full.max())
    assert len(tied) == 12  # the same paragraph in every article
    for k in (1, 5, 11):
        idx, _ = store.bm25_top(tokens, k)
        assert idx.tolist() == tied[:k].tolist()


def test_bm25_top_filtered_and_extra_rows_equal_the_full_scores(built):
    """What ranking asks of BM25 (the best allowed passages, and the scores of the dense
    candidates) equals the full score array, without computing it."""
    _, index = built
    store = IndexStore(index)
    n = len(store.passages)
    allowed = np.zeros(n, dtype=bool)
    allowed[store.rows_of_articles(["mss-renewal"])] = True
    also = np.arange(0, n, 3)
    for q in ["Kenyan police officers Haiti", "veto China Russia", "zzz"]:
        tokens = tokenize(q)
        full = store.bm25_scores(tokens)
        idx, scores, extra = store.bm25_top(tokens, 4, allowed=allowed, also=also)
        masked = np.where(allowed, full, 0.0)
        assert allowed[idx].all() and len(idx) == min(4, int((masked > 0).sum()))
        assert np.allclose(scores, np.sort(masked)[::-1][: len(idx)])
        assert np.allclose(extra, full[also])
    assert sum(store.passage_counts().values()) == n
    assert store.passage_counts()["mss-renewal"] == len(store.rows_of_articles(["mss-renewal"]))


def test_passage_table_round_trip(built):
    corpus, index = built
    store = IndexStore(index)
    articles = load_corpus(corpus)
    made = [p for a in articles for p in make_passages(a)]
    assert list(store.passages) == made
    assert store.passages[-1] == made[-1] and store.passages[2:4] == made[2:4]
    for i, p in enumerate(made):
        assert store.passage_by_id[p.id] == i and p.id in store.passage_by_id
        assert list(store.article_rows(p.article_id)).count(i) == 1
    for bad in ["mss-renewal:p0", "mss-renewal:p03", "mss-renewal:p99", "nope:p1",
                "mss-renewal", "mss-renewal:p", "mss-renewal:p٣"]:
        assert bad not in store.passage_by_id
        assert store.passage_by_id.get(bad) is None
    for a in articles:
        got = store.article_by_id[a.id]
        assert got.body == a.body and got.meta() == a.meta() and got.extra == a.extra
    assert [a.id for a in store.articles] == [a.id for a in articles]


def test_bodies_are_read_only_when_used(built):
    _, index = built
    store = IndexStore(index)
    assert all(a._body is None for a in store.articles)
    assert [a.title for a in store.articles]  # metadata needs no body
    assert all(a._body is None for a in store.articles)
    assert "Kenya" in store.article_by_id["mss-renewal"].body


def test_unicode_bodies_keep_python_offsets(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = "Ĥaïti — 警察 arrived 🚓 on June 25.\n\nThe second paragraph says ‮ nothing ‬ new."
    (corpus / "u.md").write_text(f"---\ntitle: Unicode\n---\n{body}", encoding="utf-8")
    build_index(corpus, tmp_path / "index", HashEmbedder())
    store = IndexStore(tmp_path / "index")
    p = store.passages[1]
    assert store.article_by_id["u"].body == body
    assert body[p.start:p.end].startswith("The second paragraph")


def test_bm25_scores_equal_bm25s(built):
    import bm25s

    _, index = built
    store = IndexStore(index)
    ref = bm25s.BM25.load(str(store.gen_dir / "bm25"), mmap=True)
    for q in ["Kenyan police officers Haiti", "veto China Russia", "police police", "zzz"]:
        tokens = tokenize(q)
        known = [t for t in tokens if t in ref.vocab_dict]
        want = ref.get_scores(known) if known else np.zeros(len(store.passages))
        assert np.allclose(store.bm25_scores(tokens), want, atol=1e-6)
        idx, scores = store.bm25_top(tokens, 5)
        assert len(idx) == min(5, int((want > 0).sum()))
        assert np.allclose(scores, np.sort(want)[::-1][: len(idx)], atol=1e-6)
        for t in set(tokens) & set(ref.vocab_dict):
            assert store.doc_freq[t] == int(sum(t in tokenize(
                store.article_by_id[p.article_id].title + " " +
                store.article_by_id[p.article_id].body[p.start:p.end]) or
                t in tokenize(p.heading or "") for p in store.passages))


def test_large_files_are_rehashed_only_when_touched(built, monkeypatch):
    _, index = built
    monkeypatch.setattr(store_mod, "ALWAYS_HASH_BYTES", 0)  # every file counts as large
    store = IndexStore(index)
    assert store.hashed == []  # untouched since the build hashed them
    assert len(IndexStore(index, verify="full").hashed) == len(store.manifest["files"])
    time.sleep(0.05)  # past the file system's clock tick
    path = index / read_manifest(index)["generation"] / "sentences.npy"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x20
    path.write_bytes(bytes(data))  # same size, new contents: the stamp changed
    with pytest.raises(IndexCorrupt) as exc:
        IndexStore(index)
    assert "sentences.npy" in str(exc.value)


def test_copied_index_is_rehashed_and_loads(built, tmp_path, monkeypatch):
    _, index = built
    monkeypatch.setattr(store_mod, "ALWAYS_HASH_BYTES", 0)
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)  # new inodes: nothing is trusted, everything is hashed
    store = IndexStore(copy)
    assert len(store.hashed) == len(store.manifest["files"])


def test_truncated_table_is_caught(built):
    _, index = built
    path = index / read_manifest(index)["generation"] / "passages.npy"
    path.write_bytes(path.read_bytes()[:-48])
    with pytest.raises(IndexCorrupt):
        IndexStore(index)


def test_table_rejects_passages_out_of_order(tmp_path):
    from index.store.table import write_table

    art = Article(id="a", title="A", body="One.\n\nTwo.\n\nThree.")
    passages = make_passages(art)
    with pytest.raises(ValueError):
        write_table(tmp_path, [art], [passages[1], passages[0], passages[2]])


def test_bm25_top_is_safe_across_threads(built):
    from concurrent.futures import ThreadPoolExecutor

    _, index = built
    store = IndexStore(index)
    queries = [tokenize(q) for q in ["Kenyan police", "veto China Russia", "trust fund money",
                                     "resolution 2751 renewed", "Haiti gangs violence"]] * 20
    want = [store.bm25_top(q, 5) for q in queries]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda q: store.bm25_top(q, 5), queries))
    for (wi, ws), (gi, gs) in zip(want, got):
        assert np.array_equal(wi, gi) and np.array_equal(ws, gs)
    assert not store.bm25_top(["zzz"], 5)[0].size
    assert np.all(store._local.buf == 0)  # cleared after use


def test_index_verify_command(built):
    from conftest import run_cli

    corpus, index = built
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(index)}
    r = run_cli("index", "verify", env=env)
    assert r.returncode == 0 and b"intact" in r.stdout, r.stderr
    path = index / read_manifest(index)["generation"] / "bodies.bin"
    data = bytearray(path.read_bytes())
    data[3] ^= 0x01
    path.write_bytes(bytes(data))
    r = run_cli("index", "verify", env=env)
    assert r.returncode == 2 and b"bodies.bin is damaged" in r.stderr
    assert b"citebot index build" in r.stderr and b"Traceback" not in r.stderr
