"""int8 weights for CPU builds: the exported model with its linear layers quantized.

onnxruntime's dynamic quantization turns each weight MatMul into an int8 MatMulInteger (weights
per output channel, activations per batch), which runs on the CPU's int8 dot-product units
(AVX-512 VNNI / AVX2); the token embedding table (Gather) is stored in int8 too. The
attention products (activation x activation) stay in fp32: with them quantized too, SQuAD
recall@1 fell by 0.008; without, it stayed within 0.005 of fp32 on SQuAD and news dev
(docs/benchmarks.md). The model file shrinks from 87 to 22 MB.

The variant is made once from an fp32 export, next to it (``<fp32 folder>-int8w``), with its
own ``embedder.json`` (``"variant": "int8w"``) so an index, its embedding cache and its question
encoder always use the same weights.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from ..fileio import sha256_file

VARIANT = "int8w"


def _activation_matmuls(model_path: Path) -> list[str]:
    """Names of MatMul nodes with no constant input (attention products): left in fp32."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    consts = {i.name for i in graph.initializer}
    consts |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    return [n.name for n in graph.node
            if n.op_type == "MatMul" and not any(i in consts for i in n.input)]


def quantized_export(folder: Path) -> Path | None:
    """The int8-weight sibling of an fp32 export folder, made now if needed (None: it failed
    or does not reproduce the fp32 vectors closely enough)."""
    from .onnx import _PROBES, OnnxEmbedder, read_spec

    folder = Path(folder)
    source = read_spec(folder)
    if source is None:
        return None
    dest = folder.parent / f"{folder.name}-{VARIANT}"
    spec = read_spec(dest)
    if spec and spec.get("variant") == VARIANT and \
            spec.get("source_sha256") == source.get("onnx_sha256") and \
            sha256_file(dest / "model.onnx") == spec.get("onnx_sha256"):
        return dest
    tmp = folder.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp.mkdir(parents=True)
        for name in ("tokenizer.json",):
            shutil.copyfile(folder / name, tmp / name)
        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing": not needed
        try:
            quantize_dynamic(str(folder / "model.onnx"), str(tmp / "model.onnx"),
                             per_channel=True, op_types_to_quantize=["MatMul", "Gather"],
                             nodes_to_exclude=_activation_matmuls(folder / "model.onnx"),
                             weight_type=QuantType.QInt8)
        finally:
            logging.getLogger().setLevel(quiet)
        spec = {**source, "variant": VARIANT, "source_sha256": source.get("onnx_sha256"),
                "onnx_sha256": sha256_file(tmp / "model.onnx")}
        (tmp / "embedder.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
        got = OnnxEmbedder(tmp).encode(_PROBES)
        want = OnnxEmbedder(folder).encode(_PROBES)
        # a broken graph, not rounding (the shortest probe, "x", gives 0.977)
        if float(np.min(np.sum(got * want, axis=1))) < 0.95:
            raise ValueError("the int8 model does not reproduce the fp32 vectors")
        if dest.exists():
            stale = folder.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(dest, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(tmp, dest)
        return dest
    except Exception as exc:  # noqa: BLE001 - no int8 variant: the build runs in fp32
        if os.environ.get("CITEBOT_DEBUG"):
            raise
        del exc
        shutil.rmtree(tmp, ignore_errors=True)
        return None
