"""Answer quality, measured: SQuAD-format or JSON Lines questions asked the way `citebot ask` does.

A SQuAD file becomes a corpus (one article per SQuAD title, paragraphs joined by blank lines)
indexed by the same code as `citebot index build`; every answerable question is then asked
through ``Searcher.ask`` (citebot) and, on the same index, ranked by BM25 alone and by the dense
vectors alone. Off-topic questions (another article's questions asked of one article, plus a few
general-knowledge ones) calibrate the "not found" threshold.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .articles import Article, slugify, write_article
from .errors import UsageError
from .lexical import tokenize
from .search import Searcher

SYSTEMS = ("citebot", "bm25", "dense")
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
OFF_TOPIC_REFUSED = 0.95


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
        raise UsageError(f"no such file: {path}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a readable JSON file ({type(exc).__name__}: {exc})")


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
        raise UsageError(f"{path} is not in SQuAD format ({type(exc).__name__}: {exc})")
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
        raise UsageError(f"no such file: {path}")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} cannot be read ({type(exc).__name__})")
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
                             f"({type(exc).__name__}: {exc})")
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
    for i, p in enumerate(store.passages):
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
            threshold: float | None = None) -> list[Outcome]:
    """citebot itself: every question through ``Searcher.ask``, each one timed."""
    out = []
    for q in questions:
        t = time.perf_counter()
        answer = searcher.ask(q.question, k=k, more=max(0, 10 - k), threshold=threshold)
        out.append(_outcome(answer, (time.perf_counter() - t) * 1000))
    return out


def embed_all(searcher: Searcher, texts: list[str]) -> np.ndarray:
    """Every question in one batch (what the baselines and the calibration rank from)."""
    return np.asarray(searcher.embedder.encode(list(texts)), dtype=np.float32)


def rank_all(searcher: Searcher, questions: list[EvalQuestion], mode: str, vecs: np.ndarray,
             k: int = 3, articles: set[str] | None = None,
             threshold: float | None = -1e9) -> list[Outcome]:
    """A baseline (mode "bm25" or "dense"; "hybrid" for calibration) from batch vectors."""
    from .search import clean_question

    out = []
    for q, v in zip(questions, vecs):
        text = clean_question(q.question)
        t = time.perf_counter()
        answer = searcher.answer_from(text, text, v.reshape(1, -1), tokenize(text), k=k,
                                      more=max(0, 10 - k), mode=mode, threshold=threshold,
                                      articles=articles)
        out.append(_outcome(answer, (time.perf_counter() - t) * 1000))
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
