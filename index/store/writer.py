"""Writing an index generation: the FAISS index chosen by size, the passage table, BM25, the
sentence vectors and the manifest, into a new generation folder switched in atomically (a
reader holding the one before keeps it: KEEP_GENERATIONS). IndexStore (store.py) reads them.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..corpus.articles import Article
from ..corpus.passages import Passage
from ..fileio import fsync_dir, sha256_file, write_json_atomic
from . import archive
from .bm25_arrays import compact as compact_bm25
from .bm25_arrays import write_impacts
from .model_store import attach_model, prune_models
from .store import FORMAT_VERSION, HNSW, KEEP_GENERATIONS, MANIFEST, _stamp, read_manifest

# Exact search up to FLAT_MAX passages (~1 ms a question), HNSW above (store.HNSW).
FLAT_MAX = 20_000
HNSW_DEEP_ABOVE, HNSW_DEEP_EF = 250_000, 512  # a bigger graph is searched deeper
# Sentence vectors are stored in float16: half the size of the biggest file of an index (the
# news dev index fits 150 MB), answers unchanged (docs/benchmarks.md); read as float32.
SENTENCE_DTYPE = np.float16
# Passage vectors too (FAISS's scalar quantizer in fp16, flat and HNSW alike): 27 of the news dev
# index's 59 MB saved, answers unchanged; ``reconstruct`` returns them as float32. The manifest
# records it (``faiss.vector_dtype``); indexes without it hold float32 vectors and load as before.
PASSAGE_DTYPE = "float16"


@dataclass
class BuildData:
    """Everything a build produces, ready to be written as one generation."""

    articles: list[Article]
    passages: list[Passage]
    passage_vectors: np.ndarray
    sentence_vectors: np.ndarray
    bm25: object  # a bm25s.BM25 retriever
    manifest: dict
    extra_files: dict[str, Path] = field(default_factory=dict)  # name in gen -> file to copy
    index_type: str | None = None  # None: chosen by size (choose_index_type)
    model_dir: Path | None = None  # the question encoder's folder: stored once (model_store.py)
    model_files: tuple[str, ...] = ()  # its files, the first the big one


def choose_index_type(n_passages: int) -> str:
    """Exact search while it is fast (FLAT_MAX), HNSW above, the compressed archive index
    (archive.py) above archive.ARCHIVE_ABOVE."""
    if n_passages > archive.ARCHIVE_ABOVE:
        return archive.ARCHIVE
    return "flat" if n_passages <= FLAT_MAX else "hnsw"


def faiss_index_for(vectors: np.ndarray, index_type: str | None = None):
    """A FAISS inner-product index over ``vectors``: (index, description for the manifest)."""
    import faiss

    asked = {"index_type_asked": True} if index_type else {}
    index_type = index_type or choose_index_type(len(vectors))
    if index_type == archive.ARCHIVE:  # trained on a sample, filled in chunks: no float32 copy
        info = archive.params_for(len(vectors), vectors.shape[1])
        index = archive.build(vectors, info) if len(vectors) else None
        return index, {"index_type": index_type, "faiss": info, **asked}
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    fp16 = faiss.ScalarQuantizer.QT_fp16  # no training: each value rounded to float16
    if index_type == "flat":
        index = faiss.IndexScalarQuantizer(dim, fp16, faiss.METRIC_INNER_PRODUCT)
        info = {"vector_dtype": PASSAGE_DTYPE}
    elif index_type == "hnsw":
        info = {**HNSW, "vector_dtype": PASSAGE_DTYPE}
        if len(vectors) > HNSW_DEEP_ABOVE:  # a bigger graph needs a deeper search
            info["efSearch"] = HNSW_DEEP_EF
        index = faiss.IndexHNSWSQ(dim, fp16, info["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = info["efConstruction"]
        index.hnsw.efSearch = info["efSearch"]
    else:
        raise ValueError(f"unknown index type {index_type!r}")
    if len(vectors):
        index.add(vectors)
    return index, {"index_type": index_type, "faiss": info, **asked}


def index_reason(manifest: dict) -> str:
    """Why the manifest's FAISS index has its type, in one line (`citebot index info`)."""
    return archive.index_reason(manifest, FLAT_MAX)


def write_generation(index_dir: Path, data: BuildData) -> dict:
    """Write a complete generation, then switch the manifest to it."""
    import faiss

    from .table import write_table

    index_dir = Path(index_dir)
    with new_generation(index_dir) as (gen, tmp_dir):
        index, info = faiss_index_for(data.passage_vectors, data.index_type)
        if index is None:
            raise ValueError("an archive index needs at least one passage")
        faiss.write_index(index, str(tmp_dir / "faiss.index"))
        del index
        # The archive index also keeps its exact vectors on disk as float16 (archive.py).
        archive.write_files(tmp_dir, info, data.passage_vectors, data.sentence_vectors)
        np.save(tmp_dir / "sentences.npy", np.asarray(data.sentence_vectors,
                                                      dtype=SENTENCE_DTYPE))
        write_table(tmp_dir, data.articles, data.passages)
        data.bm25.save(str(tmp_dir / "bm25"))
        compact_bm25(tmp_dir / "bm25", len(data.passages))
        write_impacts(tmp_dir / "bm25")  # archive sizes: the long lists' best postings
        for rel, src in data.extra_files.items():
            (tmp_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, tmp_dir / rel)
        model_info = {} if data.model_dir is None else attach_model(
            index_dir, tmp_dir, data.model_dir, data.model_files, lambda: read_manifest(index_dir))
        files = seal_generation(index_dir, gen, tmp_dir)
    return switch_to(index_dir, gen, {**data.manifest, **info, **model_info}, files,
                     passages=len(data.passages), sentences=int(len(data.sentence_vectors)),
                     articles=len(data.articles))


@contextmanager
def new_generation(index_dir: Path):
    """(name, temporary folder) of a new generation for a build to write its files into; the
    folder is removed if the build fails. write_generation writes one; so does a build that
    writes its files itself (benchmarks/scale_writer.py), then seal_generation and switch_to."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    gen = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp_dir = index_dir / f".{gen}.tmp"
    tmp_dir.mkdir()
    try:
        yield gen, tmp_dir
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise


def seal_generation(index_dir: Path, gen: str, tmp_dir: Path) -> dict:
    """fsync and hash every file of a written generation folder, then rename it into place:
    the manifest's ``files`` (sha256, size, stat stamp of each)."""
    files = {}
    for path in sorted(tmp_dir.rglob("*")):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
            files[path.relative_to(tmp_dir).as_posix()] = {
                "sha256": sha256_file(path), "size": path.stat().st_size, "stamp": _stamp(path)}
    fsync_dir(tmp_dir)
    os.replace(tmp_dir, Path(index_dir) / gen)  # renaming the folder leaves its files' stamps
    fsync_dir(Path(index_dir))
    return files


def switch_to(index_dir: Path, gen: str, fields: dict, files: dict, *, passages: int,
              sentences: int, articles: int) -> dict:
    """Point the manifest at a sealed generation (``fields``: model, dim, FAISS info, ...),
    prune the old ones; the manifest."""
    manifest = {**fields, "format_version": FORMAT_VERSION, "generation": gen, "files": files,
                "passages": passages, "sentences": sentences, "articles": articles}
    write_json_atomic(Path(index_dir) / MANIFEST, manifest)
    _prune(Path(index_dir), gen)
    return manifest


def _prune(index_dir: Path, current: str) -> None:
    gens = sorted((p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("gen-")),
                  key=lambda p: p.stat().st_mtime)
    keep = {current} | {p.name for p in gens[-KEEP_GENERATIONS:]}
    for p in gens:
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)
    for p in index_dir.glob(".gen-*.tmp"):  # leftovers of a killed build
        if time.time() - p.stat().st_mtime > 3600:
            shutil.rmtree(p, ignore_errors=True)
    prune_models(index_dir, [p for p in gens if p.name in keep] + [index_dir / current])
