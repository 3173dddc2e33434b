"""A rebuild keeps an int8 index's int8 unless a precision is asked for (--precision,
CITEBOT_PRECISION): `index build`, `ask` when the corpus changed (Citebot.ensure_index) and the
background builder's child process alike; a fresh index has the fp32 weights."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import assert_exact_quotes, run_cli

from index.config import resolve
from index.embed.embed_core import resolve_device
from index.engine import Citebot
from index.store.store import read_manifest

# Invented articles, one per corpus change.
NEWS = [
    ("ferry.md", "Night ferry to Isla Brava cancelled",
     "The night ferry to Isla Brava was cancelled on Friday because of high winds. The "
     "operator said the crossing would resume on Sunday morning."),
    ("bakery.md", "Old bakery on Calle Mayor reopens",
     "The old bakery on Calle Mayor reopened on Monday after a fire closed it for eight "
     "months. Its owner baked four hundred loaves on the first day."),
    ("bridge.md", "Footbridge over the Rio Claro closed for repairs",
     "The footbridge over the Rio Claro will be closed for repairs until March. Cyclists "
     "are asked to use the road bridge two kilometres downstream."),
    ("choir.md", "Harbour choir wins regional contest",
     "The harbour choir of Port Vell won the regional contest on Saturday with a song about "
     "fishing boats. Its conductor said the prize money will pay for new robes."),
]


def _add(corpus, k):
    name, title, body = NEWS[k]
    (corpus / name).write_text(f"---\ntitle: {title}\n---\n{body}\n", encoding="utf-8")


def _variant(index):
    return read_manifest(index).get("model_variant")


@pytest.fixture
def int8_index(seed_dir, tmp_path, monkeypatch):
    """A private corpus and an index of it built with `index build --precision int8`."""
    monkeypatch.delenv("CITEBOT_PRECISION", raising=False)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(seed_dir, corpus)
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(index)}
    r = run_cli("index", "build", "--device", "cpu", "--precision", "int8", env=env)
    assert r.returncode == 0, r.stderr
    assert _variant(index) == "int8w"
    return corpus, index, env


def test_automatic_rebuilds_keep_int8_and_an_asked_precision_wins(int8_index, monkeypatch):
    corpus, index, env = int8_index
    generation = read_manifest(index)["generation"]
    _add(corpus, 0)
    # `ask` with the corpus changed: rebuilt, still int8, and answering from the new article.
    r = run_cli("ask", "--json", "Why was the night ferry to Isla Brava cancelled?", env=env)
    assert r.returncode == 0, r.stderr
    assert "rebuilding" in r.stderr.decode()
    manifest = read_manifest(index)
    assert manifest["generation"] != generation and manifest["articles"] == 3
    assert manifest["model_variant"] == "int8w"
    answer = json.loads(r.stdout)
    assert answer["citations"][0]["article"]["title"] == NEWS[0][1]
    assert_exact_quotes(answer["citations"], corpus)
    # In-process (what the bot's loop and `Citebot.ensure_index` callers do), no precision set.
    _add(corpus, 1)
    bot = Citebot(resolve(corpus=corpus, index=index), device="cpu")
    assert bot.config.precision == "auto" and not bot.config.precision_given
    assert bot.build_precision() == "int8"
    assert bot.ensure_index()["articles"] == 4 and _variant(index) == "int8w"
    assert bot.question_embedder(bot.store.manifest).variant == "int8w"
    got = bot.ask("How many loaves did the bakery on Calle Mayor bake on its first day?")
    assert got.citations[0].article.title == NEWS[1][1]
    assert_exact_quotes(got.citations, corpus)
    # CITEBOT_PRECISION=fp32 is asked for: it wins over the index's int8 ...
    _add(corpus, 2)
    monkeypatch.setenv("CITEBOT_PRECISION", "fp32")
    bot = Citebot(resolve(corpus=corpus, index=index), device="cpu")
    assert bot.config.precision_given and bot.build_precision() == "fp32"
    assert bot.ensure_index()["articles"] == 5 and _variant(index) is None
    # ... and the next rebuild with nothing asked keeps the fp32 weights (auto: fp32 or bf16
    # arithmetic, test_bf16.py).
    monkeypatch.delenv("CITEBOT_PRECISION")
    _add(corpus, 3)
    bot = Citebot(resolve(corpus=corpus, index=index), device="cpu")
    assert bot.build_precision() == "auto"
    assert bot.ensure_index()["articles"] == 6 and _variant(index) is None
    got = bot.ask("Who won the regional choir contest?")
    assert got.citations[0].article.title == NEWS[3][1]
    assert_exact_quotes(got.citations, corpus)


def test_index_build_without_a_precision_keeps_the_index_one(int8_index):
    corpus, index, env = int8_index
    _add(corpus, 0)
    assert run_cli("index", "build", "--device", "cpu", env=env).returncode == 0
    assert _variant(index) == "int8w" and read_manifest(index)["articles"] == 3
    _add(corpus, 1)
    r = run_cli("index", "build", "--device", "cpu", "--precision", "fp32", env=env)
    assert r.returncode == 0 and _variant(index) is None


def test_a_fresh_index_is_not_int8(seed_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("CITEBOT_PRECISION", raising=False)
    bot = Citebot(resolve(corpus=seed_dir, index=tmp_path / "index"), device="cpu")
    assert bot.build_precision() == "auto"  # no index to keep a precision from


@pytest.mark.skipif(resolve_device("auto") == "cuda",
                    reason="the background builder embeds on the GPU here (fp32 always)")
def test_the_background_builder_keeps_int8(int8_index):
    from index.live.builder import BackgroundBuilder

    corpus, index, _env = int8_index
    _add(corpus, 0)
    builder = BackgroundBuilder(resolve(corpus=corpus, index=index))
    try:
        result = builder.request().result(timeout=600)
    finally:
        builder.close()
    assert result.built and result.manifest["articles"] == 3
    assert _variant(index) == "int8w"
    # A precision the parent was given (a flag) reaches the child, and wins there.
    _add(corpus, 1)
    builder = BackgroundBuilder(resolve(corpus=corpus, index=index, precision="fp32"))
    try:
        result = builder.request().result(timeout=600)
    finally:
        builder.close()
    assert result.built and result.manifest["articles"] == 4 and _variant(index) is None
