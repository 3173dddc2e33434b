"""`citebot index build --ray`: the same index as a local build, from embeddings made on Ray.

One local Ray instance (2 CPUs) for the whole session; the CLI joins it by its address.
Without Ray installed these tests skip, except those about what happens without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, assert_exact_quotes, run_cli

QUESTIONS = ["Which country agreed to lead the security mission in Haiti?",
             "How many police officers did Kenya pledge?",
             "When did the Security Council renew the mission?"]


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray instance with 2 CPUs, started once."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'citebot[ray]')")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def ray_address(ray_local) -> str:
    """This session's instance by address ("auto" could find another local instance)."""
    return ray_local.get_runtime_context().gcs_address


def _vectors(index_dir: Path):
    import faiss

    m = json.loads((index_dir / "manifest.json").read_text())
    gen = index_dir / m["generation"]
    ix = faiss.read_index(str(gen / "faiss.index"))
    return m, ix.reconstruct_n(0, ix.ntotal), np.load(gen / "sentences.npy")


def _ask(corpus: Path, index: Path) -> list:
    out = []
    for q in QUESTIONS:
        r = run_cli("ask", "--json", "--corpus", str(corpus), "--index", str(index), q)
        assert r.returncode == 0, r.stderr.decode()
        got = json.loads(r.stdout)
        assert_exact_quotes(got["citations"], corpus)
        out.append(got)
    return out


def test_ray_build_matches_a_local_build(ray_address, seed_dir, seed_bot, tmp_path):
    """Same passages, ids, vectors and `ask --json` answers as the session's local build."""
    index = tmp_path / "index-ray"
    # fp32: the session's build is fp32 (auto would give bf16 where the CPU can, as a local
    # build would: the late test below compares those two)
    r = run_cli("index", "build", "--corpus", str(seed_dir), "--index", str(index),
                "--ray", ray_address, "--ray-workers", "2", "--precision", "fp32", timeout=300,
                process=True)
    assert r.returncode == 0, r.stderr.decode()
    assert "Ray: 2 workers" in r.stderr.decode()
    local = seed_bot.config.index
    m_ray, p_ray, s_ray = _vectors(index)
    m_loc, p_loc, s_loc = _vectors(local)
    for key in ("passages", "sentences", "articles", "corpus_fingerprint", "model",
                "model_fingerprint", "index_type", "precision"):
        assert m_ray[key] == m_loc[key], key
    for name in ("passages.npy", "spans.npy", "articles.json", "bodies.bin"):
        assert m_ray["files"][name]["sha256"] == m_loc["files"][name]["sha256"], name
    # The session's local build used sentence-transformers, Ray workers the ONNX export.
    assert np.abs(p_ray - p_loc).max() < 1e-4 and np.abs(s_ray - s_loc).max() < 1e-4
    answers = _ask(seed_dir, index)
    assert any(a["citations"] for a in answers)  # the comparison compares something
    assert answers == _ask(seed_dir, local)


def test_ray_encoder_embeds_only_what_the_cache_lacks(ray_local, seed_dir, tmp_path):
    """A second build sends nothing to the cluster; the index is the same."""
    from index.build import build_index
    from index.embed.distributed import RayEncoder
    from index.embed.sbert import indexing_embedder

    embedder = indexing_embedder(None)
    sent: list[int] = []
    with RayEncoder(embedder, None, workers=2) as enc:
        def counting(texts):
            sent.append(len(texts))
            return enc(texts)

        first = build_index(seed_dir, tmp_path / "index", embedder, encode=counting)
        assert sum(sent) == first["passages"] + first["sentences"] > 0
        local = embedder.encode(["How many police officers did Kenya pledge?"])
        assert np.abs(enc(["How many police officers did Kenya pledge?"]) - local).max() < 1e-5
        sent.clear()
        second = build_index(seed_dir, tmp_path / "index", embedder, encode=counting)
    assert sum(sent) == 0
    assert second["files"]["faiss.index"]["sha256"] == first["files"]["faiss.index"]["sha256"]
    assert ray_local.is_initialized()  # the encoder left the session's instance running


def test_more_workers_than_the_cluster_holds_is_refused(ray_address, seed_dir, tmp_path):
    r = run_cli("index", "build", "--corpus", str(seed_dir), "--index", str(tmp_path / "i"),
                "--ray", ray_address, "--ray-workers", "5", timeout=300, process=True)
    err = r.stderr.decode()
    assert r.returncode == 2 and "5 workers need 5" in err and "Traceback" not in err
    assert not (tmp_path / "i" / "manifest.json").exists()


def test_without_ray_one_line_and_exit_2(seed_dir, tmp_path):
    """A plain install: `--ray` says how to get Ray; nothing is written."""
    fake = tmp_path / "noray"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('no ray here')\n")
    env = {"PYTHONPATH": f"{fake}:{ROOT}"}
    r = run_cli("index", "build", "--corpus", str(seed_dir), "--index", str(tmp_path / "i"),
                "--ray", env=env, process=True)
    err = r.stderr.decode().strip()
    assert r.returncode == 2 and len(err.splitlines()) == 1, err
    assert 'pip install "citebot[ray]"' in err
    assert not (tmp_path / "i").exists()


def test_ray_options_need_ray(seed_dir, tmp_path):
    r = run_cli("index", "build", "--corpus", str(seed_dir), "--index", str(tmp_path / "i"),
                "--ray-workers", "2")
    assert r.returncode == 2 and "need --ray" in r.stderr.decode()


def test_plain_build_never_imports_ray(seed_dir, tmp_path):
    code = ("import sys; from bot.cli import cli; import index.build, index.store.store, "
            "index.engine; "
            "print('ray' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT)
    assert r.stdout.decode().strip() == "False", r.stderr.decode()


def test_ray_late_sentence_vectors_match_a_local_late_build(ray_address, seed_dir, tmp_path):
    """--sentence-vectors late on Ray workers: the vectors and answers of a local late build."""
    local, ray = tmp_path / "index-local", tmp_path / "index-ray"
    r = run_cli("index", "build", "--corpus", str(seed_dir), "--index", str(local),
                "--device", "cpu", "--sentence-vectors", "late")
    assert r.returncode == 0, r.stderr.decode()
    r = run_cli("index", "build", "--corpus", str(seed_dir), "--index", str(ray),
                "--sentence-vectors", "late", "--ray", ray_address, "--ray-workers", "2",
                timeout=300, process=True)
    assert r.returncode == 0, r.stderr.decode()
    m_ray, p_ray, s_ray = _vectors(ray)
    m_loc, p_loc, s_loc = _vectors(local)
    assert m_ray["sentence_vectors"] == m_loc["sentence_vectors"] == "late"
    assert m_ray["precision"] == m_loc["precision"]  # auto: bf16 on both where the CPU can
    assert np.abs(p_ray - p_loc).max() < 1e-4 and np.abs(s_ray - s_loc).max() < 1e-4
    answers = _ask(seed_dir, ray)
    assert any(a["citations"] for a in answers)
    assert answers == _ask(seed_dir, local)
