"""Ingest throughput: texts embedded per second, eval figures of each engine, and rebuilds.

    python benchmarks/bench_ingest.py [--rounds 3]

1. Throughput on the texts a build embeds for the shared SQuAD subset (passages with their
   title, and sentences), in turns: sentence-transformers fp32 at its default batch (32), at
   citebot's old batch (64), the ONNX engine with int8 weights (opt-in; length-bucketed batches,
   threads not spinning), the fp32 ONNX engine without and with spinning threads (the build
   engine before). News dev texts: benchmarks/bench_build.py.
2. Eval figures of an index built by each engine (same questions, same search code): passage
   recall@1 and answer-in-quote@1 as defined in the quality issue.
3. Rebuilds with the embedding cache: one article added to 128, one removed, none changed.

Not a test: numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from common import median, report, squad_articles


class Counting:
    """An embedder that counts the texts it embeds."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.fingerprint = getattr(inner, "fingerprint", None)
        self.count = 0

    def encode(self, texts, batch_size=64, show_progress=False):
        self.count += len(texts)
        return self.inner.encode(texts)

    def encode_query(self, text):
        return self.inner.encode_query(text)

    def onnx_export(self):
        export = getattr(self.inner, "onnx_export", None)
        return export() if export else None


class STBatch:
    """sentence-transformers with a given batch size (default: its own default, 32)."""

    def __init__(self, st, batch_size=None):
        self.st, self.batch_size = st, batch_size
        self.name, self.dim, self.fingerprint = st.name, st.dim, st.fingerprint

    def encode(self, texts, batch_size=64, show_progress=False):
        kw = {} if self.batch_size is None else {"batch_size": self.batch_size}
        return self.st.model.encode(list(texts), normalize_embeddings=True,
                                    convert_to_numpy=True, **kw).astype(np.float32)

    def encode_query(self, text):
        return self.encode([text])


def build_texts(articles):
    from index.corpus.passages import make_passages, passage_text

    texts = []
    for a in articles:
        for p in make_passages(a):
            texts.append(passage_text(a, p))
            texts += [a.body[s:e] for s, e in p.sentences]
    return texts


def onnx_fp32():
    from index.embed.base import default_model_path, model_fingerprint
    from index.embed.onnx import OnnxEmbedder, cached_export

    return OnnxEmbedder(cached_export(model_fingerprint(default_model_path())))


def int8_embedder(folder: Path, tmp: Path):
    """The exported model with dynamic int8 weights (MatMul, per channel)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from index.embed.onnx import OnnxEmbedder

    out = tmp / "int8"
    shutil.copytree(folder, out)
    quantize_dynamic(str(folder / "model.onnx"), str(out / "model.onnx"), per_channel=True,
                     op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
    return OnnxEmbedder(out, spinning=True)


def eval_figures(articles, questions, embedder, question_embedder, tmp: Path):
    """(passage recall@1, answer-in-quote@1) of an index built by ``embedder``."""
    from index.build import build_index
    from index.search.searcher import Searcher
    from index.store.store import IndexStore

    index = tmp / f"eval-{time.monotonic_ns()}"
    build_index(None, index, embedder, articles=articles, use_cache=False, export_onnx=False)
    store = IndexStore(index)
    searcher = Searcher(store, question_embedder)
    r1 = aq1 = 0
    for q, answers, context in questions:
        answer = searcher.ask(q)
        if not answer.citations:
            continue
        c = answer.citations[0]
        p = store.passages[store.passage_by_id[c.id]]
        r1 += store.article_by_id[p.article_id].body[p.start:p.end] == context.strip()
        aq1 += any(a in c.quote for a in answers)
    return r1 / len(questions), aq1 / len(questions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from index.embed.onnx import OnnxEmbedder
    from index.embed.sbert import SentenceTransformerEmbedder, indexing_embedder

    articles, questions = squad_articles()
    texts = build_texts(articles)
    tmp = Path(tempfile.mkdtemp(prefix="citebot-bench-"))
    try:
        st = SentenceTransformerEmbedder()
        onnx = indexing_embedder(None, "int8")  # int8: opt-in in citebot
        assert isinstance(onnx, OnnxEmbedder), "no ONNX export of the default model"
        fp32 = onnx_fp32()
        engines = {
            "sentence-transformers fp32, default batch (32): baseline": STBatch(st),
            "sentence-transformers fp32, batch 64 (citebot before)": STBatch(st, 64),
            "ONNX int8 weights, length buckets (--precision int8)": onnx,
            "ONNX fp32, threads not spinning": fp32,
            "ONNX fp32, threads spinning (the build engine before)":
                OnnxEmbedder(fp32.folder, spinning=True),
            "ONNX dynamic int8 incl. attention products (rejected, for the record)":
                int8_embedder(fp32.folder, tmp),
        }
        for e in engines.values():  # warm up: first calls allocate
            e.encode(texts[:8])
        rates = {k: [] for k in engines}
        vecs = {}
        for _ in range(args.rounds):
            for name, e in engines.items():
                t0 = time.perf_counter()
                vecs[name] = e.encode(texts)
                rates[name].append(len(texts) / (time.perf_counter() - t0))
        base_name = next(iter(engines))
        base = median(rates[base_name])
        rows = []
        for name, e in engines.items():
            cos = np.sum(vecs[name] * vecs[base_name], axis=1)
            qe = fp32 if "rejected" in name else e
            r1, aq1 = eval_figures(articles, questions, e, qe, tmp)
            rows.append([name, median(rates[name]), median(rates[name]) / base,
                         float(cos.min()), r1, aq1])
        report("Ingest throughput and quality (SQuAD subset texts)",
               ["engine", "texts/s (median)", "× baseline", "min cosine vs baseline",
                "passage recall@1", "answer-in-quote@1"], rows,
               [f"{len(texts)} texts ({len(articles)} articles: passages with title, and "
                f"sentences), {args.rounds} rounds in turns; threads: all cores.",
                f"Eval: {len(questions)} answerable questions, index built by the engine, "
                "questions embedded by it (the rejected int8: by the fp32 encoder), "
                "same search code.",
                "Target: citebot ≥ 2.5× baseline, eval figures within 0.005 of fp32."])
        rebuilds(tmp, onnx)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rebuilds(tmp: Path, onnx) -> None:
    """Build 128 articles, add one, remove it, change nothing: time and texts embedded."""
    from index.build import build_index
    from index.corpus.articles import Article, write_article
    from index.embed.sbert import SentenceTransformerEmbedder

    articles, _ = squad_articles()
    corpus = tmp / "corpus"
    n = 0
    for a in articles:  # one article per SQuAD paragraph: 126, plus the two seed articles
        for para in a.body.split("\n\n"):
            n += 1
            write_article(corpus, Article(id=f"{a.id}-{n}", title=f"{a.title} ({n})", body=para))
    from common import ROOT

    for f in (ROOT / "corpus").glob("*.md"):
        shutil.copy(f, corpus / f.name)
    extra = Article(id="lighthouse", title="Cap-Haïtien lighthouse relit",
                    body="The lighthouse keepers of Cap-Haïtien restored the old beacon in "
                         "March 2024.\n\nFishermen said the light can be seen from twelve "
                         "nautical miles. The restoration cost 40,000 dollars.")
    rows = []

    def step(label, embedder, index, **kw):
        counting = Counting(embedder)
        t0 = time.perf_counter()
        manifest = build_index(corpus, index, counting, **kw)
        rows.append([label, manifest["articles"], counting.count, time.perf_counter() - t0])

    st = SentenceTransformerEmbedder()
    step("full build, sentence-transformers, no cache (before)", st, tmp / "old",
         use_cache=False, export_onnx=False)
    index = tmp / "index"
    step("full build, citebot (ONNX, empty cache)", onnx, index)
    write_article(corpus, extra)
    step("one article added", onnx, index)
    (corpus / "lighthouse.md").unlink()
    step("that article removed", onnx, index)
    step("nothing changed", onnx, index)
    report("Rebuilds with the embedding cache (128 articles)",
           ["build", "articles", "texts embedded", "seconds"], rows,
           ["Each build also splits sentences (cached by body), tokenizes for BM25, writes and "
            "checksums the generation; the ONNX model file copied into the index is 90 MB."])


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - t0:.0f} s)")
