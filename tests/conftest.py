"""Shared fixtures: one real index of the seed corpus per session, built with the real model."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class HashEmbedder:
    """A tiny deterministic embedder for store-level tests: bag of hashed words, normalized."""

    name = "hash-embedder"
    dim = 64

    def encode(self, texts, batch_size=64, show_progress=False):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in text.lower().split():
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def encode_query(self, text):
        return self.encode([text])


def hash_index(tmp_path: Path, **build) -> tuple[Path, Path]:
    """A copy of the seed corpus and its index built with HashEmbedder (store-level tests);
    ``build``: build_index's options."""
    from index.build import build_index

    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus, ignore=shutil.ignore_patterns(".*"))
    index = tmp_path / "index"
    build_index(corpus, index, HashEmbedder(), **build)
    return corpus, index


def body_of(article_id: str, corpus_dir: Path) -> str:
    """The stored body of an article, read the way citebot reads it."""
    from index.corpus.articles import load_corpus

    return {a.id: a.body for a in load_corpus(corpus_dir)}[article_id]


def assert_exact_quotes(citations, corpus_dir: Path) -> None:
    """The product's promise: every quote is the article body at its offsets, verbatim."""
    from index.corpus.articles import load_corpus

    bodies = {a.id: a.body for a in load_corpus(corpus_dir)}
    for c in citations:
        c = c if isinstance(c, dict) else c.to_dict()
        body = bodies[c["article"]["id"]]
        assert 0 <= c["start"] < c["end"] <= len(body)
        assert body[c["start"]:c["end"]] == c["quote"], c


@pytest.fixture(scope="session")
def embedder():
    """The real default model, loaded once for the whole session."""
    from index.embed.sbert import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seed_dir(tmp_path_factory) -> Path:
    """A private copy of the seed corpus (tests may not touch the project's own)."""
    d = tmp_path_factory.mktemp("seed") / "corpus"
    shutil.copytree(SEED_CORPUS, d, ignore=shutil.ignore_patterns(".*"))
    return d


@pytest.fixture(scope="session")
def seed_bot(seed_dir, embedder):
    """A Citebot over the seed corpus with a real index, built once per session."""
    from index.config import resolve
    from index.engine import Citebot

    bot = Citebot(resolve(corpus=seed_dir, index=seed_dir.parent / "index"),
                  embedder=embedder)  # share the loaded model
    bot.build()
    return bot


def run_cli(*args, input=None, env=None, timeout=180, process=False):
    """`citebot ARGS` with its exit code, stdout and stderr (bytes), as a CompletedProcess.

    In-process through click's CliRunner by default: the real `citebot` group, its error hook
    and exit codes, without a second of interpreter start per call. ``process=True`` runs
    `python -m bot ...` as a user would (the smoke tests: arguments, stdin, exit codes, and
    what a fresh process imports).
    """
    if process:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run([sys.executable, "-m", "bot", *args], input=input,
                              capture_output=True, cwd=ROOT, env=full_env, timeout=timeout)
    from click.testing import CliRunner

    from bot.cli import cli

    result = CliRunner().invoke(cli, list(args), input=input, env=env, prog_name="citebot")
    stderr = result.stderr_bytes or b""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # An exception the group let through: what a user would see as a traceback.
        stderr += "".join(traceback.format_exception(result.exception)).encode()
    return subprocess.CompletedProcess(["citebot", *args], result.exit_code,
                                       result.stdout_bytes, stderr)


@pytest.fixture(scope="session")
def cli_env(seed_bot, seed_dir):
    """Environment that points the CLI at the session's seed index."""
    return {"CITEBOT_CORPUS": str(seed_dir), "CITEBOT_INDEX": str(seed_bot.config.index)}
