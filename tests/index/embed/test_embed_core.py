"""Build-time embedding: embed_texts, the int8 CPU engine, devices, and the model stored once."""

import json
import shutil

import numpy as np
import pytest
from conftest import assert_exact_quotes, run_cli

from index.build import build_index
from index.config import resolve
from index.embed.base import bucket_batches
from index.embed.embed_core import (
    embed_texts,
    encode_unique,
    engine_for,
    nvidia_gpu_visible,
    resolve_device,
)
from index.embed.onnx import OnnxEmbedder, cached_export
from index.embed.sbert import indexing_embedder
from index.engine import Citebot
from index.errors import IndexCorrupt, UsageError
from index.store.store import IndexStore, read_manifest

TEXTS = ["The harbour cooperative paid for the new beacon.",
         "Fishermen said the light can be seen from twelve nautical miles.",
         "The harbour cooperative paid for the new beacon.",  # twice: embedded once
         "x", "Le phare de Cap-Haïtien brille de nouveau.", "word " * 300]


class Counting:
    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.texts = []

    def encode(self, texts, show_progress=False, **kw):
        self.texts += list(texts)
        return self.inner.encode(texts, **kw)


@pytest.fixture(scope="module")
def fp32(seed_bot):
    """The fp32 ONNX export of the default model (made by the seed build)."""
    from index.embed.base import model_fingerprint, resolve_model

    folder = cached_export(model_fingerprint(resolve_model(None)[1]))
    assert folder is not None
    return OnnxEmbedder(folder)


def test_bucket_batches_cover_every_row_once_within_the_budget():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 257, 5000)
    seen = []
    for rows in bucket_batches(lengths, 1024, 128):
        assert len(rows) <= 128 and len(rows) * lengths[rows].max() <= max(1024, lengths.max())
        assert lengths[rows].max() - lengths[rows].min() <= 256  # sorted: one bucket
        seen += list(rows)
    assert sorted(seen) == list(range(5000))


def test_embed_texts_embeds_each_distinct_text_once_in_order(fp32):
    counting = Counting(fp32)
    got = encode_unique(counting, TEXTS)
    assert len(counting.texts) == len(set(TEXTS))
    want = fp32.encode(TEXTS)
    assert got.shape == (len(TEXTS), fp32.dim) and got.dtype == np.float32
    assert np.allclose(got, want, atol=1e-5)
    assert np.array_equal(got[0], got[2])
    # Batching does not change a vector: one at a time equals the bucketed batch.
    one = np.vstack([fp32.encode([t]) for t in TEXTS])
    assert np.sum(one * want, axis=1).min() > 0.99999


def test_embed_texts_is_the_cpu_engine(fp32):
    got = embed_texts(TEXTS, device="cpu", precision="fp32")  # int8 is opt-in
    engine = engine_for(None, "cpu", "fp32")
    assert engine is engine_for(None, "cpu", "fp32")  # loaded once per process
    assert engine.variant is None and np.allclose(got, fp32.encode(TEXTS), atol=1e-5)
    # auto: bf16 where this machine can (test_bf16.py), the fp32 weights either way
    assert engine_for(None, "cpu").variant is None
    int8 = embed_texts(TEXTS, device="cpu", precision="int8")
    assert engine_for(None, "cpu", "int8").variant == "int8w"
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cos = np.sum(int8 * fp32.encode(TEXTS), axis=1)
    assert cos.min() > 0.95 and np.median(cos) > 0.99  # int8 weights: close, not equal
    assert not np.allclose(int8, got, atol=1e-4)  # and really other weights
    assert embed_texts([], device="cpu").shape == (0, fp32.dim)
    with pytest.raises(UsageError):
        engine_for(None, "cpu", "int4")


def test_weights_are_fp32_unless_int8_is_asked(seed_bot, seed_dir, tmp_path):
    assert resolve(corpus=seed_dir).precision == "auto"  # fp32 or bf16 arithmetic: test_bf16
    assert seed_bot.store.manifest.get("model_variant") is None
    assert indexing_embedder(None).variant is None
    r = run_cli("index", "build", env={"CITEBOT_CORPUS": str(seed_dir),
                                       "CITEBOT_INDEX": str(tmp_path / "index"),
                                       "CITEBOT_PRECISION": "int4"})
    assert r.returncode == 2 and r.stdout == b"" and b"Traceback" not in r.stderr
    assert len(r.stderr.decode().strip().splitlines()) == 1 and b"CITEBOT_PRECISION" in r.stderr
    assert not (tmp_path / "index").exists()


def test_int8_engine_when_asked_answers_like_fp32(seed_bot, seed_dir, tmp_path):
    engine = indexing_embedder(None, "int8")
    assert isinstance(engine, OnnxEmbedder) and engine.variant == "int8w"
    index = tmp_path / "index"
    # precision passed explicitly (as `index build --precision int8` does)
    bot = Citebot(resolve(corpus=seed_dir, index=index, precision="int8"), device="cpu")
    assert bot.index_embedder().variant == "int8w"
    manifest = bot.build()
    assert manifest["model_variant"] == "int8w"
    # The index carries the int8 model for its questions: 22 MB instead of 87.
    encoder = bot.question_embedder(bot.store.manifest)
    assert encoder.variant == "int8w"
    assert (index / manifest["model_dir"] / "model.onnx").stat().st_size < 30 << 20
    for q in ["Which countries threatened a veto?", "Who is Brian A. Nichols?",
              "How many Kenyan police officers arrived in the first contingent?",
              "What did resolution 2699 mandate?"]:
        a, b = seed_bot.ask(q), bot.ask(q)
        assert [(c.id, c.start, c.end) for c in a.citations[:1]] == \
               [(c.id, c.start, c.end) for c in b.citations[:1]], q
        assert_exact_quotes(b.citations, seed_dir)


def test_model_is_stored_once_and_collected_when_unused(seed_bot, seed_dir, tmp_path):
    from conftest import HashEmbedder

    index = tmp_path / "index"
    shutil.copytree(seed_bot.config.index, index)
    first = read_manifest(index)
    build_index(seed_dir, index, seed_bot.index_embedder())
    build_index(seed_dir, index, seed_bot.index_embedder())
    assert len(list(index.glob("gen-*"))) == 2
    assert [p.name for p in (index / "models").iterdir()] == [first["model_dir"].split("/")[1]]
    # A 2-article index: the model once, everything else small.
    total = sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
    model = sum(p.stat().st_size for p in (index / first["model_dir"]).iterdir())
    assert total - model < 1 << 20
    IndexStore(index, verify="full")
    # Generations without an encoder: once none kept refers to the model, it is removed.
    for _ in range(2):
        build_index(seed_dir, index, HashEmbedder(), export_onnx=False)
    assert not any((index / "models").iterdir())


def test_damaged_shared_model_is_caught_and_repaired_by_a_build(seed_bot, seed_dir, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(seed_bot.config.index, index)
    path = index / read_manifest(index)["model_dir"] / "tokenizer.json"
    data = json.loads(path.read_text())
    data["truncation"]["max_length"] = 8
    path.write_text(json.dumps(data))
    with pytest.raises(IndexCorrupt):
        IndexStore(index)
    r = run_cli("index", "verify", env={"CITEBOT_CORPUS": str(seed_dir),
                                        "CITEBOT_INDEX": str(index)})
    assert r.returncode != 0 and b"tokenizer.json" in r.stderr + r.stdout
    build_index(seed_dir, index, seed_bot.index_embedder())
    IndexStore(index, verify="full")  # the build put an intact copy back


def test_device_cuda_without_gpu_is_one_line_exit_2(seed_dir, tmp_path):
    if nvidia_gpu_visible():
        pytest.skip("a GPU is visible here: --device cuda is valid")
    with pytest.raises(UsageError):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    index = tmp_path / "index"
    r = run_cli("index", "build", "--device", "cuda",
                env={"CITEBOT_CORPUS": str(seed_dir), "CITEBOT_INDEX": str(index)})
    assert r.returncode == 2 and r.stdout == b""
    assert len(r.stderr.decode().strip().splitlines()) == 1 and b"GPU" in r.stderr
    assert not index.exists()
    r = run_cli("index", "build", "--device", "tpu",
                env={"CITEBOT_CORPUS": str(seed_dir), "CITEBOT_INDEX": str(index)})
    assert r.returncode == 2 and b"Traceback" not in r.stderr


def test_auto_on_a_cpu_machine_imports_no_torch():
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys\nfrom index.embed.embed_core import resolve_device\n"
            "print(resolve_device('auto'), 'torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT,
                       env={"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert r.stdout.decode().split() == ["cpu", "False"], r.stderr


@pytest.mark.skipif(not nvidia_gpu_visible(), reason="no CUDA GPU on this machine")
def test_cuda_engine_gives_the_cpu_vectors(fp32):
    got = embed_texts(TEXTS * 50, device="cuda")
    cos = np.sum(got * fp32.encode(TEXTS * 50), axis=1)
    assert cos.min() > 0.999  # fp32 on the CUDA provider, or fp16 sentence-transformers
