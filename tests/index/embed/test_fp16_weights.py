"""The question encoder an index stores: weights in float16 on disk (half the file), run in fp32,
questions within cosine 0.9999 of the fp32 export's; an index holding an fp32 model still loads."""

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from test_onnx import QUESTIONS, _squad_questions

from index.build import build_index
from index.config import resolve
from index.embed import fp16
from index.embed.onnx import OnnxEmbedder, question_encoder
from index.engine import Citebot
from index.store.store import IndexStore


@pytest.fixture(scope="module")
def fp32_export(embedder):
    """The fp32 export builds embed with (the per-user export cache)."""
    folder = embedder.onnx_export()
    assert folder is not None and not json.loads(
        (folder / "embedder.json").read_text()).get("stored_weights")
    return folder


def test_seed_index_stores_half_the_model(seed_bot, fp32_export):
    manifest = seed_bot.store.manifest
    folder = seed_bot.config.index / manifest["model_dir"]
    spec = json.loads((folder / "embedder.json").read_text())
    assert spec["stored_weights"] == "float16" and spec.get("variant") is None
    assert manifest.get("model_variant") is None  # the same model: the cache key is unchanged
    full = (fp32_export / "model.onnx").stat().st_size
    assert (folder / "model.onnx").stat().st_size < 0.52 * full
    assert spec["source_sha256"] == json.loads(
        (fp32_export / "embedder.json").read_text())["onnx_sha256"]


def test_questions_stay_within_tolerance_of_the_fp32_model(seed_bot, fp32_export, embedder):
    texts = QUESTIONS + _squad_questions()
    stored = question_encoder(seed_bot.config.index, seed_bot.store.manifest)
    assert stored.spec["stored_weights"] == "float16"
    full = OnnxEmbedder(fp32_export)
    got, want = stored.encode(texts), full.encode(texts)
    cos = np.sum(got * want, axis=1)
    assert cos.min() >= 0.9999, texts[int(cos.argmin())]
    assert not np.array_equal(got, want)  # the weights did change: this compares something
    # The fp32 export itself still reproduces sentence-transformers (the tight claim of onnx.py)
    ref = embedder.encode(texts)
    assert np.sum(want * ref, axis=1).min() >= 0.999999


def test_weights_run_in_fp32_after_constant_folding(seed_bot, tmp_path):
    """onnxruntime folds the Casts at session creation: no float16 tensor and no Cast on a
    weight is left in the graph it runs (so it runs at fp32 speed)."""
    folder = seed_bot.config.index / seed_bot.store.manifest["model_dir"]
    stored = onnx.load(str(folder / "model.onnx"))
    halves = {i.name for i in stored.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16}
    assert len(halves) >= 38  # six weight matrices per layer (six), word and position tables
    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    ran = onnx.load(str(tmp_path / "optimized.onnx"))
    assert not [i.name for i in ran.graph.initializer
                if i.data_type == onnx.TensorProto.FLOAT16]
    assert not [n for n in ran.graph.node if n.op_type == "Cast" and set(n.input) & halves]


def test_half_weights_export_is_made_once_and_not_for_int8(fp32_export, tmp_path):
    src = tmp_path / "exp"
    shutil.copytree(fp32_export, src)
    made = fp16.half_weights_export(src)
    assert made == tmp_path / f"exp-{fp16.SUFFIX}"
    stamp = (made / "model.onnx").stat().st_mtime_ns
    assert fp16.half_weights_export(src) == made  # intact: reused, not written again
    assert (made / "model.onnx").stat().st_mtime_ns == stamp
    assert fp16.half_weights_export(made) is None  # not converted twice
    spec = json.loads((src / "embedder.json").read_text())
    int8 = tmp_path / "int8"
    shutil.copytree(src, int8)
    (int8 / "embedder.json").write_text(json.dumps({**spec, "variant": "int8w"}))
    assert fp16.half_weights_export(int8) is None  # int8 weights are smaller already
    # A damaged copy is made again.
    (made / "model.onnx").write_bytes(b"not a model")
    again = fp16.half_weights_export(src)
    assert again == made and OnnxEmbedder(again).encode(["a question"]).shape == (1, 384)


def test_an_index_with_an_fp32_model_still_loads_and_answers(seed_bot, embedder, seed_dir,
                                                             tmp_path, monkeypatch):
    """Indexes built before this change hold the fp32 model.onnx: read as they are."""
    monkeypatch.setattr(fp16, "half_weights_export", lambda _folder: None)
    index = tmp_path / "index"
    build_index(seed_dir, index, embedder)
    monkeypatch.undo()
    store = IndexStore(index)
    encoder = question_encoder(index, store.manifest)
    assert "stored_weights" not in encoder.spec
    assert (index / store.manifest["model_dir"] / "model.onnx").stat().st_size > 80 << 20
    bot = Citebot(resolve(corpus=seed_dir, index=index), embedder=embedder)
    for q in QUESTIONS[:4]:
        want, got = seed_bot.ask(q), bot.ask(q)
        assert [(c.id, c.start, c.end) for c in got.citations] == \
               [(c.id, c.start, c.end) for c in want.citations], q


def test_a_sibling_another_build_made_meanwhile_is_kept(fp32_export, tmp_path):
    """Two builds (the test suite's workers) make the same float16 sibling at once: the one
    that finishes second keeps the first one's folder, which the first may be reading (it was
    swapped out under it: FileNotFoundError in a fresh clone's test run), and drops its own."""
    from index.embed.onnx import derived_export

    folder = tmp_path / "export"
    shutil.copytree(fp32_export, folder)
    sibling = tmp_path / f"export-{fp16.SUFFIX}"
    marks = {"stored_weights": fp16.STORED}
    seen = {}

    def convert(model, dest):
        # the other build, finishing first, while this one converts
        seen["other"] = derived_export(folder, fp16.SUFFIX, marks, convert_alone, 0.9999)
        seen["inode"] = sibling.stat().st_ino
        convert_alone(model, dest)

    def convert_alone(model, dest):
        assert fp16.half_weights(model, dest)

    got = derived_export(folder, fp16.SUFFIX, marks, convert, 0.9999)
    assert got == seen["other"] == sibling
    assert sibling.stat().st_ino == seen["inode"]  # the first one's folder, never swapped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", sibling.name]  # no leftovers
    assert OnnxEmbedder(sibling).encode(QUESTIONS[:2]).shape == (2, 384)
