"""Shared by the benchmark scripts: the machine, timing helpers and the Markdown table they print.

Every script prints a block that can be pasted into docs/benchmarks.md as it is: the machine,
the exact command, then a table of medians. Numbers depend on the machine and on what else runs
on it; the load average at the start is printed so that a noisy run can be told apart.
"""

from __future__ import annotations

import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
SQUAD = ROOT.parent / "shared" / "eval" / "squad2-dev-subset.json"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """One line: CPU, cores, memory, OS, Python and the libraries that set the speed."""
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    libs = []
    for name in ("numpy", "faiss", "onnxruntime", "torch", "sentence_transformers"):
        try:
            from importlib.metadata import version

            dist = {"faiss": "faiss-cpu", "sentence_transformers": "sentence-transformers"}
            libs.append(f"{name} {version(dist.get(name, name))}")
        except Exception:  # noqa: BLE001 - a missing library is just not listed
            pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu_name()}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}; {'; '.join(libs)}; "
            f"load average at start {load}")


def command() -> str:
    """The command line that ran this script, to paste and run again."""
    return "python " + " ".join(shlex.quote(a) for a in [
        os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])


def median(xs) -> float:
    return statistics.median(xs) if xs else float("nan")


def unit(v: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, float32."""
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def merge_top10(best_s: np.ndarray, best_i: np.ndarray, s: np.ndarray, lo: int):
    """A running exact top-10 per question: (scores, ids) so far merged with the scores ``s``
    (questions x block) of the block of vectors that starts at row ``lo``."""
    top = np.argpartition(-s, 9, axis=1)[:, :10] if s.shape[1] > 10 else \
        np.broadcast_to(np.arange(s.shape[1]), s.shape)
    cand_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], 1)
    cand_i = np.concatenate([best_i, top + lo], 1)
    keep = np.argsort(-cand_s, axis=1, kind="stable")[:, :10]
    return np.take_along_axis(cand_s, keep, 1), np.take_along_axis(cand_i, keep, 1)


def percentile(xs, q: float) -> float:
    """q in [0, 100], nearest-rank on the sorted values."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))]


def timed_run(args: list[str], env: dict | None = None, input: bytes | None = None,
              timeout: float = 600) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, peak RSS in MB, result) of a fresh process (its own rusage, via wait4)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else None,
                                stdout=out, stderr=err, env={**os.environ, **(env or {})},
                                cwd=ROOT)
        if input is not None:
            proc.stdin.write(input)
            proc.stdin.close()
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())
    return wall, usage.ru_maxrss / 1024, result


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fmt(x, digits: int = 3) -> str:
    if isinstance(x, str):
        return x
    if x != x:  # NaN
        return "–"
    if isinstance(x, int):
        return f"{x:,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:.{digits - 1}f}"


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report(title: str, headers: list[str], rows: list[list], notes: list[str] = ()) -> str:
    """Print (and return) the block for docs/benchmarks.md."""
    text = "\n".join([f"### {title}", "", f"Machine: {machine()}", "",
                      f"Command: `{command()}`", "", table(headers, rows), "",
                      *[f"- {n}" for n in notes]]).rstrip() + "\n"
    print(text, flush=True)
    return text


def squad_articles():
    """The shared SQuAD subset as citebot articles: one per title, paragraphs joined by blank
    lines (as `citebot eval` reads it); with its answerable questions (question, answers)."""
    import json

    from index.corpus.articles import Article, slugify

    data = json.loads(SQUAD.read_text(encoding="utf-8"))
    articles, questions = [], []
    for a in data["data"]:
        articles.append(Article(id=slugify(a["title"]), title=a["title"].replace("_", " "),
                                body="\n\n".join(p["context"] for p in a["paragraphs"])))
        for p in a["paragraphs"]:
            for q in p["qas"]:
                if not q.get("is_impossible") and q["answers"]:
                    questions.append((q["question"], sorted({x["text"] for x in q["answers"]}),
                                      p["context"]))
    return articles, questions
