"""Follow-up questions (index/search/conversation.py) and the CLI prompt that uses them."""

from __future__ import annotations

import pytest
from conftest import assert_exact_quotes

from index.errors import BadQuestion
from index.search.conversation import Conversations, content_words, is_follow_up

FIRST = "When did the first Kenyan contingent arrive?"
FOLLOW = "How many officers were in it?"


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.mark.parametrize("question", [FOLLOW, "When?", "And when?", "What about Kenya?",
                                      "Who leads it?", "Where did they come from?",
                                      "What did the court decide about it?"])
def test_short_questions_that_refer_back_are_follow_ups(question):
    assert is_follow_up(question)


@pytest.mark.parametrize("question", [FIRST, "Who is Brian A. Nichols?",
                                      "Which countries threatened a veto?", "What is the MSS?",
                                      "Why did China and Russia threaten a veto over the "
                                      "peacekeeping force proposal?", ""])
def test_questions_that_stand_alone_are_not(question):
    assert not is_follow_up(question)


def test_content_words_drop_question_and_pronoun_words():
    assert content_words(FIRST) == ["first", "kenyan", "contingent", "arrive"]
    assert content_words(FOLLOW) == ["officers"]


def test_follow_up_is_answered_in_context_and_says_so(seed_bot, seed_dir):
    alone = seed_bot.ask(FOLLOW)
    assert not alone.answered  # on its own the question names nothing the articles hold
    talk = Conversations()
    first = talk.ask(seed_bot, "chat", FIRST)
    assert first.answered and first.context is None
    answer = talk.ask(seed_bot, "chat", FOLLOW)
    assert answer.answered
    assert answer.context == FIRST
    assert answer.question == FOLLOW
    assert "200 specialized Kenyan police officers" in answer.citations[0].quote
    assert_exact_quotes(answer.citations + answer.more, seed_dir)
    assert answer.to_dict()["context"] == FIRST


def test_context_is_per_key_and_forgotten_by_new_and_by_time(seed_bot):
    clock = Clock()
    talk = Conversations(window_s=300, clock=clock)
    talk.ask(seed_bot, "a", FIRST)
    assert talk.ask(seed_bot, "b", FOLLOW).context is None  # another chat: no context
    assert talk.forget("a") is True
    assert talk.ask(seed_bot, "a", FOLLOW).context is None
    talk.ask(seed_bot, "a", FIRST)
    clock.t += 301
    assert talk.previous("a") is None
    assert not talk.ask(seed_bot, "a", FOLLOW).answered


def test_a_chain_of_follow_ups_keeps_the_topic(seed_bot, seed_dir):
    talk = Conversations()
    talk.ask(seed_bot, "k", FIRST)
    talk.ask(seed_bot, "k", FOLLOW)
    third = talk.ask(seed_bot, "k", "And when did they arrive?")
    assert third.answered and third.context == FOLLOW
    assert "June 25" in third.citations[0].quote
    assert_exact_quotes(third.citations, seed_dir)


def test_a_new_standalone_question_replaces_the_topic(seed_bot):
    talk = Conversations()
    talk.ask(seed_bot, "k", FIRST)
    answer = talk.ask(seed_bot, "k", "Which countries threatened a veto?")
    assert answer.context is None
    assert talk.previous("k").question == "Which countries threatened a veto?"


def test_follow_up_not_found_in_context_is_tried_alone(seed_bot):
    talk = Conversations()
    talk.ask(seed_bot, "k", "Who won the 2022 World Cup?")
    answer = talk.ask(seed_bot, "k", "Who is Brian A. Nichols then?")
    assert answer.answered and answer.context is None
    assert "Brian A. Nichols" in answer.citations[0].quote


def test_bad_questions_raise_and_leave_context_alone(seed_bot):
    talk = Conversations()
    talk.ask(seed_bot, "k", FIRST)
    with pytest.raises(BadQuestion):
        talk.ask(seed_bot, "k", "   ")
    assert talk.previous("k").question == FIRST


def test_memory_is_bounded():
    talk = Conversations(max_keys=3)
    for i in range(10):
        talk.remember(i, f"question {i}", ["topic"])
    assert [talk.previous(i) is not None for i in range(10)] == [False] * 7 + [True] * 3


def test_cli_prompt_reads_follow_ups_and_new(seed_bot, monkeypatch, capsys):
    from bot.cli.prompt import interactive

    lines = iter([FIRST, FOLLOW, "/new", FOLLOW, ""])
    monkeypatch.setattr("builtins.input", lambda _prompt="": next(lines))
    interactive(seed_bot)
    out = capsys.readouterr()
    answers = out.out.split("1. ")
    assert "(read as a follow-up to: When did the first Kenyan contingent arrive?)" in out.out
    assert out.out.count("read as a follow-up") == 1
    assert "200 specialized Kenyan" in answers[-1]
    last = out.out.rstrip().splitlines()[-1]  # /new: the follow-up alone is not found
    assert last.startswith("Not found in the articles. The articles cover: ")
    assert "UN Security Council renews" in last and "Delays and obstacles" in last
    assert "new topic" in out.err


def test_cli_prompt_not_found_lists_only_articles_in_scope(seed_bot, monkeypatch, capsys):
    """`citebot ask --source X` then the prompt: "not found" names the articles in scope only
    (the prompt used to list every article, whatever --since/--source said)."""
    from bot.cli.prompt import interactive

    monkeypatch.setattr(seed_bot, "scope", {"source": "the clarity times"})
    lines = iter(["What is the price of tea in Lisbon?", ""])
    monkeypatch.setattr("builtins.input", lambda _prompt="": next(lines))
    interactive(seed_bot)
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert last.startswith("Not found in the articles. The articles cover: ")
    assert "UN Security Council renews" in last and "Delays and obstacles" not in last
    monkeypatch.setattr(seed_bot, "scope", {})
    assert [a.id for a in seed_bot.articles_covered()] == ["mss-deployment", "mss-renewal"]
