"""Late-chunked sentence vectors: one transformer pass per passage gives both of its vectors.

A build needs a vector per passage (title + heading + paragraph: passages.passage_text) and one
per sentence of it. Embedding each sentence on its own ("separate") runs every token through
the model about twice. "late" runs the passage once: its vector is the mean of all its tokens'
last_hidden_state as always (the same vector), and each sentence's is the mean over the
passage's tokens whose characters lie inside that sentence, L2-normalized. A sentence that the
passage's pass does not reach (cut off at the model's max_seq_length) or that no token maps to
is embedded on its own, as "separate" would. Only mean-pooling models can do this; an engine
that cannot (supports_late) builds "separate" vectors, and the manifest says which it got.

The sentence vector then depends on the passage text around it, so the build cache keys it by
passage text + span (late_key_texts), never by the sentence text alone.
"""

from __future__ import annotations

import numpy as np

from ..corpus.passages import sentence_embed_text

MODES = ("late", "separate")
DEFAULT_MODE = "separate"
TORCH_BATCH_TOKENS = 4096  # torch engines (sentence-transformers on CPU or GPU)


def sentence_spans_in(text: str, passage) -> list[tuple[int, int]]:
    """The passage's sentence spans as offsets into ``text`` = passage_text(article, passage)
    (its head, a newline, then ``body[passage.start:passage.end]``)."""
    shift = len(text) - (passage.end - passage.start) - passage.start
    return [(s + shift, e + shift) for s, e in passage.sentences]


def late_key_texts(texts: list[str], spans: list[list[tuple[int, int]]]) -> list[str]:
    """What keys each late sentence vector in the build cache: its passage text and span (the
    NUL prefix keeps these keys apart from every text a separate build embeds)."""
    return [f"\0late\0{a}:{b}\0{text}" for text, sp in zip(texts, spans) for a, b in sp]


def _engine_kind(engine) -> str | None:
    """"onnx" / "torch" for an engine whose token states late.py can pool, else None."""
    from .onnx import OnnxEmbedder

    if isinstance(engine, OnnxEmbedder):
        return "onnx" if engine.spec.get("pooling") == "mean" else None
    st = _sentence_transformer(engine)
    if st is not None:
        from .onnx import _pooling

        return "torch" if _pooling(st) == "mean" else None
    return None


def _sentence_transformer(engine):
    """The SentenceTransformer of a torch engine (or the model itself), else None. Checked by
    type: a wrapper that only names the model (build.py's) must not be taken for it."""
    from .embed_core import TorchCudaEmbedder
    from .sbert import SentenceTransformerEmbedder

    if isinstance(engine, (SentenceTransformerEmbedder, TorchCudaEmbedder)):
        return engine.model
    if type(engine).__name__ == "SentenceTransformer":  # a Ray GPU worker's own model
        return engine
    return None


def supports_late(engine) -> bool:
    """Can ``engine`` give late-chunked sentence vectors (itself, or on a cluster)?"""
    return callable(getattr(engine, "encode_late", None)) or _engine_kind(engine) is not None


def _lowered(texts: list[str], lowercase: bool) -> tuple[list[str], np.ndarray]:
    """Texts as the tokenizer is given them, and which keep their character offsets (a
    lowercase that changes a text's length would shift them: those sentences go standalone)."""
    if not lowercase:
        return texts, np.ones(len(texts), dtype=bool)
    low = [t.lower() for t in texts]
    return low, np.array([len(a) == len(b) for a, b in zip(low, texts)], dtype=bool)


def _onnx_states(engine, texts: list[str], batch_tokens: int | None):
    """(rows, hidden, mask, token offsets) per length-bucketed batch, as OnnxEmbedder.encode
    batches them."""
    from .base import bucket_batches

    encs = engine.tokenizer.encode_batch(texts)
    lengths = np.array([len(e.ids) for e in encs])
    for rows in bucket_batches(lengths, batch_tokens or engine.batch_tokens, engine.max_batch):
        batch = [encs[r] for r in rows]
        hidden, mask = engine.hidden(batch)
        yield rows, hidden, mask, [e.offsets for e in batch]


def _torch_states(st, texts: list[str], batch_tokens: int | None):
    """The same from a SentenceTransformer (CPU, or a GPU in fp16: states come back as fp32)."""
    import torch

    from .base import bucket_batches

    tok, cap = st.tokenizer, int(st.max_seq_length or 512)
    enc = tok(texts, truncation=True, max_length=cap, return_offsets_mapping=True)
    names = [n for n in tok.model_input_names if n in enc]
    lengths = np.array([len(ids) for ids in enc["input_ids"]])
    model, device = st[0].auto_model, st.device
    for rows in bucket_batches(lengths, batch_tokens or TORCH_BATCH_TOKENS, 256):
        feats = tok.pad({n: [enc[n][r] for r in rows] for n in names}, return_tensors="pt")
        with torch.no_grad():
            out = model(**{k: v.to(device) for k, v in feats.items()}).last_hidden_state
        yield rows, out.float().cpu().numpy(), feats["attention_mask"].numpy(), \
            [enc["offset_mapping"][r] for r in rows]


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)).astype(
        np.float32)


def encode_late(engine, texts: list[str], spans: list[list[tuple[int, int]]],
                batch_tokens: int | None = None, standalone=None,
                show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(one vector per text, one per span of it, flat in order): texts are passages, spans
    their sentences' character spans in them. ``standalone``: what embeds the sentences the
    passage pass cannot give (default: the engine's ``encode``)."""
    texts = list(texts)
    if callable(getattr(engine, "encode_late", None)):  # elsewhere (a Ray cluster)
        return engine.encode_late(texts, spans)
    dim = getattr(engine, "dim", None)
    if dim is None:  # a bare SentenceTransformer (a Ray GPU worker's)
        dim = (getattr(engine, "get_embedding_dimension", None)
               or engine.get_sentence_embedding_dimension)()
    dim = int(dim)
    counts = np.array([len(s) for s in spans], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(counts)])
    pvecs = np.zeros((len(texts), dim), dtype=np.float32)
    svecs = np.zeros((int(first[-1]), dim), dtype=np.float32)
    done = np.zeros(len(svecs), dtype=bool)
    kind = _engine_kind(engine)
    if kind is None:
        raise TypeError(f"{type(engine).__name__} cannot give late sentence vectors")
    if texts:
        if kind == "onnx":
            given, keeps = _lowered(texts, bool(engine.spec.get("lowercase")))
            states = _onnx_states(engine, given, batch_tokens)
        else:
            st = _sentence_transformer(engine)
            given, keeps = _lowered(texts, bool(getattr(st[0], "do_lower_case", False)))
            states = _torch_states(st, given, batch_tokens)
        bar = _progress(len(texts)) if show_progress else None
        for rows, hidden, mask, offsets in states:
            m = mask[..., None].astype(np.float32)
            pvecs[rows] = _unit((hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None))
            for j, r in enumerate(rows):
                if keeps[r] and counts[r]:
                    _pool_spans(hidden[j], offsets[j], spans[r], svecs, done, int(first[r]))
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
    rest = np.flatnonzero(~done)
    if len(rest):
        owner = np.searchsorted(first, rest, side="right") - 1
        alone = [sentence_embed_text(texts[p], *spans[p][i - first[p]])
                 for i, p in zip(rest, owner)]
        embed = standalone or engine.encode
        svecs[rest] = np.asarray(embed(alone), dtype=np.float32)
    return pvecs, svecs


def _pool_spans(hidden: np.ndarray, offsets, spans, out: np.ndarray, done: np.ndarray,
                base: int) -> None:
    """Mean of the tokens inside each span, for the spans this text's pass reaches."""
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    starts, ends = off[:, 0], off[:, 1]
    real = ends > starts  # special tokens ([CLS], [SEP], padding) have empty offsets
    if not real.any():
        return
    reach = int(ends[real].max())  # where truncation cut the passage
    h = hidden[:len(off)]
    for q, (a, b) in enumerate(spans):
        if b > reach:
            continue  # partly or wholly cut off: embedded on its own
        sel = real & (starts >= a) & (ends <= b)
        if sel.any():
            v = h[sel].mean(axis=0)
            out[base + q] = v / max(float(np.linalg.norm(v)), 1e-12)
            done[base + q] = True


def _progress(total: int):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with sentence-transformers
        return None
    return tqdm(total=total, desc="embedding", unit="passage", leave=False)
