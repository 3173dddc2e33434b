"""Ray builds (`index build --ray`): the same index and answers as a local build, and embedding
throughput with 1 and 2 Ray workers beside the local embedder, in the same run.

    python benchmarks/bench_ray.py [--articles 100] [--texts 1500] [--rounds 3]

Needs Ray (pip install "citebot[ray]") and ../shared/eval/news-dev/ (the first ``--articles``
articles of its corpus.jsonl are written as a corpus in a temporary folder, never in the repo).
1. A local build and a build on a local Ray instance (2 CPUs, 2 workers) of that slice: passage
   ids, vectors and the answers (`ask --json`'s dict) to every news-dev question compared.
2. Throughput: the first ``--texts`` passage texts of the slice embedded by the local embedder,
   by 1 Ray worker and by 2 (1 CPU each), alternated ``--rounds`` times; texts/s medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, median, report

NEWS = ROOT.parent / "shared" / "eval" / "news-dev"


def write_slice(n: int, folder: Path) -> None:
    folder.mkdir(parents=True)
    with open(NEWS / "corpus.jsonl", encoding="utf-8") as fh:
        for i, line in zip(range(n), fh):
            d = json.loads(line)
            meta = {k: d[k] for k in ("title", "source", "published") if d.get(k)}
            head = "".join(f"{k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in meta.items())
            (folder / f"news-{i:04d}.md").write_text(f"---\n{head}---\n{d['text']}\n",
                                                     encoding="utf-8")


def answers(index: Path, corpus: Path, questions: list[str]) -> list[dict]:
    from index.config import resolve
    from index.engine import Citebot

    bot = Citebot(resolve(corpus=corpus, index=index))
    return [bot.ask(q, k=3).to_dict() for q in questions]


def compare_builds(corpus: Path, work: Path, embedder):
    """A local build and a 2-worker Ray build of ``corpus``; ids, vectors, answers compared."""
    from index.build import build_index
    from index.embed.distributed import RayEncoder
    from index.store.store import IndexStore

    t0 = time.perf_counter()
    build_index(corpus, work / "local", embedder)
    local_s = time.perf_counter() - t0
    with RayEncoder(embedder, None, workers=2) as enc:
        t0 = time.perf_counter()
        build_index(corpus, work / "ray", embedder, encode=enc)
        ray_s = time.perf_counter() - t0
    a, b = IndexStore(work / "local"), IndexStore(work / "ray")
    same_ids = list(a.passage_by_id) == list(b.passage_by_id)
    pa = a.faiss.reconstruct_n(0, a.faiss.ntotal)
    pb = b.faiss.reconstruct_n(0, b.faiss.ntotal)
    vec_diff = max(float(np.abs(pa - pb).max()),
                   float(np.abs(np.asarray(a.sentence_vectors)
                                - np.asarray(b.sentence_vectors)).max()))
    questions = [json.loads(x)["question"] for x in
                 (NEWS / "questions.jsonl").read_text(encoding="utf-8").splitlines() if x]
    ans_a = answers(work / "local", corpus, questions)
    ans_b = answers(work / "ray", corpus, questions)
    same = sum(x == y for x, y in zip(ans_a, ans_b))
    answered = sum(bool(x["citations"]) for x in ans_a)
    print(json.dumps({"local_s": local_s, "ray_s": ray_s, "same_ids": same_ids,
                      "vec_diff": vec_diff, "same_answers": same,
                      "questions": len(questions), "answered": answered}), flush=True)
    return local_s, ray_s, same_ids, vec_diff, same, answered, len(questions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=100)
    ap.add_argument("--texts", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--throughput-only", action="store_true", help="skip the two builds")
    args = ap.parse_args()
    # Ray starts workers at niceness 15: on this shared machine they would yield to every other
    # process while the local build does not. Same priority for both, to compare like with like.
    os.environ.setdefault("RAY_worker_niceness", "0")
    import ray

    from index.corpus.passages import make_passages, passage_text
    from index.embed.distributed import RayEncoder
    from index.embed.sbert import indexing_embedder

    t_all = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="citebot-ray-"))
    try:
        corpus = work / "corpus"
        write_slice(args.articles, corpus)
        embedder = indexing_embedder(None)
        # 3 logical CPUs on 2 cores: the 1-worker and 2-worker encoders exist side by side
        # (each runs only while the other waits); builds use 2 workers.
        ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        local_s = ray_s = same_ids = vec_diff = same = answered = questions = None
        if not args.throughput_only:
            local_s, ray_s, same_ids, vec_diff, same, answered, questions = compare_builds(
                corpus, work, embedder)
        from index.corpus.articles import load_corpus

        arts = load_corpus(corpus)
        texts = [passage_text(x, p) for x in arts for p in make_passages(x)][: args.texts]
        speed = {"local": [], "ray 1 worker": [], "ray 2 workers": []}
        encs = {1: RayEncoder(embedder, None, workers=1), 2: RayEncoder(embedder, None, workers=2)}
        for w in (1, 2):
            encs[w](texts[:64])  # warm: sessions made, first batches run
        for _ in range(args.rounds):
            for label, fn in (("local", embedder.encode), ("ray 1 worker", encs[1]),
                              ("ray 2 workers", encs[2])):
                t0 = time.perf_counter()
                fn(texts)
                speed[label].append(len(texts) / (time.perf_counter() - t0))
            print(json.dumps({k: v[-1] for k, v in speed.items()}), flush=True)
        for e in encs.values():
            e.close()
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not args.throughput_only:
        report(f"Ray build of the first {args.articles} news-dev articles, local Ray instance "
               "(2 workers)", ["build", "s", "passage ids equal", "max |vector diff|",
                               "same answers", "questions answered"],
               [["local", local_s, "", "", "", answered],
                ["--ray, 2 workers", ray_s, same_ids, vec_diff, f"{same}/{questions}", ""]],
               ["answers: Citebot.ask(q, k=3).to_dict() (what `ask --json` prints) for every "
                "news-dev question, compared whole."])
    report(f"Embedding throughput: {len(texts)} news-dev passage texts, texts/s (median of "
           f"{args.rounds}, alternated)", ["embedder", "texts/s", "x local"],
           [[k, median(v), median(v) / median(speed["local"])] for k, v in speed.items()],
           ["local: the ONNX indexing embedder in this process (its default threads); a Ray "
            "worker: the same ONNX model with 1 thread (1 CPU reserved)."])
    print(f"(benchmark took {time.perf_counter() - t_all:.0f} s)")


if __name__ == "__main__":
    main()
