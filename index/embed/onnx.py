"""The model as ONNX: onnxruntime + tokenizers embed texts without importing torch.

Importing sentence-transformers costs seconds; a one-shot `citebot ask` cannot pay that. At build
time the transformer of the sentence-transformers model is exported once per model (a plain
``torch.onnx.export``; mean/CLS/max pooling and normalization are done here in numpy) into a
per-user cache keyed by the model's fingerprint, then copied into the index folder once (shared
by its generations: store/model_store.py), where the question path finds everything it needs::

    <index>/models/<key>/model.onnx       the transformer (fp32, dynamic batch and length;
                                          weights stored in float16 there: fp16.py)
    <index>/models/<key>/tokenizer.json   the model's own fast tokenizer, truncation set
    <index>/models/<key>/embedder.json    model name, fingerprint, pooling, inputs, checksum

(Indexes built before kept a copy in ``<generation>/onnx/``; they are read as they are.)

The vectors equal sentence-transformers' to about 1e-7 (cosine >= 0.9999999, tested), so one
index can be built by either engine and queried by the other; the copy an index stores, with
float16 weights, stays within cosine 0.9999 of them (fp16.py).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from ..errors import IndexMismatch
from ..fileio import install_dir, sha256_file
from .base import Embedder, bucket_batches, cpu_count

ONNX_DIR = "onnx"
FILES = ("model.onnx", "tokenizer.json", "embedder.json")
EXPORT_FORMAT = 1
# Bumped when the export itself improves: an older cached export is made again, while indexes
# that carry one keep answering (the files and vectors are the same format).
EXPORT_REVISION = 2  # 2: eager attention, which onnxruntime fuses (docs/benchmarks.md)
TOKEN_BUDGET = 1024  # tokens per batch: measured fastest on 2 cores (docs/benchmarks.md)
MAX_BATCH = 128
# Probe texts: a fresh export must reproduce sentence-transformers on them, or it is not used.
PROBES = ["How many Kenyan police officers arrived in the first contingent?",
          "The Security Council renewed the mission for another year.", "x"]


def export_cache_root() -> Path:
    """Where exports are kept between builds: $XDG_CACHE_HOME/citebot/onnx (or ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "citebot" / "onnx"


def read_spec(folder: Path) -> dict | None:
    """The embedder.json of an export folder, or None when the folder is not a usable export."""
    try:
        spec = json.loads((Path(folder) / "embedder.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(spec, dict) or spec.get("export_format") != EXPORT_FORMAT:
        return None
    if not all((Path(folder) / f).is_file() for f in FILES):
        return None
    return spec


def cached_export(fingerprint: str | None, root: Path | None = None) -> Path | None:
    """The cached export of a model, when there is an intact one."""
    if not fingerprint:
        return None
    folder = (root or export_cache_root()) / fingerprint
    spec = read_spec(folder)
    if spec is None or spec.get("fingerprint") != fingerprint \
            or spec.get("export_revision", 1) < EXPORT_REVISION:
        return None
    # The cache lives outside the index: check the model file before it is copied into one.
    if sha256_file(folder / "model.onnx") != spec.get("onnx_sha256"):
        return None
    return folder


def _pooling(st_model) -> str | None:
    """mean / cls / max, read from the model's Pooling module; None for other layouts."""
    kinds = [type(m).__name__ for m in st_model]
    if not kinds or kinds[0] != "Transformer" or len(kinds) < 2 or kinds[1] != "Pooling" \
            or any(k != "Normalize" for k in kinds[2:]):
        return None  # Dense layers, CNNs, ...: stay with sentence-transformers
    cfg = st_model[1].get_config_dict()
    mode = cfg.get("pooling_mode")
    if mode is None:  # sentence-transformers < 5 spelled it as flags
        flags = [k for k in ("cls_token", "mean_tokens", "max_tokens")
                 if cfg.get(f"pooling_mode_{k}")]
        mode = {"cls_token": "cls", "mean_tokens": "mean", "max_tokens": "max"}.get(
            flags[0]) if len(flags) == 1 else None
    if mode not in ("mean", "cls", "max") or cfg.get("include_prompt") is False:
        return None
    return mode


def export_model(st_model, name: str, fingerprint: str, dest: Path) -> Path:
    """Export a loaded SentenceTransformer into ``dest`` (written atomically); returns it."""
    import warnings

    import torch

    pooling = _pooling(st_model)
    if pooling is None:
        raise ValueError("only Transformer + Pooling (+ Normalize) models are exported")
    transformer = st_model[0]
    hf_model, hf_tok = transformer.auto_model, st_model.tokenizer
    inputs = [n for n in hf_tok.model_input_names
              if n in ("input_ids", "attention_mask", "token_type_ids")]

    class _Encoder(torch.nn.Module):  # keyword call: transformers' positional order varies
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *args):
            return self.model(**dict(zip(inputs, args))).last_hidden_state

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        sample = hf_tok(["a b c d", "a"], padding=True, return_tensors="pt")
        args = tuple(sample[n] for n in inputs)
        axes = {n: {0: "batch", 1: "tokens"} for n in [*inputs, "last_hidden_state"]}
        was_training = hf_model.training
        hf_model.eval()
        # Traced eager attention is the MatMul/Softmax pattern onnxruntime fuses into one
        # Attention op; the sdpa trace is not fused and ran slower (docs/benchmarks.md).
        attn = getattr(hf_model.config, "_attn_implementation", None)
        _set_attention(hf_model, "eager")
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # tracer notes on shapes; the probe checks them
                kw = {"dynamo": False} \
                    if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
                torch.onnx.export(_Encoder(hf_model), args, str(tmp / "model.onnx"),
                                  input_names=inputs, output_names=["last_hidden_state"],
                                  dynamic_axes=axes, opset_version=17,
                                  do_constant_folding=True, **kw)
        finally:  # the caller's model goes back as it was
            hf_model.train(was_training)
            _set_attention(hf_model, attn)
        tok = hf_tok.backend_tokenizer  # a copy is changed below, never the model's own
        from tokenizers import Tokenizer

        tok = Tokenizer.from_str(tok.to_str())
        tok.no_padding()
        tok.enable_truncation(int(st_model.max_seq_length or 512))
        tok.save(str(tmp / "tokenizer.json"))
        spec = {"export_format": EXPORT_FORMAT, "export_revision": EXPORT_REVISION,
                "model": name, "fingerprint": fingerprint,
                "dim": int(hf_model.config.hidden_size), "pooling": pooling,
                "normalize": True, "inputs": inputs,
                "lowercase": bool(getattr(transformer, "do_lower_case", False)),
                "max_seq_length": int(st_model.max_seq_length or 512),
                "pad_id": int(hf_tok.pad_token_id or 0),
                "onnx_sha256": sha256_file(tmp / "model.onnx"),
                "exporter": f"torch {torch.__version__} torch.onnx.export opset 17"}
        (tmp / "embedder.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
        probe = OnnxEmbedder(tmp).encode(PROBES)
        want = st_model.encode(PROBES, normalize_embeddings=True, convert_to_numpy=True)
        if float(np.min(np.sum(probe * want, axis=1))) < 0.9999:
            raise ValueError("the ONNX export does not reproduce the model's vectors")
        # another build's export made meanwhile is kept; an older revision, or a damaged
        # one, is set aside first
        install_dir(tmp, dest, lambda d: cached_export(fingerprint, d.parent) == d)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _set_attention(hf_model, kind: str | None) -> None:
    """Switch a transformers model's attention implementation where it allows it."""
    if not kind:
        return
    try:
        hf_model.set_attn_implementation(kind)
    except Exception:  # noqa: BLE001 - older transformers, or a model without the choice
        pass


def ensure_export(st_embedder, fallback_root: Path | None = None) -> Path | None:
    """The export of a loaded SentenceTransformerEmbedder: cached, or made now (None if not)."""
    fp = st_embedder.fingerprint
    if not fp:
        return None  # a hub name, not a local folder: nothing stable to key the export by
    for root in (export_cache_root(), fallback_root):
        if root is None:
            continue
        found = cached_export(fp, root)
        if found:
            return found
        try:
            return export_model(st_embedder.model, st_embedder.name, fp, root / fp)
        except OSError:
            continue  # the cache folder is not writable: try the next place
        except Exception:  # noqa: BLE001 - an unexportable model answers through torch
            return None
    return None


class OnnxEmbedder(Embedder):
    """onnxruntime + tokenizers over an export folder; vectors equal sentence-transformers'."""

    def __init__(self, folder: Path, name: str | None = None, threads: int | None = None,
                 spinning: bool = False, providers: list[str] | None = None,
                 batch_tokens: int = TOKEN_BUDGET, max_batch: int = MAX_BATCH):
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        spec = read_spec(self.folder)
        if spec is None:
            raise IndexMismatch(f"{self.folder} holds no usable ONNX export of a model")
        self.spec = spec
        # The name the index records (a folder's name); the export itself is keyed by content.
        self.name = name or spec["model"]
        self.fingerprint, self.dim = spec["fingerprint"], int(spec["dim"])
        self.variant = spec.get("variant")  # None: fp32; "int8w": quant.py
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.batch_tokens, self.max_batch = batch_tokens, max_batch
        self.session = self._session(threads, spinning, providers)

    def _session(self, threads, spinning, providers):
        """What runs the transformer: an onnxruntime session (bf16.py: OpenVINO's)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(cpu_count(), 8)
        opts.inter_op_num_threads = 1
        # Threads that spin between work items take the CPU from everything else: off for
        # questions (a bot idles between them) and for builds too, since two builds (or a
        # build beside the tests) then slowed each other down (docs/benchmarks.md).
        opts.add_session_config_entry("session.intra_op.allow_spinning",
                                      "1" if spinning else "0")
        opts.log_severity_level = 3  # warnings about unused initializers are noise here
        return ort.InferenceSession(str(self.folder / "model.onnx"), opts,
                                    providers=providers or ["CPUExecutionProvider"])

    @property
    def precision(self) -> str:
        """fp32 or int8: the weights it runs (bf16.py's subclass: bf16 arithmetic)."""
        return "int8" if self.variant else "fp32"

    def onnx_export(self) -> Path:
        """The folder this embedder runs from (copied into each index it builds)."""
        return self.folder

    def hidden(self, encodings) -> tuple[np.ndarray, np.ndarray]:
        """The transformer's last_hidden_state of a batch of encodings, and its mask (embed/
        late.py pools sentences from it)."""
        n, width = len(encodings), max(len(e.ids) for e in encodings)
        ids = np.full((n, width), self.spec.get("pad_id", 0), dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        types = np.zeros((n, width), dtype=np.int64)
        for r, e in enumerate(encodings):
            k = len(e.ids)
            ids[r, :k], mask[r, :k], types[r, :k] = e.ids, 1, e.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return self.session.run(None, {k: feeds[k] for k in self.spec["inputs"]})[0], mask

    def _run(self, encodings) -> np.ndarray:
        hidden, mask = self.hidden(encodings)
        pooling = self.spec["pooling"]
        if pooling == "cls":
            vecs = hidden[:, 0]
        elif pooling == "max":
            vecs = np.where(mask[..., None] > 0, hidden, -1e9).max(axis=1)
        else:
            m = mask[..., None].astype(np.float32)
            vecs = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return (vecs / np.clip(norms, 1e-12, None)).astype(np.float32)

    def encode(self, texts, batch_size=64, show_progress=False, batch_tokens=None):
        """Length-sorted batches of at most ``batch_tokens`` padded tokens (``batch_size`` is
        not used: a token budget keeps long and short texts alike in cache)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.spec.get("lowercase"):
            texts = [t.lower() for t in texts]
        encs = self.tokenizer.encode_batch(texts)
        lengths = np.array([len(e.ids) for e in encs])
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        bar = _progress(len(texts)) if show_progress else None
        for rows in bucket_batches(lengths, batch_tokens or self.batch_tokens, self.max_batch):
            out[rows] = self._run([encs[r] for r in rows])
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out


def _progress(total: int):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with sentence-transformers
        return None
    return tqdm(total=total, desc="embedding", unit="text", leave=False)


def question_encoder(index_dir: Path, manifest: dict) -> OnnxEmbedder | None:
    """The ONNX question encoder stored in the index's current generation (None: it has none).
    Everything it needs is inside the index folder; the files were checked with the index."""
    if manifest.get("question_encoder") != "onnx":
        return None
    folder = Path(index_dir) / manifest["model_dir"] if manifest.get("model_dir") else \
        Path(index_dir) / manifest["generation"] / ONNX_DIR
    encoder = OnnxEmbedder(folder, name=manifest.get("model"))
    if encoder.fingerprint != manifest.get("model_fingerprint") or \
            encoder.dim != manifest.get("dim") or \
            encoder.variant != manifest.get("model_variant", encoder.variant):
        raise IndexMismatch(f"the question encoder in {folder} is not the model the index "
                            f"was built with")
    return encoder


def derived_export(folder: Path, suffix: str, marks: dict, convert, min_cos: float,
                   threads: int | None = None) -> Path | None:
    """A sibling of the export ``folder`` with other weights: ``convert(model, dest)`` writes
    its model.onnx from the folder's; ``marks`` is what its embedder.json adds (which variant
    it is). An intact sibling made from the same model is reused; a new one is kept only if
    its vectors of the probe texts stay within cosine ``min_cos`` of the folder's. None when
    the conversion fails or falls short (CITEBOT_DEBUG=1: raise instead)."""
    folder = Path(folder)
    source = read_spec(folder) or {}
    dest = folder.parent / f"{folder.name}-{suffix}"

    def intact(d: Path) -> bool:  # made from the same model, files as recorded
        spec = read_spec(d)
        try:
            return bool(spec) and all(spec.get(k) == v for k, v in marks.items()) and \
                spec.get("source_sha256") == source.get("onnx_sha256") and \
                sha256_file(d / "model.onnx") == spec.get("onnx_sha256")
        except OSError:  # being replaced by another process
            return False

    if intact(dest):
        return dest
    tmp = folder.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        tmp.mkdir(parents=True)
        shutil.copyfile(folder / "tokenizer.json", tmp / "tokenizer.json")
        convert(folder / "model.onnx", tmp / "model.onnx")
        spec = {**source, **marks, "source_sha256": source.get("onnx_sha256"),
                "onnx_sha256": sha256_file(tmp / "model.onnx")}
        (tmp / "embedder.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
        got = OnnxEmbedder(tmp, threads=threads).encode(PROBES)
        want = OnnxEmbedder(folder, threads=threads).encode(PROBES)
        if float(np.min(np.sum(got * want, axis=1))) < min_cos:
            raise ValueError(f"the {suffix} model does not reproduce the folder's vectors")
        install_dir(tmp, dest, intact)
        return dest
    except Exception:  # noqa: BLE001 - no such sibling: the caller keeps the folder's model
        if os.environ.get("CITEBOT_DEBUG"):
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        return None
