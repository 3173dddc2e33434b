"""Answer quality on real news: the news-dev format (a folder with ``corpus.jsonl`` and
``questions.jsonl``, as in ../shared/eval/news-dev/), measured in-process.

Every question is asked through ``Searcher.ask`` by citebot, BM25 alone and the dense vectors
alone, on the same index, once as of now and once as of its quiz date (``question_date``).
Scoring follows the data set's own scorer (score.py): the first citation is from the gold
article or lists it in "also in" (article recall@1); a gold answer string, case, whitespace and
curly quotes ignored, is inside the first quote (answer-in-quote@1) or any of the first three
(@3); an unanswered question is a miss; every quote must equal the stored body at its offsets.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import BadQuestion, UsageError

SYSTEMS = ("citebot", "bm25", "dense")


def norm(text: str) -> str:
    """Case, whitespace, curly quotes and dashes folded, as the data set's scorer does."""
    s = (text or "").casefold()
    for a, b in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-")):
        s = s.replace(a, b)
    return " ".join(s.split())


def has_answer(text: str | None, answers: list[str]) -> bool:
    t = norm(text or "")
    return any(norm(a) in t for a in answers)


def norm_url(url: str | None) -> str:
    """An address without scheme, www./edition./amp./us. and a trailing /index.html."""
    s = urlsplit((url or "").strip())
    host = s.netloc.lower()
    for prefix in ("www.", "edition.", "amp.", "us."):
        host = host.removeprefix(prefix)
    return host + s.path.rstrip("/").removesuffix("/index.html")


def question_date(value: str | None) -> dt.date | None:
    """A quiz date (2022/06/16 or 2024-05-17) as a date."""
    try:
        return dt.date.fromisoformat(str(value).strip().replace("/", "-"))
    except (TypeError, ValueError):
        return None


def load_questions(folder: Path) -> list[dict]:
    """The questions of a news-dev folder (``questions.jsonl``)."""
    path = Path(folder) / "questions.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UsageError(f"no questions.jsonl in {folder}",
                         fix="give the folder of the news format (corpus.jsonl, questions.jsonl)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} cannot be read ({type(exc).__name__})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            if not isinstance(q, dict) or not isinstance(q.get("question"), str) or \
                    not isinstance(q.get("answers"), list):
                raise ValueError("needs question and answers")
        except ValueError as exc:
            raise UsageError(f"{path} line {n} is not a news question ({exc})") from None
        out.append(q)
    if not out:
        raise UsageError(f"{path} holds no question")
    return out


def gold_articles(store, questions: list[dict]) -> list[str | None]:
    """Each question's gold article id in the index (by its address), None when absent."""
    by_url = {norm_url(a.url): a.id for a in store.articles if a.url}
    return [by_url.get(norm_url(q.get("article_url"))) for q in questions]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))]


def ask_one(searcher, q: dict, mode: str, as_of: bool, k: int):
    """(Answer or None, milliseconds) for one question."""
    when = question_date(q.get("question_date")) if as_of else None
    t = time.perf_counter()
    try:
        answer = searcher.ask(q["question"], k=k, mode=mode, as_of=when,
                              threshold=None if mode == "hybrid" else -1.0)
    except BadQuestion:
        return None, (time.perf_counter() - t) * 1000
    return answer, (time.perf_counter() - t) * 1000


def judge(store, answer, q: dict, gold: str | None) -> dict:
    """One question's figures (the scorer's rules)."""
    cites = answer.citations if answer is not None and answer.answered else []
    first = cites[0] if cites else None
    exact = all(store.article_by_id[c.article.id].body[c.start:c.end] == c.quote
                for c in cites + (answer.more if answer is not None else []))
    return {"answered": bool(first),
            "R1": bool(first) and gold is not None and (
                first.article.id == gold or any(a.id == gold for a in first.also_in)),
            "Q1": bool(first) and has_answer(first.quote, q["answers"]),
            "Q3": any(has_answer(c.quote, q["answers"]) for c in cites[:3]),
            "exact": exact}


def run_news(searcher, questions: list[dict], k: int = 3, systems=SYSTEMS,
             as_of_modes=(False, True), details=None, label: str = "") -> dict:
    """Every system, without and with as_of: one report; ``details`` (a file object) gets one
    JSON line per question and run (for reading the misses)."""
    store = searcher.store
    golds = gold_articles(store, questions)
    searcher.ask(questions[0]["question"], k=k)  # warm-up: lazy loads are not the system's
    runs = {}
    for as_of in as_of_modes:
        for system in systems:
            mode = "hybrid" if system == "citebot" else system
            sums = {"answered": 0, "R1": 0, "Q1": 0, "Q3": 0, "exact": 0}
            ms = []
            for q, gold in zip(questions, golds):
                answer, took = ask_one(searcher, q, mode, as_of, k)
                ms.append(took)
                r = judge(store, answer, q, gold)
                for key in sums:
                    sums[key] += r[key]
                if details is not None:
                    first = answer.citations[0] if answer is not None and answer.citations \
                        else None
                    details.write(json.dumps({
                        "system": system, "as_of": as_of, "qid": q.get("qid"),
                        "date": q.get("question_date"), "question": q["question"],
                        "answers": q["answers"], "gold": gold, **r,
                        "article1": first.article.id if first else None,
                        "cite1": [first.id, first.start, first.end] if first else None,
                        "published1": first.article.published if first else None,
                        "quotes": [c.quote for c in (answer.citations if answer else [])],
                        "articles": [c.article.id for c in (answer.citations if answer else [])],
                        "confidence": answer.confidence if answer else None},
                        ensure_ascii=False) + "\n")
            n = len(questions)
            runs[f"{system}{' as_of' if as_of else ''}"] = {
                "system": system, "as_of": as_of, "questions": n,
                "article_recall@1": sums["R1"] / n, "answer_in_quote@1": sums["Q1"] / n,
                "answer_in_quote@3": sums["Q3"] / n, "answered": sums["answered"] / n,
                "exact_offsets": sums["exact"] / n,
                "latency_ms_p50": _pct(ms, 50), "latency_ms_p95": _pct(ms, 95)}
    return {"data": label, "articles": len(store.articles), "passages": len(store.passages),
            "questions": len(questions), "gold_missing": sum(g is None for g in golds),
            "k": k, "runs": runs}


def evaluate_news(folder: Path, corpus: Path | None = None, index: Path | None = None,
                  k: int = 3, model: str | None = None, threshold: float | None = None,
                  progress=None, details=None, embedder=None,
                  systems=SYSTEMS, as_of_modes=(False, True), limit: int | None = None) -> dict:
    """The news evaluation on the index at ``index`` (built from ``folder/corpus.jsonl`` into
    ``corpus`` first when that folder holds no article), or in a temporary folder."""
    from ..config import resolve
    from ..engine import Citebot
    from ..ingest.add import ingest

    folder = Path(folder)
    questions = load_questions(folder)[:limit]
    if (corpus is None) != (index is None):
        raise UsageError("give both --corpus and --index (or neither: a temporary index)")
    with tempfile.TemporaryDirectory(prefix="citebot-news-") as tmp:
        corpus = Path(corpus) if corpus else Path(tmp) / "corpus"
        index = Path(index) if index else Path(tmp) / "index"
        if not corpus.is_dir() or not any(corpus.glob("*.md")):
            source = folder / "corpus.jsonl"
            if not source.is_file():
                raise UsageError(f"no corpus.jsonl in {folder}")
            corpus.mkdir(parents=True, exist_ok=True)
            (progress or (lambda _m: None))(f"adding {source} to {corpus}")
            ingest([str(source)], corpus, progress=progress)
        bot = Citebot(resolve(corpus=corpus, index=index, model=model,
                              threshold=threshold), progress=progress, embedder=embedder)
        bot.ensure_index()
        return run_news(bot.searcher, questions, k=k, systems=systems, details=details,
                        as_of_modes=as_of_modes, label=folder.name)
