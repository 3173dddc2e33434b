"""Search and quote selection: rank passages (dense + BM25, then sentence evidence), quote the
best sentences of the best ones, or say "not found".

Ranking, in two stages (every weight is in SearchParams, measured by `citebot eval`):
1. every candidate passage (the best ``candidates`` by cosine and by BM25) gets a cheap score:
   its cosine, its best sentence's cosine and its BM25 score divided by the question's best;
2. the best ``rerank`` are scored again with sentence evidence. Each sentence, taken with the
   sentence before it when it leans on it ("Both countries…"), is matched to the question: its
   cosine, plus the share of the question's term weight (idf) it holds, plus the share of the
   question's word pairs it holds (SQuAD-style questions reuse the answer sentence's phrases).

The first quote of a passage is its best-matching sentence (preferring, for when / how many /
who questions, one that holds a date, number or name the question does not), widened with the
neighbouring sentences that match best while the quote stays within QUOTE_BUDGET characters.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .answer import Answer, ArticleRef, Citation
from .errors import BadQuestion
from .lexical import (analyze, bigrams, idf, near_duplicate, norm_words,  # noqa: F401
                      question_type, tokenize, type_match, words)
from .store import IndexStore

MAX_QUESTION_CHARS = 1000
QUOTE_BUDGET = 300
# A sentence that leans on the one before ("Both countries…") is never quoted without it: like a
# single long sentence, such a pair may pass QUOTE_BUDGET, up to this length.
PAIR_BUDGET = 450
# A sentence that opens with one of these (within its first words) leans on the one before.
_LEANS_BACK = re.compile(r"^(?:\W*\w+\W+){0,2}?(both|this|these|that|those|they|them|it|its|"
                         r"he|she|him|his|her|their|however|but|despite|such|the two|there|"
                         r"then|also|the latter|the former)\b", re.I)
_AFTER_WORD = re.compile(r"^\W*\w+")
_ANALYSIS_CACHE = 4096  # passages whose sentences stay tokenized between questions


@dataclass
class SearchParams:
    """Every weight of ranking, quoting and "not found", in one place.

    Chosen by measurement on ../shared/eval/squad2-dev-subset.json (`citebot eval`), weights
    fitted on two SQuAD articles and checked on the third, each way round (leave one article
    out; docs/benchmarks.md, "Answer quality", has the figures and commands)."""

    mode: str = "hybrid"           # hybrid | dense | bm25
    candidates: int = 50           # passages taken from each ranking (dense, BM25)
    # Stage 1, every candidate (listwise logistic fit; held-out recall@10 0.99).
    r_dense: float = 0.18          # passage cosine
    r_sent: float = 0.56           # best sentence cosine
    r_bm25: float = 0.26           # BM25 / the question's best BM25
    rerank: int = 10               # passages scored again with sentence evidence
    # Stage 2: `citebot eval --squad … --tune` (leave one article out; held-out recall@1 0.926,
    # answer-in-quote@1 0.907 against 0.928 / 0.911 fitted on all three articles).
    w_dense: float = 0.40          # passage cosine
    w_bm25: float = 0.0            # BM25 / the question's best BM25 (its lexical evidence is
                                   # already in the match; every fold chose 0)
    w_match: float = 0.60          # best unit match: cosine + m_lex * terms + m_phrase * pairs
    m_lex: float = 1.0             # share of the question's idf weight the unit holds
    m_phrase: float = 0.5          # share of the question's word pairs the unit holds
    # Quotes.
    q_type: float = 0.3            # the sentence holds a date / number / name the question asks for
    grow: bool = True              # widen the quote with matching neighbours within the budget
    pair_margin: float = 0.2       # ...past the budget, a leaning pair must beat its antecedent
                                   # alone by this (a fifth of a full term match)
    # "Not found": calibrated by `citebot eval` (answerable vs off-topic questions).
    threshold: float = 0.54        # SQuAD subset: answerable answered 99.6%, off-topic refused
                                   # 99.6% (and all general); seed corpus: on-topic >= 0.76,
                                   # off-topic <= 0.44
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


def unit_match(p: SearchParams, ev: dict) -> np.ndarray:
    """How well each sentence unit of a passage matches the question (see Searcher.evidence)."""
    return ev["cos"] + p.m_lex * ev["terms"] + p.m_phrase * ev["pairs"]


def stage1_score(p: SearchParams, dense, sent, bm25):
    """Cheap score of every candidate: passage cosine, best sentence cosine, relative BM25."""
    return p.r_dense * dense + p.r_sent * sent + p.r_bm25 * bm25


def stage2_score(p: SearchParams, dense: float, bm25: float, best_match: float) -> float:
    """Score of a reranked passage: passage cosine, relative BM25, its best unit's match."""
    return p.w_dense * dense + p.w_bm25 * bm25 + p.w_match * best_match


def confidence_of(p: SearchParams, dense: float, best_match: float) -> float:
    """The stage-2 score without its BM25 part, which is relative to the question's best
    passage and so cannot tell an off-topic question: what "not found" is decided on."""
    return max(0.0, (p.w_dense * dense + p.w_match * best_match) / (p.w_dense + p.w_match))


@dataclass
class Query:
    """A question, embedded and analysed once."""

    text: str
    vec: np.ndarray                 # (dim,)
    tokens: list[str]               # content stems, as BM25 indexes them
    weights: dict[str, float]       # idf of each distinct content stem
    pairs: set[tuple[str, str]]     # adjacent stems, stop words included
    kind: str | None
    asked: set[str]                 # lower-cased words of the question


@dataclass
class _Sentences:
    """A passage's sentences, tokenized (cached between questions)."""

    spans: list[tuple[int, int]]
    texts: list[str]
    content: list[frozenset[str]]
    pairs: list[set[tuple[str, str]]]
    leans: list[bool]
    # A leaning sentence without its reference ("Both countries", "This hypothesis"): what it
    # adds to its antecedent. The reference names the antecedent's subject again; it is no
    # evidence of its own.
    lean_content: list[frozenset[str]]
    lean_pairs: list[set[tuple[str, str]]]
    passage_terms: frozenset[str]   # content stems of the passage, its title and heading


class Searcher:
    """Answers questions from one loaded index with one question embedder."""

    def __init__(self, store: IndexStore, embedder, params: SearchParams | None = None):
        self.store = store
        self.embedder = embedder
        self.params = params or SearchParams()
        self.n_docs = max(1, len(store.passages))
        self._analysis: OrderedDict[int, _Sentences] = OrderedDict()

    # -- the question ------------------------------------------------------------------------
    def query(self, text: str, qvec: np.ndarray, tokens: list[str] | None = None) -> Query:
        """Everything ranking needs to know about a question."""
        tokens = tokenize(text) if tokens is None else tokens
        df = self.store.doc_freq
        weights = {t: idf(df.get(t, 0), self.n_docs) for t in dict.fromkeys(tokens)}
        stems, _ = analyze(text)
        return Query(text=text, vec=np.asarray(qvec, dtype=np.float32).reshape(-1),
                     tokens=tokens, weights=weights, pairs=bigrams(stems),
                     kind=question_type(text), asked=set(words(text)))

    # -- sentences of a passage --------------------------------------------------------------
    def sentences(self, i: int) -> _Sentences:
        """Passage ``i``'s sentences with their stems (kept for the next questions)."""
        got = self._analysis.get(i)
        if got is not None:
            self._analysis.move_to_end(i)
            return got
        passage = self.store.passages[i]
        article = self.store.article_by_id[passage.article_id]
        body = article.body
        texts = [body[s:e] for s, e in passage.sentences]
        analysed = [analyze(t) for t in texts]
        leans = [_LEANS_BACK.match(t) for t in texts]
        # The rest of a leaning sentence after its reference word and the word that follows.
        rest = [analyze(_AFTER_WORD.sub("", t[m.end():], count=1)) if m else a
                for t, m, a in zip(texts, leans, analysed)]
        context = analyze(f"{article.title} {passage.heading or ''}")[1]
        got = _Sentences(spans=list(passage.sentences), texts=texts,
                         content=[c for _, c in analysed],
                         pairs=[bigrams(s) for s, _ in analysed],
                         leans=[bool(m) for m in leans],
                         lean_content=[c for _, c in rest],
                         lean_pairs=[bigrams(s) for s, _ in rest],
                         passage_terms=frozenset().union(context, *(c for _, c in analysed)))
        self._analysis[i] = got
        if len(self._analysis) > _ANALYSIS_CACHE:
            self._analysis.popitem(last=False)
        return got

    def _coverage(self, q: Query, terms) -> float:
        total = sum(q.weights.values())
        return sum(w for t, w in q.weights.items() if t in terms) / total if total else 0.0

    def evidence(self, q: Query, i: int, cos: np.ndarray) -> dict:
        """What each sentence of passage ``i`` says for the question, as arrays over sentences:
        its unit (the sentence, with the one before when it leans on it), the unit's cosine,
        share of the question's term weight and share of the question's word pairs."""
        s = self.sentences(i)
        lo, _ = self.store.sentence_rows(i)
        n_pairs = max(1, len(q.pairs))
        m = len(s.texts)
        ev = {"units": [], "cos": np.zeros(m), "terms": np.zeros(m), "pairs": np.zeros(m)}
        for k in range(m):
            first = k - 1 if (k > 0 and s.leans[k]
                              and s.spans[k][1] - s.spans[k - 1][0] <= PAIR_BUDGET) else k
            c = float(cos[k])
            if first < k:
                # The cosine of the two sentences together, from their vectors.
                v = self.store.sentence_vectors
                dot = float(np.dot(v[lo + first], v[lo + k]))
                c = max(c, float(cos[first] + cos[k]) / math.sqrt(max(1e-6, 2 + 2 * dot)))
            terms = s.lean_content[k] | s.content[first] if first < k else s.content[k]
            pairs = s.lean_pairs[k] | s.pairs[first] if first < k else s.pairs[k]
            ev["units"].append((first, k))
            ev["cos"][k] = c
            ev["terms"][k] = self._coverage(q, terms)
            ev["pairs"][k] = len(q.pairs & pairs) / n_pairs
        return ev

    # -- ranking -----------------------------------------------------------------------------
    def _sentence_cosines(self, cand: np.ndarray, qvec: np.ndarray):
        """Cosine of every sentence of the candidate passages, and each passage's best."""
        offsets = self.store.sentence_offsets
        lo, hi = offsets[cand], offsets[cand + 1]
        counts = hi - lo
        rows = np.repeat(lo - np.cumsum(np.r_[0, counts[:-1]]), counts) + np.arange(counts.sum())
        cos = (np.asarray(self.store.sentence_vectors[rows]) @ qvec) if len(rows) else np.zeros(0)
        starts = np.cumsum(np.r_[0, counts[:-1]])
        best = np.full(len(cand), -1.0)
        has = counts > 0
        if has.any():
            best[has] = np.maximum.reduceat(cos, starts[has])
        return cos, starts, counts, best

    def rank(self, q: Query, mode: str | None = None, articles: set[str] | None = None,
             rerank: int | None = None) -> list[tuple[int, float, dict]]:
        """Passages for a question, best first: (passage index, score, features).

        ``articles``, when given, keeps only passages of those article ids (--since, --source);
        ``rerank``: how many get the second stage (default SearchParams.rerank).
        """
        p = self.params
        mode = mode or p.mode
        n = len(self.store.passages)
        # With a filter, search deeper so that enough allowed passages remain.
        depth = n if articles is not None else min(n, p.candidates)
        dense_idx, dense_sc = self.store.dense_search(q.vec, depth)
        allowed = None
        if articles is not None:
            allowed = np.array([self.store.passages[i].article_id in articles
                                for i in range(n)], dtype=bool)
            keep = allowed[dense_idx]
            dense_idx, dense_sc = dense_idx[keep][: p.candidates], dense_sc[keep][: p.candidates]
        dense = dict(zip(dense_idx.tolist(), dense_sc.tolist()))
        bm = self.store.bm25_scores(q.tokens) if mode != "dense" and q.tokens else \
            np.zeros(n, np.float32)
        if allowed is not None:
            bm = np.where(allowed, bm, 0.0).astype(np.float32)
        hits = np.flatnonzero(bm)
        if len(hits) > p.candidates:
            hits = hits[np.argpartition(-bm[hits], p.candidates - 1)[: p.candidates]]
        hits = hits[np.argsort(-bm[hits], kind="stable")]
        if mode == "bm25":
            cand = hits.tolist()
        elif mode == "dense":
            cand = list(dense)
        else:
            cand = list(dict.fromkeys([*dense, *hits.tolist()]))
        if not cand:
            return []
        cand_arr = np.asarray(cand, dtype=np.int64)
        d = np.array([dense[i] if i in dense
                      else float(self.store.faiss.reconstruct(int(i)) @ q.vec) for i in cand],
                     dtype=np.float64)
        bm_c = bm[cand_arr].astype(np.float64)
        bm_max = float(bm_c.max()) if len(bm_c) else 0.0
        bn = bm_c / bm_max if bm_max > 0 else np.zeros(len(cand))
        cos, starts, counts, best = self._sentence_cosines(cand_arr, q.vec)
        best = np.where(counts > 0, best, d)
        if mode == "dense":
            score = d
        elif mode == "bm25":
            score = bm_c
        else:
            score = stage1_score(p, d, best, bn)
        feats = [{"dense": float(d[j]), "sent": float(best[j]), "bm25": float(bn[j]),
                  "bm25_raw": float(bm_c[j]),
                  "sent_scores": cos[starts[j]:starts[j] + counts[j]]} for j in range(len(cand))]
        order = np.argsort(-score, kind="stable")
        out = [(cand[j], float(score[j]), feats[j]) for j in order]
        if mode != "hybrid":
            return out
        # Stage 2: the best few again, with what their sentences say.
        head = out[: max(1, rerank or p.rerank)]
        for j, (i, _, f) in enumerate(head):
            f["evidence"] = self.evidence(q, i, f["sent_scores"])
            f["match"] = unit_match(p, f["evidence"])
            best_match = float(f["match"].max()) if len(f["match"]) else 0.0
            head[j] = (i, stage2_score(p, f["dense"], f["bm25"], best_match), f)
        head.sort(key=lambda r: -r[1])
        return head + out[len(head):]

    # -- quotes ------------------------------------------------------------------------------
    def best_span(self, q: Query, passage_idx: int, feats: dict,
                  mode: str = "hybrid") -> tuple[int, int, int, int]:
        """The quote of a passage: (start, end, first, last sentence of its core unit)."""
        p, s = self.params, self.sentences(passage_idx)
        spans = s.spans
        if mode == "dense":
            k = int(np.argmax(feats["sent_scores"]))
            return spans[k][0], spans[k][1], k, k
        if mode == "bm25":
            cover = [self._coverage(q, c) for c in s.content]
            k = int(np.argmax(cover))
            return spans[k][0], spans[k][1], k, k
        if "evidence" not in feats:
            feats["evidence"] = self.evidence(q, passage_idx, feats["sent_scores"])
            feats["match"] = unit_match(p, feats["evidence"])
        match, units = feats["match"], feats["evidence"]["units"]
        pick = match.copy()
        if q.kind:
            for k, (a, b) in enumerate(units):
                text = " ".join(s.texts[a:b + 1])
                pick[k] += p.q_type * type_match(q.kind, text, q.asked)
        k = int(np.argmax(pick))
        # A sentence taken with its antecedent past the budget must add clearly to what the
        # antecedent says alone; otherwise the antecedent is the quote.
        while units[k][0] < k and pick[units[k][0]] >= pick[k] - (
                p.pair_margin if spans[k][1] - spans[units[k][0]][0] > QUOTE_BUDGET else 0.0):
            k = units[k][0]
        lo, hi = units[k]
        core = (lo, hi)
        while p.grow:  # widen with the better-matching neighbour while the budget allows
            options = []
            if lo > 0 and spans[hi][1] - spans[lo - 1][0] <= QUOTE_BUDGET:
                options.append((match[lo - 1], -1))
            if hi + 1 < len(spans) and spans[hi + 1][1] - spans[lo][0] <= QUOTE_BUDGET:
                options.append((match[hi + 1], 1))
            if not options:
                break
            if max(options)[1] < 0:
                lo -= 1
            else:
                hi += 1
        return spans[lo][0], spans[hi][1], core[0], core[1]

    def confidence(self, ranked) -> float:
        """How sure the best passage answers (confidence_of), 0 when nothing was ranked."""
        if not ranked:
            return 0.0
        _, _, f = ranked[0]
        match = f.get("match")
        best = float(match.max()) if match is not None and len(match) else f["sent"]
        return confidence_of(self.params, f["dense"], best)

    # -- the answer --------------------------------------------------------------------------
    def ask(self, question: str, k: int = 3, more: int = 7, mode: str | None = None,
            retrieval_text: str | None = None, threshold: float | None = None,
            articles: set[str] | None = None) -> Answer:
        """Answer a question with up to ``k`` cited quotes, or not found."""
        q = clean_question(question)
        text = retrieval_text or q
        qvec = self.embedder.encode_query(text)
        return self.answer_from(q, text, qvec, tokenize(text), k=k, more=more, mode=mode,
                                threshold=threshold, articles=articles)

    def answer_from(self, question, text, qvec, tokens, k=3, more=7, mode=None,
                    threshold=None, articles=None) -> Answer:
        """The answer for an embedded, tokenized question (eval reuses the vectors)."""
        mode = mode or self.params.mode
        threshold = self.params.threshold if threshold is None else threshold
        q = self.query(text, qvec, tokens)
        p = self.params
        # Every passage that may be shown is scored fully.
        ranked = self.rank(q, mode=mode, articles=articles, rerank=max(p.rerank, k + more))
        if not ranked:
            return Answer(question=question, answered=False, confidence=0.0)
        conf = self.confidence(ranked)
        if conf < threshold:
            return Answer(question=question, answered=False, confidence=conf)
        top_score = ranked[0][1]
        shown: list[tuple[tuple[str, ...], tuple[str, ...], Citation]] = []
        cites: list[Citation] = []
        for i, score, feats in ranked[: k + more + 5]:
            if len(cites) >= k + more:
                break
            passage = self.store.passages[i]
            article = self.store.article_by_id[passage.article_id]
            start, end, first, last = self.best_span(q, i, feats, mode)
            s = self.sentences(i)
            core = norm_words(article.body[s.spans[first][0]:s.spans[last][1]])
            whole = norm_words(article.body[start:end])
            ref = ArticleRef(**article.meta())
            twin = next((c for c_core, c_whole, c in shown
                         if near_duplicate(core, c_core) or near_duplicate(whole, c_whole)), None)
            if twin is not None:  # the same words in another article: "also in"
                if ref.id != twin.article.id and ref not in twin.also_in:
                    twin.also_in.append(ref)
                continue
            c = Citation(id=passage.id, article=ref, quote=article.body[start:end], start=start,
                         end=end, score=score, paragraph=passage.paragraph)
            shown.append((core, whole, c))
            cites.append(c)
        main = [c for j, c in enumerate(cites[:k])
                if j == 0 or mode != "hybrid" or c.score >= p.relative_cut * top_score]
        rest = [c for c in cites if c not in main]
        return Answer(question=question, answered=True, citations=main, more=rest,
                      confidence=conf)
