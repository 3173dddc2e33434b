"""The FAISS/BM25 store with a tiny deterministic embedder: no model needed."""

import json

import numpy as np
import pytest
from conftest import HashEmbedder, hash_index

from index.build import build_index
from index.errors import IndexCorrupt, IndexMismatch, IndexMissing
from index.store.store import IndexStore, read_manifest


@pytest.fixture()
def built(tmp_path):
    return hash_index(tmp_path)


def test_build_and_load(built):
    corpus, index = built
    store = IndexStore(index)
    assert store.faiss.ntotal == len(store.passages) == store.manifest["passages"] == 13
    assert store.manifest["model"] == "hash-embedder" and store.dim == 64
    assert len(store.sentence_vectors) == store.manifest["sentences"]
    idx, scores = store.dense_search(HashEmbedder().encode_query("Kenyan police officers"), 3)
    assert len(idx) == 3 and scores[0] >= scores[-1]


def test_citation_ids_are_stable_across_rebuilds(built):
    corpus, index = built
    first = [p.id for p in IndexStore(index).passages]
    build_index(corpus, index, HashEmbedder())
    assert [p.id for p in IndexStore(index).passages] == first
    assert "mss-renewal:p3" in first


def test_rebuild_switches_generation_and_keeps_previous(built):
    corpus, index = built
    gen1 = read_manifest(index)["generation"]
    build_index(corpus, index, HashEmbedder())
    gen2 = read_manifest(index)["generation"]
    assert gen1 != gen2 and (index / gen1).is_dir() and (index / gen2).is_dir()
    build_index(corpus, index, HashEmbedder())
    assert not (index / gen1).exists()  # only two generations are kept


def test_missing_index(tmp_path):
    with pytest.raises(IndexMissing) as exc:
        IndexStore(tmp_path / "none")
    assert "citebot index build" in exc.value.user_message()


@pytest.mark.parametrize("damage", ["truncate", "zero", "flip"])
def test_damaged_files_are_caught(built, damage):
    _, index = built
    path = index / read_manifest(index)["generation"] / "faiss.index"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "zero":
        data = bytearray(len(data))
    else:
        data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt) as exc:
        IndexStore(index)
    assert "citebot index build" in exc.value.user_message()


def test_corrupt_or_foreign_manifest(built):
    _, index = built
    manifest = json.loads((index / "manifest.json").read_text())
    (index / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(IndexMismatch):
        IndexStore(index)
    (index / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt):
        IndexStore(index)


def test_sentence_rows_follow_passages(built):
    _, index = built
    store = IndexStore(index)
    emb = HashEmbedder()
    body = store.article_by_id["mss-renewal"].body
    i = store.passage_by_id["mss-renewal:p4"]
    lo, hi = store.sentence_rows(i)
    s, e = store.passages[i].sentences[1]
    assert np.allclose(store.sentence_vectors[lo + 1], emb.encode([body[s:e]])[0], atol=1e-3)
    assert hi - lo == len(store.passages[i].sentences)
