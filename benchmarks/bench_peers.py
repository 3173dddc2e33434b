"""citebot side by side with two peers on the same corpus, questions and model, in one run.

    python benchmarks/bench_peers.py [--runs 5] [--questions 50]

Corpus: the shared SQuAD subset (3 articles, 126 paragraphs); model: the local
all-MiniLM-L6-v2 folder, offline, for everyone.

- naive: a script of sentence-transformers + FAISS IndexFlatIP over the paragraphs;
- txtai: ``txtai.Embeddings(path=<model folder>, content=True)`` over the paragraphs;
- citebot: ``citebot index build`` / ``citebot ask`` (which also embeds every sentence, builds
  BM25, and answers with quotes rather than a passage).

Measured in turns, each as fresh processes: build (wall, peak memory), a one-shot question
(wall, peak memory); then in one warm process each: question latency p50/p95 and passage
recall@1 (the gold paragraph first). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import median, percentile, report, squad_articles, timed_run

NAIVE_BUILD = """
import json, sys
import faiss
from sentence_transformers import SentenceTransformer
model_dir, data, out = sys.argv[1:4]
texts = json.load(open(data))
model = SentenceTransformer(model_dir, device="cpu")
vecs = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
index = faiss.IndexFlatIP(vecs.shape[1]); index.add(vecs)
faiss.write_index(index, out + ".faiss"); json.dump(texts, open(out + ".json", "w"))
"""
NAIVE_ASK = """
import json, sys, time
t0 = time.perf_counter()
import faiss
from sentence_transformers import SentenceTransformer
model_dir, out, questions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
model = SentenceTransformer(model_dir, device="cpu")
index = faiss.read_index(out + ".faiss"); texts = json.load(open(out + ".json"))
lat, top = [], []
for q in questions:
    t = time.perf_counter()
    _, ids = index.search(model.encode([q], normalize_embeddings=True), 3)
    lat.append(time.perf_counter() - t); top.append(texts[ids[0][0]])
print(json.dumps({"lat": lat, "top": top}))
"""
TXTAI_BUILD = """
import json, sys
from txtai import Embeddings
model_dir, data, out = sys.argv[1:4]
emb = Embeddings(path=model_dir, content=True)
emb.index(json.load(open(data)))
emb.save(out + ".txtai")
"""
TXTAI_ASK = """
import json, sys, time
from txtai import Embeddings
model_dir, out, questions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
emb = Embeddings(); emb.load(out + ".txtai")
lat, top = [], []
for q in questions:
    t = time.perf_counter(); hits = emb.search(q, 3); lat.append(time.perf_counter() - t)
    top.append(hits[0]["text"])
print(json.dumps({"lat": lat, "top": top}))
"""
CITEBOT_ASK = """
import json, sys, time
from index.config import resolve
from index.engine import Citebot
corpus, index, questions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
bot = Citebot(resolve(corpus, index))
lat, top = [], []
for q in questions:
    t = time.perf_counter(); a = bot.ask(q); lat.append(time.perf_counter() - t)
    if a.citations:
        p = bot.store.passages[bot.store.passage_by_id[a.citations[0].id]]
        top.append(bot.store.article_by_id[p.article_id].body[p.start:p.end])
    else:
        top.append(None)
print(json.dumps({"lat": lat, "top": top}))
"""
MEM = ("import resource, atexit, sys; atexit.register(lambda: sys.stderr.write("
       "'MAXRSS %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)); ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--questions", type=int, default=50)
    args = ap.parse_args()
    from index.corpus.articles import write_article
    from index.embed.base import resolve_model

    model_dir = resolve_model(None)[1]
    articles, questions = squad_articles()
    step = max(1, len(questions) // args.questions)
    qs = questions[::step][: args.questions]
    tmp = Path(tempfile.mkdtemp(prefix="citebot-peers-"))
    py = sys.executable
    citebot = shutil.which("citebot") or "citebot"
    try:
        corpus = tmp / "corpus"
        for a in articles:
            write_article(corpus, a)
        paragraphs = [p for a in articles for p in a.body.split("\n\n")]
        data = tmp / "paragraphs.json"
        data.write_text(json.dumps(paragraphs))
        out = str(tmp / "peer")
        env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(tmp / "index")}
        builds = {
            "naive (sentence-transformers + IndexFlatIP)":
                [py, "-c", NAIVE_BUILD, model_dir, str(data), out],
            "txtai Embeddings": [py, "-c", TXTAI_BUILD, model_dir, str(data), out],
            "citebot": [citebot, "index", "build"],
        }
        one_q = json.dumps([qs[0][0]])
        asks = {
            "naive (sentence-transformers + IndexFlatIP)":
                [py, "-c", NAIVE_ASK, model_dir, out, one_q],
            "txtai Embeddings": [py, "-c", TXTAI_ASK, model_dir, out, one_q],
            "citebot": [citebot, "ask", qs[0][0]],
        }
        res = {k: {"build": [], "build_mb": [], "ask": [], "ask_mb": []} for k in builds}
        for _ in range(args.runs):
            for name in builds:
                shutil.rmtree(tmp / "index", ignore_errors=True)  # citebot: no cache either
                wall, mb, r = timed_run(builds[name], env=env)
                assert r.returncode == 0, r.stderr.decode()[-2000:]
                res[name]["build"].append(wall)
                res[name]["build_mb"].append(mb)
            for name in asks:
                wall, mb, r = timed_run(asks[name], env=env)
                assert r.returncode == 0, r.stderr.decode()[-2000:]
                res[name]["ask"].append(wall)
                res[name]["ask_mb"].append(mb)
        # The first build on a machine also exports the model to ONNX (cached afterwards).
        shutil.rmtree(tmp / "index", ignore_errors=True)
        first_build, first_mb, r = timed_run([citebot, "index", "build"],
                                             env={**env, "XDG_CACHE_HOME": str(tmp / "xdg")})
        assert r.returncode == 0, r.stderr.decode()[-2000:]
        warm = {}
        all_q = json.dumps([q for q, _, _ in qs])
        for name, code in [("naive (sentence-transformers + IndexFlatIP)",
                            [py, "-c", NAIVE_ASK, model_dir, out, all_q]),
                           ("txtai Embeddings", [py, "-c", TXTAI_ASK, model_dir, out, all_q]),
                           ("citebot", [py, "-c", CITEBOT_ASK, str(corpus), str(tmp / "index"),
                                        all_q])]:
            _, mb, r = timed_run(code, env=env)
            assert r.returncode == 0, r.stderr.decode()[-2000:]
            got = json.loads(r.stdout)
            hits = sum(t is not None and t.strip() == ctx.strip()
                       for t, (_, _, ctx) in zip(got["top"], qs))
            warm[name] = (median(got["lat"]), percentile(got["lat"], 95), hits / len(qs), mb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c = res["citebot"]
    rows = []
    for name, r in res.items():
        rows.append([name, median(r["build"]), median(r["build"]) / median(c["build"]),
                     median(r["build_mb"]), median(r["ask"]),
                     median(r["ask"]) / median(c["ask"]), median(r["ask_mb"]),
                     warm[name][0] * 1e3, warm[name][1] * 1e3,
                     warm[name][0] / warm["citebot"][0], warm[name][3], warm[name][2]])
    rows.append(["citebot, first build on the machine (ONNX export)", first_build,
                 first_build / median(c["build"]), first_mb, *["–"] * 8])
    report("citebot and its peers (SQuAD subset: 3 articles, 126 paragraphs)",
           ["system", "build s", "× citebot", "build peak MB", "one-shot ask s", "× citebot",
            "ask peak MB", "warm p50 ms", "warm p95 ms", "× citebot", "warm peak MB",
            "passage recall@1"], rows,
           [f"{args.runs} runs each in turns (median); build and one-shot ask are fresh "
            "processes (wall time); warm: one process, "
            f"{len(qs)} questions one at a time.",
            "citebot embeds 126 passages and 492 sentences and builds BM25; the peers embed "
            "the 126 paragraphs only. Its warm latency is the whole answer (hybrid ranking "
            "and quote selection); the peers' is embedding + vector search.",
            "citebot builds with an empty embedding cache (its index folder is deleted before "
            "each build); the per-machine ONNX export is warm except in the last row."])


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - t0:.0f} s)")
