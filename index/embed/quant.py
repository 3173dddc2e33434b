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

import logging
from pathlib import Path

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
    from .onnx import derived_export, read_spec

    if read_spec(Path(folder)) is None:
        return None

    def convert(model: Path, dest: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing": not needed
        try:
            quantize_dynamic(str(model), str(dest), per_channel=True,
                             op_types_to_quantize=["MatMul", "Gather"],
                             nodes_to_exclude=_activation_matmuls(model),
                             weight_type=QuantType.QInt8)
        finally:
            logging.getLogger().setLevel(quiet)

    # 0.95: a broken graph, not rounding (the shortest probe, "x", gives 0.977)
    return derived_export(folder, VARIANT, {"variant": VARIANT}, convert, 0.95)
