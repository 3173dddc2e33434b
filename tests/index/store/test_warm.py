"""Long-lived processes map the index's arrays in ahead of questions (store/warm.py)."""

import sys

import numpy as np
import pytest
from conftest import hash_index

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc/self/smaps")


def resident_kb(arr: np.ndarray) -> int:
    """Resident kB of the memory mapping that holds ``arr``'s data (this process)."""
    at = arr.__array_interface__["data"][0]
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                inside = lo <= at < hi
            elif inside and head[0] == "Rss:":
                return int(head[1])
    raise AssertionError("no mapping holds the array")


def mapped_in_soon(arr: np.ndarray, seconds: float = 30) -> bool:
    """True once the background thread has mapped ``arr`` in (it runs on its own time)."""
    import time

    deadline = time.monotonic() + seconds
    while resident_kb(arr) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    return resident_kb(arr) > 0


def test_warm_maps_the_arrays_in_and_answers_are_unchanged(tmp_path):
    from index.store.store import IndexStore
    from index.store.warm import mapped_arrays

    _, index = hash_index(tmp_path)
    store = IndexStore(index)
    arrays = mapped_arrays(store)
    assert any(a is store.sentence_vectors for a in arrays)
    # Opening maps nothing in: the pages come on first use.
    assert resident_kb(store.sentence_vectors) == 0
    before = store.bm25_top(["mission"], 5)
    thread = store.warm()
    assert thread is not None
    thread.join(30)
    for a in arrays:
        assert resident_kb(a) * 1024 >= min(a.nbytes, 4096), a.shape
    after = store.bm25_top(["mission"], 5)
    assert [x.tolist() for x in before] == [x.tolist() for x in after]


def test_warm_leaves_arrays_too_large_for_the_memory(tmp_path, monkeypatch):
    from index.store import warm
    from index.store.store import IndexStore

    _, index = hash_index(tmp_path)
    store = IndexStore(index)
    monkeypatch.setattr(warm, "WARM_SHARE", 1e-12)
    assert store.warm() is None
    assert resident_kb(store.sentence_vectors) == 0


def test_a_kept_warm_bot_warms_each_index_it_loads(tmp_path):
    from conftest import HashEmbedder

    from index.build import build_index
    from index.config import resolve
    from index.engine import Citebot

    corpus, index = hash_index(tmp_path)
    bot = Citebot(resolve(corpus, index, model="hash-embedder", auto_build=False),
                  embedder=HashEmbedder(),
                  question_embedder=HashEmbedder())
    bot.keep_warm()
    first = bot.store
    assert bot.warm and mapped_in_soon(first.sentence_vectors)
    # A new generation (a rebuild beside the server) is warmed when it is loaded.
    build_index(corpus, index, HashEmbedder(), use_cache=False)
    assert bot.load_newer()
    assert bot.store is not first
    assert mapped_in_soon(bot.store.sentence_vectors)


def test_an_archive_index_warms_what_every_question_reads(tmp_path):
    """Larger than the memory at its sizes: the int8 vectors, table rows and BM25 postings are
    mapped in, not the sentence or exact vectors; then no read advice per question."""
    from index.store.store import IndexStore
    from index.store.warm import mapped_arrays

    _, index = hash_index(tmp_path, index_type="archive")
    store = IndexStore(index)
    arrays = mapped_arrays(store)
    assert any(a is store.codes[0] for a in arrays) and any(a is store.table.rows for a in arrays)
    assert any(a is store.bm25.scores["data"] for a in arrays)
    assert any(a is store.sentence_codes.codes for a in arrays)
    assert not any(a is store.sentence_vectors or a is store.exact for a in arrays)
    q = store.sentence_vectors[2].astype(np.float32)
    before = store.dense_search(q, 5)
    assert not store._random["codes"].resident
    thread = store.warm()
    thread.join(30)
    assert store._random["codes"].resident and resident_kb(store.codes[0]) > 0
    after = store.dense_search(q, 5)
    assert all(np.array_equal(x, y) for x, y in zip(before, after))
