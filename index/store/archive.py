"""Archive-size dense search: a compressed FAISS index (IVF-PQ) whose candidates are re-ranked
by the exact vectors, read from a memory-mapped float16 file.

Above ``ARCHIVE_ABOVE`` passages an HNSW graph over float32 vectors stops fitting comfortably:
it needs its vectors (1.5 KB a passage) and graph in memory to be fast, 17 GB at 10 million
passages, and takes hours to build on a few cores. The archive index keeps only 48-byte PQ codes
and the inverted lists in memory (~0.06 KB a passage), as 4-bit "fast-scan" codes that FAISS
scans with SIMD shuffles (96 sub-quantizers of 4 bits: 48 bytes a passage, the bytes of PQ48x8
with about its recall, at a quarter of its scan or less: docs/benchmarks.md); each question scans
``nprobe`` lists and scores the best ``CODES_DEPTH`` again with an int8 copy of the vectors kept
in memory, and the best ``EXACT_DEPTH`` of those with their exact vectors (``vectors.npy``,
float16, 768 B a passage, on disk). Its sentences get PQ codes too ("sentence codes" below),
which rank the candidates before their sentence vectors are read from disk.

Everything works in chunks so that a 10-million-passage build never holds all vectors as
float32: training uses a sample, vectors are added and written chunk by chunk. The parameters
and the threshold are measured by benchmarks/bench_archive.py (docs/benchmarks.md, "Archive-size
index").
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

ARCHIVE = "archive"
VECTORS = "vectors.npy"  # the exact passage vectors, float16 (n, dim)
# The same vectors as int8 with one float32 scale a row (half the bytes: 3.8 GB at 10M, kept in
# memory by a serving process): the PQ candidates are scored with them, and only the best
# EXACT_DEPTH are read again from the float16 file (a ~1,000-row read a question became 16).
# Cheap candidates allow more of them: CODES_DEPTH instead of RERANK_DEPTH, which at 10M
# synthetic passages took recall@10 from 0.954 to 0.984 for ~1 ms (docs/benchmarks.md); the
# int8 order kept the top 50 of every question among its best 64 already.
CODES, SCALES = "vectors.int8.npy", "vectors.scale.npy"
# A fresh question at 10M is bound by the disk (a virtual disk serves ~10k random 4 KB reads a
# second here, docs/benchmarks.md), not by the arithmetic: the int8 copy gives every candidate
# its score, and only the best EXACT_DEPTH are read again from the float16 file and re-scored
# (int8 scores are within ~0.001 of them). 128 re-read rows were ~12 ms of a fresh question.
EXACT_DEPTH = 16
CODES_DEPTH = 2048
# HNSW is kept up to here: at 2M passages its vectors and graph are ~3.4 GB of memory.
ARCHIVE_ABOVE = 2_000_000
PQ_M = 48                     # bytes of PQ code a passage (8 dims a byte at 384)
# 4-bit sub-quantizers scanned by FAISS's fast-scan kernels: twice as many (96 of 4 dims) in
# the same 48 bytes. At 10M synthetic passages, nprobe 64, depth 2,048: recall@10 0.982 with a
# 2.9 ms scan on an AVX2 CPU, against 0.984 and 10-14 ms for 8-bit codes (48 of 4 bits: 0.833);
# the index built with them: 0.975 over bench_scale.py's 300 questions, ~1 ms on AVX-512.
PQ_BITS = 4
# PQ candidates re-scored with the exact vectors. The PQ codes' error, not nprobe, bounds the
# recall: at 2M mixtures of real MiniLM vectors (bench_scale.py), recall@10 0.911 at 256,
# 0.970 at 512, 0.994 at 1024 for +1 ms (docs/benchmarks.md); nprobe 32-256 changed nothing.
RERANK_DEPTH = 1024           # without the int8 copy (indexes built before it)
# Inverted lists scanned per question: the scan is most of the search (~10 ms at 10M); 32
# lost little there (0.980 against 0.984) but much on the tests' harder 20k vectors.
NPROBE = 64
TRAIN_PER_LIST = 48           # training sample: this many vectors per inverted list
CHUNK = 200_000               # vectors added / written at a time
EXACT_ABOVE_FRACTION = 0.05   # a search deeper than this share of the index is done exactly
FILTERED_EXACT = 50_000       # a filtered question (--since, --source) scores this many exactly


def params_for(n: int, dim: int) -> dict:
    """Index parameters for ``n`` vectors: about sqrt(n) inverted lists (a power of two)."""
    nlist = 2 ** max(4, min(14, round(math.log2(max(16.0, math.sqrt(max(n, 1)))))))
    m = PQ_M if dim % PQ_M == 0 else next(d for d in (32, 24, 16, 12, 8, 4, 2, 1) if dim % d == 0)
    # A list needs codes to train: few vectors, few lists (tests build archive indexes of ~100).
    nlist = max(1, min(nlist, n // 39))
    # Fast-scan codes pack two 4-bit codes a byte; a tiny index (too few vectors to train 8-bit
    # centroids either) keeps the plain PQ below, with fewer bits.
    fast = n >= 1024 and dim % (2 * m) == 0
    # "rerank": the depth at build, for the record; searches use RERANK_DEPTH as it is now
    return {"nlist": nlist, "pq_m": 2 * m if fast else m, "pq_bits": PQ_BITS if fast else 8,
            "fast_scan": fast, "nprobe": min(NPROBE, nlist), "rerank": RERANK_DEPTH,
            "vectors": VECTORS, "vector_dtype": "float16", "codes": CODES,
            "sentence_codes": SENT_CODES}


def factory_string(n: int, info: dict) -> str:
    """FAISS's name of the index ``build`` makes for ``n`` vectors with these parameters (an
    older manifest, without "fast_scan", gets the 8-bit PQ it was built with)."""
    nlist, m = info["nlist"], info["pq_m"]
    quant = f"IVF{nlist}_HNSW32" if nlist >= 1024 else f"IVF{nlist}"
    if info.get("fast_scan"):
        return f"{quant},PQ{m}x{info.get('pq_bits', PQ_BITS)}fs"
    # At PQ 8 bits a sub-quantizer needs 256 training vectors: tiny indexes use fewer bits.
    nbits = 8 if n >= 1024 else max(1, min(8, int(math.log2(max(2, n // 4)))))
    return f"{quant},PQ{m}x{nbits}"


def _unit_f32(block) -> np.ndarray:
    return np.ascontiguousarray(block, dtype=np.float32)


def build(vectors, info: dict, seed: int = 0, progress=None):
    """An IVF-PQ index over ``vectors`` (any array, a memory map included), trained on a sample
    and filled chunk by chunk. L2 on unit vectors ranks as inner product does."""
    import faiss

    n, dim = vectors.shape
    index = faiss.index_factory(dim, factory_string(n, info), faiss.METRIC_L2)
    rng = np.random.default_rng(seed)
    sample_n = min(n, max(info["nlist"] * TRAIN_PER_LIST, 256 * 40))
    rows = np.sort(rng.choice(n, sample_n, replace=False)) if sample_n < n else np.arange(n)
    ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    ivf.cp.niter = 12  # kmeans iterations: the lists only need to be roughly balanced
    if hasattr(ivf, "do_polysemous_training"):  # 8-bit PQ only
        ivf.do_polysemous_training = False  # minutes of training for a Hamming filter unused
    # The PQ only proposes candidates (the exact vectors rank them): a light training will do.
    ivf.pq.cp.niter, ivf.pq.cp.max_points_per_centroid = 10, 64
    index.train(_unit_f32(vectors[rows]))
    for lo in range(0, n, CHUNK):
        index.add(_unit_f32(vectors[lo:lo + CHUNK]))
        if progress:
            progress(min(n, lo + CHUNK), n)
    return index


def write_vectors(path: Path, vectors) -> None:
    """The exact vectors as a float16 .npy, written chunk by chunk."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=vectors.shape)
    for lo in range(0, len(vectors), CHUNK):
        out[lo:lo + CHUNK] = np.asarray(vectors[lo:lo + CHUNK], dtype=np.float16)
    out.flush()
    del out


def write_codes(gen_dir: Path, vectors) -> None:
    """The int8 copy of the exact vectors (CODES, SCALES), chunk by chunk, quantized from their
    float16 values as stored (so that either writer gives the same bytes)."""
    n, dim = vectors.shape
    codes = np.lib.format.open_memmap(Path(gen_dir) / CODES, mode="w+", dtype=np.int8,
                                      shape=(n, dim))
    scales = np.zeros(n, dtype=np.float32)
    for lo in range(0, n, CHUNK):
        block = np.asarray(vectors[lo:lo + CHUNK], dtype=np.float16).astype(np.float32)
        top = np.abs(block).max(axis=1)
        scale = np.where(top > 0, top / 127.0, 1.0).astype(np.float32)
        codes[lo:lo + CHUNK] = np.rint(block / scale[:, None]).astype(np.int8)
        scales[lo:lo + CHUNK] = scale
    codes.flush()
    del codes
    np.save(Path(gen_dir) / SCALES, scales)


def open_codes(manifest: dict, gen_dir: Path):
    """(int8 codes, scales), memory-mapped, or None for an index built without them
    (ValueError when their shape is not the manifest's)."""
    if not (Path(gen_dir) / CODES).exists():
        return None
    codes = np.load(Path(gen_dir) / CODES, mmap_mode="r")
    scales = np.load(Path(gen_dir) / SCALES, mmap_mode="r").view(np.ndarray)
    if codes.shape != (manifest.get("passages"), manifest.get("dim")) or \
            scales.shape != (codes.shape[0],):
        raise ValueError(f"{CODES} has shape {codes.shape}")
    return codes, scales


def configure(index, info: dict) -> None:
    """Search settings recorded at build (nprobe; the coarse HNSW's search depth)."""
    import faiss

    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = int(info.get("nprobe", NPROBE))
    quant = faiss.downcast_index(ivf.quantizer)
    if hasattr(quant, "hnsw"):
        quant.hnsw.efSearch = max(128, 2 * ivf.nprobe)


def open_exact(index, manifest: dict, gen_dir: Path) -> np.ndarray:
    """Set the search settings recorded at build; the exact vectors, memory-mapped (ValueError
    when their shape is not the manifest's passages x dim)."""
    configure(index, manifest.get("faiss") or {})
    # The file name is this module's, not the manifest's: a manifest names no file to open.
    exact = np.load(Path(gen_dir) / VECTORS, mmap_mode="r")
    if exact.shape != (manifest.get("passages"), manifest.get("dim")):
        raise ValueError(f"{VECTORS} has shape {exact.shape}")
    return exact


def search(index, exact: np.ndarray, qvec: np.ndarray, k: int, depth: int | None = None,
           rows: np.ndarray | None = None, prefetch=None,
           coarse=None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by exact cosine among the PQ index's best ``max(k, depth)``: (indices, scores);
    depth by default CODES_DEPTH with ``coarse``, else RERANK_DEPTH.
    ``rows``: only these passages (a filtered question); ``prefetch(rows)``: starts reading
    the candidates' exact vectors before they are gathered (pages.RandomRows); ``coarse``:
    (int8 codes, scales, their prefetch or None): the candidates (or a small filtered set)
    are scored by the int8 vectors, and only the best EXACT_DEPTH by the exact ones."""
    n = len(exact) if rows is None else len(rows)
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if depth is None:
        depth = RERANK_DEPTH if coarse is None else CODES_DEPTH
    q = np.ascontiguousarray(qvec.reshape(1, -1), dtype=np.float32)
    params = {}
    if rows is not None:
        rows = np.asarray(rows, dtype=np.int64)
        if coarse is not None and n <= FILTERED_EXACT:  # in memory: no exact row read
            return _by_codes(exact, coarse, np.unique(rows), q[0], k, prefetch)
        if n <= FILTERED_EXACT or k > EXACT_ABOVE_FRACTION * n:
            return exact_search(exact, q[0], k, rows=rows, prefetch=prefetch)
        import faiss

        params["params"] = faiss.SearchParametersIVF(
            sel=faiss.IDSelectorBatch(rows), nprobe=faiss.extract_index_ivf(index).nprobe)
    elif k > EXACT_ABOVE_FRACTION * n:  # e.g. a question that reads a large share
        return exact_search(exact, q[0], k, prefetch=prefetch)
    _, idx = index.search(q, min(n, max(k, depth)), **params)
    idx = idx[0][idx[0] >= 0]
    if rows is not None and len(idx) < min(k, n):  # the lists scanned hold too few of the rows
        return exact_search(exact, q[0], k, rows=rows, prefetch=prefetch)
    order = np.sort(idx)  # rows in file order: fewer, more sequential page reads
    if coarse is not None:
        return _by_codes(exact, coarse, order, q[0], k, prefetch)
    if prefetch is not None:
        prefetch(order)
    scores = np.asarray(exact[order], dtype=np.float32) @ q[0]
    best = np.argsort(-scores, kind="stable")[:k]
    return order[best], scores[best]


def _by_codes(exact, coarse, rows: np.ndarray, q: np.ndarray, k: int,
              prefetch=None) -> tuple[np.ndarray, np.ndarray]:
    """The top k of ``rows`` (ascending) by their int8 vectors, the best EXACT_DEPTH of them
    scored again by their exact ones: (indices, scores), best first."""
    codes, scales, prefetch_codes = coarse
    if prefetch_codes is not None:
        prefetch_codes(rows)
    approx = (np.asarray(codes[rows], dtype=np.float32) @ q) * scales[rows]
    # at least EXACT_DEPTH: a k of 10 must not leave the int8 order to decide the tenth
    depth = max(k, EXACT_DEPTH)
    top = np.argpartition(-approx, depth - 1)[:depth] if len(rows) > depth else \
        np.arange(len(rows))
    top = top[np.argsort(-approx[top], kind="stable")]
    ids, scores = rows[top], approx[top].astype(np.float32)
    lead = np.argsort(ids[:EXACT_DEPTH])  # the best ones' positions, in file order
    if prefetch is not None:
        prefetch(ids[lead])
    scores[lead] = np.asarray(exact[ids[lead]], dtype=np.float32) @ q
    best = np.argsort(-scores, kind="stable")[:k]
    return ids[best], scores[best]


def exact_search(exact: np.ndarray, qvec: np.ndarray, k: int, chunk: int = 1 << 20,
                 rows: np.ndarray | None = None, prefetch=None) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-k over the exact vectors (only ``rows`` when given), chunk by chunk;
    ``prefetch`` as for search: each chunk's reads are started together."""
    rows = None if rows is None else np.sort(np.asarray(rows, dtype=np.int64))
    n = len(exact) if rows is None else len(rows)
    k = min(k, n)
    ids, scs = [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for lo in range(0, n, chunk):
        part = np.arange(lo, min(n, lo + chunk)) if rows is None else rows[lo:lo + chunk]
        if prefetch is not None:
            prefetch(part)
        block = exact[lo:lo + chunk] if rows is None else exact[part]
        s = np.asarray(block, dtype=np.float32) @ qvec
        top = np.argpartition(-s, k - 1)[:k] if len(s) > k else np.arange(len(s))
        ids.append(part[top])
        scs.append(s[top])
    idx, sc = np.concatenate(ids), np.concatenate(scs)
    best = np.argsort(-sc, kind="stable")[:k]
    return idx[best], sc[best]


def write_files(gen_dir: Path, info: dict, passage_vectors, sentence_vectors=None) -> None:
    """What an archive generation keeps beside faiss.index: the exact vectors (float16), their
    int8 copy, and the sentences' PQ codes (write_sentence_codes)."""
    if info.get("index_type") == ARCHIVE:
        write_vectors(Path(gen_dir) / VECTORS, passage_vectors)
        write_codes(gen_dir, passage_vectors)
        if sentence_vectors is not None:
            write_sentence_codes(gen_dir, sentence_vectors)


# -- sentence codes ---------------------------------------------------------------------------
# Archive indexes: every sentence vector as a 48-byte PQ code, small enough to stay in memory.
#
# Stage 1 of the ranking scores each candidate passage by its best sentence's cosine, and at 10
# million passages the sentence vectors (float16, 23 GB) live on disk: a fresh question read those
# of its ~100 candidates, ~130 random pages, ~11 ms on a disk that serves ~10k random reads a
# second (docs/benchmarks.md, "The full answer at 10M"). The codes (1.4 GB at 30M sentences)
# give every candidate an approximate best cosine in memory; the ranking then reads the exact
# vectors of the best few only (rank.SENT_EXACT) and of whatever its head still lacks, so the
# passages it scores again and quotes are scored exactly as before. On news dev, the exact
# stage-1 top 10 was within the codes' top 30 for all 300 questions (top 20: 98%).
#
# Indexes built without the codes are read as before: every candidate's vectors from disk.
SENT_CODES = "sentences.pq.npy"        # uint8 (sentences, code bytes)
SENT_QUANTIZER = "sentences.pq.faiss"  # the trained faiss.ProductQuantizer
SENT_SUB = 48                     # sub-quantizers at 384 dimensions: 8 dimensions each
SENT_SAMPLE = 65_536              # training sample (256 centroids need ~10k points)


def _sent_sub(dim: int) -> int:
    return SENT_SUB if dim % SENT_SUB == 0 else \
        next(d for d in (32, 24, 16, 12, 8, 4, 2, 1) if dim % d == 0)


def _sent_bits(n: int) -> int:
    """8 bits a sub-quantizer when there are points to train 256 centroids, fewer (down to 4)
    for the tests' small indexes."""
    return max(4, min(8, int(math.log2(max(2, n // 39)))))


def _as_stored(block) -> np.ndarray:
    """float32 from the float16 values sentences.npy holds, whatever ``block`` is: either
    writer (in memory, or chunked from the file) then gives the same bytes."""
    return np.asarray(block, dtype=np.float16).astype(np.float32)


def write_sentence_codes(gen_dir: Path, sentence_vectors, seed: int = 0) -> None:
    """Train the quantizer on a sample of ``sentence_vectors`` (any array, a memory map
    included) and write every sentence's code, chunk by chunk."""
    import faiss

    n, dim = sentence_vectors.shape
    if n < 2 ** 4:  # too few to train even 4-bit centroids: read exactly, as without codes
        return
    pq = faiss.ProductQuantizer(dim, _sent_sub(dim), _sent_bits(n))
    pq.cp.min_points_per_centroid = 1  # a small index's few points: no warning per sub-quantizer
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, SENT_SAMPLE, replace=False)) if n > SENT_SAMPLE else np.arange(n)
    pq.train(_as_stored(sentence_vectors[rows]))
    codes = np.lib.format.open_memmap(Path(gen_dir) / SENT_CODES, mode="w+", dtype=np.uint8,
                                      shape=(n, pq.code_size))
    for lo in range(0, n, 5 * CHUNK):
        codes[lo:lo + 5 * CHUNK] = pq.compute_codes(_as_stored(sentence_vectors[lo:lo + 5 * CHUNK]))
    codes.flush()
    del codes
    faiss.write_ProductQuantizer(pq, str(Path(gen_dir) / SENT_QUANTIZER))


class SentenceCodes:
    """The codes of an index's sentences (memory-mapped) and their quantizer."""

    def __init__(self, codes: np.ndarray, pq):
        import faiss

        self.codes, self.pq = codes, pq
        self._centroids = faiss.vector_to_array(pq.centroids).reshape(pq.M, pq.ksub, pq.dsub)
        self._first = np.arange(pq.M, dtype=np.intp) * pq.ksub  # each sub-quantizer's table row

    @classmethod
    def open(cls, gen_dir: Path, sentences: int, dim: int) -> SentenceCodes | None:
        """The generation's codes, or None when it was built without them (ValueError when
        they do not match its sentences)."""
        import faiss

        if not (Path(gen_dir) / SENT_CODES).exists():
            return None
        pq = faiss.read_ProductQuantizer(str(Path(gen_dir) / SENT_QUANTIZER))
        codes = np.load(Path(gen_dir) / SENT_CODES, mmap_mode="r").view(np.ndarray)
        if codes.shape != (sentences, pq.code_size) or pq.d != dim:
            raise ValueError(f"{SENT_CODES} has shape {codes.shape}")
        return cls(codes, pq)

    def cosines(self, rows: np.ndarray, qvec: np.ndarray) -> np.ndarray:
        """Approximate cosines of these sentences with the question (float32): the sum of each
        sub-vector's product with its centroid, from a table of all of them. (FAISS's decode
        of ~250 codes took 5 ms in a serving process, its threads waiting on busy cores; this
        is single-threaded numpy, ~0.1 ms.)"""
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        q = np.asarray(qvec, dtype=np.float32).reshape(self.pq.M, self.pq.dsub)
        codes = np.asarray(self.codes[np.asarray(rows, dtype=np.int64)])
        if self.pq.nbits != 8:  # packed codes (the tests' small indexes): FAISS unpacks them
            return self.pq.decode(np.ascontiguousarray(codes)) @ q.reshape(-1)
        table = np.matmul(self._centroids, q[:, :, None]).reshape(-1)  # (M * ksub,)
        return np.take(table, codes.astype(np.intp) + self._first).sum(axis=1, dtype=np.float32)


def index_reason(manifest: dict, flat_max: int) -> str:
    """Why the manifest's FAISS index has its type, in one line (writer.index_reason)."""
    # flat_max: writer.FLAT_MAX, passed in (writer imports this module, not the reverse)
    kind, n = manifest.get("index_type"), manifest.get("passages") or 0
    info = manifest.get("faiss") or {}
    if manifest.get("index_type_asked"):
        why = "asked for at build"
    elif kind == "flat":
        why = f"{n:,} passages <= {flat_max:,}: exact search is fast enough"
    elif kind == "hnsw":
        why = f"{flat_max:,} < {n:,} passages <= {ARCHIVE_ABOVE:,}: HNSW graph in memory"
    else:
        why = f"{n:,} passages > {ARCHIVE_ABOVE:,}: PQ codes in memory, exact vectors on disk"
    stored = info.get("vector_dtype", "float32")  # indexes before it was recorded: float32
    params = {"flat": lambda: f"{stored} vectors",
              "hnsw": lambda: f"M {info.get('M')}, efSearch {info.get('efSearch')}, "
                              f"{stored} vectors",
              "archive": lambda: (f"IVF{info.get('nlist')},PQ{info.get('pq_m')}"
                                  + (f"x{info.get('pq_bits', PQ_BITS)} fast-scan"
                                     if info.get("fast_scan") else "")
                                  + f", nprobe "
                                  f"{info.get('nprobe')}, re-rank "
                                  + (f"{CODES_DEPTH} by int8 vectors, the best {EXACT_DEPTH} by "
                                     if info.get("codes") else f"{RERANK_DEPTH} by ")
                                  + f"{info.get('vector_dtype')} vectors"
                                  + ("; sentences ranked by PQ codes first"
                                     if info.get("sentence_codes") else ""))}.get(kind)
    return f"{why}" + (f" ({params()})" if params else "")
