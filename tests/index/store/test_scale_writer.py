"""A generation written a chunk at a time is the one written all at once: the passage table
(table.TableWriter), and bench_scale.py's chunked synthetic build (benchmarks/scale_writer.py,
for 10M passages) against its in-memory one (bm25s + writer.write_generation)."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SEED_CORPUS

from index.corpus.articles import Article, load_corpus
from index.corpus.passages import make_passages
from index.store.table import NpyAppender, TableWriter, write_table


def _digests(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def test_table_written_in_chunks_is_byte_identical(tmp_path):
    articles = load_corpus(SEED_CORPUS) + [
        Article(id="u", title="Unicode", source="x", extra={"k": "é"},
                body="Ĥaïti — 警察 arrived 🚓.\n\nThe ﬁnal paragraph says ‮ nothing ‬ new."),
        Article(id="h", title="Heads",
                body="# Head one\n\nText under it.\n\n## Head two\n\nMore text.\n\nEnd.")]
    passages = [p for a in articles for p in make_passages(a)]
    assert any(p.heading for p in passages)
    whole, chunked = tmp_path / "whole", tmp_path / "chunked"
    whole.mkdir(), chunked.mkdir()
    write_table(whole, articles, passages)
    table = TableWriter(chunked, len(passages), sum(len(p.sentences) for p in passages))
    for part in (articles[:1], articles[1:-1], articles[-1:]):
        ids = {a.id for a in part}
        table.add(part, [p for p in passages if p.article_id in ids])
    table.close()
    assert _digests(whole) == _digests(chunked)
    rows = np.load(whole / "passages.npy")
    np.save(tmp_path / "again.npy", rows)  # the header np.save writes
    assert (tmp_path / "again.npy").read_bytes() == (whole / "passages.npy").read_bytes()


def test_npy_appender_refuses_a_wrong_count(tmp_path):
    out = NpyAppender(tmp_path / "x.npy", np.float16, (3, 2))
    out.append(np.ones((2, 2)))
    with pytest.raises(ValueError):
        out.append(np.ones((2, 2)))  # one row too many
    with pytest.raises(ValueError):
        out.close()  # one row missing
    out = NpyAppender(tmp_path / "y.npy", np.float16, (3, 2))
    out.append(np.ones((1, 2)))
    out.append(np.zeros((2, 2)))
    out.close()
    assert np.array_equal(np.load(tmp_path / "y.npy"), [[1, 1], [0, 0], [0, 0]])


def test_chunked_synthetic_build_equals_the_in_memory_one(tmp_path, monkeypatch):
    pytest.importorskip("bm25s")
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from check_scale_writer import compare

    found = compare(1200, tmp_path, n_questions=20)  # AssertionError on any difference
    assert found["bm25_scores_bitwise_equal"] and found["truth_same"] == 1.0
    assert {"passages.npy", "spans.npy", "bodies.bin", "articles.json", "sentences.npy",
            "vectors.npy"} <= set(found["identical_files"])
