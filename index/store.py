"""The index on disk: FAISS (passages), sentence vectors, BM25 and a manifest, switched atomically.

Layout of an index folder::

    manifest.json        names the current generation and holds checksums of its files
    gen-<id>/            one complete build: faiss.index, sentences.npy, table.json, bm25/

A build writes a new generation, then replaces ``manifest.json`` with ``os.replace``: a reader
sees the old index or the new one, never half of each.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .articles import Article
from .errors import IndexCorrupt, IndexMismatch, IndexMissing
from .passages import Passage

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
KEEP_GENERATIONS = 2  # the current one and the one before, for readers still holding it


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data) -> None:
    """Write JSON to a temporary file in the same folder, fsync, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def read_manifest(index_dir: Path) -> dict:
    """The manifest of an index folder, or IndexMissing / IndexCorrupt."""
    path = Path(index_dir) / MANIFEST
    if not path.exists():
        raise IndexMissing(f"no index at {index_dir}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"the index manifest {path} is unreadable ({type(exc).__name__})")
    if not isinstance(manifest, dict) or "generation" not in manifest:
        raise IndexCorrupt(f"the index manifest {path} is not a citebot manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(f"the index at {index_dir} has format version "
                            f"{manifest.get('format_version')!r}, this citebot reads "
                            f"{FORMAT_VERSION}")
    return manifest


@dataclass
class BuildData:
    """Everything a build produces, ready to be written as one generation."""

    articles: list[Article]
    passages: list[Passage]
    passage_vectors: np.ndarray
    sentence_vectors: np.ndarray
    bm25: object  # a bm25s.BM25 retriever
    doc_freq: dict[str, int]
    manifest: dict


def faiss_index_for(vectors: np.ndarray):
    """An exact inner-product index: the corpus sizes citebot serves fit it."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def write_generation(index_dir: Path, data: BuildData) -> dict:
    """Write a complete generation, then switch the manifest to it."""
    import faiss

    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    gen = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp_dir = index_dir / f".{gen}.tmp"
    tmp_dir.mkdir()
    try:
        faiss.write_index(faiss_index_for(data.passage_vectors), str(tmp_dir / "faiss.index"))
        np.save(tmp_dir / "sentences.npy", data.sentence_vectors.astype(np.float32))
        table = {
            "articles": [{**a.meta(), "language": a.language, "extra": a.extra, "path": a.path,
                          "body": a.body} for a in data.articles],
            "passages": [[p.id, p.article_id, p.paragraph, p.start, p.end, p.heading,
                          p.sentences] for p in data.passages],
            "doc_freq": data.doc_freq,
        }
        with open(tmp_dir / "table.json", "w", encoding="utf-8") as fh:
            json.dump(table, fh, ensure_ascii=False)
        data.bm25.save(str(tmp_dir / "bm25"))
        files = {}
        for path in sorted(tmp_dir.rglob("*")):
            if path.is_file():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
                files[str(path.relative_to(tmp_dir))] = {"sha256": _sha256(path),
                                                         "size": path.stat().st_size}
        _fsync_dir(tmp_dir)
        os.replace(tmp_dir, index_dir / gen)
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    manifest = {**data.manifest, "format_version": FORMAT_VERSION, "generation": gen,
                "files": files, "passages": len(data.passages),
                "sentences": int(len(data.sentence_vectors)), "articles": len(data.articles)}
    write_json_atomic(index_dir / MANIFEST, manifest)
    _prune(index_dir, gen)
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


class IndexStore:
    """A loaded index: articles, passages, FAISS, sentence vectors and BM25, checked on load."""

    def __init__(self, index_dir: Path, verify: bool = True):
        import faiss

        self.index_dir = Path(index_dir)
        self.manifest = read_manifest(self.index_dir)
        self.gen_dir = self.index_dir / self.manifest["generation"]
        if verify:
            self.verify()
        try:
            with open(self.gen_dir / "table.json", encoding="utf-8") as fh:
                table = json.load(fh)
            self.faiss = faiss.read_index(str(self.gen_dir / "faiss.index"))
            self.sentence_vectors = np.load(self.gen_dir / "sentences.npy", mmap_mode="r")
        except Exception as exc:  # noqa: BLE001 - whatever the reader raised, it is damage
            raise IndexCorrupt(f"the index at {self.index_dir} cannot be read "
                               f"({type(exc).__name__})") from exc
        self.articles = [Article(id=a["id"], title=a["title"], body=a["body"],
                                 source=a.get("source"), published=a.get("published"),
                                 url=a.get("url"), language=a.get("language"),
                                 path=a.get("path"), extra=a.get("extra") or {})
                         for a in table["articles"]]
        self.article_by_id = {a.id: a for a in self.articles}
        self.passages = [Passage(id=r[0], article_id=r[1], paragraph=r[2], start=r[3], end=r[4],
                                 heading=r[5], sentences=[tuple(s) for s in r[6]])
                         for r in table["passages"]]
        self.passage_by_id = {p.id: i for i, p in enumerate(self.passages)}
        self.doc_freq = table.get("doc_freq", {})
        # Sentence rows are stored passage by passage: row offsets give each passage's slice.
        counts = np.array([len(p.sentences) for p in self.passages], dtype=np.int64)
        self.sentence_offsets = np.concatenate([[0], np.cumsum(counts)])
        if (self.faiss.ntotal != len(self.passages)
                or len(self.sentence_vectors) != int(self.sentence_offsets[-1])
                or self.manifest.get("passages") != len(self.passages)):
            raise IndexCorrupt(f"the index at {self.index_dir} does not match its passage table")
        self._bm25 = None

    def verify(self) -> None:
        """Check every file of the generation against the manifest's size and checksum."""
        files = self.manifest.get("files") or {}
        if not files:
            raise IndexCorrupt(f"the index manifest at {self.index_dir} lists no files")
        for rel, info in files.items():
            path = self.gen_dir / rel
            if not path.is_file():
                raise IndexCorrupt(f"index file {rel} is missing from {self.gen_dir}")
            if path.stat().st_size != info.get("size") or _sha256(path) != info.get("sha256"):
                raise IndexCorrupt(f"index file {rel} is damaged (checksum mismatch)")

    @property
    def bm25(self):
        """The BM25 retriever, loaded on first use (memory-mapped)."""
        if self._bm25 is None:
            import bm25s

            try:
                self._bm25 = bm25s.BM25.load(str(self.gen_dir / "bm25"), mmap=True)
            except Exception as exc:  # noqa: BLE001
                raise IndexCorrupt(f"the BM25 index at {self.gen_dir} cannot be read") from exc
        return self._bm25

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def model(self) -> str:
        return self.manifest["model"]

    def sentence_rows(self, passage_idx: int) -> tuple[int, int]:
        """The rows of ``sentence_vectors`` that belong to a passage."""
        return int(self.sentence_offsets[passage_idx]), int(self.sentence_offsets[passage_idx + 1])

    def dense_search(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k passages by cosine similarity: (indices, scores)."""
        k = min(k, self.faiss.ntotal)
        scores, idx = self.faiss.search(np.ascontiguousarray(qvec.reshape(1, -1),
                                                             dtype=np.float32), k)
        keep = idx[0] >= 0
        return idx[0][keep], scores[0][keep]

    def bm25_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for already tokenized (stemmed) query terms."""
        known = [t for t in tokens if t in self.bm25.vocab_dict]
        if not known:
            return np.zeros(len(self.passages), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)
