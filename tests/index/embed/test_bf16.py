"""bf16 CPU builds (index/embed/bf16.py): the default where the CPU can, the same answers."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, assert_exact_quotes, run_cli
from test_embed_core import TEXTS
from test_onnx import QUESTIONS, _squad_questions

from index.config import resolve
from index.embed.bf16 import Bf16Embedder, why_not_bf16
from index.embed.embed_core import engine_for, resolve_precision
from index.embed.late import encode_late
from index.engine import Citebot
from index.store.store import read_manifest

needs_bf16 = pytest.mark.skipif(why_not_bf16() is not None,
                                reason=f"no bf16 builds here: {why_not_bf16()}")
ASKED = ["Which countries threatened a veto?", "Who is Brian A. Nichols?",
         "How many Kenyan police officers arrived in the first contingent?",
         "What did resolution 2699 mandate?", "When did the first Kenyan officers land?",
         "Who leads the mission?"]


@needs_bf16
def test_auto_is_bf16_here_and_its_vectors_stay_within_cosine_of_fp32():
    assert resolve_precision(None) == resolve_precision("auto") == "bf16"
    bf16, fp32 = engine_for(None, "cpu"), engine_for(None, "cpu", "fp32")
    assert isinstance(bf16, Bf16Embedder) and bf16.precision == "bf16"
    assert fp32.precision == "fp32" and not isinstance(fp32, Bf16Embedder)
    assert bf16.folder == fp32.folder  # the same fp32 export: only the arithmetic differs
    try:  # 150 SQuAD questions too where ../shared is there; the rest runs without it
        squad = _squad_questions()
    except pytest.skip.Exception:
        squad = []
    texts = TEXTS + QUESTIONS + squad
    got, want = bf16.encode(texts), fp32.encode(texts)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = np.sum(got * want, axis=1)
    assert cos.min() >= 0.9999, texts[int(cos.argmin())]
    assert not np.allclose(got, want, atol=1e-6)  # it did run in bf16: this compares something
    # Late sentence vectors read its token states the same way (late.py: engine.hidden).
    spans = [[(0, 20), (21, 48)], [(0, 9)]]
    (p1, s1), (p2, s2) = (encode_late(e, TEXTS[:2], spans) for e in (bf16, fp32))
    assert np.sum(p1 * p2, axis=1).min() >= 0.9999 and np.sum(s1 * s2, axis=1).min() >= 0.9999


@needs_bf16
def test_a_bf16_index_answers_like_an_fp32_one(seed_bot, seed_dir, tmp_path):
    bot = Citebot(resolve(corpus=seed_dir, index=tmp_path / "index"), device="cpu")
    manifest = bot.build()
    assert manifest["precision"] == "bf16" and seed_bot.store.manifest["precision"] == "fp32"
    # Its questions are embedded by the fp32 export, as an fp32 index's are.
    assert manifest["model_variant"] is None
    for q in ASKED:
        a, b = seed_bot.ask(q), bot.ask(q)
        assert [(c.id, c.start, c.end) for c in a.citations] == \
               [(c.id, c.start, c.end) for c in b.citations], q
        assert abs(a.confidence - b.confidence) < 5e-3, q
        assert_exact_quotes(b.citations, seed_dir)
    r = run_cli("index", "info", "--json", env={"CITEBOT_CORPUS": str(seed_dir),
                                                "CITEBOT_INDEX": str(tmp_path / "index")})
    assert r.returncode == 0 and json.loads(r.stdout)["precision"] == "bf16"


def test_where_bf16_cannot_run_auto_builds_in_fp32_and_asking_for_it_is_one_line(
        seed_dir, tmp_path):
    """A machine without OpenVINO (or without bf16 units): auto is fp32; --precision bf16 says
    why in one line, exit 2, and writes nothing."""
    fake = tmp_path / "noov"
    (fake / "openvino").mkdir(parents=True)
    (fake / "openvino" / "__init__.py").write_text("raise ImportError('no openvino here')\n")
    env = {"PYTHONPATH": f"{fake}:{ROOT}"}
    r = run_cli("index", "build", "--corpus", str(seed_dir), "--index", str(tmp_path / "a"),
                "--precision", "bf16", env=env, process=True)
    err = r.stderr.decode().strip()
    assert r.returncode == 2 and len(err.splitlines()) == 1, err
    assert "openvino" in err and "Traceback" not in err
    assert not (tmp_path / "a").exists()
    r = run_cli("index", "build", "--corpus", str(seed_dir), "--index", str(tmp_path / "b"),
                env=env, process=True)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert read_manifest(tmp_path / "b")["precision"] == "fp32"


def test_an_fp32_index_does_not_hold_its_rebuilds_to_fp32(seed_bot, seed_dir):
    """fp32 and bf16 vectors meet the same fp32 question encoder, so a rebuild follows the
    configuration (auto); only int8 is kept (test_precision_rebuild.py)."""
    bot = Citebot(resolve(corpus=seed_dir, index=seed_bot.config.index))
    assert seed_bot.store.manifest["precision"] == "fp32" and bot.build_precision() == "auto"
    asked = Citebot(resolve(corpus=seed_dir, index=seed_bot.config.index, precision="fp32"))
    assert asked.build_precision() == "fp32"


@needs_bf16
def test_switching_between_fp32_and_bf16_reuses_the_build_cache(seed_bot, seed_dir, tmp_path):
    """Same weights, vectors within cosine 0.9999: a rebuild in the other arithmetic re-embeds
    nothing that is unchanged (store/cache.py model_key)."""
    index = tmp_path / "index"
    shutil.copytree(seed_bot.config.index, index)
    said = []
    bot = Citebot(resolve(corpus=seed_dir, index=index, precision="bf16"), device="cpu",
                  progress=said.append)
    manifest = bot.build()
    assert manifest["precision"] == "bf16" and "embedded 0 texts" in " ".join(said)
    assert manifest["embedding_key"] == seed_bot.store.manifest["embedding_key"]


SPY = """
import os, socket, sys
sys.path.insert(0, sys.argv[1])
def refuse(*a, **k):
    print("NETWORK", a[:2], file=sys.stderr, flush=True)
    raise OSError("no network in this test")
socket.getaddrinfo = socket.create_connection = refuse
if sys.argv[2] == "plain":
    import openvino
else:
    from index.embed.bf16 import why_not_bf16
    print("why", why_not_bf16(), flush=True)
"""


@pytest.mark.parametrize("how", ["citebot", "plain"])
def test_openvino_is_loaded_without_its_telemetry(tmp_path, how):
    """citebot's import of openvino makes no network call and writes nothing into $HOME; a
    plain `import openvino` does both (its conversion tools' usage event), so this test sees it."""
    pytest.importorskip("openvino", reason="openvino is not installed")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}
    r = subprocess.run([sys.executable, "-c", SPY, str(ROOT), how], capture_output=True,
                       timeout=120, env={**env, "HOME": str(home)})  # telemetry skips CI runs
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    phoned = b"NETWORK" in r.stderr or any(home.iterdir())
    if how == "plain" and not phoned:
        pytest.skip("this openvino sends no usage event on import: nothing to keep out")
    assert phoned == (how == "plain"), (r.stderr.decode()[-2000:], list(home.iterdir()))


@needs_bf16
def test_bf16_vectors_off_the_fp32_ones_fall_back_to_fp32(monkeypatch):
    """A model whose graph OpenVINO runs wrongly must not build a wrong index: the probes'
    vectors are compared with onnxruntime's fp32 ones first (here the bar is set above 1)."""
    from index.embed import bf16

    folder = engine_for(None, "cpu", "fp32").folder
    assert isinstance(bf16.bf16_or_fp32(folder), Bf16Embedder)
    monkeypatch.setattr(bf16, "MIN_COS", 1.01)
    monkeypatch.delenv("CITEBOT_DEBUG", raising=False)
    engine = bf16.bf16_or_fp32(folder)
    assert not isinstance(engine, Bf16Embedder) and engine.precision == "fp32"
    monkeypatch.setenv("CITEBOT_DEBUG", "1")
    with pytest.raises(ValueError, match="bf16 vectors are off"):
        bf16.bf16_or_fp32(folder)
