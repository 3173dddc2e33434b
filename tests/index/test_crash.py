"""Crash safety: a build killed with SIGKILL at any point leaves the previous index answering."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ROOT, HashEmbedder

from index.build import build_index
from index.corpus.articles import Article, write_article
from index.store.store import IndexStore, read_manifest

CHILD = textwrap.dedent("""
    import sys
    sys.path[:0] = [{tests!r}, {root!r}]
    from conftest import HashEmbedder
    from index.build import build_index
    while True:  # rebuild until killed
        build_index({corpus!r}, {index!r}, HashEmbedder())
        print("built", flush=True)
""")


@pytest.fixture()
def big_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    for i in range(120):
        body = "\n\n".join(f"Paragraph {j} of story {i} says the harbour {i * j} reopened. "
                           f"Officials counted {j} ships and {i} boats." for j in range(8))
        write_article(corpus, Article(id=f"story-{i}", title=f"Story {i}", body=body))
    index = tmp_path / "index"
    build_index(corpus, index, HashEmbedder())
    return corpus, index


def _assert_answers(index: Path):
    store = IndexStore(index)
    idx, scores = store.dense_search(HashEmbedder().encode_query("harbour ships"), 5)
    assert len(idx) == 5
    assert store.faiss.ntotal == len(store.passages) == 120 * 8
    p = store.passages[int(idx[0])]
    assert store.article_by_id[p.article_id].body[p.start:p.end]


def _child(corpus, index):
    code = CHILD.format(tests=str(ROOT / "tests"), root=str(ROOT), corpus=str(corpus),
                        index=str(index))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


@pytest.mark.parametrize("delay", [0.3, 0.9, 1.6, 2.4, 3.3])
def test_kill_9_mid_build_leaves_previous_index(big_corpus, delay):
    corpus, index = big_corpus
    before = read_manifest(index)["generation"]
    proc = _child(corpus, index)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    _assert_answers(index)
    # A later build cleans up and succeeds.
    build_index(corpus, index, HashEmbedder())
    assert read_manifest(index)["generation"] != before
    _assert_answers(index)


def test_readers_never_see_a_half_written_index(big_corpus):
    corpus, index = big_corpus
    proc = _child(corpus, index)
    errors, loads = [], 0
    stop = time.monotonic() + 6
    try:
        while time.monotonic() < stop:
            try:
                _assert_answers(index)
                loads += 1
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        out = proc.communicate(timeout=30)[0].decode()
    assert out.count("built") >= 1, "the writer never finished a build"
    assert loads > 5 and errors == []
