"""GPU build throughput: citebot's CUDA engine against plain sentence-transformers on one GPU.

    python benchmarks/bench_gpu.py [--news ../shared/eval/news-dev/corpus.jsonl]
                                   [--synthetic 1000000] [--rounds 3]

1. Texts embedded per second on the texts a build embeds for the news dev corpus (passages
   with their title, and sentences): plain sentence-transformers on CUDA (fp32, its default
   batch 32; and fp16, batch 256), then citebot's engine (`embed_texts(..., device="cuda")`:
   onnxruntime's CUDA provider when onnxruntime-gpu is installed, else sentence-transformers
   fp16 with length-bucketed batches of GPU_BATCH_TOKENS tokens), in turns.
2. The same on N synthetic texts whose lengths follow the news texts' length distribution
   (words drawn from the news texts' own vocabulary, so tokenization is realistic).
3. Agreement: minimum cosine between citebot's CUDA vectors and the CPU fp32 vectors on a
   sample of the news texts.

Needs a CUDA GPU (exits with a message otherwise). Not a test: see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import median, report  # noqa: E402


def news_texts(path: Path, limit: int | None = None) -> list[str]:
    from index.corpus.articles import Article
    from index.corpus.passages import make_passages, passage_text

    texts = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if limit and n >= limit:
                break
            row = json.loads(line)
            a = Article(id=f"a{n}", title=row.get("title") or "", body=row["text"])
            for p in make_passages(a):
                texts.append(passage_text(a, p))
                texts += [a.body[s:e] for s, e in p.sentences]
    return texts


def synthetic(texts: list[str], n: int, seed: int = 0) -> list[str]:
    """n texts with the word-count distribution and vocabulary of ``texts``."""
    rng = np.random.default_rng(seed)
    words = np.array(" ".join(texts).split())
    lengths = rng.choice(np.array([len(t.split()) for t in texts]), n)
    picks = rng.integers(0, len(words), int(lengths.sum()))
    out, i = [], 0
    for k in lengths:
        out.append(" ".join(words[picks[i:i + k]]))
        i += k
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--news", default="../shared/eval/news-dev/corpus.jsonl")
    ap.add_argument("--articles", type=int, default=0, help="first N articles (0: all)")
    ap.add_argument("--synthetic", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from index.embed.embed_core import embed_texts, engine_for, nvidia_gpu_visible

    if not nvidia_gpu_visible():
        sys.exit("no CUDA GPU visible: nothing to measure (docs/benchmarks.md, GPU section)")
    import torch
    from sentence_transformers import SentenceTransformer

    from index.embed.base import default_model_path

    texts = news_texts(Path(args.news), args.articles or None)
    synth = synthetic(texts, args.synthetic) if args.synthetic else []
    st32 = SentenceTransformer(default_model_path(), device="cuda")
    st16 = SentenceTransformer(default_model_path(), device="cuda").half()
    engine = engine_for(None, "cuda")
    engines = {
        "sentence-transformers CUDA fp32, batch 32 (its default)":
            lambda t: st32.encode(t, normalize_embeddings=True, convert_to_numpy=True),
        "sentence-transformers CUDA fp16, batch 256":
            lambda t: st16.encode(t, batch_size=256, normalize_embeddings=True,
                                  convert_to_numpy=True),
        f"citebot embed_texts(device='cuda') [{type(engine).__name__}]":
            lambda t: embed_texts(t, device="cuda"),
    }
    for fn in engines.values():  # warm up: CUDA context, kernels, allocator
        fn(texts[:2048])
    rows = []
    for label, data, rounds in (("news dev texts", texts, args.rounds),
                                (f"{len(synth):,} synthetic-length texts", synth, 1)):
        if not data:
            continue
        rates = {k: [] for k in engines}
        for _ in range(rounds):
            for name, fn in engines.items():
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                fn(data)
                torch.cuda.synchronize()
                rates[name].append(len(data) / (time.perf_counter() - t0))
        base = median(rates[next(iter(engines))])
        for name in engines:
            rows.append([label, len(data), name, median(rates[name]),
                         median(rates[name]) / base])
    sample = texts[:5000]
    cpu = embed_texts(sample, device="cpu")
    gpu = embed_texts(sample, device="cuda")
    cos = float(np.min(np.sum(cpu * gpu, axis=1)))
    report("GPU build throughput", ["texts", "count", "engine", "texts/s (median)", "× ST fp32"],
           rows, [f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}.",
                  f"min cosine, citebot CUDA vs citebot CPU on {len(sample)} news texts: "
                  f"{cos:.5f} (CPU engine: {type(engine_for(None, 'cpu')).__name__}).",
                  "Goal: >= 10,000 texts/s on an H100/H200-class GPU."])


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - t0:.0f} s)")
