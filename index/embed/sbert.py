"""sentence-transformers (torch) for indexing, and the choice between it and its ONNX export."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UsageError
from .base import Embedder, model_fingerprint, resolve_model
from .onnx import OnnxEmbedder, cached_export, ensure_export


class SentenceTransformerEmbedder(Embedder):
    """sentence-transformers on the CPU; importing it costs seconds, so it happens on first use."""

    def __init__(self, model: str | None = None):
        self.name, self.location = resolve_model(model)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            import transformers

            transformers.utils.logging.disable_progress_bar()
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(self.location, device="cpu")
        except Exception as exc:  # noqa: BLE001 - many loader errors, one message
            raise UsageError(f"cannot load the embedding model {model or self.name!r}: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                             fix="set --model / CITEBOT_MODEL to a sentence-transformers "
                                 "model folder") from exc
        get_dim = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.fingerprint = model_fingerprint(self.location)

    def onnx_export(self):
        """A folder with this model exported to ONNX (cached per model; None when unsupported)."""
        return ensure_export(self)

    def encode(self, texts, batch_size=64, show_progress=False):
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=show_progress)
        return np.ascontiguousarray(vecs, dtype=np.float32)


def indexing_embedder(model: str | None, precision: str = "fp32") -> Embedder:
    """What builds an index on the CPU: ONNX from the export cache (no torch), else
    sentence-transformers, which exports the model for next time. ``precision``: fp32;
    int8: int8 weights (quant.py), which the index then also carries for its questions;
    bf16: the fp32 export run in bf16 by OpenVINO (bf16.py; the caller checked the machine)."""
    name, location = resolve_model(model)
    found = cached_export(model_fingerprint(location))
    if not found:
        st = SentenceTransformerEmbedder(model)
        found = ensure_export(st, fallback_root=Path(tempfile.gettempdir()) / "citebot-onnx")
        if not found:
            return st
    if precision == "int8":
        from .quant import quantized_export

        found = quantized_export(found) or found
    elif precision == "bf16":
        from .bf16 import bf16_or_fp32

        return bf16_or_fp32(found, name=name)
    # Threads do not spin: two builds (or a build beside the tests) slowed each other down
    # when they did (docs/benchmarks.md).
    return OnnxEmbedder(found, name=name)
