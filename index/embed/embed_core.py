"""Bulk embedding for builds: one function over a list of texts, on the CPU or a GPU.

``embed_texts(texts, model, device, batch_tokens)`` is the whole build-time embedding step: it
loads (once per process) the engine for a model and device, embeds each distinct text once in
length-bucketed batches (a batch holds texts of similar token counts, so hardly any padding is
computed), and returns one L2-normalized float32 row per text, in order. Ray workers call it as
is; ``build.py`` calls it through an ``Embedder`` (``engine_for``).

Devices: ``cpu`` (onnxruntime over the model's ONNX export, threads not spinning so that two
builds, or a build beside the tests, share the cores instead of fighting for them; OpenVINO
over the same export in bf16 where the CPU has bf16 units: bf16.py), ``cuda``
(onnxruntime's CUDA provider over the same export when onnxruntime-gpu is installed, else
sentence-transformers on the GPU in fp16), ``auto`` (``cuda`` when an NVIDIA GPU is visible,
found without importing torch on a machine that has none). Questions are always embedded on
the CPU (onnx.question_encoder).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import UsageError
from .base import DEFAULT_MODEL_NAME, Embedder, bucket_batches

DEVICES = ("auto", "cpu", "cuda")
# auto (the default): bf16 where the CPU and OpenVINO can (bf16.py), else fp32; both keep the
# fp32 weights and give the same eval figures. int8: int8 weights on the CPU (quant.py),
# opt-in: news dev holds within 0.005, the SQuAD subset's answer-in-quote@1 falls 0.009
# (docs/benchmarks.md).
PRECISIONS = ("auto", "fp32", "bf16", "int8")
CPU_BATCH_TOKENS = 1024  # tokens per batch: fastest on 2 cores (docs/benchmarks.md)
GPU_BATCH_TOKENS = 131072  # a GPU wants big batches; MiniLM at 128k tokens needs ~2 GB
GPU_MAX_BATCH = 4096


def nvidia_gpu_visible() -> bool:
    """Is an NVIDIA GPU usable here? Decided without importing torch (seconds on a CPU-only
    machine): the driver's device nodes, and CUDA_VISIBLE_DEVICES not hiding them all."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return False
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(
        Path("/proc/driver/nvidia/gpus").iterdir()) or Path("/dev/nvidia0").exists()


def _ort_cuda() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - a dependency
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers()


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return bool(torch.cuda.is_available())


def resolve_device(device: str | None) -> str:
    """``cpu`` or ``cuda`` for a requested device; UsageError when cuda is asked for and absent."""
    device = (device or "auto").lower()
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}", fix="use --device cpu, cuda or auto")
    if device == "cpu":
        return "cpu"
    present = nvidia_gpu_visible() and (_ort_cuda() or _torch_cuda())
    if device == "cuda" and not present:
        raise UsageError("--device cuda: no CUDA GPU is usable on this machine",
                         fix="use --device cpu (or auto)")
    return "cuda" if present else "cpu"


class TorchCudaEmbedder(Embedder):
    """sentence-transformers on a CUDA GPU in fp16, fed length-bucketed batches."""

    precision = "fp16"

    def __init__(self, model: str | None = None):
        from .onnx import ensure_export
        from .sbert import SentenceTransformerEmbedder

        st = SentenceTransformerEmbedder(model)
        self.name, self.dim, self.fingerprint = st.name, st.dim, st.fingerprint
        # Exported (or found in the cache) from the fp32 weights before they go to the GPU:
        # the index carries it as its CPU question encoder.
        self._export = ensure_export(st)
        self.model = st.model.to("cuda").half()

    def onnx_export(self):
        """The CPU question encoder for the index (None: the model cannot be exported)."""
        return self._export

    def encode(self, texts, batch_size=64, show_progress=False, batch_tokens=None):
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tok = self.model.tokenizer
        cap = int(self.model.max_seq_length or 512)
        lengths = np.array([min(len(ids), cap) for ids in
                            tok(texts, add_special_tokens=True, truncation=True,
                                max_length=cap)["input_ids"]])
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows in bucket_batches(lengths, batch_tokens or GPU_BATCH_TOKENS, GPU_MAX_BATCH):
            vecs = self.model.encode([texts[r] for r in rows], batch_size=len(rows),
                                     convert_to_numpy=True, normalize_embeddings=True)
            out[rows] = np.asarray(vecs, dtype=np.float32)
        # fp16 sums: normalize again in fp32 so every row has unit length
        out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        return out


def resolve_precision(precision: str | None) -> str:
    """``fp32``, ``bf16`` or ``int8`` for a CPU build (auto: bf16 where this machine can);
    UsageError for anything else, and for bf16 asked for where it cannot run."""
    precision = (precision or "auto").lower()
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}",
                         fix="use --precision auto, fp32, bf16 or int8")
    if precision in ("auto", "bf16"):
        from .bf16 import why_not_bf16

        why = why_not_bf16()
        if why and precision == "bf16":
            raise UsageError(f"--precision bf16: {why}", fix="use --precision auto or fp32")
        precision = "fp32" if why else "bf16"
    return precision


def precision_of(manifest: dict) -> str | None:
    """The precision a rebuild of an index must keep: int8 (its question encoder has int8
    weights too), else None: fp32 and bf16 vectors meet the same fp32 question encoder."""
    from .quant import VARIANT

    return "int8" if manifest.get("model_variant") == VARIANT else None


@lru_cache(maxsize=4)
def _cpu_engine(model: str | None, precision: str = "fp32") -> Embedder:
    from .sbert import indexing_embedder

    return indexing_embedder(model, precision)


@lru_cache(maxsize=4)
def _cuda_engine(model: str | None) -> Embedder:
    if _ort_cuda():
        from .onnx import OnnxEmbedder

        cpu = _cpu_engine(model)  # the fp32 export: int8 and bf16 are for the CPU only
        folder = getattr(cpu, "folder", None)
        if folder is not None:
            return OnnxEmbedder(folder, name=cpu.name, providers=["CUDAExecutionProvider"],
                                batch_tokens=GPU_BATCH_TOKENS, max_batch=GPU_MAX_BATCH)
    return TorchCudaEmbedder(model)


def engine_for(model: str | None = None, device: str | None = "auto",
               precision: str | None = "auto") -> Embedder:
    """The build embedder of a model on a device, loaded once per process. ``precision`` (CPU
    only; a GPU runs the fp32 export in fp16): auto (default: bf16 where it can, else fp32),
    fp32, bf16 (bf16 arithmetic on fp32 weights: bf16.py) or int8 (int8 weights: quant.py)."""
    resolved = resolve_device(device)
    key = model or DEFAULT_MODEL_NAME  # one engine per model as given, whatever its spelling
    if resolved == "cuda":
        return _cuda_engine(key)
    return _cpu_engine(key, resolve_precision(precision))


def embed_texts(texts: list[str], model: str | None = None, device: str | None = "auto",
                batch_tokens: int | None = None, precision: str | None = "auto") -> np.ndarray:
    """One L2-normalized float32 row per text (in order); each distinct text is embedded once.

    ``model``: name or folder as for `citebot --model` (None: the default model); ``device``:
    cpu, cuda or auto; ``batch_tokens``: padded tokens per batch (None: the device's default);
    ``precision``: auto, fp32, bf16 or int8 (CPU only: engine_for).
    """
    engine = engine_for(model, device, precision)
    return encode_unique(engine, list(texts), batch_tokens=batch_tokens)


def encode_unique(engine: Embedder, texts: list[str], batch_tokens: int | None = None,
                  show_progress: bool = False) -> np.ndarray:
    """``engine.encode`` over the distinct texts only, rows put back in the order given."""
    if not texts:
        return np.zeros((0, int(engine.dim)), dtype=np.float32)
    first: dict[str, int] = {}
    inverse = np.fromiter((first.setdefault(t, len(first)) for t in texts), dtype=np.int64,
                          count=len(texts))
    kw = {"batch_tokens": batch_tokens} if batch_tokens else {}
    vecs = engine.encode(list(first), show_progress=show_progress, **kw)
    vecs = np.asarray(vecs, dtype=np.float32)
    return vecs if len(first) == len(texts) else vecs[inverse]
