"""The passage cache is checked like an index file (issue 14, defect 4): a shifted span in
cache/passages.json never reaches a quote, and `index verify` names it."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import HashEmbedder, hash_index, run_cli


@pytest.fixture()
def built(tmp_path):
    return hash_index(tmp_path, export_onnx=False)


def _shift(index, fix_checksum: bool) -> None:
    """Move every sentence start one character on: still valid JSON, still the same keys."""
    path = index / "cache" / "passages.json"
    data = json.loads(path.read_text())
    for rows in data["bodies"].values():
        for row in rows:
            row[4] = [[s + 1, e] for s, e in row[4]]
    raw = json.dumps(data).encode()
    path.write_bytes(raw)
    if fix_checksum:  # a careful forger rewrites the checksum file too
        (index / "cache" / "passages.sha256.json").write_text(json.dumps(
            {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}))


def _spans(store):
    return [(p.id, p.start, p.end, list(p.sentences)) for p in store.passages]


@pytest.mark.parametrize("fix_checksum", [False, True])
def test_shifted_cached_spans_are_split_again(built, tmp_path, fix_checksum):
    from index.build import build_index
    from index.store.span_check import bad_passages
    from index.store.store import IndexStore

    corpus, index = built
    fresh = tmp_path / "fresh"
    build_index(corpus, fresh, HashEmbedder(), use_cache=False, export_onnx=False)
    _shift(index, fix_checksum)
    messages = []
    build_index(corpus, index, HashEmbedder(), export_onnx=False, progress=messages.append)
    store = IndexStore(index)
    assert _spans(store) == _spans(IndexStore(fresh))
    assert bad_passages(store) == []
    for p in store.passages:
        body = store.article_by_id[p.article_id].body
        for s, _e in p.sentences:
            assert body[s - 1:s] in ("", " ", "\n") or not body[s - 1].isalnum()


def test_index_verify_names_a_tampered_cache(built):
    corpus, index = built
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(index)}
    r = run_cli("index", "verify", env=env)
    assert r.returncode == 0, r.stderr
    _shift(index, fix_checksum=False)
    r = run_cli("index", "verify", env=env)
    assert r.returncode == 2
    assert b"cache/passages.json: checksum mismatch" in r.stderr
    assert r.stderr.count(b"\n") == 1


def test_index_verify_names_an_index_built_from_shifted_spans(built, monkeypatch):
    from index.build import build_index
    from index.store import span_check

    corpus, index = built
    _shift(index, fix_checksum=True)
    monkeypatch.setattr(span_check, "cached_rows_ok", lambda body, rows: True)  # the old trust
    build_index(corpus, index, HashEmbedder(), export_onnx=False)
    monkeypatch.undo()
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(index)}
    r = run_cli("index", "verify", env=env)
    assert r.returncode == 2
    assert b"splits words in mss-" in r.stderr


def test_embedding_cache_damage_is_named_by_verify(built):
    """The embedding cache is the current generation's vectors (no file of its own): damaged,
    verify names it, and a build does not reuse a single vector from it."""
    from index.store.cache import EmbeddingCache
    from index.store.store import read_manifest

    corpus, index = built
    assert EmbeddingCache(index, HashEmbedder()).entries > 0
    npy = index / read_manifest(index)["generation"] / "sentences.npy"
    data = bytearray(npy.read_bytes())
    data[-1] ^= 1
    npy.write_bytes(bytes(data))
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(index)}
    r = run_cli("index", "verify", env=env)
    assert r.returncode == 2 and b"sentences.npy" in r.stderr
    assert b"checksum mismatch" in r.stderr or b"damaged" in r.stderr
    assert EmbeddingCache(index, HashEmbedder()).entries == 0  # never trusted


def test_cached_rows_check_accepts_what_the_splitter_makes():
    from index.corpus.articles import parse_article
    from index.corpus.passages import make_passages
    from index.store.span_check import cached_rows_ok

    blob = "x" * 5000  # no space to cut at: the splitter cuts inside this "word"
    body = ("Heading\n\nU.S. officials met on Monday. They said 3.5 million was raised!\n\n"
            f"A run with a blob {blob} in it and more words after.\n")
    art = parse_article(body, "a", markdown=False)
    rows = [[p.paragraph, p.start, p.end, p.heading, p.sentences] for p in make_passages(art)]
    assert cached_rows_ok(art.body, rows)
    rows[0][4][0] = (rows[0][4][0][0] + 1, rows[0][4][0][1])
    assert not cached_rows_ok(art.body, rows)
