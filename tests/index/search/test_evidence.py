"""Sentence evidence read off joined stems (quotes.Sentences, quotes.evidence) equals what the
whole sets of stems and word pairs of each sentence say, on invented text with sentences that
lean on the one before, long antecedents quoted from a clause, accents and numbers."""

import math
import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from index.corpus.passages import split_sentences
from index.search.lexical import (
    analyze,
    answer_kind_nouns,
    bigrams,
    idf,
    near_duplicate,
    question_terms,
    question_type,
    tokenize,
)
from index.search.quotes import Query, analyse_passage, coverage, evidence
from index.text import words

# Invented for this test: no real article's text.
PARAGRAPHS = [
    "The Varnholt ferry resumed crossings on 4 May after a winter of repairs. It carries 240 "
    "passengers and twelve cars. Both decks were rebuilt by the Orsk yard, which also painted "
    "the hull.",
    "Mayor Ilse Dunmore, who had promised the crossing would reopen before the spring fair, "
    "spent most of March negotiating with the yard, the harbour board, the regional transport "
    "office, the insurers and two "
    "unions over a schedule that kept slipping week after week; this delay cost the town "
    "its fair. They blamed the insurers.",
    "Şehir meclisi İstanbul’daki feribot için 2,5 milyon lira ayırdı. Bu karar oybirliğiyle "
    "alındı. Les élus ont voté à l’unanimité. Cela reste rare.",
    "However the timetable is short. These crossings run only on weekdays, and the last one "
    "leaves at 18:40. That is earlier than the bus. Such gaps worry commuters; their union "
    "asked for a later crossing.",
    "The the ferry ferry was was late. Ferries were late, later, latest. He said: it is "
    "what it is.",
]
QUESTIONS = [
    "When did the Varnholt ferry resume crossings?",
    "How many passengers does the ferry carry?",
    "Which yard rebuilt the decks?",
    "Who negotiated with the yard over the schedule?",
    "What did the delay cost the town?",
    "Who did they blame?",
    "How much did the İstanbul council set aside for the ferry?",
    "Les élus ont-ils voté à l’unanimité?",
    "When does the last crossing leave?",
    "What worries commuters about the timetable?",
    "ferry late",
    "Which city council funded the ferry?",
    "What is it?",
]


def _reference(body, spans, context, leans, pair_start):
    """The sets the ranking used before (every sentence analysed up front), for the sentences
    that lean on the one before (``leans``: their reference words' matches) and where their
    quotes start (``pair_start``)."""
    texts = [body[s:e] for s, e in spans]
    analysed = [analyze(t) for t in texts]
    # What a leaning sentence says after its reference word and the word that follows.
    rest = [analyze(re.sub(r"^\W*\w+", "", t[m.end():], count=1)) if m else a
            for t, m, a in zip(texts, leans, analysed)]
    ante = [([], frozenset()) if start is None else analysed[k - 1]
            if start == spans[k - 1][0] else analyze(body[start:spans[k - 1][1]])
            for k, start in enumerate(pair_start)]
    return {"content": [c for _, c in analysed],
            "pairs": [bigrams(s) for s, _ in analysed], "lean_content": [c for _, c in rest],
            "lean_pairs": [bigrams(r[0]) for r in rest],
            "ante_content": [c for _, c in ante],
            "ante_pairs": [bigrams(a[0]) if a[0] else set() for a in ante],
            "context_terms": analyze(context)[1], "pair_start": pair_start}


def _reference_evidence(q, ref, spans, cos, vectors):
    m = len(spans)
    ev = {"units": [], "cos": np.zeros(m), "terms": np.zeros(m), "pairs": np.zeros(m),
          "context": np.zeros(m), "terms_named": np.zeros(m)}
    for k in range(m):
        first = k - 1 if ref["pair_start"][k] is not None else k
        c = float(cos[k])
        if first < k and ref["pair_start"][k] == spans[first][0]:
            dot = float(np.dot(vectors[first], vectors[k]))
            c = max(c, float(cos[first] + cos[k]) / math.sqrt(max(1e-6, 2 + 2 * dot)))
        terms = ref["lean_content"][k] | ref["ante_content"][k] if first < k else \
            ref["content"][k]
        pairs = ref["lean_pairs"][k] | ref["ante_pairs"][k] if first < k else ref["pairs"][k]
        ev["units"].append((first, k))
        ev["cos"][k] = c
        ev["terms"][k] = coverage(q, terms)
        ev["terms_named"][k] = coverage(q, terms, q.kind_nouns)
        ev["context"][k] = coverage(q, ref["context_terms"] - terms)
        ev["pairs"][k] = len(q.pairs & pairs) / max(1, len(q.pairs))
    return ev


def _query(text):
    tokens = tokenize(text)
    weights = {t: idf(1 + len(t) % 4, 20) for t in question_terms(tokens)}
    stems, _ = analyze(text)
    return Query(text=text, vec=np.zeros(4, dtype=np.float32), tokens=tokens, weights=weights,
                 pairs=bigrams(stems), kind=question_type(text), asked=set(words(text)),
                 kind_nouns=frozenset(answer_kind_nouns(text)) & weights.keys())


def test_evidence_equals_the_whole_sets():
    body = "\n\n".join(PARAGRAPHS)
    rng = np.random.default_rng(0)
    at, leaning, from_clause, held = 0, 0, 0, 0
    for para in PARAGRAPHS:
        start = body.index(para, at)
        at = start + len(para)
        spans = [(start + s, start + e) for s, e in split_sentences(para)]
        context = "Ferry crossings İstanbul council"
        s = analyse_passage(body, spans, context)
        ref = _reference(body, spans, context, s.leans, s.pair_start)
        for name, want in ref.items():
            assert getattr(s, name) == want, name
        leaning += sum(p is not None for p in ref["pair_start"])
        from_clause += sum(p is not None and p != spans[k - 1][0]
                           for k, p in enumerate(ref["pair_start"]))
        for question in QUESTIONS:
            q = _query(question)
            cos = rng.random(len(spans))
            vectors = rng.standard_normal((len(spans), 4)).astype(np.float32)
            got = evidence(q, analyse_passage(body, spans, context), cos, vectors)
            want = _reference_evidence(q, ref, spans, cos, vectors)
            if not q.kind_nouns:
                del want["terms_named"]
            assert got.keys() == want.keys()
            for key in want:
                assert np.array_equal(got[key], want[key]), (question, key)
            held += int((got["terms"] > 0).sum() + (got["pairs"] > 0).sum())
    # The text exercises what it is for: leaning sentences, one quoted from a clause of its
    # long antecedent, and questions whose terms and pairs the sentences hold.
    assert leaning >= 6 and from_clause >= 1 and held >= 40


WORDS = st.lists(st.sampled_from(["ferry", "dock", "tide", "gull", "rope", "mast", "keel"]),
                 max_size=30).map(tuple)


@settings(max_examples=300, deadline=None)
@given(WORDS, WORDS)
def test_near_duplicate_is_the_word_set_and_length_rule(a, b):
    sa, sb = set(a), set(b)
    want = bool(a and b) and (a == b or (
        len(sa & sb) / len(sa | sb) >= 0.85 and min(len(a), len(b)) / max(len(a), len(b)) >= 0.8))
    assert near_duplicate(a, b) == want


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_words_are_the_lower_cased_word_tokens(text):
    assert words(text) == [w.lower() for w in re.findall(r"\w+", text)]


SENTENCE = st.text(alphabet=st.sampled_from(list("ab Zé’—_9.,\x00İ ")), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(SENTENCE, min_size=1, max_size=4))
def test_sentences_tokenized_together_as_one_by_one(texts):
    """A passage's sentences are tokenized and stemmed in one call (joined by NUL): the same
    stems as each alone, also when a sentence holds a NUL itself."""
    body, spans = "", []
    for t in texts:
        spans.append((len(body), len(body) + len(t)))
        body += t + " "
    s = analyse_passage(body, spans)
    assert s.content == [analyze(t)[1] for t in texts]
    assert s.pairs == [bigrams(analyze(t)[0]) for t in texts]
