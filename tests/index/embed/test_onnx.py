"""The fast question path: the index's ONNX export answers like sentence-transformers, without
torch, and only for the model the index was built with."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, SHARED, assert_exact_quotes, run_cli

from index.build import build_index
from index.config import resolve
from index.embed.base import model_fingerprint, resolve_model
from index.embed.onnx import (
    EXPORT_REVISION,
    OnnxEmbedder,
    cached_export,
    export_model,
    question_encoder,
)
from index.engine import Citebot
from index.errors import IndexCorrupt, IndexMismatch
from index.search.searcher import Searcher
from index.store.store import IndexStore, read_manifest

QUESTIONS = [
    "How many Kenyan police officers arrived in the first contingent?",
    "When did a Kenyan court rule the deployment unconstitutional?",
    "Which countries threatened a veto?",
    "Who is Brian A. Nichols?",
    "How much money has the UN-backed trust fund raised?",
    "What did resolution 2699 mandate?",
    "Who won the 2022 World Cup?",
    "¿Quién lidera la misión en Haití?",
    "Haïti — 警察 🚓 ‮rtl‬ zero​width",
    "x",
    "a " * 400,  # longer than the model's 256 tokens: both sides truncate alike
]


def _squad_questions(n=150):
    path = SHARED / "eval" / "squad2-dev-subset.json"
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/ holds the evaluation data)")
    data = json.loads(path.read_text())
    qs = [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
    return qs[:: max(1, len(qs) // n)][:n]


@pytest.fixture(scope="module")
def fast(seed_bot):
    """The question encoder stored in the seed index."""
    store = seed_bot.store
    encoder = question_encoder(seed_bot.config.index, store.manifest)
    assert encoder is not None
    return encoder


def test_index_carries_the_question_encoder(seed_bot):
    manifest = seed_bot.store.manifest
    assert manifest["question_encoder"] == "onnx"
    # Stored once in the index folder (models/<key>/), checked like the generation's files.
    folder = manifest["model_dir"]
    assert {f"{folder}/model.onnx", f"{folder}/tokenizer.json", f"{folder}/embedder.json"} \
        == set(manifest["shared_files"])
    assert manifest["model_fingerprint"] == model_fingerprint(resolve_model(None)[1])
    spec = json.loads((seed_bot.config.index / folder / "embedder.json").read_text())
    assert spec["fingerprint"] == manifest["model_fingerprint"] and spec["dim"] == 384


def test_onnx_vectors_match_sentence_transformers(embedder, fast):
    texts = QUESTIONS + _squad_questions()
    want = embedder.encode(texts)
    got = fast.encode(texts)
    cos = np.sum(want * got, axis=1)
    assert got.shape == want.shape and got.dtype == np.float32
    assert cos.min() >= 0.999, texts[int(cos.argmin())]
    # One at a time (the question path) equals the batch (indexing).
    one = np.vstack([fast.encode_query(t) for t in QUESTIONS])
    assert np.sum(one * want[: len(QUESTIONS)], axis=1).min() >= 0.999
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_fast_path_gives_the_torch_paths_citations(seed_bot, embedder, fast, seed_dir):
    store = seed_bot.store
    torch_path, onnx_path = Searcher(store, embedder), Searcher(store, fast)
    for q in QUESTIONS[:8]:
        a, b = torch_path.ask(q), onnx_path.ask(q)
        assert a.answered == b.answered, q
        assert [(c.id, c.start, c.end) for c in a.citations] == \
               [(c.id, c.start, c.end) for c in b.citations], q
        assert [c.score for c in a.citations] == pytest.approx([c.score for c in b.citations],
                                                               abs=1e-4)
        assert_exact_quotes(b.citations, seed_dir)


def test_citebot_uses_the_index_encoder(seed_bot):
    encoder = seed_bot.question_embedder(seed_bot.store.manifest)
    assert isinstance(encoder, OnnxEmbedder)
    assert encoder.folder == seed_bot.config.index / seed_bot.store.manifest["model_dir"]
    assert seed_bot.question_embedder(seed_bot.store.manifest) is encoder  # made once


def test_one_shot_ask_imports_no_torch(cli_env):
    code = ("import sys\nfrom bot.cli import main\n"
            "sys.argv = ['citebot', 'ask', '--json', 'Which countries threatened a veto?']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "heavy = ['torch', 'transformers', 'sentence_transformers', 'bm25s', 'scipy']\n"
            "print([m for m in heavy if m in sys.modules])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT,
                       env={**os.environ, **cli_env}, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().strip().splitlines()
    assert json.loads(lines[0])["answered"] is True
    assert lines[-1] == "[]"
    assert r.stderr.decode() == ""  # nothing scary on the way


def _model_copy(tmp_path, name, change_config=False):
    """A model folder of another name: links to the real files (config.json changed if asked)."""
    src = resolve_model(None)[1]
    dst = tmp_path / name
    dst.mkdir(parents=True)
    for entry in os.listdir(src):
        if entry == "config.json" and change_config:
            with open(os.path.join(src, entry), encoding="utf-8") as fh:
                cfg = json.load(fh)
            cfg["note"] = "another model that happens to share the name"
            (dst / entry).write_text(json.dumps(cfg))
        else:
            os.symlink(os.path.join(src, entry), dst / entry)
    return dst


@pytest.fixture(scope="module")
def model_a_index(tmp_path_factory, seed_dir):
    """The seed corpus indexed with the model from a folder named "minilm"."""
    base = tmp_path_factory.mktemp("models")
    model_a = _model_copy(base / "a", "minilm")
    index = base / "index"
    bot = Citebot(resolve(corpus=seed_dir, index=index, model=str(model_a)))
    bot.build()
    return base, model_a, index


def test_index_refuses_a_model_of_another_name(model_a_index, seed_dir, tmp_path):
    base, _, index = model_a_index
    other = _model_copy(tmp_path, "other-model")
    bot = Citebot(resolve(corpus=seed_dir, index=index, model=str(other)))
    with pytest.raises(IndexMismatch) as exc:
        bot.ask("Which countries threatened a veto?")
    assert "'minilm'" in str(exc.value) and "citebot index build" in exc.value.user_message()
    r = run_cli("ask", "--model", str(other), "Which countries threatened a veto?",
                env={"CITEBOT_CORPUS": str(seed_dir), "CITEBOT_INDEX": str(index)}, process=True)
    assert r.returncode == 2 and b"citebot index build" in r.stderr
    assert b"Traceback" not in r.stderr and r.stdout == b""


def test_index_refuses_other_files_under_the_same_name(model_a_index, seed_dir, tmp_path):
    _, model_a, index = model_a_index
    same_name = _model_copy(tmp_path / "b", "minilm", change_config=True)
    assert model_fingerprint(str(same_name)) != model_fingerprint(str(model_a))
    bot = Citebot(resolve(corpus=seed_dir, index=index, model=str(same_name)))
    with pytest.raises(IndexMismatch) as exc:
        bot.ask("Which countries threatened a veto?")
    assert "other files" in str(exc.value)
    # The model it was built with still answers, through the index's own encoder.
    ok = Citebot(resolve(corpus=seed_dir, index=index, model=str(model_a)))
    assert ok.ask("Which countries threatened a veto?").answered
    assert isinstance(ok.question_embedder(ok.store.manifest), OnnxEmbedder)


def test_encoder_of_another_model_in_the_index_is_refused(seed_bot):
    manifest = {**seed_bot.store.manifest, "model_fingerprint": "0" * 32}
    with pytest.raises(IndexMismatch):
        question_encoder(seed_bot.config.index, manifest)


def test_damaged_encoder_is_caught_before_answering(seed_bot, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(seed_bot.config.index, index)
    path = index / read_manifest(index)["model_dir"] / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x04
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt) as exc:
        IndexStore(index)
    assert "model.onnx" in str(exc.value) and "damaged" in str(exc.value)


def test_index_without_export_falls_back_quietly(seed_bot, embedder, seed_dir, tmp_path):
    index = tmp_path / "index"
    manifest = build_index(seed_dir, index, embedder, export_onnx=False)
    assert manifest["question_encoder"] == "sentence-transformers"
    assert not any(f.startswith("onnx/") for f in manifest["files"])
    assert not manifest.get("shared_files") and not (index / "models").exists()
    bot = Citebot(resolve(corpus=seed_dir, index=index), embedder=embedder)
    assert bot.question_embedder(bot.store.manifest) is embedder
    want = seed_bot.ask("Which countries threatened a veto?")
    got = bot.ask("Which countries threatened a veto?")
    assert [c.id for c in got.citations] == [c.id for c in want.citations]


def test_stopword_copy_matches_bm25s():
    from bm25s.stopwords import STOPWORDS_EN

    from index.text import STOPWORDS_EN as ours

    assert tuple(ours) == tuple(STOPWORDS_EN)


def _spins(encoder) -> str:
    opts = encoder.session.get_session_options()
    return opts.get_session_config_entry("session.intra_op.allow_spinning")


def test_only_bulk_indexing_spins_its_threads(seed_bot, fast):
    # A bot idles between questions: spinning threads there would burn the CPU for nothing.
    assert _spins(fast) == "0"
    assert _spins(seed_bot.question_embedder(seed_bot.store.manifest)) == "0"
    assert _spins(OnnxEmbedder(fast.folder, spinning=True)) == "1"


def test_an_export_of_an_older_revision_is_made_again(fast, tmp_path):
    fp = fast.fingerprint
    current = tmp_path / "now" / fp
    shutil.copytree(fast.folder, current)
    assert json.loads((current / "embedder.json").read_text())["export_revision"] \
        == EXPORT_REVISION
    assert cached_export(fp, tmp_path / "now") == current
    old = tmp_path / "old" / fp
    shutil.copytree(fast.folder, old)
    spec = json.loads((old / "embedder.json").read_text())
    del spec["export_revision"]  # what the first release wrote
    (old / "embedder.json").write_text(json.dumps(spec))
    assert cached_export(fp, tmp_path / "old") is None
    # ...while an index that carries such an export still answers with it.
    assert OnnxEmbedder(old).encode(["a question"]).shape == (1, fast.dim)


def test_export_leaves_the_callers_model_as_it_was(embedder, fast, tmp_path):
    hf = embedder.model[0].auto_model
    before = (hf.config._attn_implementation, hf.training)
    folder = export_model(embedder.model, embedder.name, fast.fingerprint, tmp_path / "x")
    assert (hf.config._attn_implementation, hf.training) == before
    got = OnnxEmbedder(folder).encode(QUESTIONS[:4])
    assert np.sum(got * embedder.encode(QUESTIONS[:4]), axis=1).min() >= 0.9999
