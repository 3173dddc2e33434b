"""Late-chunked sentence vectors (index/embed/late.py): pooled from the passage's one pass, keyed
in the build cache by passage text + span, chosen by --sentence-vectors / the config."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import HashEmbedder, assert_exact_quotes, run_cli

from index.build import build_index
from index.corpus.articles import load_corpus
from index.corpus.passages import make_passages, passage_text, sentence_embed_text
from index.embed.embed_core import engine_for
from index.embed.late import encode_late, sentence_spans_in, supports_late
from index.store.store import IndexStore, read_manifest

# Invented articles: paragraphs whose sentences are about plainly different things.
ARTICLES = {
    "harbour.md": ("Storm closes the harbour of Port Vell",
                   "The harbour of Port Vell was closed on Tuesday as a storm brought waves of "
                   "six metres. The town's annual cheese fair moved indoors to the old market "
                   "hall.\n\nFishing boats stayed at their moorings for three days. The mayor "
                   "said the sea wall held and no houses were flooded."),
    "orchard.md": ("Apple harvest in the Valle Alto doubles",
                   "Growers in the Valle Alto picked twice as many apples as last year. A new "
                   "cold store lets them sell the fruit until spring.\n\nThe regional football "
                   "team lost its final match four goals to one."),
}


def _write(folder: Path, articles=ARTICLES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (title, body) in articles.items():
        (folder / name).write_text(f"---\ntitle: {title}\n---\n{body}\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def onnx():
    """The fp32 CPU build engine (onnxruntime over the default model's export)."""
    engine = engine_for(None, "cpu", "fp32")
    assert supports_late(engine)
    return engine


def _passages(corpus: Path):
    articles = load_corpus(corpus)
    out = []
    for a in articles:
        for p in make_passages(a):
            text = passage_text(a, p)
            out.append((a, p, text, sentence_spans_in(text, p)))
    return out


def test_spans_map_sentences_into_the_passage_text(tmp_path):
    for a, p, text, spans in _passages(_write(tmp_path / "c")):
        assert len(spans) == len(p.sentences) >= 1
        for (s, e), (ts, te) in zip(p.sentences, spans):
            assert text[ts:te] == a.body[s:e]


def test_late_vectors_come_from_their_own_sentence(tmp_path, onnx):
    rows = _passages(_write(tmp_path / "c"))
    texts, spans = [r[2] for r in rows], [r[3] for r in rows]
    pvecs, svecs = encode_late(onnx, texts, spans)
    # The passage vector is the one a separate build makes.
    assert np.abs(pvecs - onnx.encode(texts)).max() < 1e-5
    sentences = [t[a:b] for t, sp in zip(texts, spans) for a, b in sp]
    alone = onnx.encode(sentences)
    assert np.allclose(np.linalg.norm(svecs, axis=1), 1, atol=1e-5)
    # Pooled from the passage, so not the standalone vector (the passage's context weighs
    # heavily in MiniLM's token states); but of all the late vectors, the one nearest each
    # sentence's standalone vector is its own (a span shifted by the title's length, or another
    # sentence's tokens, would point elsewhere).
    sims = svecs @ alone.T
    assert (np.diag(sims) < 0.9999).all()
    assert (sims.argmax(axis=0) == np.arange(len(sentences))).all(), sims.round(2)


def test_torch_and_onnx_engines_give_the_same_late_vectors(tmp_path, onnx, embedder):
    rows = _passages(_write(tmp_path / "c"))
    texts, spans = [r[2] for r in rows], [r[3] for r in rows]
    p1, s1 = encode_late(onnx, texts, spans)
    p2, s2 = encode_late(embedder, texts, spans)
    assert np.abs(p1 - p2).max() < 1e-4 and np.abs(s1 - s2).max() < 1e-4


def test_a_sentence_past_the_models_reach_is_embedded_on_its_own(onnx):
    # ~300 words: the passage pass stops at 256 tokens, so the last sentence is not reached.
    first = "The council met " + " ".join(f"delegate{i}" for i in range(300)) + "."
    last = "Tickets for the ferry cost nine euros."
    text = f"Title.\n{first} {last}"
    a = text.index(last)
    spans = [[(7, 7 + len(first)), (a, a + len(last))]]
    _, svecs = encode_late(onnx, [text], spans)
    assert np.abs(svecs[1] - onnx.encode([last])[0]).max() < 1e-5
    # the long first sentence is cut off too: embedded from its head, as a separate build does
    head = sentence_embed_text(text, *spans[0][0])
    assert len(head) < len(first) and np.abs(svecs[0] - onnx.encode([head])[0]).max() < 1e-5


def _vectors(index: Path):
    store = IndexStore(index)
    return {p.id: i for i, p in enumerate(store.passages)}, \
        np.asarray(store.sentence_vectors, dtype=np.float32), store


def test_a_late_build_and_its_cache(tmp_path, onnx):
    """Late vectors in a real index; a paragraph edit changes all its sentences' vectors (the
    untouched ones too) and only theirs; the cache never mixes late and separate vectors."""
    corpus = _write(tmp_path / "corpus")
    index = tmp_path / "index"
    m = build_index(corpus, index, onnx, sentence_vectors="late", export_onnx=False)
    assert m["sentence_vectors"] == "late"
    rows = _passages(corpus)
    _, want = encode_late(onnx, [r[2] for r in rows], [r[3] for r in rows])
    ids, before, store = _vectors(index)
    assert np.abs(before - want).max() < 2e-3  # stored in float16
    # Edit the second sentence of harbour's first paragraph: its first sentence is unchanged.
    title, body = ARTICLES["harbour.md"]
    edited = {"harbour.md": (title, body.replace("cheese fair", "wine fair")),
              "orchard.md": ARTICLES["orchard.md"]}
    _write(corpus, edited)
    said = []
    build_index(corpus, index, onnx, sentence_vectors="late", export_onnx=False,
                progress=said.append)
    _, after, store2 = _vectors(index)
    first = {p.id: k for k, p in enumerate(store.passages)}
    k = 0
    for p in store2.passages:
        n = len(p.sentences)
        old = sum(len(q.sentences) for q in store.passages[:first[p.id]])
        changed = np.abs(after[k:k + n] - before[old:old + n]).max(axis=1) > 1e-3
        assert changed.all() if p.id == "harbour:p1" else not changed.any(), p.id
        k += n
    # 4 passages, 7 sentences: 1 passage and its 2 sentences embedded again, 8 reused.
    assert "embedded 3 texts, 8 from the cache" in said
    fresh = tmp_path / "fresh"
    build_index(corpus, fresh, onnx, sentence_vectors="late", export_onnx=False,
                use_cache=False)
    assert np.abs(_vectors(fresh)[1] - after).max() < 2e-3
    # Switching to separate reuses the passage vectors only, and equals a fresh separate build.
    said.clear()
    m = build_index(corpus, index, onnx, sentence_vectors="separate", export_onnx=False,
                    progress=said.append)
    assert m["sentence_vectors"] == "separate" and "embedded 7 texts, 4 from the cache" in said
    build_index(corpus, fresh, onnx, sentence_vectors="separate", export_onnx=False,
                use_cache=False)
    assert np.abs(_vectors(fresh)[1] - _vectors(index)[1]).max() < 2e-3


def test_an_engine_that_cannot_pool_builds_separate_vectors(tmp_path):
    said = []
    m = build_index(_write(tmp_path / "c"), tmp_path / "i", HashEmbedder(),
                    sentence_vectors="late", progress=said.append)
    assert m["sentence_vectors"] == "separate"
    assert any("embedding them separately" in s for s in said)


def test_cli_option_environment_and_rebuilds(tmp_path, monkeypatch):
    monkeypatch.delenv("CITEBOT_SENTENCE_VECTORS", raising=False)
    corpus = _write(tmp_path / "corpus")
    index = tmp_path / "index"
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(index)}
    r = run_cli("index", "build", "--device", "cpu", "--sentence-vectors", "late", env=env)
    assert r.returncode == 0, r.stderr
    assert read_manifest(index)["sentence_vectors"] == "late"
    info = json.loads(run_cli("index", "info", "--json", env=env).stdout)
    assert info["sentence_vectors"] == "late"
    r = run_cli("ask", "--json", "How high were the waves at Port Vell?", env=env)
    got = json.loads(r.stdout)
    assert got["citations"] and "six metres" in got["citations"][0]["quote"]
    assert_exact_quotes(got["citations"], corpus)
    generation = read_manifest(index)["generation"]
    # Bad input: one line, exit 2, the index untouched.
    r = run_cli("index", "build", env={**env, "CITEBOT_SENTENCE_VECTORS": "sideways"})
    assert r.returncode == 2 and b"Traceback" not in r.stderr
    assert b"CITEBOT_SENTENCE_VECTORS must be late or separate" in r.stderr
    assert read_manifest(index)["generation"] == generation
    # A rebuild not asked for a kind keeps the index's; one asked for gets it.
    shutil.copy(corpus / "orchard.md", corpus / "orchard2.md")
    (corpus / "orchard2.md").write_text((corpus / "orchard.md").read_text().replace(
        "Valle Alto", "Valle Bajo"), encoding="utf-8")
    assert run_cli("index", "build", "--device", "cpu", env=env).returncode == 0
    assert read_manifest(index)["sentence_vectors"] == "late"
    r = run_cli("index", "build", "--device", "cpu", env={
        **env, "CITEBOT_SENTENCE_VECTORS": "separate"})
    assert r.returncode == 0 and read_manifest(index)["sentence_vectors"] == "separate"
