"""Compact storage: passage vectors in float16 in FAISS (flat and HNSW: reconstruct close to the
vectors, searches score the stored vectors, the manifest says so, float32 indexes still load) and
BM25 posting rows in uint16 in small indexes (the same scores; int32 files still load)."""

import json
import shutil

import faiss
import numpy as np
import pytest
from conftest import SEED_CORPUS, HashEmbedder, hash_index

from index.build import build_index
from index.fileio import sha256_file
from index.search.lexical import tokenize
from index.store import writer
from index.store.store import IndexStore
from index.store.writer import faiss_index_for, index_reason


def _unit(n, dim=64, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_float16_vectors_reconstruct_close_and_search_them(kind, tmp_path):
    x = _unit(3000)
    index, info = faiss_index_for(x, kind)
    assert info["faiss"]["vector_dtype"] == "float16"
    back = index.reconstruct_n(0, index.ntotal)
    assert back.dtype == np.float32
    assert np.abs(back - x).max() <= 2.0 ** -11  # float16 rounding of values below 1
    assert (back != x).mean() > 0.9  # rounded: not kept in float32 after all
    batch = index.reconstruct_batch(np.array([5, 17, 2999], dtype=np.int64))
    assert np.array_equal(batch, back[[5, 17, 2999]])
    q = _unit(1, seed=1)
    scores, idx = index.search(q, 10)
    assert np.allclose(scores[0], back[idx[0]] @ q[0], atol=1e-5)
    exact = np.argsort(-(x @ q[0]))[:10]
    assert len(set(idx[0].tolist()) & set(exact.tolist())) >= 9
    faiss.write_index(index, str(tmp_path / "f16"))
    old = faiss.IndexFlatIP(64) if kind == "flat" else \
        faiss.IndexHNSWFlat(64, 16, faiss.METRIC_INNER_PRODUCT)  # the float32 storage of before
    old.add(x)
    faiss.write_index(old, str(tmp_path / "f32"))
    saved = (tmp_path / "f32").stat().st_size - (tmp_path / "f16").stat().st_size
    assert saved >= 0.95 * x.size * 2  # two bytes of every value


def _as_float32_index(index_dir):
    """Rewrite a built index as citebot wrote it before float16 vectors: FAISS with float32
    vectors, a manifest without ``vector_dtype``."""
    manifest = json.loads((index_dir / "manifest.json").read_text())
    gen = index_dir / manifest["generation"]
    stored = faiss.read_index(str(gen / "faiss.index"))
    x = stored.reconstruct_n(0, stored.ntotal) + 1e-4  # not float16 values any more
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    if manifest["index_type"] == "hnsw":
        old = faiss.IndexHNSWFlat(x.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    else:
        old = faiss.IndexFlatIP(x.shape[1])
    old.add(x)
    faiss.write_index(old, str(gen / "faiss.index"))
    manifest["faiss"].pop("vector_dtype")
    path = gen / "faiss.index"
    manifest["files"]["faiss.index"] = {"sha256": sha256_file(path),
                                        "size": path.stat().st_size}
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    return x


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_a_float32_index_still_loads_and_searches(kind, tmp_path):
    corpus, index = hash_index(tmp_path, index_type=kind)
    x = _as_float32_index(index)
    store = IndexStore(index)
    assert "float16" not in type(store.faiss).__name__ and "SQ" not in type(store.faiss).__name__
    assert "float32 vectors" in index_reason(store.manifest)
    assert np.array_equal(store.passage_vector(3), x[3])  # exact float32, as written
    q = HashEmbedder().encode_query("Kenyan police officers")
    got, scores = store.dense_search(q, 5)
    assert np.allclose(scores, x[got] @ q[0], atol=1e-5)
    rows = store.rows_of_articles([store.articles[0].id])
    got, _ = store.dense_search(q, 2, rows=rows)
    assert set(got.tolist()) <= set(rows.tolist())
    # A rebuild reuses its vectors (the embedding cache) and writes float16 again.
    manifest = build_index(corpus, index, HashEmbedder(), index_type=kind)
    assert manifest["faiss"]["vector_dtype"] == "float16"
    again = IndexStore(index)
    assert "float16 vectors" in index_reason(again.manifest)
    assert np.abs(again.passage_vector(3) - x[3]).max() <= 2.0 ** -11


def test_new_builds_record_float16(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus, ignore=shutil.ignore_patterns(".*"))
    manifest = build_index(corpus, tmp_path / "index", HashEmbedder())
    assert manifest["faiss"]["vector_dtype"] == writer.PASSAGE_DTYPE == "float16"
    store = IndexStore(tmp_path / "index")
    assert type(store.faiss).__name__ == "IndexScalarQuantizer"
    assert index_reason(manifest).endswith("(float16 vectors)")


def test_bm25_rows_are_uint16_in_a_small_index_and_score_alike(tmp_path):
    _corpus, index = hash_index(tmp_path)
    store = IndexStore(index)
    path = store.gen_dir / "bm25" / "indices.csc.index.npy"
    assert np.load(path, mmap_mode="r").dtype == np.uint16
    queries = [tokenize(q) for q in ("Kenyan police officers Haiti", "veto China Russia",
                                     "the court ruled", "zzz")]
    new = [(store.bm25_scores(t), store.bm25_top(t, 5)) for t in queries]
    assert all(d.dtype == np.int32 for t in queries for d in store.postings(t))
    # As citebot wrote it before (bm25s's int32 rows): loads, and scores the same.
    np.save(path, np.load(path).astype(np.int32))
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["files"]["bm25/indices.csc.index.npy"] = {"sha256": sha256_file(path),
                                                       "size": path.stat().st_size}
    (index / "manifest.json").write_text(json.dumps(manifest))
    old = IndexStore(index)
    assert old.bm25.scores["indices"].dtype == np.int32
    for t, (scores, (idx, top)) in zip(queries, new):
        assert np.array_equal(old.bm25_scores(t), scores)
        got_idx, got_top = old.bm25_top(t, 5)
        assert np.array_equal(got_idx, idx) and np.array_equal(got_top, top)
    assert any(len(idx) for _, (idx, _) in new)  # some query matched: this compared scores
