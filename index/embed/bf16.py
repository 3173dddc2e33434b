"""bf16 arithmetic for CPU builds: the fp32 export run by OpenVINO on the CPU's bf16 units.

A CPU with AVX-512 BF16 (or AMX) multiplies bfloat16 pairs at twice its fp32 rate. The weights
stay the fp32 export's (the same ``model.onnx`` the index carries for its questions); OpenVINO
rounds the matrix inputs to bfloat16 and accumulates in fp32, so a passage's vector stays
within cosine 0.9999 of the fp32 one (mean 0.99999 on news dev paragraphs), where int8 weights
(quant.py) fall to 0.97. Measured: 1.8x onnxruntime's fp32 texts/s on the 2-core EPYC, the
same eval figures (docs/benchmarks.md). onnxruntime has no bf16 kernels for x86 CPUs.

A build checks it first (``bf16_or_fp32``): the probe texts' vectors must stay within
cosine 0.999 of onnxruntime's fp32 ones, else the build runs fp32 (and its manifest says so).

Only builds use it. Questions stay on onnxruntime (its session starts in 0.2 s), and a
question's vector from the fp32 export meets passages' bf16 vectors at cosine 0.9999.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from .base import cpu_count
from .onnx import MAX_BATCH, PROBES, TOKEN_BUDGET, OnnxEmbedder

MIN_COS = 0.999  # probes vs fp32: bf16 rounding gives 0.99996; below this, something broke


def import_openvino():
    """The openvino module, without its model-conversion tools: importing those sends a usage
    event to Google Analytics from a forked process and makes ~/intel (openvino_telemetry,
    opted in unless a consent file says no). citebot never phones home, and builds need only
    the runtime. A None entry in sys.modules makes that one import fail, which openvino's
    __init__ catches; the runtime is unchanged (tests/index/embed/test_bf16.py)."""
    import sys

    sys.modules.setdefault("openvino.tools.ovc", None)
    import openvino

    return openvino


@lru_cache(maxsize=1)
def why_not_bf16() -> str | None:
    """None when this machine can build in bf16; else the reason, for a one-line message."""
    try:
        openvino = import_openvino()
    except Exception:  # noqa: BLE001 - not installed, or a broken install: fp32 then
        return "the openvino package is not installed (pip install openvino)"
    try:
        caps = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception as exc:  # noqa: BLE001 - no CPU plugin
        return f"OpenVINO has no CPU device here ({type(exc).__name__})"
    if "BF16" not in caps:
        return "this CPU has no bf16 instructions (AVX-512 BF16 or AMX)"
    return None


class _Session:
    """An OpenVINO compiled model behind onnxruntime's ``run(None, feeds)``: OnnxEmbedder's
    tokenizing, batching and pooling (and late.py's use of its token states) stay as they are."""

    def __init__(self, model: Path, threads: int):
        core = import_openvino().Core()
        self.compiled = core.compile_model(str(model), "CPU", {
            "INFERENCE_PRECISION_HINT": "bf16",
            "INFERENCE_NUM_THREADS": threads,
            # One request at a time, all threads on it: a build feeds batch after batch.
            "PERFORMANCE_HINT": "LATENCY",
        })
        self.request = self.compiled.create_infer_request()
        self.output = self.compiled.outputs[0]

    def run(self, _outputs, feeds: dict) -> list[np.ndarray]:
        hidden = self.request.infer(feeds)[self.output]
        return [np.array(hidden, dtype=np.float32)]  # a copy: the request reuses its buffer


class Bf16Embedder(OnnxEmbedder):
    """OnnxEmbedder over the same export folder, its transformer run in bf16 by OpenVINO."""

    precision = "bf16"

    def __init__(self, folder: Path, name: str | None = None, threads: int | None = None,
                 batch_tokens: int = TOKEN_BUDGET, max_batch: int = MAX_BATCH):
        super().__init__(folder, name=name, threads=threads or min(cpu_count(), 8),
                         batch_tokens=batch_tokens, max_batch=max_batch)

    def _session(self, threads, spinning, providers):
        return _Session(self.folder / "model.onnx", threads)


def bf16_or_fp32(folder: Path, name: str | None = None, threads: int | None = None):
    """The bf16 engine over an export folder when OpenVINO compiles it and its vectors of the
    probe texts stay within cosine MIN_COS of onnxruntime's fp32 ones; else the fp32 engine
    (another model whose graph OpenVINO runs differently must not build a wrong index).
    CITEBOT_DEBUG=1: raise instead."""
    fp32 = OnnxEmbedder(folder, name=name, threads=threads)
    try:
        bf16 = Bf16Embedder(folder, name=name, threads=threads)
        cos = np.sum(bf16.encode(PROBES) * fp32.encode(PROBES), axis=1)
        if float(cos.min()) < MIN_COS:
            raise ValueError(f"OpenVINO's bf16 vectors are off (cosine {cos.min():.4f})")
        return bf16
    except Exception:  # noqa: BLE001 - any failure: the fp32 engine builds, the manifest says so
        if os.environ.get("CITEBOT_DEBUG"):
            raise
        return fp32
