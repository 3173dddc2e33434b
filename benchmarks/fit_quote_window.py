"""Fit the weights of the first-quote window (index/search/window.py) on news questions.

    python benchmarks/fit_quote_window.py --news ../shared/eval/news-dev/ \
        --corpus ../news-dev-work/corpus --index ../news-dev-work/index

Each question is asked as of its quiz date, as `citebot eval --news` asks it; when its first
citation is from a dated article, the candidate sentences of that article (window.py) are
labelled by whether they hold the gold answer, and a conditional logit (softmax over the
question's candidates, L2-penalised) is fitted. It prints answer-in-quote@1 of today's first
quotes, of the window chosen with weights fitted on the other folds (5-fold cross-validation,
three fold seeds), and the weights fitted on all questions, to paste into window.WEIGHTS.
Needs scipy (installed with sentence-transformers). The data's texts stay in ../shared.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import ROOT  # noqa: F401  (puts the project on sys.path)
from scipy.optimize import minimize

from index.config import resolve
from index.engine import Citebot
from index.quality.evaluate_news import has_answer, load_questions, question_date
from index.search import window
from index.search.lexical import tokenize
from index.search.params import clean_question
from index.text import strip_markup


def collect(bot, questions) -> tuple[list[dict], int]:
    """Per question whose first citation is from a dated article: candidates and labels."""
    searcher = bot.searcher
    store = searcher.store
    rows, baseline = [], 0
    for item in questions:
        answer = searcher.ask(item["question"], k=3, as_of=question_date(item["question_date"]))
        if not answer.answered:
            continue
        first = answer.citations[0]
        baseline += has_answer(first.quote, item["answers"])
        article = store.article_by_id[first.article.id]
        if not article.published:
            continue
        text = clean_question(item["question"])
        text = strip_markup(text) or text
        q = searcher.query(text, searcher.embedder.encode_query(text), tokenize(text))
        # The ranked passage the window starts from: the top passage of this article.
        ranked = searcher.rank(q, time=searcher.time_terms(text, question_date(
            item["question_date"])))
        top = next(((i, f) for i, _, f in ranked
                    if store.passages[i].article_id == article.id), None)
        if top is None:
            continue
        sents, table = window.window_table(searcher, q, top[0], top[1])
        labels = np.array([has_answer(article.body[a:b], item["answers"])
                           for a, b, _, _ in sents], dtype=float)
        rows.append({"sents": sents, "X": table, "y": labels, "body": article.body,
                     "answers": item["answers"], "kind": q.kind,
                     "base": has_answer(first.quote, item["answers"])})
    return rows, baseline


def loss(w, data, l2):
    total, grad = 0.0, np.zeros_like(w)
    for X, y in data:
        z = X @ w
        p = np.exp(z - z.max())
        p /= p.sum()
        py = float(p @ y)
        total -= np.log(py + 1e-12)
        grad -= (p * y) @ X / (py + 1e-12) - p @ X
    return total / len(data) + l2 * w @ w, grad / len(data) + 2 * l2 * w


def fit(rows, l2: float) -> np.ndarray:
    data = [(r["X"], r["y"]) for r in rows if r["y"].any()]
    return minimize(loss, np.zeros(len(window.FEATURES)), args=(data, l2), jac=True,
                    method="L-BFGS-B").x


def hits(rows, weights) -> int:
    out = 0
    for r in rows:
        if r["kind"] is None:  # citebot quotes these as before (no kind of thing asked for)
            out += r["base"]
            continue
        a, b = window.best_window(r["sents"], window.answer_odds(r["X"], weights),
                                  keep=window.quotable(r["X"]))
        out += has_answer(r["body"][r["sents"][a][0]:r["sents"][b][1]], r["answers"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--news", type=Path, required=True, help="folder with questions.jsonl")
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--l2", type=float, default=0.003)
    args = ap.parse_args()
    questions = load_questions(args.news)
    bot = Citebot(resolve(corpus=args.corpus, index=args.index, auto_build=False))
    rows, baseline = collect(bot, questions)
    n = len(questions)
    print(f"{n} questions, {len(rows)} first quotes from dated articles (fitted on all, used "
          f"for the {sum(r['kind'] is not None for r in rows)} asking for a kind of thing); "
          f"today's answer-in-quote@1 {baseline / n:.3f}")
    for seed in (0, 1, 2):
        folds = np.random.default_rng(seed).integers(0, 5, len(rows))
        got = sum(hits([r for r, g in zip(rows, folds) if g == f],
                       fit([r for r, g in zip(rows, folds) if g != f], args.l2))
                  for f in range(5))
        # The other questions keep today's first quote: their hits count as they are.
        got += baseline - sum(r["base"] for r in rows)
        print(f"fold seed {seed}: answer-in-quote@1 with the window (cross-validated) "
              f"{got}/{n} = {got / n:.3f}")
    weights = fit(rows, args.l2)
    print("FITTED = {" + ", ".join(f'"{name}": {w:.3f}'
                                    for name, w in zip(window.FEATURES, weights)) + "}")


if __name__ == "__main__":
    main()
