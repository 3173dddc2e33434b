"""The Telegram bot end to end: the real python-telegram-bot Application against a fake Bot API
server on 127.0.0.1 (tests/fake_bot_api.py), answering with the session's real index and model.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import shutil
import threading

import httpx
import pytest

from conftest import assert_exact_quotes, body_of
from fake_bot_api import (FakeBotAPI, bot_settings, parse_telegram_html, running_bot,
                          telegram_length)

from bot import telegram_handlers
from bot.telegram import TelegramSettings, build_application

OUR_TAGS = {"blockquote", "b", "i", "a", "code"}
FIRST = "When did the first Kenyan contingent arrive?"
FOLLOW = "How many officers were in it?"
VETO = "Which countries threatened a veto?"


def run_bot(seed_bot, scenario, api: FakeBotAPI | None = None, **kw):
    """Start the real Application (polling the fake server), run ``scenario(api, app)``."""
    async def main(server):
        async with running_bot(seed_bot, server, **kw) as app:
            return await asyncio.wait_for(scenario(server, app), 60)

    if api is not None:
        return asyncio.run(main(api))
    with FakeBotAPI() as server:
        return asyncio.run(main(server))


def checked(call):
    """A sent message: HTML mode, valid Telegram HTML with only our tags, <= 4,096 chars."""
    assert call.params["parse_mode"] == "HTML"
    assert telegram_length(call.text) <= 4096
    parsed = parse_telegram_html(call.text)
    assert {name for name, _, _ in parsed.tags} <= OUR_TAGS
    return parsed


def quotes_of(parsed) -> list[str]:
    return [text for name, _, text in parsed.tags if name == "blockquote"]


def codes_of(parsed) -> list[str]:
    return [text for name, _, text in parsed.tags if name == "code"]


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


def test_flood_control_429_is_waited_out_then_sent(seed_bot):
    async def scenario(api, app):
        api.fail("sendMessage", retry_after=1)
        api.message(22, FIRST)
        await api.wait_for(chat_id=22)
        return [c for c in api.calls if c.method == "sendMessage"]

    calls = run_bot(seed_bot, scenario)
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0  # waited as long as Telegram asked
    assert calls[0].params["text"] == calls[1].params["text"]
    assert "200 specialized" in checked(calls[1]).text


def test_server_errors_and_dropped_connections_are_retried(seed_bot):
    async def scenario(api, app):
        api.fail("sendMessage", status=500)
        api.fail("sendMessage", kind="drop")
        api.message(23, FIRST)
        await api.wait_for(chat_id=23)
        return [(c.status, c.fault) for c in api.calls if c.method == "sendMessage"]

    assert run_bot(seed_bot, scenario) == [(500, "error"), (0, "drop"), (200, None)]


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


def test_a_slow_question_does_not_stall_other_chats(seed_bot):
    async def scenario(api, app):
        service = app.bot_data["handlers"].service
        release = threading.Event()
        real = service.answer

        def slow_for_chat_101(key, question, **kw):  # runs in the answering thread pool
            if key[0] == 101:
                assert release.wait(30)
            return real(key, question, **kw)

        service.answer = slow_for_chat_101
        api.message(101, FIRST)
        api.message(102, VETO)
        await api.wait_for(chat_id=102)  # answered while chat 101's answer is still computing
        waiting = not api.sent(101)
        release.set()
        await api.wait_for(chat_id=101)
        return waiting

    assert run_bot(seed_bot, scenario) is True


def test_a_changed_corpus_is_picked_up_without_restart(embedder, seed_dir, tmp_path):
    from index.config import resolve
    from index.engine import Citebot

    corpus = tmp_path / "corpus"
    shutil.copytree(seed_dir, corpus)
    bot = Citebot(resolve(corpus=corpus, index=tmp_path / "index"))
    bot._index_embedder = embedder
    bot.build()
    question = "What did the mayor of Springfield announce?"

    async def scenario(api, app):
        api.message(111, question)
        await api.wait_for(chat_id=111)
        (corpus / "springfield.md").write_text(
            "---\ntitle: Springfield news\n---\nThe mayor of Springfield announced a new "
            "bridge over the river on Monday. It will open next year.\n", encoding="utf-8")
        api.message(111, question)
        return await api.wait_for(chat_id=111, count=2)

    before, after = run_bot(bot, scenario, reload_every_s=0)
    assert "Not found in the articles" in checked(before).text
    parsed = checked(after)
    assert quotes_of(parsed)[0].startswith("The mayor of Springfield announced a new bridge")
    assert_exact_quotes(bot.ask(question).citations, corpus)


# -- limits -------------------------------------------------------------------------------------
def test_rate_limit_gets_one_polite_reply(seed_bot):
    async def scenario(api, app):
        for _ in range(4):
            api.message(25, FIRST)
        sent = await api.wait_for(chat_id=25, count=3)
        api.message(26, VETO)  # another user is not limited
        await api.wait_for(chat_id=26)
        return api.sent(25)

    sent = run_bot(seed_bot, scenario, rate=(2, 3600.0))
    polite = [c for c in sent if "faster than I can keep up" in c.text]
    assert len(polite) == 1 and len(sent) == 3
    assert sum("200 specialized" in c.text for c in sent) == 2


def test_allowlist_answers_only_allowed_chats_and_leaves_groups(seed_bot):
    async def scenario(api, app):
        api.message(31, FIRST)
        api.message(32, FIRST)
        api.message(32, VETO)
        api.message(-400, "/ask " + FIRST)
        api.my_chat_member(-500, "member")
        api.inline_query(32, "kenya court ruling")
        api.inline_query(31, "kenya court ruling")
        await api.wait_for(chat_id=31)
        await api.wait_for("leaveChat", 2)
        inline = await api.wait_for("answerInlineQuery", 2)
        await api.wait_for(chat_id=32)
        return api.sent(), api.calls_to("leaveChat"), inline

    sent, left, inline = run_bot(seed_bot, scenario, allowed_chats=frozenset({31}))
    assert sorted(c.params["chat_id"] for c in left) == [-500, -400]
    by_chat = {}
    for c in sent:
        by_chat.setdefault(c.chat_id, []).append(c.text)
    assert set(by_chat) == {31, 32}
    assert by_chat[32] == [telegram_handlers.NOT_ALLOWED]  # once, and no answer
    results = {len(c.params["results"]) > 0: c for c in inline}
    assert set(results) == {True, False}
    assert all(c.params["is_personal"] for c in inline)


def test_reload_is_for_admins(seed_bot):
    async def scenario(api, app):
        api.message(41, "/reload")
        api.message(42, "/reload")
        return (await api.wait_for(chat_id=41))[0], (await api.wait_for(chat_id=42))[0]

    admin, other = run_bot(seed_bot, scenario, admin_chats=frozenset({41}))
    assert checked(admin).text == "Already up to date: 2 articles, 13 passages."
    assert "Only the bot's admins" in checked(other).text


def test_edits_media_channel_posts_and_service_messages_are_handled(seed_bot, caplog):
    async def scenario(api, app):
        api.edited_message(51, FIRST)
        api.sticker(52)
        api.photo(-600, caption="nice", user_id=3)
        api.channel_post(-700, FIRST)
        api.message(-600, None, user_id=3, new_chat_members=[api.user(9)])
        api.message(51, "/frobnicate")
        api.message(-600, "/frobnicate", user_id=3)
        api.message(51, VETO)  # after the edit, in the same chat
        await api.wait_for(chat_id=51, where=lambda c: "veto" in c.text)
        await api.wait_for(chat_id=52)
        return api.sent()

    with caplog.at_level(logging.ERROR):
        sent = run_bot(seed_bot, scenario)
    by_chat = {}
    for c in sent:
        by_chat.setdefault(c.chat_id, []).append(checked(c).text)
    assert set(by_chat) == {51, 52}
    assert len(by_chat[51]) == 2 and "don't know that command" in by_chat[51][0]
    assert by_chat[52] == [telegram_handlers.TEXT_ONLY]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- secrets and errors -------------------------------------------------------------------------
def test_token_never_reaches_the_logs_at_debug(seed_bot):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    async def scenario(api, app):
        api.fail("getUpdates", status=502)
        api.fail("sendMessage", status=500)
        api.fail("sendMessage", kind="drop")
        api.message(61, FIRST)
        await api.wait_for(chat_id=61)

        def boom(*args, **kwargs):  # an internal error whose message holds the token
            raise RuntimeError(f"cannot open {api.base_url}{api.token}/sendMessage")

        app.bot_data["handlers"].service.answer = boom
        api.message(62, FIRST)
        return (await api.wait_for(chat_id=62))[0]

    try:
        with FakeBotAPI() as api:
            sorry = run_bot(seed_bot, scenario, api=api)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logged = stream.getvalue()
    secret_half = api.token.split(":")[1]
    assert api.token not in logged and secret_half not in logged
    assert "sendMessage" in logged and "getUpdates" in logged  # DEBUG logging was on
    assert "RuntimeError" in logged and "[REDACTED]" in logged  # the error was logged, scrubbed
    assert sorry.text == telegram_handlers.SORRY  # the user gets a generic reply
    assert all(c.token_ok for c in api.calls)  # the token was on every request all along


def test_webhook_checks_the_secret(seed_bot):
    from bot.telegram_webhook import webhook

    secret = "s3cret-Token_1"

    async def main(api):
        settings = bot_settings(api)
        app = build_application(seed_bot, settings)
        async with webhook(app, "https://bot.example.org/hook/citebot", secret, "127.0.0.1",
                           0) as port:
            url = f"http://127.0.0.1:{port}/hook/citebot"
            ok = {"X-Telegram-Bot-Api-Secret-Token": secret}
            update = {"update_id": 1, "message": api.make_message(71, FIRST)}
            async with httpx.AsyncClient() as client:
                statuses = [
                    (await client.post(url, json=update)).status_code,
                    (await client.post(url, json=update, headers={
                        "X-Telegram-Bot-Api-Secret-Token": secret + "x"})).status_code,
                    (await client.post(url, content=b"{not json", headers=ok)).status_code,
                    (await client.post(url.replace("citebot", "other"), json=update,
                                       headers=ok)).status_code,
                    (await client.post(url, json={"update_id": 2, "message": api.make_message(
                        72, FIRST)}, headers=ok)).status_code]
            await api.wait_for(chat_id=72)
        return statuses

    with FakeBotAPI() as api:
        statuses = asyncio.run(main(api))
        assert statuses == [403, 403, 400, 404, 200]
        assert api.webhook["url"] == "https://bot.example.org/hook/citebot"
        assert api.webhook["secret_token"] == secret
        assert not api.sent(71)
        assert "200 specialized" in api.sent(72)[0].text


def test_settings_from_environment():
    env = {"TELEGRAM_BOT_TOKEN": " 1:abc ", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
           "CITEBOT_ALLOWED_CHATS": "12, -100345", "CITEBOT_ADMIN_CHATS": "12",
           "CITEBOT_RATE_LIMIT": "5/30", "CITEBOT_MAX_QUESTION_CHARS": "200"}
    s = TelegramSettings.from_env(env)
    assert s.token == "1:abc" and s.base_file_url == "http://127.0.0.1:9/file/bot"
    assert s.allowed_chats == {12, -100345} and s.admin_chats == {12}
    assert s.rate == (5, 30.0) and s.max_question_chars == 200
    assert TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:a"}).allowed_chats is None
    from index.errors import UsageError

    for bad in ({}, {"TELEGRAM_BOT_TOKEN": "1:a", "CITEBOT_ALLOWED_CHATS": "me"},
                {"TELEGRAM_BOT_TOKEN": "1:a", "CITEBOT_RATE_LIMIT": "fast"},
                {"TELEGRAM_BOT_TOKEN": "1:a", "TELEGRAM_API_BASE_URL": "ftp://x"}):
        with pytest.raises(UsageError):
            TelegramSettings.from_env(bad)
