"""The Telegram bot end to end: the real python-telegram-bot Application against a fake Bot API
server on 127.0.0.1 (tests/support/fake_bot_api.py), answering with the session's real index and
model.
Limits, faults, secrets and the webhook: tests/bot/telegram/test_ops.py.
"""

from __future__ import annotations

import re

from conftest import assert_exact_quotes, body_of
from telegram_harness import run_bot
from telegram_html import OUR_TAGS, checked, codes_of, parse_telegram_html, quotes_of

FIRST = "When did the first Kenyan contingent arrive?"
FOLLOW = "How many officers were in it?"
VETO = "Which countries threatened a veto?"


def assert_quotes_are_the_articles(parsed, expected, seed_bot, seed_dir):
    """The quotes shown are the expected citations, and each is the body at its offsets."""
    assert quotes_of(parsed) == [c.quote for c in expected]
    assert codes_of(parsed)[: len(expected)] == [c.id for c in expected]
    assert_exact_quotes(expected, seed_dir)
    store = seed_bot.store
    for c in expected:  # and it lies inside the paragraph its id names
        p = store.passages[store.passage_by_id[c.id]]
        assert p.start <= c.start < c.end <= p.end


# -- answering ------------------------------------------------------------------------------------
def test_a_question_gets_escaped_html_with_the_verbatim_quote(seed_bot, seed_dir):
    async def scenario(api, app):
        api.message(11, FIRST)
        return (await api.wait_for(chat_id=11))[0]

    call = run_bot(seed_bot, scenario)
    parsed = checked(call)
    expected = seed_bot.ask(FIRST, k=3, more=9)
    assert "200 specialized Kenyan police officers" in expected.citations[0].quote
    assert_quotes_are_the_articles(parsed, expected.citations, seed_bot, seed_dir)
    assert call.params["link_preview_options"] == {"is_disabled": True}
    button = call.params["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"].startswith("More sources")


def test_start_and_help_list_the_articles_and_how_to_ask(seed_bot):
    async def scenario(api, app):
        api.message(12, "/start")
        api.message(13, "/help")
        return (await api.wait_for(chat_id=12))[0], (await api.wait_for(chat_id=13))[0]

    for call in run_bot(seed_bot, scenario):
        text = checked(call).text
        for article in seed_bot.store.articles:
            assert article.title in text
        assert "The Clarity Times" in text
        assert "/ask" in text and "/source" in text and "/new" in text
        assert "@citebot_test_bot" in text


def test_source_shows_the_passage_in_context(seed_bot, seed_dir):
    async def scenario(api, app):
        api.message(14, "/source mss-deployment:p6")
        api.message(15, "/source nope:p99")
        api.message(16, "/source")
        return [(await api.wait_for(chat_id=c))[0] for c in (14, 15, 16)]

    good, unknown, empty = run_bot(seed_bot, scenario)
    parsed = checked(good)
    store = seed_bot.store
    p = store.passages[store.passage_by_id["mss-deployment:p6"]]
    assert quotes_of(parsed) == [body_of("mss-deployment", seed_dir)[p.start:p.end]]
    assert "mss-deployment:p6" in codes_of(parsed)
    assert "On the ground" in parsed.text  # the cited paragraph itself
    assert "Despite the many obstacles" in parsed.text  # and the one after it
    assert "No such citation" in checked(unknown).text
    assert "/source article:p3" in checked(empty).text


def test_more_sources_button_shows_the_next_quotes(seed_bot, seed_dir):
    async def scenario(api, app):
        api.message(17, FIRST)
        [first] = await api.wait_for(chat_id=17)
        data = first.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        api.callback(first.result, data)
        await api.wait_for("answerCallbackQuery", 1)
        sent = await api.wait_for(chat_id=17, count=2)
        await api.wait_for("editMessageReplyMarkup", 1)
        api.callback(first.result, "more:expired:0")
        answers = await api.wait_for("answerCallbackQuery", 2)
        return sent[1], answers[1]

    more, stale = run_bot(seed_bot, scenario)
    parsed = checked(more)
    assert parsed.text.startswith("More sources:")
    expected = seed_bot.ask(FIRST, k=3, more=9).more[:3]
    assert_quotes_are_the_articles(parsed, expected, seed_bot, seed_dir)
    assert "expired" in stale.params["text"]


def test_inline_query_offers_quotes(seed_bot, seed_dir):
    async def scenario(api, app):
        api.inline_query(5, "kenya court ruling")
        api.inline_query(6, "")
        calls = await api.wait_for("answerInlineQuery", 2)
        return sorted(calls, key=lambda c: -len(c.params["results"]))

    full, empty = run_bot(seed_bot, scenario)
    results = full.params["results"]
    expected = seed_bot.ask("kenya court ruling", k=3, more=7)
    shown = expected.citations + expected.more
    assert 1 <= len(results) <= 10
    for result, c in zip(results, shown):
        content = result["input_message_content"]
        assert content["parse_mode"] == "HTML"
        parsed = parse_telegram_html(content["message_text"])
        assert {name for name, _, _ in parsed.tags} <= OUR_TAGS
        assert quotes_of(parsed) == [c.quote]
    assert "ruled that the deployment" in quotes_of(parse_telegram_html(
        results[0]["input_message_content"]["message_text"]))[0]
    assert_exact_quotes(shown, seed_dir)
    assert not full.params.get("is_personal")
    assert empty.params["results"] == [] and empty.params["button"]["start_parameter"] == "help"


def test_groups_answer_ask_mentions_and_replies_only(seed_bot):
    async def scenario(api, app):
        group = -100555
        ignored = api.message(group, FIRST, user_id=1)
        other_bot = api.message(group, "/ask@some_other_bot " + FIRST, user_id=1)
        mention = api.message(group, f"@citebot_test_bot {VETO}", user_id=2)
        # The mention comes after the ignored messages in the same chat: had they been taken
        # for questions, their replies would have been sent first.
        replies = await api.wait_for(chat_id=group, where=lambda c: c.params.get(
            "reply_parameters", {}).get("message_id") == mention["message_id"])
        ask = api.message(group, "/ask " + FIRST, user_id=3)
        await api.wait_for(chat_id=group, count=2)
        reply_to_bot = api.message(group, "When did a Kenyan court rule against the deployment?",
                                   user_id=4, reply_to=replies[0].result)
        sent = await api.wait_for(chat_id=group, count=3)
        return ignored, other_bot, mention, ask, reply_to_bot, sent

    ignored, other_bot, mention, ask, reply_to_bot, sent = run_bot(seed_bot, scenario)
    answered = [c.params["reply_parameters"]["message_id"] for c in sent]
    assert answered == [mention["message_id"], ask["message_id"], reply_to_bot["message_id"]]
    assert "veto" in checked(sent[0]).text
    assert "200 specialized" in checked(sent[1]).text
    assert "unconstitutional" in checked(sent[2]).text


def test_over_long_question_is_refused_with_a_message(seed_bot):
    async def scenario(api, app):
        api.message(18, "Why " * 150 + "?")
        return (await api.wait_for(chat_id=18))[0]

    text = checked(run_bot(seed_bot, scenario)).text
    assert "too long (601 characters)" in text and "at most 500" in text


def test_html_in_a_question_is_escaped(seed_bot):
    nasty = "<b>x</b> & <script>alert(1)</script> When did the first Kenyan contingent arrive?"

    async def scenario(api, app):
        api.message(19, nasty)
        await api.wait_for(chat_id=19)
        api.message(19, FOLLOW)  # the follow-up reply quotes the question back
        api.message(20, "<b>x</b> & <script>")
        api.message(21, "/source <b>x</b>&amp;")
        return [*(await api.wait_for(chat_id=19, count=2)), (await api.wait_for(chat_id=20))[0],
                (await api.wait_for(chat_id=21))[0]]

    first, follow, alone, source = run_bot(seed_bot, scenario)
    assert all(c.ok for c in (first, follow, alone, source))  # Telegram would have said 400
    parsed = checked(follow)
    assert nasty in parsed.text
    assert "&lt;script&gt;" in follow.text and "<script>" not in follow.text
    assert "Not found in the articles" in checked(alone).text
    assert "<b>x</b>&amp;" in checked(source).text


def test_follow_up_is_answered_in_context_and_new_forgets_it(seed_bot, seed_dir):
    async def scenario(api, app):
        api.message(24, FIRST)
        await api.wait_for(chat_id=24)
        api.message(24, FOLLOW)
        await api.wait_for(chat_id=24, count=2)
        api.message(24, "/new")
        await api.wait_for(chat_id=24, count=3)
        api.message(24, FOLLOW)
        return await api.wait_for(chat_id=24, count=4)

    _, follow, new, alone = run_bot(seed_bot, scenario)
    parsed = checked(follow)
    assert f"Read as a follow-up to “{FIRST}”" in parsed.text
    expected = [c for c in seed_bot.ask(FOLLOW, retrieval_text=f"{FOLLOW} first kenyan "
                                        "contingent arrive", k=3, more=9).citations]
    assert "200 specialized Kenyan police officers" in expected[0].quote
    assert_quotes_are_the_articles(parsed, expected, seed_bot, seed_dir)
    assert "New topic" in checked(new).text
    assert "Not found in the articles" in checked(alone).text


def test_fifty_chats_at_once_are_all_answered(seed_bot):
    questions = [FIRST, VETO, "When did a Kenyan court rule the deployment unconstitutional?",
                 "How much money has the trust fund raised?", "Who is Brian A. Nichols?"]

    async def scenario(api, app):
        for i in range(50):
            api.message(1000 + i, questions[i % len(questions)])
        return await api.wait_for(count=50, timeout=60)

    sent = run_bot(seed_bot, scenario)
    assert sorted(c.chat_id for c in sent) == list(range(1000, 1050))  # each once
    for c in sent:
        assert quotes_of(checked(c))


def test_cite_finds_where_a_quote_comes_from(seed_bot, seed_dir):
    quote = "the United Nations-backed trust fund has raised only $21 million"

    async def scenario(api, app):
        api.message(81, "/cite " + quote.upper())
        held = api.message(-800, "They said “the trust fund raised only 21 million dollars”",
                           user_id=5)
        api.message(-800, "/cite", user_id=6, reply_to=held)
        api.message(82, quote, forward_origin={"type": "hidden_user", "date": 0,
                                               "sender_user_name": "Someone"})
        return [(await api.wait_for(chat_id=c))[0] for c in (81, -800, 82)]

    exact, close, forwarded = run_bot(seed_bot, scenario)
    for call, head in ((exact, "Found word for word once"), (close, "Not found word for word"),
                       (forwarded, "Found word for word once")):
        parsed = checked(call)
        assert parsed.text.startswith(head)
        [shown] = quotes_of(parsed)[:1]
        article, start, end = re.search(r"^(.+):(\d+)-(\d+)$", [
            c for c in codes_of(parsed) if re.search(r":\d+-\d+$", c)][0]).groups()
        assert body_of(article, seed_dir)[int(start):int(end)] == shown
        assert "trust fund has raised only $21 million" in shown
    assert "differences:" in checked(close).text
