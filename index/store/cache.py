"""Build caches: what earlier builds computed, so a rebuild embeds and splits only new text.

They live in the index folder (``<index>/cache/``)::

    embeddings-<model key>.npy    sorted records (16-byte text key, float32 vector)
    embeddings-<model key>.json   its size, sha256 and dimension, written after it
    passages.json                 paragraph and sentence spans per article body (PassageCache)

Keys are blake2b digests of the exact text embedded (a passage's text with its title and heading,
or one sentence), so an edited paragraph is a new key. Each build rewrites the file with exactly
the texts it used: entries of removed or edited articles are dropped and the cache never grows
past the index. Both files are replaced atomically and the data is checked against the sidecar's
checksum before use; a damaged or foreign cache is ignored (everything is embedded again), never
trusted.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from ..fileio import atomic_file, sha256_file, write_atomic

CACHE_DIR = "cache"


def text_keys(texts: list[str]) -> np.ndarray:
    """16-byte keys of texts (the last byte forced non-zero: numpy's S16 drops trailing NULs)."""
    out = np.empty(len(texts), dtype="S16")
    for i, text in enumerate(texts):
        d = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        out[i] = d[:15] + bytes([d[15] | 1])
    return out


def model_key(embedder) -> str:
    """Which model's vectors: its file fingerprint when known, else its name."""
    ident = getattr(embedder, "fingerprint", None) or f"name:{embedder.name}"
    return hashlib.sha256(f"{ident}\0{embedder.dim}".encode()).hexdigest()[:16]


class EmbeddingCache:
    """Look up, embed what is missing, remember what this build used, then save that."""

    def __init__(self, index_dir: Path, embedder):
        self.embedder = embedder
        self.dim = int(embedder.dim)
        self.folder = Path(index_dir) / CACHE_DIR
        self.key = model_key(embedder)
        self.path = self.folder / f"embeddings-{self.key}.npy"
        self.dtype = np.dtype([("key", "S16"), ("vec", "<f4", (self.dim,))])
        self.hits = self.misses = 0
        self._used_keys: list[np.ndarray] = []
        self._used_vecs: list[np.ndarray] = []
        self._keys, self._records = self._load()

    def _load(self):
        empty = np.zeros(0, dtype="S16"), None
        try:
            meta = json.loads(self.path.with_suffix(".json").read_text(encoding="utf-8"))
            if (meta.get("dim") != self.dim or meta.get("size") != self.path.stat().st_size
                    or meta.get("sha256") != sha256_file(self.path)):
                return empty
            records = np.load(self.path, mmap_mode="r")
        except (OSError, ValueError):
            return empty
        if records.dtype != self.dtype:
            return empty
        return np.ascontiguousarray(records["key"]), records

    def embed(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Vectors of ``texts``: cached rows where the key is known, the embedder for the rest."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        keys = text_keys(texts)
        pos = np.searchsorted(self._keys, keys)
        found = np.zeros(len(texts), dtype=bool)
        if len(self._keys):
            inside = pos < len(self._keys)
            found[inside] = self._keys[pos[inside]] == keys[inside]
        if found.any():
            out[found] = self._records["vec"][pos[found]]
        missing = np.flatnonzero(~found)
        if len(missing):
            # The same text twice (a repeated sentence) is embedded once.
            uniq, first, inverse = np.unique(keys[missing], return_index=True,
                                             return_inverse=True)
            vecs = self.embedder.encode([texts[missing[i]] for i in first],
                                        show_progress=show_progress)
            out[missing] = np.asarray(vecs, dtype=np.float32)[inverse.reshape(-1)]
        self.hits += int(found.sum())
        self.misses += int(len(missing))
        self._used_keys.append(keys)
        self._used_vecs.append(out)
        return out

    def save(self) -> None:
        """Keep exactly the entries this build used; other models' caches are removed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = np.concatenate(self._used_keys) if self._used_keys else np.zeros(0, "S16")
        keys, first = np.unique(keys, return_index=True)
        records = np.empty(len(keys), dtype=self.dtype)
        records["key"] = keys
        if len(keys):
            records["vec"] = np.concatenate(self._used_vecs)[first]
        # Data first, then its sidecar: a crash in between leaves a mismatch, i.e. no cache.
        self._records = None  # drop the memory map before its file is replaced
        with atomic_file(self.path) as fh:
            np.save(fh, records)
        meta = {"dim": self.dim, "count": int(len(keys)), "size": self.path.stat().st_size,
                "sha256": sha256_file(self.path), "embedder": self.embedder.name}
        write_atomic(self.path.with_suffix(".json"), json.dumps(meta))
        for other in self.folder.iterdir():
            stale_tmp = other.name.endswith(".tmp") and time.time() - other.stat().st_mtime > 3600
            foreign = other.name.startswith("embeddings-") and \
                other.name.split(".")[0] != self.path.stem
            if stale_tmp or foreign:
                other.unlink(missing_ok=True)

    @property
    def entries(self) -> int:
        """How many texts the cache file holds now."""
        return len(self._keys) if self._records is not None else len(self._load()[0])


class PassageCache:
    """Paragraph and sentence spans of article bodies seen before: sentence splitting costs
    ~3 ms a paragraph (5 minutes for 100,000), a lookup microseconds. Keyed by the body and by
    the source of passages.py and the pysbd version, so any change to the rules splits anew.

    Checked like the embedding cache: ``passages.sha256.json`` holds the file's size and
    sha256 (written after it); a mismatch drops the whole cache. And since a checksum only
    says the file is the one written, each body's cached spans are checked against the body
    before use (span_check.cached_rows_ok: paragraphs as split_blocks finds them, sentences a
    clean split, no boundary inside a word); rows that fail are split anew (``rejected``)."""

    def __init__(self, index_dir: Path):
        import pysbd

        from ..corpus import passages
        from . import span_check

        self.path = Path(index_dir) / CACHE_DIR / "passages.json"
        self.sidecar = self.path.with_name("passages.sha256.json")
        code = (Path(passages.__file__).read_bytes() + Path(span_check.__file__).read_bytes()
                + getattr(pysbd, "__version__", "").encode())
        self.version = hashlib.sha256(code).hexdigest()[:16]
        self.hits = self.misses = self.rejected = 0
        self._used: dict[str, list] = {}
        self._known = {}
        if self.check() is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if data.get("version") == self.version and isinstance(data.get("bodies"), dict):
                    self._known = data["bodies"]
            except (OSError, ValueError, AttributeError):
                pass

    def check(self) -> str | None:
        """None when the file matches its sidecar (or neither exists), else what is wrong."""
        if not self.path.exists() and not self.sidecar.exists():
            return None
        try:
            meta = json.loads(self.sidecar.read_text(encoding="utf-8"))
            size = self.path.stat().st_size
        except (OSError, ValueError) as exc:
            return f"cannot be checked ({type(exc).__name__})"
        if not isinstance(meta, dict) or meta.get("size") != size:
            return f"size {size} differs from the recorded {meta.get('size')!r}" \
                if isinstance(meta, dict) else "its checksum file is not an object"
        if meta.get("sha256") != sha256_file(self.path):
            return "checksum mismatch"
        return None

    def passages(self, article) -> list:
        """``make_passages(article)``, from the cache when this body was split before."""
        from ..corpus.passages import Passage, make_passages
        from .span_check import cached_rows_ok

        key = hashlib.blake2b(article.body.encode("utf-8", "surrogatepass"),
                              digest_size=16).hexdigest()
        rows = self._known.get(key)
        if rows is not None and not cached_rows_ok(article.body, rows):
            self.rejected += 1
            rows = None
        if rows is None:
            self.misses += 1
            made = make_passages(article)
            rows = [[p.paragraph, p.start, p.end, p.heading, p.sentences] for p in made]
        else:
            self.hits += 1
            made = [Passage(id=f"{article.id}:p{n}", article_id=article.id, paragraph=n,
                            start=s, end=e, heading=h, sentences=[tuple(x) for x in sents])
                    for n, s, e, h, sents in rows]
        self._used[key] = rows
        return made

    def save(self) -> None:
        """Keep the bodies of this build only (written atomically, then its checksum)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"version": self.version, "bodies": self._used}).encode("utf-8")
        meta = json.dumps({"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        write_atomic(self.path, data)  # data first: a crash in between reads as a mismatch
        write_atomic(self.sidecar, meta)


def check_caches(index_dir: Path) -> list[str]:
    """What is wrong with the build caches of an index folder (`citebot index verify`)."""
    problems = []
    folder = Path(index_dir) / CACHE_DIR
    for meta_path in sorted(folder.glob("embeddings-*.json")):
        data = meta_path.with_suffix(".npy")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            ok = meta.get("size") == data.stat().st_size and \
                meta.get("sha256") == sha256_file(data)
        except (OSError, ValueError, AttributeError):
            ok = False
        if not ok:
            problems.append(f"{CACHE_DIR}/{data.name}: checksum mismatch")
    wrong = PassageCache(index_dir).check() if (folder / "passages.json").exists() else None
    if wrong:
        problems.append(f"{CACHE_DIR}/passages.json: {wrong}")
    return problems


def verify_spans_and_caches(store) -> None:
    """IndexCorrupt when the index's sentence spans split words or a build cache fails its
    checksum (`citebot index verify`, after every file's checksum)."""
    from ..errors import IndexCorrupt
    from .span_check import bad_passages

    bad = bad_passages(store)
    if bad:
        raise IndexCorrupt(f"the passage table splits words in {', '.join(bad)} (built from a "
                           f"damaged cache?)", fix=f"delete {store.index_dir / CACHE_DIR} and "
                           "run `citebot index build`")
    problems = check_caches(store.index_dir)
    if problems:
        raise IndexCorrupt(f"index cache file {problems[0]}", fix="the next build ignores it; "
                           f"delete {store.index_dir / CACHE_DIR} and run `citebot index build`")
