"""Late-chunked against separate sentence vectors (index/embed/late.py): what a build embeds.

    python benchmarks/bench_late.py --corpus DIR [--articles 100] [--rounds 3]
    /usr/bin/time -v python benchmarks/bench_late.py --corpus DIR --build late|separate \
        --index NEW_DIR

1. Texts and tokens each mode runs through the model for the whole corpus folder (an article
   folder such as one made by `citebot add ../shared/eval/news-dev/corpus.jsonl --no-index`):
   "separate" embeds every passage text and every distinct sentence text; "late" every passage
   text, plus the sentences its passage's pass does not reach (cut at max_seq_length).
2. The embedding step of a build of the first N articles, the two modes in turns (``--rounds``
   each), with the CPU build engine (fp32 ONNX): seconds, median.

``--build MODE --index DIR`` instead: one whole build of the folder into DIR (as `index build
--device cpu --sentence-vectors MODE`, in process), its seconds printed; time it with
``/usr/bin/time -v`` for CPU time and peak memory.

Nothing of the corpus is stored or printed but counts. Not a test: times depend on the machine
and on what else runs on it (the load average is printed).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import median, report


def build_inputs(corpus: Path, articles: int | None = None):
    """(passage texts, their sentence spans, the separate build's sentence texts)."""
    from index.corpus.articles import load_corpus
    from index.corpus.passages import make_passages, passage_text, sentence_embed_text
    from index.embed.late import sentence_spans_in

    arts = sorted(load_corpus(corpus), key=lambda a: a.id)[:articles]
    texts, spans, sentences = [], [], []
    for a in arts:
        for p in make_passages(a):
            t = passage_text(a, p)
            texts.append(t)
            spans.append(sentence_spans_in(t, p))
            sentences += [sentence_embed_text(a.body, s, e) for s, e in p.sentences]
    return texts, spans, sentences


def counts(engine, texts, spans, sentences) -> list[list]:
    """[mode, texts, tokens] as the model sees them (truncated at max_seq_length)."""
    tok = engine.tokenizer
    p_enc = tok.encode_batch(texts)
    p_tokens = sum(len(e.ids) for e in p_enc)
    distinct = list(dict.fromkeys(sentences))
    s_tokens = sum(len(e.ids) for e in tok.encode_batch(distinct))
    unreached = []
    for enc, text, sp in zip(p_enc, texts, spans):
        ends = [e for s, e in enc.offsets if e > s]
        reach = max(ends) if ends else 0
        unreached += [text[a:b] for a, b in sp if b > reach]
    from index.corpus.passages import sentence_embed_text

    u_tokens = sum(len(e.ids) for e in tok.encode_batch(
        [sentence_embed_text(u, 0, len(u)) for u in unreached])) if unreached else 0
    return [["separate", len(texts) + len(distinct), p_tokens + s_tokens],
            ["late", len(texts) + len(unreached), p_tokens + u_tokens]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--articles", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", choices=("late", "separate"), default=None)
    ap.add_argument("--index", type=Path, default=None)
    args = ap.parse_args()
    from index.embed.embed_core import encode_unique, engine_for
    from index.embed.late import encode_late

    t0 = time.perf_counter()
    engine = engine_for(None, "cpu")
    if args.build:
        from index.build import build_index

        if args.index is None:
            ap.error("--build needs --index (a new folder)")
        build_index(args.corpus, args.index, engine, progress=lambda m: print(m, flush=True),
                    sentence_vectors=args.build)
        print(f"{args.build} build s {time.perf_counter() - t0:.1f}")
        return
    rows = counts(engine, *build_inputs(args.corpus))
    sep_tokens = rows[0][2]
    table_rows = [[f"{m} (whole folder)", n, tok, f"{tok / sep_tokens:.2f}", "–"]
                  for m, n, tok in rows]
    texts, spans, sentences = build_inputs(args.corpus, args.articles)
    part = counts(engine, texts, spans, sentences)
    times = {"separate": [], "late": []}
    for _ in range(args.rounds):
        for mode in ("separate", "late"):  # in turns: both see the same load
            t0 = time.perf_counter()
            if mode == "late":
                encode_late(engine, texts, spans)
            else:
                np.asarray(encode_unique(engine, texts + sentences))
            times[mode].append(time.perf_counter() - t0)
    for m, n, tok in part:
        table_rows.append([f"{m} (first {args.articles} articles)", n, tok,
                           f"{tok / part[0][2]:.2f}", f"{median(times[m]):.1f}"])
    report("Late-chunked sentence vectors: texts and tokens embedded",
           ["mode", "texts embedded", "tokens embedded", "tokens vs separate",
            "embedding s (median)"], table_rows,
           [f"{args.rounds} rounds, modes in turns; seconds: "
            + "; ".join(f"{m} {', '.join(f'{t:.1f}' for t in ts)}" for m, ts in times.items())])


if __name__ == "__main__":
    main()
