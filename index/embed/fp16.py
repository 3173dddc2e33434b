"""The question encoder as an index stores it: fp32 model, weights kept in float16 on disk.

The ONNX model was the biggest file of an index (90 MB of the news dev index's 218 MB). Each
large weight tensor is stored as float16 and followed by a ``Cast`` to float; onnxruntime folds
those casts into float32 constants when it creates the session (constant folding), so the model
runs exactly as before in fp32, on weights rounded to float16 (a relative error of at most
2^-11 per weight). Questions embedded by it are within cosine 0.9999 of the fp32 model's
(tested on the probes at export, and on questions in tests/index/embed/), and the answers of the
news dev and SQuAD evaluations are unchanged (docs/benchmarks.md). The file shrinks to half.

Only the stored copy changes: builds embed with the fp32 export (the embedding cache and the
passage vectors are unchanged), and an index that holds an fp32 model.onnx loads as before.
The variant is made once from an fp32 export, next to it (``<fp32 folder>-fp16w``), with its
own ``embedder.json`` (``"stored_weights": "float16"``, the model's ``variant`` unchanged).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SUFFIX = "fp16w"
STORED = "float16"
MIN_ELEMENTS = 4096  # smaller tensors (biases, LayerNorm scales) stay float32: ~0.2 MB in all
FP16_MAX = 65504.0


def half_weights(src: Path, dest: Path) -> int:
    """Write ``src`` (an ONNX model) to ``dest`` with its large float32 initializers stored as
    float16 and cast back to float at load; returns how many tensors were converted."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    casts, kept, converted = [], [], 0
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            kept.append(init)
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < MIN_ELEMENTS or not np.all(np.abs(arr) <= FP16_MAX):
            kept.append(init)  # tiny, or out of float16's range
            continue
        half = numpy_helper.from_array(arr.astype(np.float16), f"{init.name}__fp16")
        kept.append(half)
        # The Cast produces the original name: every node that used the weight is unchanged.
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                      name=f"{init.name}__to_float"))
        converted += 1
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)  # the casts first: the node list stays topologically sorted
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dest))
    return converted


def half_weights_export(folder: Path) -> Path | None:
    """The float16-stored sibling of an fp32 export folder, made now if needed (None: the
    folder is not an fp32 export, or the conversion failed or changed the vectors)."""
    from .onnx import derived_export, read_spec

    source = read_spec(Path(folder))
    if source is None or source.get("variant") or source.get("stored_weights"):
        return None  # int8 weights are smaller already; a converted copy is not converted again

    def convert(model: Path, dest: Path) -> None:
        if not half_weights(model, dest):
            raise ValueError("no weight to store in float16")

    return derived_export(folder, SUFFIX, {"stored_weights": STORED}, convert, 0.9999,
                          threads=1)
