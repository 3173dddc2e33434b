"""Build caches: what earlier builds computed, so a rebuild embeds and splits only new text.

Embeddings are not stored twice: the vectors of the index's current generation are the cache.
At a rebuild, the texts of that generation (passage texts with their title and heading, and
sentences, as passages.py makes them) are keyed by blake2b digest of the exact text, and a text
of the new build with a known key takes the stored vector (``sentences.npy``, or the FAISS
index's exact storage for passages) instead of being embedded; an edited paragraph is a new key.
The generation is checked against its manifest first (store.IndexStore), and its vectors are
only used when the manifest's ``embedding_key`` says the same model (files, dimension and
variant) made them: a damaged or foreign index is ignored (everything is embedded again),
never trusted. A build killed before it writes its generation keeps nothing.

Sentence splits are kept in the index folder (``<index>/cache/passages.json``: paragraph and
sentence spans per article body, PassageCache), replaced atomically.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..fileio import sha256_file, write_atomic

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
    if getattr(embedder, "variant", None):  # int8 weights give other vectors than fp32
        ident += f"\0{embedder.variant}"
    # bf16 arithmetic is not part of the key: its vectors are the fp32 weights' within cosine
    # 0.9999, so a rebuild after a switch between fp32 and bf16 re-embeds only new text.
    return hashlib.sha256(f"{ident}\0{embedder.dim}".encode()).hexdigest()[:16]


class EmbeddingCache:
    """Look up texts among the current generation's vectors; embed what is missing."""

    def __init__(self, index_dir: Path, embedder):
        self.embedder = embedder
        self.dim = int(embedder.dim)
        self.index_dir = Path(index_dir)
        self.folder = self.index_dir / CACHE_DIR
        self.key = model_key(embedder)
        self.hits = self.misses = 0
        self._keys, self._rows, self._source = self._load()

    def _load(self):
        """(sorted keys, row of each in the concatenation passages + sentences, the store)."""
        empty = np.zeros(0, dtype="S16"), np.zeros(0, dtype=np.int64), None
        from ..corpus.passages import passage_text, sentence_embed_text
        from ..errors import IndexError_
        from .store import IndexStore, read_manifest

        try:
            if read_manifest(self.index_dir).get("embedding_key") != self.key:
                return empty
            store = IndexStore(self.index_dir)
            texts = []
            for p in store.passages:
                texts.append(passage_text(store.article_by_id[p.article_id], p))
            if store.manifest.get("sentence_vectors") == "late":  # keyed by passage + span
                from ..embed.late import late_key_texts, sentence_spans_in

                texts += late_key_texts(texts, [sentence_spans_in(texts[i], p)
                                                for i, p in enumerate(store.passages)])
            else:
                bodies = {a.id: a.body for a in store.articles}
                # the texts build.py embedded for sentences (long ones are cut: passages.py)
                texts += [sentence_embed_text(bodies[p.article_id], s, e)
                          for p in store.passages for s, e in p.sentences]
        except (IndexError_, OSError, ValueError, KeyError):
            return empty
        if len(texts) != len(store.passages) + len(store.sentence_vectors):
            return empty
        keys = text_keys(texts)
        if store.manifest.get("index_type") not in ("flat", "hnsw"):  # lossy storage: only
            keys[:len(store.passages)] = b""                           # sentences are exact
        order = np.argsort(keys, kind="stable")
        return keys[order], order, store

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        store = self._source
        n = len(store.passages)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        is_p = rows < n
        if is_p.any():
            want = rows[is_p].astype(np.int64)
            batch = getattr(store.faiss, "reconstruct_batch", None)
            out[is_p] = batch(want) if batch else \
                np.vstack([store.faiss.reconstruct(int(r)) for r in want])
        if (~is_p).any():
            out[~is_p] = np.asarray(store.sentence_vectors[rows[~is_p] - n], dtype=np.float32)
        return out

    def _lookup(self, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Fill ``out``'s rows of the known keys; which were known."""
        pos = np.searchsorted(self._keys, keys)
        found = np.zeros(len(keys), dtype=bool)
        if len(self._keys):
            inside = pos < len(self._keys)
            found[inside] = self._keys[pos[inside]] == keys[inside]
        if found.any():
            out[found] = self._vectors(self._rows[pos[found]])
        return found

    def embed_late(self, texts: list[str], spans: list[list[tuple[int, int]]],
                   show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors and late sentence vectors (embed/late.py): a passage is run again
        when its vector or any of its sentences' is not stored."""
        from ..embed.late import encode_late, late_key_texts

        pvecs = np.empty((len(texts), self.dim), dtype=np.float32)
        counts = np.array([len(s) for s in spans], dtype=np.int64)
        svecs = np.empty((int(counts.sum()), self.dim), dtype=np.float32)
        pfound = self._lookup(text_keys(texts), pvecs)
        sfound = self._lookup(text_keys(late_key_texts(texts, spans)), svecs)
        owner = np.repeat(np.arange(len(texts)), counts)
        need = ~pfound
        need[owner[~sfound]] = True
        run = np.flatnonzero(need)
        if len(run):
            p, s = encode_late(self.embedder, [texts[i] for i in run], [spans[i] for i in run],
                               show_progress=show_progress)
            pvecs[run] = p
            svecs[need[owner]] = s  # sentences of the passages run, in the same order
        self.hits += int(pfound.sum() + sfound.sum())
        self.misses += int((~pfound).sum() + (~sfound).sum())
        return pvecs, svecs

    def embed(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Vectors of ``texts``: stored rows where the key is known, the embedder for the rest."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        keys = text_keys(texts)
        found = self._lookup(keys, out)
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
        return out

    def save(self) -> None:
        """Nothing to write (the new generation holds the vectors); cache files of earlier
        citebot versions, which kept a second copy of every vector, are removed."""
        if self.folder.is_dir():
            for old in self.folder.glob("embeddings-*"):
                old.unlink(missing_ok=True)

    @property
    def entries(self) -> int:
        """How many texts the current generation offers."""
        return int(np.count_nonzero(self._keys != b""))


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
