"""The index on disk: FAISS (passages), sentence vectors, BM25, the passage table and a manifest.

Layout of an index folder::

    manifest.json   names the current generation; size, sha256 and stat stamp of each file
    gen-<id>/       one complete build: faiss.index, sentences.npy, bm25/, the passage table
                    (table.py) and model.ref, naming its question encoder in models/
    models/<key>/   the question encoder's files (embed/onnx.py), once for all generations
                    (model_store.py)
    cache/          embeddings of earlier builds (cache.py)

A build writes a new generation, then replaces ``manifest.json`` with ``os.replace``: a reader
sees the old index or the new one, never half of each.

Integrity. Every file's sha256 is taken at build. At load every file's size is checked, and every
file up to ALWAYS_HASH_BYTES is hashed again; a larger file is hashed again unless its stat stamp
(inode, mtime, ctime) is still the one recorded at build, i.e. nothing has written to it since
it was hashed (a process can set mtime back, not ctime). A copied, restored or edited file is
therefore always re-hashed before use; what a stamp cannot see is silent media corruption of a
large file, which ``IndexStore(verify="full")`` / `citebot index verify` checks. This keeps a
one-million-passage index (gigabytes) loading in under a second without trusting a changed file.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from ..errors import IndexCorrupt, IndexMismatch, IndexMissing
from ..fileio import sha256_file
from . import archive
from .bm25_arrays import Bm25Arrays, DocFreq, exact_scores, impact_top
from .model_store import shared_listing
from .pages import RandomRows

FORMAT_VERSION = 2  # 2: compact passage table (table.py), stat stamps, ONNX question encoder
MANIFEST = "manifest.json"
KEEP_GENERATIONS = 2  # the current one and the one before, for readers still holding it
ALWAYS_HASH_BYTES = 128 << 20  # files up to this size are re-hashed at every load (~75 ms)
# HNSW above writer.FLAT_MAX passages; its parameters and the search depth by size were chosen
# with benchmarks/bench_scale.py (docs/benchmarks.md): recall@10 against exact search 0.99 at
# 100k with efSearch 128, 0.97-0.98 at 1M with 512, ~1 ms.
HNSW = {"M": 16, "efConstruction": 64, "efSearch": 128}
EXACT_FILTERED = 50_000  # a filtered HNSW search scores up to this many passages exactly


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def read_manifest(index_dir: Path) -> dict:
    """The manifest of an index folder, or IndexMissing / IndexCorrupt."""
    path = Path(index_dir) / MANIFEST
    if not path.exists():
        raise IndexMissing(f"no index at {index_dir}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"the index manifest {path} is unreadable ({type(exc).__name__})") from None
    if not isinstance(manifest, dict) or "generation" not in manifest:
        raise IndexCorrupt(f"the index manifest {path} is not a citebot manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(f"the index at {index_dir} has format version "
                            f"{manifest.get('format_version')!r}, this citebot reads "
                            f"{FORMAT_VERSION}")
    from .manifest_check import validate_manifest

    validate_manifest(manifest, path, Path(index_dir))
    return manifest


class IndexStore:
    """A loaded index: articles, passages, FAISS, sentence vectors and BM25, checked on load.

    ``verify``: True (sizes, and hashes as the module docstring says), "full" (every hash),
    False (nothing: for tools that only count).
    """

    def __init__(self, index_dir: Path, verify: bool | str = True):
        for attempt in range(3):
            try:
                self._load(Path(index_dir), verify)
                return
            except IndexCorrupt:
                # A build may have switched to a new generation and pruned this one while it
                # was being read: that is not damage, so read the new one. Damage stays put.
                if attempt == 2 or read_manifest(Path(index_dir)).get("generation") == \
                        self.manifest.get("generation"):
                    raise

    def _load(self, index_dir: Path, verify: bool | str) -> None:
        import faiss

        from .table import Table

        self.index_dir = index_dir
        self.manifest = read_manifest(self.index_dir)
        self.gen_dir = self.index_dir / self.manifest["generation"]
        self.hashed: list[str] = []  # files hashed by this load (tests and benchmarks read it)
        if verify:
            self.verify(full=verify == "full")
        try:
            self.table = Table(self.gen_dir)
            # Memory-mapped vectors: opening is instant whatever the size; pages load on use.
            self.faiss = faiss.read_index(str(self.gen_dir / "faiss.index"),
                                          faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
            self.exact = None  # archive indexes: the exact vectors, memory-mapped
            self.codes = None  # and their int8 copy, (codes, scales), where the build wrote it
            if self.manifest.get("index_type") == "hnsw":
                self.faiss.hnsw.efSearch = int((self.manifest.get("faiss") or {}).get(
                    "efSearch", HNSW["efSearch"]))
            elif self.manifest.get("index_type") == archive.ARCHIVE:
                self.exact = archive.open_exact(self.faiss, self.manifest, self.gen_dir)
                self.codes = archive.open_codes(self.manifest, self.gen_dir)
            self.sentence_vectors = np.load(self.gen_dir / "sentences.npy",
                                            mmap_mode="r").view(np.ndarray)  # as in table.py
            # An archive index is larger than memory: its scattered rows are read page by
            # page, several at once (pages.py); smaller indexes stay cached and are warmed.
            self._random = {} if self.exact is None else {
                "exact": RandomRows(self.exact), "sentences": RandomRows(self.sentence_vectors)}
            if self.codes is not None:
                self._random["codes"] = RandomRows(self.codes[0])
            if self.exact is not None:
                self.table.read_bodies_at_random()
            # archive indexes: their sentences' PQ codes, where the build wrote them
            self.sentence_codes = None if self.exact is None else archive.SentenceCodes.open(
                self.gen_dir, len(self.sentence_vectors), self.sentence_vectors.shape[1])
        except Exception as exc:  # noqa: BLE001 - whatever the reader raised, it is damage
            raise IndexCorrupt(f"the index at {self.index_dir} cannot be read "
                               f"({type(exc).__name__})") from exc
        self.articles = self.table.articles
        self.article_by_id = self.table.article_by_id
        self.passages = self.table.passages
        self.passage_by_id = self.table.passage_by_id
        self.sentence_offsets = self.table.sentence_offsets
        if (self.faiss.ntotal != len(self.passages)
                or len(self.sentence_vectors) != int(self.sentence_offsets[-1])
                or self.manifest.get("passages") != len(self.passages)
                or self.manifest.get("articles") != len(self.articles)):
            raise IndexCorrupt(f"the index at {self.index_dir} does not match its passage table")
        self._bm25 = None
        self._local = threading.local()  # bm25_top's score buffer, one per thread
        self.doc_freq = DocFreq(self)

    def verify(self, full: bool = False) -> None:
        """Check the generation's files against the manifest (see the module docstring)."""
        files = self.manifest.get("files") or {}
        if not files:
            raise IndexCorrupt(f"the index manifest at {self.index_dir} lists no files")
        # The generation's own files, then those it shares with others (models/, by index path)
        listed = [(self.gen_dir, rel, info) for rel, info in files.items()] + \
            shared_listing(self.index_dir, self.manifest)
        for base, rel, info in listed:
            path = base / rel
            if not path.is_file():
                raise IndexCorrupt(f"index file {rel} is missing from {base}")
            size = path.stat().st_size
            if size != info.get("size"):
                raise IndexCorrupt(f"index file {rel} is damaged (size {size}, "
                                   f"expected {info.get('size')})")
            unchanged = info.get("stamp") is not None and _stamp(path) == info["stamp"]
            if full or size <= ALWAYS_HASH_BYTES or not unchanged:
                self.hashed.append(rel)
                if sha256_file(path) != info.get("sha256"):
                    raise IndexCorrupt(f"index file {rel} is damaged (checksum mismatch)")

    def warm(self) -> threading.Thread | None:
        """Map this index's arrays into the process in a background thread, for a process
        that answers for long (warm.py); None when they are too large a share of memory."""
        from .warm import warm_in_background

        return warm_in_background(self)

    @property
    def bm25(self) -> Bm25Arrays:
        """The BM25 index, loaded on first use (memory-mapped)."""
        if self._bm25 is None:
            try:
                self._bm25 = Bm25Arrays(self.gen_dir / "bm25")
            except Exception as exc:  # noqa: BLE001
                raise IndexCorrupt(f"the BM25 index at {self.gen_dir} cannot be read") from exc
            if self._bm25.scores["num_docs"] != len(self.passages):
                raise IndexCorrupt(f"the BM25 index at {self.gen_dir} does not match its "
                                   f"passage table")
        return self._bm25

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def sentence_rows(self, passage_idx: int) -> tuple[int, int]:
        """The rows of ``sentence_vectors`` that belong to a passage."""
        return int(self.sentence_offsets[passage_idx]), int(self.sentence_offsets[passage_idx + 1])

    def article_rows(self, article_id: str) -> range:
        """The passage rows of one article, in paragraph order (KeyError if unknown)."""
        return self.table.article_rows(article_id)

    def dense_search(self, qvec: np.ndarray, k: int,
                     rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k passages by cosine similarity: (indices, scores). ``rows``: only these
        passages (--since, --source), found by FAISS among them alone rather than by sorting
        the whole index."""
        if self.exact is not None:  # compressed candidates, re-ranked by exact vectors
            coarse = None if self.codes is None else (
                *self.codes, self._random["codes"].prefetch)
            return archive.search(self.faiss, self.exact, qvec, min(k, self.faiss.ntotal),
                                  rows=rows, prefetch=self._random["exact"].prefetch,
                                  coarse=coarse)
        x = np.ascontiguousarray(qvec.reshape(1, -1), dtype=np.float32)
        if rows is None:
            k = min(k, self.faiss.ntotal)
            if k <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            scores, idx = self.faiss.search(x, k)
        else:
            import faiss

            rows = np.asarray(rows, dtype=np.int64)
            k = min(k, len(rows))
            if k <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            if self.manifest.get("index_type") == "hnsw" and len(rows) <= EXACT_FILTERED:
                # A small filtered set is scored exactly: the graph search would wander
                # through passages the filter drops.
                vecs = self.faiss.reconstruct_batch(rows)
                sims = vecs @ x[0]
                top = np.argsort(-sims, kind="stable")[:k]
                return rows[top], sims[top].astype(np.float32)
            selector = faiss.IDSelectorBatch(rows)
            params = (faiss.SearchParametersHNSW(sel=selector, efSearch=max(
                self.faiss.hnsw.efSearch, k)) if self.manifest.get("index_type") == "hnsw"
                else faiss.SearchParameters(sel=selector))
            scores, idx = self.faiss.search(x, k, params=params)
        keep = idx[0] >= 0
        return idx[0][keep], scores[0][keep]

    def passage_vector(self, i: int) -> np.ndarray:
        """The stored vector of passage ``i`` (float32)."""
        if self.exact is not None:
            return np.asarray(self.exact[int(i)], dtype=np.float32)
        return self.faiss.reconstruct(int(i))

    def passage_vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of these passages (float32, one row each): one call, not one per
        passage (the ranking reads those BM25 alone found). An archive index gives its int8
        copy's, from memory, as it scores dense candidates beyond archive.EXACT_DEPTH."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.codes is not None:
            codes, scales = self.codes
            return np.asarray(codes[rows], dtype=np.float32) * scales[rows, None]
        if self.exact is not None:
            self._random["exact"].prefetch(rows)
            return np.asarray(self.exact[rows], dtype=np.float32)
        return self.faiss.reconstruct_batch(rows)

    def prefetch_bodies(self, rows) -> None:
        """Start reading the bodies of these passages' articles together (archive indexes
        only, as prefetch_sentences)."""
        if self.exact is not None:
            ids = dict.fromkeys(self.passages[int(i)].article_id for i in rows)
            self.table.prefetch_bodies([self.article_by_id[a] for a in ids])

    def prefetch_sentences(self, rows: np.ndarray) -> None:
        """Start reading these rows of ``sentence_vectors`` together (archive indexes only:
        pages.py); the caller gathers them next."""
        if "sentences" in self._random:
            self._random["sentences"].prefetch(rows)

    def _postings(self, tokens: list[str]):
        bm25 = self.bm25
        vocab, sc = bm25.vocab_dict, bm25.scores
        for t in tokens:
            tid = vocab.get(t)
            if tid is not None and tid + 1 < len(sc["indptr"]):
                lo, hi = int(sc["indptr"][tid]), int(sc["indptr"][tid + 1])
                # int32 whatever the file holds (uint16 in small indexes: bm25_arrays.compact);
                # for int32 rows this is the memory-mapped slice itself, no copy
                yield tid, sc["indices"][lo:hi].astype(np.int32, copy=False), sc["data"][lo:hi]

    def postings(self, tokens: list[str]) -> list[np.ndarray]:
        """The passage rows of each token's posting list (tokens no passage holds: none)."""
        return [docs for _, docs, _ in self._postings(tokens)]

    def bm25_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for already tokenized (stemmed) query terms."""
        scores = np.zeros(len(self.passages), dtype=np.float32)
        for _, docs, vals in self._postings(tokens):
            scores[docs] += vals  # a posting list names each passage once: no np.add.at
        return scores

    def bm25_scores_of(self, tokens: list[str], rows: np.ndarray) -> np.ndarray:
        """BM25 scores of some passages (float32, 0 where none matches): bm25_top's ``also``
        values, bitwise, by binary search in each posting list."""
        lists = [(docs, vals, None) for _, docs, vals in self._postings(tokens)]
        return exact_scores(lists, np.asarray(rows, dtype=np.int64))

    def bm25_top(self, tokens: list[str], k: int, allowed: np.ndarray | None = None,
                 also: np.ndarray | None = None):
        """The k best passages by BM25: (indices, scores), best first; only matches.

        Work is proportional to the query terms' posting lists, not to the index: scores add
        up in a per-thread buffer that is cleared again where it was written, and the top k
        are picked among the postings (at 1M passages: ~1 ms instead of ~6 ms).
        ``allowed``: a boolean mask of the passages that may be returned. ``also``: passage
        rows whose scores are returned too, as a third value (0 where a row matches nothing).
        An index with impact prefixes (archive sizes) reads its long lists by them first
        (bm25_arrays.impact_top), with the same result.
        """
        raw = list(self._postings(tokens))
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        extra = () if also is None else (np.zeros(len(also), dtype=np.float32),)
        if not raw:
            return (*empty, *extra)
        buf = getattr(self._local, "buf", None)
        if buf is None:
            buf = self._local.buf = np.zeros(len(self.passages), dtype=np.float32)
        impacts = self.bm25.impacts
        if impacts is not None:  # archive-size indexes: long lists read by prefix first
            lists = [(docs, vals, impacts.prefix(tid)) for tid, docs, vals in raw]
            tbuf = getattr(self._local, "tbuf", None)
            if tbuf is None:
                tbuf = self._local.tbuf = np.zeros(len(self.passages), dtype=np.float32)
            got = impact_top(lists, k, buf, tbuf, allowed)
            if got is not None:
                scores = () if also is None else (
                    exact_scores(lists, np.asarray(also, dtype=np.int32)),)
                return (*got, *scores)
        # Row numbers as numpy's index type once: indexing with int32 rows converts them
        # again at every use (scatter, gather, clear), ~a third of this function at 1M.
        postings = [(docs.astype(np.intp), vals) for _, docs, vals in raw]
        try:
            for docs, vals in postings:
                buf[docs] += vals
            if also is not None:
                extra = (buf[np.asarray(also, dtype=np.int64)].copy(),)
            cat = np.concatenate([d for d, _ in postings])
            if allowed is not None:
                cat = cat[allowed[cat]]
            if k <= 0 or not len(cat):
                return (*empty, *extra)
            vals = buf[cat]
            # The k best full scores among the rarest term's passages bound the k-th best
            # from below: entries under it cannot be in the top k (or tie at its cut), and
            # dropping them first spares most of the selection below.
            short = min((d for d, _ in postings), key=len)
            if allowed is not None:
                short = short[allowed[short]]
            if len(postings) > 1 and k <= len(short) and 4 * len(short) < len(cat):
                at = len(short) - k
                keep = vals >= np.partition(buf[short], at)[at]
                cat, vals = cat[keep], vals[keep]
            # A passage appears once per matching term with its full score: the best
            # k * terms entries hold the best k distinct passages.
            m = min(len(cat), k * len(postings))
            top = np.argpartition(-vals, m - 1)[:m] if len(cat) > m else slice(None)
            cand = np.unique(cat[top])
            cand = cand[np.argsort(-buf[cand], kind="stable")]
            if len(cand) >= k:
                # Equal scores at the cut: the lowest rows, whichever entries were picked.
                cut = buf[cand[k - 1]]
                cand = np.concatenate([cand[buf[cand] > cut], np.unique(cat[vals == cut])])
            cand = cand[:k]
            return (cand.astype(np.int64), buf[cand].copy(), *extra)
        finally:
            for docs, _ in postings:
                buf[docs] = 0.0

    def rows_of_articles(self, article_ids) -> np.ndarray:
        """The passage rows of these articles (unknown ids are skipped), in row order."""
        table = self.table
        arts = sorted(table.article_index[a] for a in article_ids if a in table.article_index)
        if not arts:
            return np.zeros(0, dtype=np.int64)
        first = table.article_first
        return np.concatenate([np.arange(first[a], first[a + 1], dtype=np.int64)
                               for a in arts])

    def passage_counts(self) -> dict[str, int]:
        """Passages per article id, from the table's row ranges."""
        counts = np.diff(self.table.article_first)
        return dict(zip(self.table.article_ids, counts.tolist()))
