"""The synthetic index of bench_scale.py: its passages and vectors (``synth_chunks``) and two ways
to write them as a citebot index generation.

``build_in_memory``: everything in memory, BM25 by bm25s, then citebot's own writer
(writer.write_generation), as every build does. 20.6 GB at 2M passages.

``build_chunked``: a chunk of passages at a time, nothing of size n held but the BM25 arrays
(scale_bm25.py, 8 bytes per passage-term pair): the passage table (table.TableWriter, the bytes
write_table writes), the float16 sentence vectors and the archive index's float16 exact vectors
(archive.VECTORS) are appended to their files as they are made; the FAISS archive index is
trained and filled from those vectors (archive.build, as write_generation does), read a block
at a time; the folder is sealed and switched to by writer.seal_generation and writer.switch_to,
as write_generation does. For the compressed archive index (issue 15: 10M passages).

Both draw the same random numbers in the same order: at one seed they write the same passages,
vectors, table and BM25 scores (check_scale_writer.py shows it).
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np
from common import median, merge_top10, unit

WORDS, SENTENCES, PER_ARTICLE, VOCAB = 20, 3, 10, 50_000
CHUNK = 50_000  # passages made at a time (a multiple of PER_ARTICLE: articles never straddle)
TIMED = 30  # questions whose exact search is timed


def word(j: int) -> str:
    return f"w{j}"


def synth_chunks(n: int, base: np.ndarray, rng, chunk: int = CHUNK):
    """(first row, word ids (m, SENTENCES, WORDS), articles, passages, passage vectors, sentence
    vectors) of ``n`` synthetic passages, ``chunk`` at a time: ten paragraphs an article, three
    sentences of twenty Zipf-distributed words each; passage vectors random mixes of three real
    vectors plus noise, sentence vectors their passage's plus noise."""
    from index.corpus.articles import Article
    from index.corpus.passages import Passage

    p = 1.0 / np.arange(3, VOCAB + 3) ** 1.1
    vocab = np.array([word(j) for j in range(VOCAB)], dtype=object)
    dim = base.shape[1]
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        words = rng.choice(VOCAB, size=(hi - lo, SENTENCES, WORDS), p=p / p.sum())
        pick = rng.integers(0, len(base), (hi - lo, 3))
        mix = rng.dirichlet([1.0, 1.0, 1.0], hi - lo).astype(np.float32)
        pv = unit((base[pick] * mix[..., None]).sum(1)
                  + rng.standard_normal((hi - lo, dim), dtype=np.float32) * 0.04)
        sv = np.repeat(pv, SENTENCES, axis=0)
        sv = unit(sv + rng.standard_normal(sv.shape, dtype=np.float32) * 0.035)
        texts = vocab[words].tolist()
        articles, passages = [], []
        for a_start in range(lo, hi, PER_ARTICLE):
            aid = f"a{a_start // PER_ARTICLE}"
            parts, pos = [], 0
            for k, i in enumerate(range(a_start, min(hi, a_start + PER_ARTICLE))):
                if k:
                    pos += 2  # "\n\n"
                spans, text, start = [], [], pos
                for s in range(SENTENCES):
                    sent = " ".join(texts[i - lo][s]) + "."
                    spans.append((start, start + len(sent)))
                    text.append(sent)
                    start += len(sent) + 1
                para = " ".join(text)
                passages.append(Passage(id=f"{aid}:p{k + 1}", article_id=aid, paragraph=k + 1,
                                        start=pos, end=pos + len(para), sentences=spans))
                parts.append(para)
                pos += len(para)
            articles.append(Article(id=aid, title=f"Synthetic article {aid}",
                                    body="\n\n".join(parts)))
        yield lo, words, articles, passages, pv, sv


def synth(n: int, base: np.ndarray, rng):
    """(articles, passages, BM25 token lists, passage vectors, sentence vectors), all of them."""
    articles, passages, tokens, pvecs, svecs = [], [], [], [], []
    for _, words, arts, ps, pv, sv in synth_chunks(n, base, rng):
        articles += arts
        passages += ps
        tokens += [[word(j) for j in row] for row in words.reshape(len(ps), -1).tolist()]
        pvecs.append(pv)
        svecs.append(sv)
    dim = base.shape[1]
    return (articles, passages, tokens,
            np.concatenate(pvecs) if pvecs else np.zeros((0, dim), np.float32),
            np.concatenate(svecs) if svecs else np.zeros((0, dim), np.float32))


def bm25_queries(n: int, count: int, rng, tokens_of) -> list[list[str]]:
    """Four words of a random passage each, the 100 commonest words (stop-word-like) left out,
    as a tokenizer would. ``tokens_of(rows)``: those passages' token lists."""
    rows = rng.integers(0, n, count)
    out = []
    for toks in tokens_of(rows):
        words = [w for w in dict.fromkeys(toks) if int(w[1:]) >= 100]
        out.append([words[j] for j in sorted(rng.choice(len(words), 4, replace=False))])
    return out


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _finish(index: Path, out: dict) -> dict:
    from index.store.store import IndexStore

    t0 = time.perf_counter()
    IndexStore(index, verify="full")
    out["verify_s"] = time.perf_counter() - t0
    out["disk"] = sum(f.stat().st_size for f in index.rglob("*") if f.is_file())
    out["peak_rss_gb"] = _peak_gb()
    return out


def build_in_memory(index: Path, n: int, base: np.ndarray, questions: np.ndarray, rng,
                    index_type: str | None = None, scratch: Path | None = None):
    """Write the index of ``n`` synthetic passages with bm25s and writer.write_generation:
    (build figures with the exact search's recall truth and timing, BM25 queries)."""
    import bm25s
    import faiss

    from index.store.writer import BuildData, write_generation

    t0 = time.perf_counter()
    articles, passages, tokens, pvecs, svecs = synth(n, base, rng)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    bm25_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_generation(index, BuildData(
        articles=articles, passages=passages, passage_vectors=pvecs, sentence_vectors=svecs,
        bm25=bm25, manifest={"model": "synthetic", "dim": int(pvecs.shape[1])},
        index_type=index_type))
    write_s = time.perf_counter() - t0
    del bm25, articles, passages, svecs
    out = _finish(index, {"n": n, "writer": "memory", "gen_s": gen_s, "bm25_s": bm25_s,
                          "write_s": write_s})
    bq = bm25_queries(n, len(questions), rng, lambda rows, t=tokens: [t[i] for i in rows])
    del tokens
    exact = faiss.IndexFlatIP(pvecs.shape[1])
    exact.add(pvecs)
    faiss.omp_set_num_threads(1)  # one question at a time, like the child
    lat = []
    for q in questions[:TIMED]:
        t0 = time.perf_counter()
        exact.search(q[None], 10)
        lat.append(time.perf_counter() - t0)
    faiss.omp_set_num_threads(0)
    _, truth = exact.search(questions, 10)
    out.update({"exact_p50": median(lat), "truth": truth.tolist()})
    return out, bq


class _Exact:
    """The exact top-10 of every question over all passage vectors (float32), kept as a running
    top-10 chunk by chunk; and the time of a one-thread exact search of the first TIMED
    questions, added up over the chunks (a FAISS IndexFlatIP of each chunk)."""

    def __init__(self, questions: np.ndarray):
        self.q = np.ascontiguousarray(questions, dtype=np.float32)
        self.best_s = np.full((len(self.q), 10), -np.inf, np.float32)
        self.best_i = np.full((len(self.q), 10), -1, np.int64)
        self.lat = np.zeros(min(TIMED, len(self.q)))

    def add(self, block: np.ndarray, lo: int) -> None:
        import faiss

        flat = faiss.IndexFlatIP(block.shape[1])
        flat.add(block)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # one question at a time, like the child
        for j, q in enumerate(self.q[:len(self.lat)]):
            t0 = time.perf_counter()
            flat.search(q[None], 10)
            self.lat[j] += time.perf_counter() - t0
        faiss.omp_set_num_threads(threads)
        s = self.q @ block.T  # exact float32 scores (a third of FAISS's time for 300 questions)
        self.best_s, self.best_i = merge_top10(self.best_s, self.best_i, s, lo)


class _Blocks:
    """A .npy file of vectors read a block at a time, each through a memory map closed right
    after: what archive.build reads never piles up as this process's resident pages (a map of
    the whole file keeps them: 7.7 GB at 10M passages)."""

    def __init__(self, path: Path):
        self.path = path
        self.shape = np.load(path, mmap_mode="r").shape

    def __getitem__(self, key) -> np.ndarray:
        return np.array(np.load(self.path, mmap_mode="r")[key])


def build_chunked(index: Path, n: int, base: np.ndarray, questions: np.ndarray, rng,
                  index_type: str | None = "archive", scratch: Path | None = None):
    """build_in_memory's index and figures, written chunk by chunk (the module docstring);
    archive index only. ``scratch``: a folder for the BM25 word ids (2 bytes a word, removed)."""
    import shutil

    import faiss
    from scale_bm25 import ChunkedBm25

    from index.store import archive
    from index.store.table import NpyAppender, TableWriter
    from index.store.writer import SENTENCE_DTYPE, new_generation, seal_generation, switch_to

    if (index_type or archive.ARCHIVE) != archive.ARCHIVE or n <= 0:
        raise ValueError("the chunked build writes archive indexes of at least one passage")
    scratch = Path(scratch or Path(index).parent / f"scratch-{n}")
    scratch.mkdir(parents=True, exist_ok=True)
    dim = base.shape[1]
    phases, t_all = {}, time.perf_counter()
    try:
        with new_generation(Path(index)) as (gen, tmp):
            vectors = NpyAppender(tmp / archive.VECTORS, np.float16, (n, dim))
            sentences = NpyAppender(tmp / "sentences.npy", SENTENCE_DTYPE, (n * SENTENCES, dim))
            table = TableWriter(tmp, n, n * SENTENCES)
            bm25 = ChunkedBm25(n, SENTENCES * WORDS, VOCAB, scratch, word)
            exact = _Exact(questions)
            made = write = truth = 0.0
            t0 = time.perf_counter()
            n_articles = 0
            for lo, words, articles, passages, pv, sv in synth_chunks(n, base, rng):
                t1 = time.perf_counter()
                made += t1 - t0
                vectors.append(pv.astype(np.float16))
                sentences.append(sv.astype(SENTENCE_DTYPE))
                table.add(articles, passages)
                bm25.add(words)
                n_articles += len(articles)
                t2 = time.perf_counter()
                exact.add(pv, lo)
                t0 = time.perf_counter()
                write, truth = write + t2 - t1, truth + t0 - t2
            for f in (vectors, sentences, table):
                f.close()
            t0 = time.perf_counter()
            archive.write_codes(tmp, np.load(tmp / archive.VECTORS, mmap_mode="r"))
            phases["codes_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            archive.write_sentence_codes(tmp, np.load(tmp / "sentences.npy", mmap_mode="r"))
            phases["sentence_codes_s"] = time.perf_counter() - t0
            bm25.finish_adding()
            phases.update(generate_s=made, append_s=write, truth_s=truth,
                          peak_gen_gb=_peak_gb())
            t0 = time.perf_counter()
            nnz = bm25.write(tmp / "bm25")
            phases.update(bm25_s=time.perf_counter() - t0, bm25_pairs=nnz,
                          peak_bm25_gb=_peak_gb())
            asked = {"index_type_asked": True} if index_type else {}
            info = archive.params_for(n, dim)
            t0 = time.perf_counter()
            stamps = []
            faiss_index = archive.build(_Blocks(tmp / archive.VECTORS), info,
                                        progress=lambda *_: stamps.append(time.perf_counter()))
            phases["faiss_train_s"] = stamps[0] - t0 - (
                stamps[1] - stamps[0] if len(stamps) > 1 else 0)  # less one chunk's add
            phases["faiss_build_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            faiss.write_index(faiss_index, str(tmp / "faiss.index"))
            del faiss_index
            phases.update(faiss_write_s=time.perf_counter() - t0, peak_faiss_gb=_peak_gb())
            t0 = time.perf_counter()
            files = seal_generation(Path(index), gen, tmp)
            phases["seal_s"] = time.perf_counter() - t0
        switch_to(Path(index), gen, {"model": "synthetic", "dim": int(dim),
                                     "index_type": archive.ARCHIVE, "faiss": info, **asked},
                  files, passages=n, sentences=n * SENTENCES, articles=n_articles)
        out = {"n": n, "writer": "chunked", "gen_s": made + write + truth,
               "bm25_s": phases["bm25_s"],
               "write_s": phases["faiss_build_s"] + phases["faiss_write_s"] + phases["seal_s"],
               "build_s": time.perf_counter() - t_all, "phases": phases}
        bq = bm25_queries(n, len(questions), rng, lambda rows: (
            [word(j) for j in row] for row in bm25.words(rows).tolist()))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out = _finish(Path(index), out)
    out.update({"exact_p50": median(exact.lat.tolist()), "truth": exact.best_i.tolist()})
    return out, bq
