"""The embedding cache: a rebuild embeds only new text, and removed articles leave the index."""

import shutil

import numpy as np
import pytest
from conftest import SEED_CORPUS, assert_exact_quotes

from index.build import build_index
from index.corpus.articles import Article, load_corpus, write_article
from index.corpus.passages import make_passages, passage_text
from index.search.lexical import tokenize
from index.search.searcher import Searcher
from index.store.cache import CACHE_DIR, EmbeddingCache
from index.store.store import IndexStore

NEW_BODY = ("The lighthouse keepers of Cap-Haïtien restored the old beacon in March 2024.\n\n"
            "Fishermen said the light can be seen from twelve nautical miles. The restoration "
            "cost 40,000 dollars, paid by the harbour cooperative.")


class Counting:
    """The real model, counting every text it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.fingerprint = inner.fingerprint
        self.texts: list[str] = []

    def encode(self, texts, batch_size=64, show_progress=False):
        self.texts += list(texts)
        return self.inner.encode(texts)

    def encode_query(self, text):
        return self.inner.encode_query(text)


def _texts_of(corpus):
    """Every text a build embeds for a corpus: passage texts and sentences, distinct."""
    arts = load_corpus(corpus)
    out = set()
    for a in arts:
        for p in make_passages(a):
            out.add(passage_text(a, p))
            out.update(a.body[s:e] for s, e in p.sentences)
    return out


@pytest.fixture()
def corpus(tmp_path):
    d = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, d, ignore=shutil.ignore_patterns(".*"))
    return d


@pytest.fixture(scope="module")
def model(seed_bot):
    """The question encoder of the seed index: the real model, without loading torch again."""
    return seed_bot.question_embedder(seed_bot.store.manifest)


def test_second_build_embeds_only_the_new_article(corpus, tmp_path, model):
    index = tmp_path / "index"
    first = Counting(model)
    build_index(corpus, index, first)
    seed_texts = _texts_of(corpus)
    assert set(first.texts) == seed_texts and len(first.texts) == len(seed_texts)

    write_article(corpus, Article(id="lighthouse", title="Cap-Haïtien lighthouse relit",
                                  body=NEW_BODY))
    second = Counting(model)
    messages = []
    build_index(corpus, index, second, progress=messages.append)
    assert set(second.texts) == _texts_of(corpus) - seed_texts
    assert len(second.texts) == 2 + 3  # two passages, three sentences: nothing else
    assert any(f"embedded 5 texts, {len(seed_texts)} from the cache" in m for m in messages)

    # Cached vectors are the vectors: the index equals one built without the cache.
    fresh = tmp_path / "fresh"
    build_index(corpus, fresh, model, use_cache=False)
    a, b = IndexStore(index), IndexStore(fresh)
    assert [p.id for p in a.passages] == [p.id for p in b.passages]
    assert np.allclose(np.asarray(a.sentence_vectors), np.asarray(b.sentence_vectors),
                       atol=1e-6)
    assert np.allclose(a.faiss.reconstruct_n(0, a.faiss.ntotal),
                       b.faiss.reconstruct_n(0, b.faiss.ntotal), atol=1e-6)
    answer = Searcher(a, model).ask("How far can the lighthouse be seen?")
    assert answer.citations[0].id.startswith("lighthouse:")
    assert_exact_quotes(answer.citations, corpus)


def test_removed_article_leaves_index_and_cache(corpus, tmp_path, model):
    index = tmp_path / "index"
    write_article(corpus, Article(id="lighthouse", title="Cap-Haïtien lighthouse relit",
                                  body=NEW_BODY))
    build_index(corpus, index, Counting(model))
    assert "lighthouse" in IndexStore(index).article_by_id
    (corpus / "lighthouse.md").unlink()
    again = Counting(model)
    build_index(corpus, index, again)
    assert again.texts == []  # everything left was cached
    store = IndexStore(index)
    assert "lighthouse" not in store.article_by_id
    assert not any(p.article_id == "lighthouse" for p in store.passages)
    assert "lighthouse:p1" not in store.passage_by_id
    assert store.bm25_scores(tokenize("lighthouse beacon fishermen")).max() == 0
    answer = Searcher(store, model).ask("How far can the lighthouse be seen?")
    assert all(not c.id.startswith("lighthouse") for c in answer.citations + answer.more)
    # The cache is bounded: it holds exactly the texts of the index now.
    assert EmbeddingCache(index, model).entries == len(_texts_of(corpus))


def test_edited_paragraph_is_embedded_again(corpus, tmp_path, model):
    index = tmp_path / "index"
    build_index(corpus, index, Counting(model))
    path = corpus / "mss-renewal.md"
    text = path.read_text(encoding="utf-8")
    assert "unanimously" in text
    path.write_text(text.replace("unanimously", "by a large majority", 1), encoding="utf-8")
    again = Counting(model)
    build_index(corpus, index, again)
    assert again.texts and all("by a large majority" in t for t in again.texts)
    assert len(again.texts) == 2  # the paragraph's text and its one changed sentence


def test_damaged_cache_is_ignored_not_trusted(corpus, tmp_path, model):
    from index.store.store import read_manifest

    index = tmp_path / "index"
    build_index(corpus, index, Counting(model))
    # The cache is the current generation's vectors: damage them.
    vectors = index / read_manifest(index)["generation"] / "sentences.npy"
    data = bytearray(vectors.read_bytes())
    data[-7] ^= 0x10  # inside the last vector
    vectors.write_bytes(bytes(data))
    again = Counting(model)
    build_index(corpus, index, again)
    assert set(again.texts) == _texts_of(corpus)  # all embedded anew
    fresh = tmp_path / "fresh"
    build_index(corpus, fresh, model, use_cache=False)
    assert np.allclose(np.asarray(IndexStore(index).sentence_vectors),
                       np.asarray(IndexStore(fresh).sentence_vectors), atol=1e-6)


def test_cache_is_per_model_and_stores_no_second_copy(corpus, tmp_path, model):
    from conftest import HashEmbedder

    index = tmp_path / "index"
    build_index(corpus, index, Counting(model))
    assert not list((index / CACHE_DIR).glob("embeddings-*"))  # the generation is the cache
    assert EmbeddingCache(index, model).entries >= len(_texts_of(corpus))
    assert EmbeddingCache(index, HashEmbedder()).entries == 0  # another model's vectors
    build_index(corpus, index, HashEmbedder())
    again = Counting(model)
    build_index(corpus, index, again)
    assert set(again.texts) == _texts_of(corpus)
    assert not list(index.rglob("*.tmp"))


def test_rebuild_splits_only_new_bodies(corpus, tmp_path, monkeypatch):
    from conftest import HashEmbedder

    import index.corpus.passages as passages_mod

    index = tmp_path / "index"
    build_index(corpus, index, HashEmbedder())
    first = [(p.id, p.start, p.end, p.heading, p.sentences) for p in IndexStore(index).passages]
    calls = []
    real = passages_mod.make_passages
    monkeypatch.setattr(passages_mod, "make_passages", lambda a: calls.append(a.id) or real(a))
    write_article(corpus, Article(id="lighthouse", title="Lighthouse", body=NEW_BODY))
    build_index(corpus, index, HashEmbedder())
    assert calls == ["lighthouse"]
    again = [(p.id, p.start, p.end, p.heading, p.sentences) for p in IndexStore(index).passages
             if not p.id.startswith("lighthouse")]
    assert again == first
    # Other splitting rules (another passages.py or pysbd) split everything again.
    data = (index / CACHE_DIR / "passages.json").read_text()
    (index / CACHE_DIR / "passages.json").write_text(data.replace('"version": "', '"version": "x'))
    calls.clear()
    build_index(corpus, index, HashEmbedder())
    assert sorted(calls) == sorted(a.id for a in load_corpus(corpus))
