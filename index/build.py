"""Building an index from a corpus folder: passages, embeddings, BM25, then an atomic switch."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .corpus.articles import corpus_fingerprint, corpus_stat_signature, load_corpus
from .corpus.passages import make_passages, passage_text, sentence_embed_text
from .embed.base import Embedder
from .embed.embed_core import encode_unique
from .embed.late import DEFAULT_MODE, MODES, encode_late, sentence_spans_in, supports_late
from .embed.onnx import FILES as ONNX_FILES
from .errors import UsageError
from .search.lexical import tokenize
from .store.cache import EmbeddingCache, PassageCache, model_key
from .store.writer import BuildData, write_generation

ProgressFn = Callable[[str], None]
EncodeFn = Callable[[list[str]], np.ndarray]  # texts -> one unit float32 row each


def build_index(corpus_dir: Path, index_dir: Path, embedder: Embedder,
                progress: ProgressFn | None = None, show_bars: bool = False,
                articles=None, extra_manifest: dict | None = None, *, use_cache: bool = True,
                export_onnx: bool = True, index_type: str | None = None,
                encode: EncodeFn | None = None, sentence_vectors: str = DEFAULT_MODE) -> dict:
    """Index every article of ``corpus_dir`` into ``index_dir``; returns the new manifest.

    ``use_cache``: reuse the passages and vectors of earlier builds (cache.py); ``export_onnx``:
    put the embedder's ONNX export in the index when it has one (the fast question path);
    ``index_type``: "flat", "hnsw" or "archive" instead of the choice by size; ``encode``:
    what embeds the texts the cache lacks (default ``embedder.encode``; embed/distributed.py
    RayEncoder on a cluster); ``embedder`` still names the model, keys the cache and gives the
    ONNX export; ``sentence_vectors``: "late" (pooled from each passage's one pass) or
    "separate" (each sentence embedded on its own): embed/late.py.
    """
    import bm25s

    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    # The corpus state is taken before the articles are read: a file added, edited or removed
    # while this build runs is then a change afterwards (and rebuilt), not marked as indexed.
    signature = corpus_stat_signature(corpus_dir) if corpus_dir else None
    if articles is None:
        articles = load_corpus(corpus_dir)
    by_id = {a.id: a for a in articles}
    if use_cache:
        splits = PassageCache(index_dir)
        passages = [p for a in articles for p in splits.passages(a)]
        splits.save()
    else:
        passages = [p for a in articles for p in make_passages(a)]
    texts = [passage_text(by_id[p.article_id], p) for p in passages]
    n_sent = sum(len(p.sentences) for p in passages)
    say(f"{len(articles)} articles, {len(passages)} passages, {n_sent} sentences")
    bars = show_bars and len(texts) + n_sent > 256
    if sentence_vectors not in MODES:
        raise UsageError(f"unknown sentence vectors {sentence_vectors!r}",
                         fix="use late or separate")
    if encode is not None:  # (pluggable encode) the same model, embedded elsewhere
        embedder = _EncodeWith(embedder, encode)
    if sentence_vectors == "late" and not supports_late(embedder):
        say("this model or engine cannot pool sentences from its passages: "
            "embedding them separately")
        sentence_vectors = "separate"
    cache = EmbeddingCache(index_dir, embedder) if use_cache else None
    if sentence_vectors == "late":
        spans = [sentence_spans_in(t, p) for t, p in zip(texts, passages)]
        pvecs, svecs = cache.embed_late(texts, spans, show_progress=bars) if cache else \
            encode_late(embedder, texts, spans, show_progress=bars)
    else:
        sentences = [sentence_embed_text(by_id[p.article_id].body, s, e)
                     for p in passages for s, e in p.sentences]
        # One call for passages and sentences: a text that is both is embedded once, and the
        # engine's length buckets mix the two kinds (embed_core.py).
        both = texts + sentences
        vecs = cache.embed(both, show_progress=bars) if cache else \
            encode_unique(embedder, both, show_progress=bars)
        pvecs, svecs = vecs[:len(texts)], vecs[len(texts):]
    if cache:
        cache.save()
        say(f"embedded {cache.misses} texts, {cache.hits} from the cache")
    onnx_dir = _onnx_export(embedder) if export_onnx else None
    tokens = [tokenize(t) for t in texts]
    bm25 = bm25s.BM25()
    # bm25s cannot index an empty corpus or empty documents: a placeholder token keeps rows aligned.
    bm25.index([t or ["\x00"] for t in tokens], show_progress=False)
    manifest = {
        "model": embedder.name, "dim": int(embedder.dim),
        "model_fingerprint": getattr(embedder, "fingerprint", None),
        "question_encoder": "onnx" if onnx_dir else "sentence-transformers",
        "model_variant": getattr(embedder, "variant", None),  # None: fp32; "int8w"
        # what this build embedded its new texts in: fp32, bf16 (embed/bf16.py), int8, fp16
        # (a GPU); vectors taken from the cache keep theirs (store/cache.py: model_key)
        "precision": getattr(embedder, "precision", "fp32"),
        "embedding_key": model_key(embedder),  # whose vectors: the next build's cache
        "sentence_vectors": sentence_vectors,  # late or separate (embed/late.py; the cache)
        "corpus_dir": str(Path(corpus_dir).resolve()) if corpus_dir else None,
        "corpus_fingerprint": corpus_fingerprint(articles),
        "corpus_signature": signature,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra_manifest or {}),
    }
    manifest = write_generation(index_dir, BuildData(
        articles=articles, passages=passages, passage_vectors=np.asarray(pvecs),
        sentence_vectors=np.asarray(svecs), bm25=bm25,
        manifest=manifest, index_type=index_type,
        model_dir=Path(onnx_dir) if onnx_dir else None, model_files=ONNX_FILES))
    say(f"index written to {index_dir} in {time.perf_counter() - t0:.1f} s")
    return manifest


class _EncodeWith:
    """An embedder whose ``encode`` is another function (name, dim, fingerprint, ONNX export
    and cache key stay the embedder's)."""

    def __init__(self, embedder, encode: EncodeFn):
        self._embedder, self._encode = embedder, encode
        # Late sentence vectors only where ``encode`` makes them too (RayEncoder.encode_late).
        self.encode_late = getattr(encode, "encode_late", None)
        self.name, self.dim = embedder.name, embedder.dim
        self.precision = getattr(encode, "precision", getattr(embedder, "precision", "fp32"))
        self.fingerprint = getattr(embedder, "fingerprint", None)
        self.onnx_export = getattr(embedder, "onnx_export", None)

    def __getattr__(self, name: str):
        # Anything else that describes the model (e.g. a variant that keys the cache) is the
        # embedder's; only encode differs.
        if name.startswith("__") or name in ("_embedder", "_encode"):
            raise AttributeError(name)
        return getattr(self._embedder, name)

    def encode(self, texts, show_progress: bool = False, **_kw) -> np.ndarray:
        return np.asarray(self._encode(list(texts)), dtype=np.float32)


def _onnx_export(embedder) -> Path | None:
    """The embedder's ONNX export folder, if it has one (models that cannot be exported, and
    test embedders, have none: their questions are embedded by the embedder itself)."""
    export = getattr(embedder, "onnx_export", None)
    folder = export() if export else None
    if folder is None:
        return None
    from .embed.fp16 import half_weights_export

    # The index keeps the weights in float16 (half the size, the same answers: fp16.py).
    return half_weights_export(folder) or folder
