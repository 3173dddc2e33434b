"""Answers from the real model and the real FAISS index of the seed corpus."""

import pytest
from conftest import assert_exact_quotes

from index.errors import BadQuestion
from index.search.lexical import question_type
from index.search.params import clean_question

# (question, article, words the first quote must hold): written for this suite, not tuned on.
ON_TOPIC = [
    ("How many Kenyan police officers arrived in the first contingent?", "mss-deployment",
     "approximately 200"),
    ("When did the first Kenyan police officers arrive in Haiti?", "mss-deployment", "June 25"),
    ("How much money has the UN-backed trust fund raised?", "mss-deployment", "$21 million"),
    ("When did a Kenyan court rule the deployment unconstitutional?", "mss-deployment",
     "January 26, 2024"),
    ("Which party filed a new appeal to block the deployment?", "mss-deployment",
     "Third Voice Alliance"),
    ("How many security personnel is the mission planned to have?", "mss-deployment", "2,500"),
    ("Which resolution renewed the mission's authorization?", "mss-renewal", "2751"),
    ("How many police officers did Kenya pledge to send?", "mss-renewal", "1,000"),
    ("Which countries threatened a veto?", "mss-renewal", "China and Russia"),
    ("When did the Haitian government request international assistance?", "mss-renewal",
     "October 2022"),
]

OFF_TOPIC = [
    "Who won the 2022 World Cup?",
    "What is the capital of France?",
    "How do I bake sourdough bread?",
    "What is the boiling point of water at sea level?",
    "Who painted the Mona Lisa?",
]


@pytest.mark.parametrize("question,article,needle", ON_TOPIC)
def test_answer_is_in_first_quote(seed_bot, seed_dir, question, article, needle):
    answer = seed_bot.ask(question)
    assert answer.answered
    first = answer.citations[0]
    assert first.article.id == article
    assert needle in first.quote
    assert 1 <= len(answer.citations) <= 3
    assert_exact_quotes(answer.citations + answer.more, seed_dir)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_is_not_found(seed_bot, question):
    answer = seed_bot.ask(question)
    assert not answer.answered and answer.citations == []


def test_quotes_are_whole_sentences_within_budget(seed_bot, seed_dir):
    for question, _, _ in ON_TOPIC:
        for c in seed_bot.ask(question, k=3).citations:
            # A quote may go on into the neighbouring paragraphs (news paragraphs are short),
            # always from a sentence start to a sentence end of its article.
            store = seed_bot.store
            sentences = [sp for i in store.article_rows(c.article.id)
                         for sp in store.passages[i].sentences]
            starts = {s for s, _ in sentences}
            ends = {e for _, e in sentences}
            assert c.start in starts and c.end in ends
            single = any(e - s == c.end - c.start for s, e in sentences)
            assert c.end - c.start <= 300 or single


def test_leaning_sentence_brings_its_antecedent(seed_bot):
    answer = seed_bot.ask("Why did China and Russia oppose a peacekeeping operation?")
    quote = answer.citations[0].quote
    assert "Both countries" in quote and "China and Russia" in quote


@pytest.mark.parametrize("bad", ["", "   \n\t", "\x00\u200b\u200f", "🙂🙂🙂", "x" * 1001])
def test_bad_questions_are_refused(bad):
    with pytest.raises(BadQuestion):
        clean_question(bad)


def test_odd_unicode_is_cleaned():
    assert clean_question("  Who\u200b led\x00 the   mission?\u202e ") == "Who led the mission?"


def test_question_types():
    assert question_type("When did it start?") == "when"
    assert question_type("How many officers?") == "number"
    assert question_type("Who leads it?") == "name"
    assert question_type("Why?") is None
    # Asking for a name without "who": what something is called
    for q in ("The town has a new ferry. What is it called?", "What is the tram called?",
              "What is the name of the new ferry?", "What is the title of her book?",
              "What is its name?"):
        assert question_type(q) == "name", q
    assert question_type("What is the biggest threat?") is None


# Two articles that carry the same sentence (wire copy), in different paragraphs and company.
SHARED = ("The bridge over the Artibonite river reopened on 3 March after repairs costing "
          "4 million dollars.")
TWINS = {
    "bridge-local": ("Bridge reopens", "Traffic returned to the valley road this week. "
                     + SHARED + "\n\nFarmers said the closure had cut them off from markets."),
    "bridge-wire": ("Artibonite: works completed", "Officials inspected the site on Friday."
                    "\n\n" + SHARED.replace("river", "River").replace(" 3 March", " 3 March,")
                    + " Engineers will check it again in a year."),
}


def test_near_duplicate_quotes_are_shown_once_with_also_in(embedder, tmp_path):
    from index.config import resolve
    from index.corpus.articles import Article, write_article
    from index.engine import Citebot

    for aid, (title, body) in TWINS.items():
        write_article(tmp_path / "corpus", Article(id=aid, title=title, body=body))
    bot = Citebot(resolve(corpus=tmp_path / "corpus", index=tmp_path / "index"), embedder=embedder)
    bot.build()
    answer = bot.ask("When did the bridge over the Artibonite river reopen?", k=3)
    assert answer.answered
    first = answer.citations[0]
    assert "3 March" in first.quote
    other = ({"bridge-local", "bridge-wire"} - {first.article.id}).pop()
    assert [a.id for a in first.also_in] == [other]
    shown = answer.citations + answer.more
    assert sum("Artibonite" in c.quote for c in shown) == 1
    assert_exact_quotes(shown, tmp_path / "corpus")
    assert first.to_dict()["also_in"][0]["id"] == other


def test_near_duplicate_rule():
    from index.search.lexical import near_duplicate
    from index.text import norm_words

    a = norm_words("The bridge over the Artibonite river reopened on 3 March.")
    assert near_duplicate(a, norm_words("the bridge over the Artibonite River reopened, on 3 March"))
    assert near_duplicate(a, norm_words("The bridge over the Artibonite river finally reopened "
                                         "on 3 March."))
    assert not near_duplicate(a, norm_words("The bridge over the Artibonite river closed on "
                                            "3 March for repairs costing 4 million dollars."))
    assert not near_duplicate(a, ())
