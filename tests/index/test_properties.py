"""Property-based tests (hypothesis) on the invariants every quote and sentence must keep."""

import string

from conftest import assert_exact_quotes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.corpus.passages import split_sentences
from index.errors import BadQuestion
from index.search.params import MAX_QUESTION_CHARS, clean_question
from index.search.quotes import QUOTE_BUDGET

PROSE = st.text(alphabet=st.sampled_from(list(string.ascii_letters[:8] + " .?!\n\"”’U.S.Mr 12,3$:;—")),
                max_size=300)
ANY_TEXT = st.text(max_size=300)


def _check_spans(text):
    spans = split_sentences(text)
    prev = 0
    for s, e in spans:
        assert prev <= s < e <= len(text)
        assert text[s:e] == text[s:e].strip()
        prev = e
    covered = {i for s, e in spans for i in range(s, e)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


@settings(max_examples=200, deadline=None)
@given(PROSE)
def test_sentence_spans_are_ordered_trimmed_and_cover_every_word(text):
    _check_spans(text)


@settings(max_examples=100, deadline=None)
@given(ANY_TEXT)
def test_sentence_spans_on_any_unicode(text):
    _check_spans(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=1200))
def test_clean_question_accepts_or_refuses_clearly(text):
    try:
        q = clean_question(text)
    except BadQuestion as exc:
        assert str(exc)
        return
    assert q and q == q.strip() and len(q) <= MAX_QUESTION_CHARS
    assert "\x00" not in q and "\u200b" not in q


QUESTION_WORDS = st.sampled_from(["who", "when", "how many", "Kenya", "police", "funding",
                                  "veto", "court", "<b>x</b>", "&amp;", "*bold*", "Haïti",
                                  "مرحبا", "警察", "🙂", "\u200f", "2024", "$21", "mission"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(QUESTION_WORDS, min_size=1, max_size=8).map(" ".join))
def test_every_answer_quotes_the_article_exactly(seed_bot, seed_dir, question):
    try:
        answer = seed_bot.ask(question, k=3)
    except BadQuestion:
        return
    cites = answer.citations + answer.more
    assert answer.answered == bool(answer.citations)
    assert_exact_quotes(cites, seed_dir)
    for c in cites:
        passage = seed_bot.store.passages[seed_bot.store.passage_by_id[c.id]]
        single = any(e - s == c.end - c.start for s, e in passage.sentences)
        assert c.end - c.start <= QUOTE_BUDGET or single
