"""Building an index from a corpus folder: passages, embeddings, BM25, then an atomic switch."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from .articles import corpus_fingerprint, corpus_stat_signature, load_corpus
from .embeddings import Embedder
from .lexical import tokenize
from .passages import make_passages, passage_text
from .store import BuildData, write_generation

ProgressFn = Callable[[str], None]


def build_index(corpus_dir: Path, index_dir: Path, embedder: Embedder,
                progress: ProgressFn | None = None, show_bars: bool = False,
                articles=None, extra_manifest: dict | None = None) -> dict:
    """Index every article of ``corpus_dir`` into ``index_dir``; returns the new manifest."""
    import bm25s

    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    if articles is None:
        articles = load_corpus(corpus_dir)
    by_id = {a.id: a for a in articles}
    passages = [p for a in articles for p in make_passages(a)]
    texts = [passage_text(by_id[p.article_id], p) for p in passages]
    sentences = [by_id[p.article_id].body[s:e] for p in passages for s, e in p.sentences]
    say(f"{len(articles)} articles, {len(passages)} passages, {len(sentences)} sentences")
    bars = show_bars and len(texts) + len(sentences) > 256
    pvecs = embedder.encode(texts, show_progress=bars)
    svecs = embedder.encode(sentences, show_progress=bars)
    tokens = [tokenize(t) for t in texts]
    bm25 = bm25s.BM25()
    # bm25s cannot index an empty corpus or empty documents: a placeholder token keeps rows aligned.
    bm25.index([t or ["\x00"] for t in tokens], show_progress=False)
    doc_freq = Counter(tok for toks in tokens for tok in set(toks))
    manifest = {
        "model": embedder.name, "dim": int(embedder.dim),
        "corpus_dir": str(Path(corpus_dir).resolve()) if corpus_dir else None,
        "corpus_fingerprint": corpus_fingerprint(articles),
        "corpus_signature": corpus_stat_signature(corpus_dir) if corpus_dir else None,
        "index_type": "flat", "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra_manifest or {}),
    }
    manifest = write_generation(index_dir, BuildData(
        articles=articles, passages=passages, passage_vectors=np.asarray(pvecs),
        sentence_vectors=np.asarray(svecs), bm25=bm25, doc_freq=dict(doc_freq),
        manifest=manifest))
    say(f"index written to {index_dir} in {time.perf_counter() - t0:.1f} s")
    return manifest
