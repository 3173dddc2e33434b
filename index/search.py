"""Search and quote selection: rank passages (dense + BM25), then quote their best sentences."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from .answer import Answer, ArticleRef, Citation
from .errors import BadQuestion
from .lexical import idf, tokenize
from .store import IndexStore

MAX_QUESTION_CHARS = 1000
QUOTE_BUDGET = 300
# A sentence that opens with one of these leans on the sentence before it.
_LEANS_BACK = re.compile(r"^(both|this|these|that|those|they|it|its|he|she|his|her|their|"
                         r"however|but|despite|such|the two|there|then|also)\b", re.I)
_YEAR_OR_DATE = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b|\b(january|february|march|april|may|"
                           r"june|july|august|september|october|november|december)\b|"
                           r"\bcentur(y|ies)\b|\b\d{1,2}(st|nd|rd|th)\b", re.I)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"hundred|thousand|million|billion|dozen|half)\b", re.I)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+")


@dataclass
class SearchParams:
    """Weights of the ranking; chosen by `citebot eval` measurements (docs/benchmarks.md)."""

    mode: str = "hybrid"           # hybrid | dense | bm25
    candidates: int = 50           # passages taken from each ranking before fusion
    w_dense: float = 0.45          # passage cosine
    w_sent: float = 0.35           # best sentence cosine within the passage
    w_bm25: float = 0.20           # BM25, divided by the best BM25 score of the question
    s_dense: float = 0.50          # sentence choice: sentence cosine
    s_lex: float = 0.30            # sentence choice: share of the question's term weight present
    s_type: float = 0.10           # sentence choice: holds the kind of thing asked for
    s_passage: float = 0.10        # sentence choice: its passage's fused score
    threshold: float = 0.40        # below this confidence: "not found in the articles"
    relative_cut: float = 0.80     # further citations need this share of the first one's score


def clean_question(question: str) -> str:
    """Validate and normalize a question; raises BadQuestion with a readable reason."""
    if question is None:
        raise BadQuestion("the question is empty")
    q = unicodedata.normalize("NFKC", question)
    # Control and format characters (NUL, zero-width, direction marks) carry no meaning here.
    q = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in q)
    q = " ".join(q.split())
    if not q:
        raise BadQuestion("the question is empty")
    if len(q) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"the question is too long ({len(q)} characters; "
                          f"the limit is {MAX_QUESTION_CHARS})")
    if not any(ch.isalnum() for ch in q):
        raise BadQuestion("the question has no words to search for")
    return q


def question_type(question: str) -> str | None:
    """when / number / name: what kind of thing the question asks for, if it says."""
    q = question.lower()
    if re.search(r"\b(when|what year|which year|what date|what month|what century)\b", q):
        return "when"
    if re.search(r"\b(how many|how much|what percentage|what number|how long|how old)\b", q):
        return "number"
    if re.search(r"\b(who|whom|whose)\b", q):
        return "name"
    return None


def _type_match(kind: str | None, sentence: str) -> float:
    if kind == "when":
        return 1.0 if _YEAR_OR_DATE.search(sentence) else 0.0
    if kind == "number":
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if kind == "name":
        return 1.0 if _NAME.search(sentence) else 0.0
    return 0.0


def _norm_text(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


class Searcher:
    """Answers questions from one loaded index with one question embedder."""

    def __init__(self, store: IndexStore, embedder, params: SearchParams | None = None):
        self.store = store
        self.embedder = embedder
        self.params = params or SearchParams()
        self.n_docs = max(1, len(store.passages))

    # -- ranking -----------------------------------------------------------------------------
    def _lexical_weights(self, tokens: list[str]) -> dict[str, float]:
        df = self.store.doc_freq
        return {t: idf(df.get(t, 0), self.n_docs) for t in dict.fromkeys(tokens)}

    def rank(self, question: str, qvec: np.ndarray, tokens: list[str],
             mode: str | None = None,
             articles: set[str] | None = None) -> list[tuple[int, float, dict]]:
        """Passages for a question, best first: (passage index, score, features).

        ``articles``, when given, keeps only passages of those article ids (--since, --source).
        """
        p = self.params
        mode = mode or p.mode
        n = len(self.store.passages)
        # With a filter, search deeper so that enough allowed passages remain.
        depth = n if articles is not None else min(n, p.candidates)
        dense_idx, dense_sc = self.store.dense_search(qvec, depth)
        if articles is not None:
            allowed = np.array([self.store.passages[i].article_id in articles
                                for i in range(n)], dtype=bool)
            keep = allowed[dense_idx]
            dense_idx, dense_sc = dense_idx[keep][: p.candidates], dense_sc[keep][: p.candidates]
        dense = dict(zip(dense_idx.tolist(), dense_sc.tolist()))
        bm = self.store.bm25_scores(tokens) if mode != "dense" else np.zeros(n, np.float32)
        if articles is not None:
            bm = np.where(allowed, bm, 0.0).astype(np.float32)
        bm_max = float(bm.max()) if len(bm) else 0.0
        if mode == "dense":
            cand = list(dense)
        else:
            top_bm = np.argsort(-bm)[: p.candidates]
            cand = list(dict.fromkeys([*dense, *[int(i) for i in top_bm if bm[i] > 0]]))
        if mode == "bm25":
            cand = [int(i) for i in np.argsort(-bm)[: p.candidates] if bm[i] > 0]
        q = qvec.reshape(-1)
        out = []
        for i in cand:
            lo, hi = self.store.sentence_rows(i)
            sent = np.asarray(self.store.sentence_vectors[lo:hi]) @ q if hi > lo else np.zeros(1)
            d = dense.get(i)
            if d is None:
                d = float(self.store.faiss.reconstruct(int(i)) @ q)
            feats = {"dense": d, "sent": float(sent.max()),
                     "bm25": float(bm[i] / bm_max) if bm_max > 0 else 0.0,
                     "bm25_raw": float(bm[i]), "sent_scores": sent}
            if mode == "dense":
                score = d
            elif mode == "bm25":
                score = feats["bm25_raw"]
            else:
                score = p.w_dense * d + p.w_sent * feats["sent"] + p.w_bm25 * feats["bm25"]
            out.append((i, float(score), feats))
        out.sort(key=lambda r: -r[1])
        return out

    # -- quotes ------------------------------------------------------------------------------
    def best_span(self, passage_idx: int, feats: dict, passage_score: float,
                  weights: dict[str, float], kind: str | None,
                  mode: str = "hybrid") -> tuple[int, int, float]:
        """The quote of a passage: its best sentence, with a neighbour when it leans on one."""
        p = self.params
        passage = self.store.passages[passage_idx]
        body = self.store.article_by_id[passage.article_id].body
        total = sum(weights.values()) or 1.0
        best, best_score = 0, -1e9
        for j, (s, e) in enumerate(passage.sentences):
            text = body[s:e]
            stems = set(tokenize(text))
            lex = sum(w for t, w in weights.items() if t in stems) / total
            dense = float(feats["sent_scores"][j]) if j < len(feats["sent_scores"]) else 0.0
            if mode == "dense":
                score = dense
            elif mode == "bm25":
                score = lex
            else:
                score = (p.s_dense * dense + p.s_lex * lex + p.s_type * _type_match(kind, text)
                         + p.s_passage * passage_score)
            if score > best_score:
                best, best_score = j, score
        sents = passage.sentences
        lo = hi = best
        if mode == "hybrid":
            first = body[sents[best][0]:sents[best][1]]
            if best > 0 and _LEANS_BACK.match(first) and \
                    sents[best][1] - sents[best - 1][0] <= QUOTE_BUDGET:
                lo = best - 1
            # A short sentence gets the next one too, while the budget allows.
            if sents[hi][1] - sents[lo][0] < 80 and hi + 1 < len(sents) and \
                    sents[hi + 1][1] - sents[lo][0] <= QUOTE_BUDGET:
                hi += 1
        return sents[lo][0], sents[hi][1], best_score

    def confidence(self, feats: dict, weights: dict[str, float], passage_idx: int) -> float:
        """How sure the best passage answers: cosine evidence plus share of question terms."""
        passage = self.store.passages[passage_idx]
        text = self.store.article_by_id[passage.article_id].body[passage.start:passage.end]
        stems = set(tokenize(text))
        total = sum(weights.values())
        coverage = (sum(w for t, w in weights.items() if t in stems) / total) if total else 0.0
        return 0.5 * max(feats["dense"], feats["sent"]) + 0.5 * coverage

    # -- the answer --------------------------------------------------------------------------
    def ask(self, question: str, k: int = 3, more: int = 7, mode: str | None = None,
            retrieval_text: str | None = None, threshold: float | None = None,
            articles: set[str] | None = None) -> Answer:
        """Answer a question with up to ``k`` cited quotes, or not found."""
        q = clean_question(question)
        text = retrieval_text or q
        qvec = self.embedder.encode_query(text)
        tokens = tokenize(text)
        return self.answer_from(q, text, qvec, tokens, k=k, more=more, mode=mode,
                                threshold=threshold, articles=articles)

    def answer_from(self, question, text, qvec, tokens, k=3, more=7, mode=None,
                    threshold=None, articles=None) -> Answer:
        """The answer for an embedded, tokenized question (eval reuses the vectors)."""
        mode = mode or self.params.mode
        threshold = self.params.threshold if threshold is None else threshold
        ranked = self.rank(text, qvec, tokens, mode=mode, articles=articles)
        weights = self._lexical_weights(tokens)
        if not ranked or self.confidence(ranked[0][2], weights, ranked[0][0]) < threshold:
            return Answer(question=question, answered=False)
        kind = question_type(text)
        top_score = ranked[0][1]
        shown: dict[str, Citation] = {}
        cites: list[Citation] = []
        for i, score, feats in ranked[: k + more + 5]:
            if len(cites) >= k + more:
                break
            passage = self.store.passages[i]
            article = self.store.article_by_id[passage.article_id]
            start, end, s_score = self.best_span(i, feats, score, weights, kind, mode)
            quote = article.body[start:end]
            key = _norm_text(quote)
            ref = ArticleRef(**article.meta())
            if key in shown:  # the same words in another article: "also in"
                if ref.id != shown[key].article.id and ref not in shown[key].also_in:
                    shown[key].also_in.append(ref)
                continue
            c = Citation(id=passage.id, article=ref, quote=quote, start=start, end=end,
                         score=score, paragraph=passage.paragraph)
            shown[key] = c
            cites.append(c)
        main = [c for j, c in enumerate(cites[:k])
                if j == 0 or mode != "hybrid" or c.score >= self.params.relative_cut * top_score]
        rest = [c for c in cites if c not in main]
        return Answer(question=question, answered=True, citations=main, more=rest)
