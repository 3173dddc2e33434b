"""Answer quality, measured: SQuAD-format or JSON Lines questions asked the way `citebot ask` does.

A SQuAD file becomes a corpus (one article per SQuAD title, paragraphs joined by blank lines)
indexed by the same code as `citebot index build`; every answerable question is then asked
through ``Searcher.ask`` (citebot) and, on the same index, ranked by BM25 alone and by the dense
vectors alone. Off-topic questions (another article's questions asked of one article, plus a few
general-knowledge ones) calibrate the "not found" threshold.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..corpus.articles import Article, slugify, write_article
from ..errors import BadQuestion, UsageError
from ..search.lexical import tokenize
from ..search.params import clean_question
from ..search.searcher import Searcher

# Asked of every corpus: nothing in a news or Wikipedia corpus should answer them with a quote.
GENERAL_OFF_TOPIC = (
    "Who won the 2022 World Cup?",
    "What is the capital of France?",
    "How do I bake sourdough bread?",
    "What is the boiling point of water at sea level?",
    "Who painted the Mona Lisa?",
    "How many legs does a spider have?",
    "What is the best way to learn the guitar?",
    "Which planet is closest to the sun?",
)
# Calibration: the threshold keeps answerable questions answered while at least this share of
# off-topic questions is refused.
OFF_TOPIC_REFUSED = 0.99


@dataclass
class EvalQuestion:
    """A question, its gold answers and (for SQuAD) the article and body offset of the answer."""

    question: str
    answers: list[str]
    article_id: str | None = None
    answer_offsets: list[int] = field(default_factory=list)


@dataclass
class EvalSet:
    """Articles (empty for JSON Lines: the current index is used) and their questions."""

    articles: list[Article]
    questions: list[EvalQuestion]
    unanswerable: list[EvalQuestion] = field(default_factory=list)


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a readable JSON file ({type(exc).__name__}: {exc})") from None


def _askable(question: str) -> bool:
    try:
        clean_question(question)
    except BadQuestion:
        return False
    return True


def load_squad(path: Path) -> EvalSet:
    """A SQuAD 1.1/2.0 file as articles (paragraphs joined by blank lines) and questions."""
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise UsageError(f"{path} is not in SQuAD format", fix='expected {"data": [...]}')
    articles, questions, impossible, seen = [], [], [], set()
    try:
        for n, entry in enumerate(data["data"], 1):
            title = str(entry.get("title") or f"Article {n}").replace("_", " ")
            aid = slugify(title)
            while aid in seen:
                aid += "-x"
            seen.add(aid)
            parts, offset = [], 0
            for para in entry["paragraphs"]:
                context = para["context"]
                for qa in para.get("qas", []):
                    answers = [a["text"] for a in qa.get("answers", []) if a.get("text")]
                    offsets = [offset + int(a["answer_start"]) for a in qa.get("answers", [])
                               if a.get("text")]
                    q = EvalQuestion(str(qa["question"]), list(dict.fromkeys(answers)), aid,
                                     offsets)
                    (impossible if qa.get("is_impossible") or not answers else questions).append(q)
                parts.append(context)
                offset += len(context) + 2
            articles.append(Article(id=aid, title=title, body="\n\n".join(parts)))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path} is not in SQuAD format ({type(exc).__name__}: {exc})") from None
    questions = [q for q in questions if _askable(q.question)]
    impossible = [q for q in impossible if _askable(q.question)]
    bodies = {a.id: a.body for a in articles}
    for q in questions:  # offsets that do not point at the answer text are dropped
        body = bodies[q.article_id]
        q.answer_offsets = [o for o in q.answer_offsets
                            if any(body.startswith(t, o) for t in q.answers)]
    if not questions:
        raise UsageError(f"{path} holds no answerable question")
    return EvalSet(articles, questions, impossible)


def load_jsonl(path: Path) -> EvalSet:
    """JSON Lines of {"question", "answers": [...]}; an empty answer list means "not found"."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} cannot be read ({type(exc).__name__})") from None
    answerable, unanswerable = [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            question, answers = obj["question"], obj.get("answers", [])
            if not isinstance(question, str) or not isinstance(answers, list) or \
                    not all(isinstance(a, str) for a in answers):
                raise TypeError("question must be text and answers a list of texts")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"{path}, line {n}: not a {{\"question\", \"answers\"}} object "
                             f"({type(exc).__name__}: {exc})") from None
        try:
            clean_question(question)
        except BadQuestion as exc:
            raise UsageError(f"{path}, line {n}: {exc}") from None
        q = EvalQuestion(question, [a for a in answers if a])
        (answerable if q.answers else unanswerable).append(q)
    if not answerable and not unanswerable:
        raise UsageError(f"{path} holds no question")
    return EvalSet([], answerable, unanswerable)


# -- asking ------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one system did with one question."""

    ranked: list[str]          # passage ids, best first
    quote: str | None          # the first quote (None: not found)
    confidence: float
    ms: float | None = None    # in-process latency of the whole ask


def gold_passages(store, q: EvalQuestion) -> set[str]:
    """Ids of the passages that hold a gold answer: at its SQuAD offset, else anywhere."""
    ids = set()
    if q.answer_offsets:
        rows = store.article_rows(q.article_id)
        for i in rows:
            p = store.passages[i]
            if any(p.start <= o < p.end for o in q.answer_offsets):
                ids.add(p.id)
        return ids
    for p in store.passages:
        text = store.article_by_id[p.article_id].body[p.start:p.end]
        if any(a in text for a in q.answers):
            ids.add(p.id)
    return ids


def _outcome(answer, ms=None) -> Outcome:
    cites = answer.citations + answer.more
    return Outcome(ranked=[c.id for c in cites],
                   quote=answer.citations[0].quote if answer.answered and answer.citations
                   else None, confidence=answer.confidence, ms=ms)


def ask_all(searcher: Searcher, questions: list[EvalQuestion], k: int = 3,
            mode: str | None = None, threshold: float | None = None) -> list[Outcome]:
    """Every question through ``Searcher.ask`` (what `citebot ask` runs), each one timed;
    ``mode`` "bm25" / "dense" for the baselines."""
    out = []
    for q in questions:
        t = time.perf_counter()
        try:
            answer = searcher.ask(q.question, k=k, more=max(0, 10 - k), mode=mode,
                                  threshold=threshold)
        except BadQuestion:  # an empty or unreadable question in the file: nothing found
            out.append(Outcome([], None, 0.0))
            continue
        out.append(_outcome(answer, (time.perf_counter() - t) * 1000))
    return out


def embed_all(searcher: Searcher, texts: list[str]) -> np.ndarray:
    """Every question in one batch (calibration asks thousands; latency is not measured)."""
    return np.asarray(searcher.embedder.encode([clean_question(t) for t in texts]),
                      dtype=np.float32)


def confidences(searcher: Searcher, questions: list[EvalQuestion], vecs: np.ndarray,
                articles: set[str] | None = None) -> list[float]:
    """How sure citebot is of its best passage for each question (what "not found" decides
    on), from batch vectors: the ranking of `ask` without the quoting."""
    out = []
    for q, v in zip(questions, vecs):
        text = clean_question(q.question)
        query = searcher.query(text, v, tokenize(text))
        out.append(searcher.confidence(query, searcher.rank(query, articles=articles)))
    return out


# -- scoring -----------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))]


def score(outcomes: list[Outcome], golds: list[set[str]],
          questions: list[EvalQuestion]) -> dict:
    """Recall@1/@5, MRR@10, answer-in-quote@1, not-found share and latency of one system."""
    n = len(outcomes)
    r1 = r5 = mrr = inq = nf = 0.0
    for o, gold, q in zip(outcomes, golds, questions):
        ranks = [i for i, pid in enumerate(o.ranked[:10]) if pid in gold]
        if ranks:
            r1 += ranks[0] == 0
            r5 += ranks[0] < 5
            mrr += 1.0 / (ranks[0] + 1)
        if o.quote is None:
            nf += 1
        elif any(a in o.quote for a in q.answers):
            inq += 1
    ms = [o.ms for o in outcomes if o.ms is not None]
    return {"questions": n, "recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": mrr / n,
            "answer_in_quote@1": inq / n, "not_found": nf / n,
            "latency_ms_p50": _pct(ms, 50), "latency_ms_p95": _pct(ms, 95)}


# -- "not found" -------------------------------------------------------------------------------
def calibrate(searcher: Searcher, es: EvalSet, vecs: np.ndarray) -> dict:
    """Confidences of answerable vs off-topic questions, and the threshold they suggest.

    Off-topic: each article's questions asked of every other article alone (the same ranking
    with an article filter, as `--source` does), the file's unanswerable questions for JSON
    Lines, and GENERAL_OFF_TOPIC. Suggested: the lowest threshold that refuses every general
    question and OFF_TOPIC_REFUSED of the others; `--threshold` / CITEBOT_THRESHOLD override.
    """
    answerable = confidences(searcher, es.questions, vecs)
    others: list[float] = []
    articles = sorted({q.article_id for q in es.questions if q.article_id})
    if len(articles) > 1:
        for article in articles:
            idx = [i for i, q in enumerate(es.questions) if q.article_id != article]
            others += confidences(searcher, [es.questions[i] for i in idx], vecs[idx],
                                  articles={article})
    if es.articles == [] and es.unanswerable:  # JSON Lines: the user's own "not found" ones
        vu = embed_all(searcher, [q.question for q in es.unanswerable])
        others += confidences(searcher, es.unanswerable, vu)
    general_q = [EvalQuestion(q, []) for q in GENERAL_OFF_TOPIC]
    general = confidences(searcher, general_q, embed_all(searcher, list(GENERAL_OFF_TOPIC)))
    cut = float(np.quantile(others, OFF_TOPIC_REFUSED)) if others else 0.0
    suggested = float(np.ceil(max(cut, max(general)) * 100 + 1e-9) / 100)
    in_use = searcher.params.threshold

    def at(t):
        return {"answerable_answered": float(np.mean([c >= t for c in answerable])),
                "off_topic_refused": float(np.mean([c < t for c in others])) if others else None,
                "general_refused": float(np.mean([c < t for c in general]))}

    return {"threshold": in_use, "suggested": suggested, "rule":
            f"refuse all {len(general)} general questions and {OFF_TOPIC_REFUSED:.0%} of "
            f"{len(others)} other-article / unanswerable ones",
            "at_threshold": at(in_use), "at_suggested": at(suggested),
            "off_topic_questions": len(others), "general_questions": len(general)}


# -- the whole run -----------------------------------------------------------------------------
def run(searcher: Searcher, es: EvalSet, k: int = 3, label: str = "") -> dict:
    """citebot, BM25 only and dense only on the same index; calibration; one report."""
    golds = [gold_passages(searcher.store, q) for q in es.questions]
    if es.questions:  # warm-up: the first question pays for lazy loads, not the system
        searcher.ask(es.questions[0].question, k=k)
    systems = {"citebot": score(ask_all(searcher, es.questions, k), golds, es.questions)}
    for mode in ("bm25", "dense"):  # a bare ranking never abstains
        systems[mode] = score(ask_all(searcher, es.questions, k, mode=mode, threshold=-1.0),
                              golds, es.questions)
        systems[mode]["not_found"] = None
    # Calibration asks thousands of questions: embedded in one batch, latency not measured.
    vecs = embed_all(searcher, [q.question for q in es.questions])
    store = searcher.store
    report = {"data": label, "articles": len(store.articles), "passages": len(store.passages),
              "questions": len(es.questions), "k": k, "systems": systems,
              "answers_not_in_any_passage": sum(1 for g in golds if not g),
              "calibration": calibrate(searcher, es, vecs)}
    if es.unanswerable and es.articles:  # SQuAD 2.0's unanswerable (but on-topic) questions
        out = ask_all(searcher, es.unanswerable, k)
        report["squad_unanswerable_answered"] = float(np.mean([o.quote is not None
                                                               for o in out]))
    return report


def evaluate_squad(path: Path, k: int = 3, threshold: float | None = None,
                   model: str | None = None, embedder=None, progress=None,
                   tune: bool = False) -> dict:
    """Index a SQuAD file's articles in a temporary folder (as `citebot index build` does) and
    run the evaluation; ``tune`` adds the cross-validated weight search (tuning.py)."""
    from ..config import resolve
    from ..engine import Citebot

    es = load_squad(path)
    with tempfile.TemporaryDirectory(prefix="citebot-eval-") as tmp:
        corpus = Path(tmp) / "corpus"
        for article in es.articles:
            write_article(corpus, article)
        bot = Citebot(resolve(corpus=corpus, index=Path(tmp) / "index", model=model,
                              threshold=threshold), progress=progress, embedder=embedder)
        bot.build()
        searcher = bot.searcher
        report = run(searcher, es, k, label=Path(path).name)
        if tune:
            from ..search.params import clean_question
            from .tuning import cross_validate

            vecs = embed_all(searcher, [clean_question(q.question) for q in es.questions])
            golds = [gold_passages(searcher.store, q) for q in es.questions]
            report["tuning"] = cross_validate(searcher, es.questions, vecs, golds)
    return report


def evaluate_index(bot, path: Path, k: int = 3) -> dict:
    """JSON Lines questions against the bot's current index."""
    es = load_jsonl(path)
    return run(bot.searcher, es, k, label=Path(path).name)
