"""The weights of ranking, quoting and "not found" (SearchParams), the scores built from them,
and the checks a question passes before it is searched."""

from __future__ import annotations

from dataclasses import dataclass

from ..text import checked, question_text
from .quotes import Query, unit_match

MAX_QUESTION_CHARS = 1000


@dataclass
class SearchParams:
    """Every weight of ranking, quoting and "not found", in one place.

    Measured on ../shared/eval/squad2-dev-subset.json (3 Wikipedia articles, 473 answerable
    questions) with `citebot eval`; docs/benchmarks.md, "Answer quality", has the figures and
    the commands that reproduce them. Figures below: passage recall@1 / answer-in-quote@1."""

    mode: str = "hybrid"           # hybrid | dense | bm25
    candidates: int = 50           # passages taken from each ranking (dense, BM25)
    # Stage 1 only picks the passages stage 2 sees (recall@10 0.99): a listwise logistic fit of
    # these three features, leave-one-article-out recall@1 0.88 on its own.
    r_dense: float = 0.18          # passage cosine
    r_sent: float = 0.56           # best sentence cosine
    r_bm25: float = 0.26           # BM25 / the question's best BM25
    rerank: int = 10               # passages scored again with sentence evidence
    # Stage 2 and quotes: the grid of `citebot eval --squad … --tune` (tuning.py). Leaving one
    # article out, the grid's choice scores 0.909 / 0.882 on the article left out; these values
    # score 0.920 / 0.896 on all three, the grid's best there 0.924 / 0.903 (a difference below
    # the spread between neighbouring settings, so the values of the first round were kept).
    w_dense: float = 0.40          # passage cosine
    w_bm25: float = 0.0            # BM25 / the question's best BM25 (its lexical evidence is in
                                   # the match; 0 to 0.1 score alike)
    w_match: float = 0.60          # best unit match: cosine + m_lex * terms + m_phrase * pairs
    m_lex: float = 1.0             # share of the question's idf weight the unit holds
    m_phrase: float = 0.5          # share of the question's word pairs the unit holds
    w_type: float = 0.0            # stage 2: the share of the quote's type bonus (q_type_*) that
                                   # counts for the passage
    m_context: float = 0.5         # terms held only by the article's title, as a share of m_lex
    q_type: float = 0.3            # the unit holds a date / number / name the question asks for
    q_type_place: float = 0.3      # … a place name ("Where…", "Which city…")
    q_type_entity: float = 0.15    # … a name, title or figure ("Which measure…", "What film…")
    grow: bool = True              # widen the quote with matching neighbours within the budget:
                                   # answer-in-quote@1 0.85 -> 0.89
    wh_noun: float = 1.0           # weight share of the noun after what/which ("Which city…"):
                                   # it names the kind of answer, which the answer replaces
    pair_margin: float = 0.2       # a leaning sentence quoted with only the end of the one before
                                   # must beat that whole sentence alone by this much
    # "Not found" (confidence_of): `citebot eval` prints the calibrated threshold. SQuAD subset:
    # answerable answered 99.4%, other articles' questions refused 99.6%, the general ones all;
    # seed corpus (tests/index/search/test_search.py): on-topic >= 0.63, off-topic <= 0.44, vague
    # follow-ups ("How many officers were in it?") <= 0.45.
    min_terms: int = 2             # question terms for the term share to count
    threshold: float = 0.54
    relative_cut: float = 0.80     # further citations need this share of the first one's score
    # Time (timeframe.py), measured on news (`citebot eval --news`): a bonus added to both
    # stages' scores, t_* times a passage's recency 1 / (1 + age / t_tau days) for questions
    # about the present (t_any for the others), t_period when its article is of the period the
    # question names. Articles published after the moment asked about are never used.
    t_tau: float = 30.0
    t_present: float = 0.3
    t_any: float = 0.2
    t_period: float = 0.15
    cross: bool = True             # quotes may go on into the neighbouring paragraphs
    window: bool = True            # news: the first quote is the window likeliest to hold
                                   # the answer (window.py)
    newest_first: bool = True      # present-tense: the first quotes' newest article first


def clean_question(question: str) -> str:
    """Validate and normalize a question; raises BadQuestion with a readable reason."""
    return checked(question, question_text, MAX_QUESTION_CHARS, "the question", "the question",
                   "search for")


# A short question with one of these leans on an earlier one ("How many were in it?"): its
# few words are no search of their own.
_VAGUE = frozenset({"it", "its", "they", "them", "their", "he", "she", "him", "his", "her",
                    "this", "that", "these", "those", "there", "one"})
_ASKING = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "why", "how",
                     "is", "are", "was", "were", "do", "does", "did", "can", "could", "will",
                     "would", "should", "has", "have", "had"})


def is_search(q: Query) -> str | None:
    """"keywords": a few words to look up ("veto", "Kenya funding"), answered by the passages
    that hold all of them; "short": a question naming one or two things without leaning on an
    earlier one ("What is the MSS?"), answered when a passage holds them, however little else
    it shares with the question; None otherwise."""
    if not q.weights or len(q.weights) > 3 or q.asked & _VAGUE:
        return None
    words = q.text.split()
    if len(words) <= 4 and not q.text.endswith("?") and \
            words[0].lower().strip("¿¡") not in _ASKING:
        return "keywords"
    return "short" if len(q.weights) <= 2 else None


def stage1_score(p: SearchParams, dense, sent, bm25):
    """Cheap score of every candidate: passage cosine, best sentence cosine, relative BM25."""
    return p.r_dense * dense + p.r_sent * sent + p.r_bm25 * bm25


def stage2_score(p: SearchParams, dense: float, bm25: float, best_match: float) -> float:
    """Score of a reranked passage: passage cosine, relative BM25, its best unit's match."""
    return p.w_dense * dense + p.w_bm25 * bm25 + p.w_match * best_match


def confidence_of(p: SearchParams, dense: float, ev: dict, k: int, n_terms: int) -> float:
    """How sure the best passage answers, from its best unit ``k``: the stage-2 score without
    its BM25 part (relative to the question's best passage, it cannot tell an off-topic
    question), and without the share of question terms when the question names fewer than
    ``min_terms`` things: "How many officers were in it?" is not answered by any sentence
    that says "officers" (its meaning and shared phrases still count)."""
    if "terms_named" in ev:
        ev = {**ev, "terms": ev["terms_named"]}
    match = unit_match(p, ev, terms=n_terms >= p.min_terms, context=False)[k]
    return max(0.0, (p.w_dense * dense + p.w_match * float(match)) / (p.w_dense + p.w_match))
