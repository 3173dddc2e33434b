"""The chunked build of bench_scale.py writes the index the in-memory one writes (scale_writer.py).

    python benchmarks/check_scale_writer.py [--sizes 30000,70000] [--questions 100]

At each size the same synthetic passages (one seed) are written both ways, an archive index
each: ``build_in_memory`` (bm25s + writer.write_generation) and ``build_chunked``. Then:

- both load with IndexStore(verify="full"); their manifests agree but for the generation, the
  stamps and the checksums of the files that may differ (MAY_DIFFER: faiss.index, trained on
  float16 rather than float32 vectors, byte for byte archive.build of the stored float16
  vectors (faiss_index_is_build_of_stored_vectors); the BM25 files, whose term ids differ);
- the table, the sentence vectors and the archive's exact vectors are byte for byte the same;
- the BM25 matrices are the same term by term (bm25s numbers terms in a set's order): the same
  passages in each column, the same float32 scores; bm25s itself loads the chunked one and
  scores as store.bm25_scores does; store.bm25_top gives the same ids and scores;
- the recall truth and the BM25 queries are the same; dense search and
  ``Searcher(store, None).answer_from`` are compared (they can differ only where the two FAISS
  indexes propose different candidates), and every quote is ``body[start:end]``.

Vectors are random mixes of random unit vectors (no model needed: near ties everywhere, so
recall is low and the two FAISS indexes' answers differ more), or with ``--real`` the real
model's, as bench_scale.py makes them. Exits 1 on any difference.
tests/index/store/test_scale_writer.py runs it at 1,200 passages.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scale_writer

# faiss.index: trained on float16 vectors, not float32; bm25/: the term ids (bm25s numbers terms
# in the order of a Python set of strings, which changes with every process's hash seed) and
# bm25s's version. The BM25 files are compared term by term instead.
MAY_DIFFER = {"faiss.index", *(f"bm25/{f}.index.{e}" for f, e in (
    ("vocab", "json"), ("params", "json"), ("data.csc", "npy"), ("indices.csc", "npy"),
    ("indptr.csc", "npy")))}


def _columns(store) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    sc, out = store.bm25.scores, {}
    for term, t in store.bm25.vocab_dict.items():
        if t + 1 < len(sc["indptr"]):
            lo, hi = int(sc["indptr"][t]), int(sc["indptr"][t + 1])
            out[term] = (sc["indices"][lo:hi].astype(np.int64), sc["data"][lo:hi])
    return out


def compare(n: int, work: Path, n_questions: int = 100, seed: int = 0, vectors=None) -> dict:
    """Build both ways into ``work`` and compare; a dict of findings (AssertionError on a
    difference). ``vectors``: (base vectors, question vectors), else random ones."""
    from index.search.searcher import Searcher
    from index.store.store import IndexStore

    if vectors is None:
        rb = np.random.default_rng(seed + 1)
        base = scale_writer.unit(rb.standard_normal((600, 384)).astype(np.float32))
        questions = scale_writer.unit(base[rb.integers(0, 600, n_questions)]
                                      + 0.3 * rb.standard_normal((n_questions, 384)))
    else:
        base, questions = vectors[0], vectors[1][:n_questions]
    built, timing = {}, {}
    for how in ("memory", "chunked"):
        t0 = time.perf_counter()
        build = getattr(scale_writer, f"build_{'in_memory' if how == 'memory' else how}")
        built[how] = build(work / how / f"index-{n}", n, base, questions,
                           np.random.default_rng(seed), "archive", scratch=work / how / "scratch")
        timing[how] = time.perf_counter() - t0
    (m_out, m_bq), (c_out, c_bq) = built["memory"], built["chunked"]
    m = IndexStore(work / "memory" / f"index-{n}", verify="full")
    c = IndexStore(work / "chunked" / f"index-{n}", verify="full")
    found = {"n": n, "build_s": timing}
    # manifests
    skip = ("generation", "files")
    assert {k: v for k, v in m.manifest.items() if k not in skip} == \
        {k: v for k, v in c.manifest.items() if k not in skip}, "manifests differ"
    mf, cf = m.manifest["files"], c.manifest["files"]
    assert set(mf) == set(cf), f"file lists differ: {sorted(set(mf) ^ set(cf))}"
    same = sorted(f for f in mf if mf[f]["sha256"] == cf[f]["sha256"])
    differ = sorted(set(mf) - set(same))
    assert set(differ) <= MAY_DIFFER, f"files differ: {differ}"
    found.update(identical_files=same, differing_files=differ)
    # The one difference in faiss.index: write_generation trains and fills it from the float32
    # vectors, the chunked build from the float16 ones it stored (vectors.npy, the same bytes).
    import faiss

    from index.store import archive

    again = archive.build(np.load(c.gen_dir / archive.VECTORS), c.manifest["faiss"])
    found["faiss_index_is_build_of_stored_vectors"] = \
        faiss.serialize_index(again).tobytes() == (c.gen_dir / "faiss.index").read_bytes()
    # BM25, term by term
    mc, cc = _columns(m), _columns(c)
    assert set(m.bm25.vocab_dict) == set(c.bm25.vocab_dict) and set(mc) == set(cc)
    assert m.bm25.vocab_dict[""] == len(mc) and c.bm25.vocab_dict[""] == len(cc)
    exact_scores = True
    for term, (rows, data) in mc.items():
        rows2, data2 = cc[term]
        assert np.array_equal(rows, rows2), f"posting list of {term!r} differs"
        assert data.dtype == data2.dtype == np.float32
        assert np.allclose(data, data2, rtol=1e-6, atol=0), f"scores of {term!r} differ"
        exact_scores &= bool(np.array_equal(data, data2))
    found.update(bm25_terms=len(mc), bm25_pairs=int(sum(len(r) for r, _ in mc.values())),
                 bm25_scores_bitwise_equal=exact_scores,
                 bm25_rows_dtype=str(c.bm25.scores["indices"].dtype))
    assert m.bm25.scores["indices"].dtype == c.bm25.scores["indices"].dtype
    mp = json.loads((m.gen_dir / "bm25" / "params.index.json").read_text())
    cp = json.loads((c.gen_dir / "bm25" / "params.index.json").read_text())
    assert {**mp, "version": 0} == {**cp, "version": 0}, (mp, cp)
    assert m_bq == c_bq, "BM25 queries differ"
    import bm25s

    ref = bm25s.BM25.load(str(c.gen_dir / "bm25"), mmap=True)
    for toks in c_bq:
        assert np.array_equal(ref.get_scores(toks), c.bm25_scores(toks))
        assert np.allclose(m.bm25_scores(toks), c.bm25_scores(toks), rtol=1e-6, atol=0)
        (i1, s1), (i2, s2) = m.bm25_top(toks, 10), c.bm25_top(toks, 10)
        assert np.array_equal(i1, i2) and np.allclose(s1, s2, rtol=1e-6, atol=0), toks
    # recall truth, dense search, answers
    truth_same = float(np.mean([a == b for a, b in zip(m_out["truth"], c_out["truth"])]))
    assert truth_same >= 0.98, f"recall truth differs for {1 - truth_same:.1%} of questions"
    dense_same = float(np.mean([np.array_equal(m.dense_search(q, 10)[0], c.dense_search(q, 10)[0])
                                for q in questions]))
    recall = {}
    for how, store, out in (("memory", m, m_out), ("chunked", c, c_out)):
        recall[how] = float(np.mean([len(set(store.dense_search(q, 10)[0].tolist()) & set(t)) / 10
                                     for q, t in zip(questions, out["truth"])]))
    answers_same, quotes = 0, 0
    ms, cs = Searcher(m, None), Searcher(c, None)
    deep = ms.params.candidates  # what the ranking asks of dense search
    found["dense_candidates_same"] = float(np.mean([np.array_equal(
        m.dense_search(q, deep)[0], c.dense_search(q, deep)[0]) for q in questions]))
    for q, toks in list(zip(questions, c_bq))[:30]:
        text = " ".join(toks)
        # threshold 0: every question is answered, so that there are quotes to check
        a = ms.answer_from(text, text, q, toks, threshold=0.0)
        b = cs.answer_from(text, text, q, toks, threshold=0.0)
        for store, ans in ((m, a), (c, b)):
            for cit in ans.citations:
                assert store.article_by_id[cit.article.id].body[cit.start:cit.end] == cit.quote
                quotes += 1
        answers_same += [(x.article.id, x.start, x.end) for x in a.citations] == \
            [(x.article.id, x.start, x.end) for x in b.citations]
    assert quotes, "no citations at all"
    found.update(truth_same=truth_same, dense_top10_same=dense_same, recall=recall,
                 answers_same=f"{answers_same}/30", quotes_checked=quotes,
                 cite_scan=(len(m.table.cite_scan), len(c.table.cite_scan)))
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="30000,70000",
                    help="passages (above 65,536 the BM25 rows stay int32, below uint16)")
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--real", action="store_true",
                    help="the real model's vectors (bench_scale.base_vectors), not random ones")
    args = ap.parse_args()
    vectors = None
    if args.real:
        from bench_scale import base_vectors

        vectors = base_vectors()
    ok = True
    for n in [int(x) for x in args.sizes.split(",")]:
        work = Path(tempfile.mkdtemp(prefix="scale10m-check-", dir=args.workdir))
        try:
            print(json.dumps(compare(n, work, args.questions, vectors=vectors)), flush=True)
        except AssertionError as exc:
            ok = False
            print(f"{n:,} passages: DIFFERENT: {exc}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
