"""The Telegram bot's limits, faults and secrets: flood control, retries, concurrency, index
reloads, rate limits, the allowlist, odd updates, the token in logs, and the webhook server.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading

import httpx
import pytest
from conftest import assert_exact_quotes
from fake_bot_api import FakeBotAPI
from telegram_harness import bot_settings, root_log_at_debug, run_bot
from telegram_html import checked, quotes_of

from bot.telegram import handlers as telegram_handlers
from bot.telegram.app import TelegramSettings, build_application

FIRST = "When did the first Kenyan contingent arrive?"
VETO = "Which countries threatened a veto?"


# -- Telegram's flood control and network faults ---------------------------------------------
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


# -- answering off the event loop, reloading the index -----------------------------------------
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
    bot = Citebot(resolve(corpus=corpus, index=tmp_path / "index"), embedder=embedder)
    bot.build()
    question = "What did the mayor of Springfield announce?"

    async def scenario(api, app):
        api.message(111, question)
        await api.wait_for(chat_id=111)
        generation = bot.store.manifest["generation"]
        (corpus / "springfield.md").write_text(
            "---\ntitle: Springfield news\n---\nThe mayor of Springfield announced a new "
            "bridge over the river on Monday. It will open next year.\n", encoding="utf-8")
        api.message(111, question)  # answered at once; the check starts a background build
        await api.wait_for(chat_id=111, count=2)
        for _ in range(1200):  # the build runs in a child process, then the index is switched
            if bot.store.manifest["generation"] != generation:
                break
            await asyncio.sleep(0.1)
        api.message(111, question)
        sent = await api.wait_for(chat_id=111, count=3)
        return sent[0], sent[2]

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
        await api.wait_for(chat_id=25, count=3)
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

    with root_log_at_debug() as stream, FakeBotAPI() as api:
        sorry = run_bot(seed_bot, scenario, api=api)
    logged = stream.getvalue()
    secret_half = api.token.split(":")[1]
    assert api.token not in logged and secret_half not in logged
    assert "sendMessage" in logged and "getUpdates" in logged  # DEBUG logging was on
    assert "RuntimeError" in logged and "[REDACTED]" in logged  # the error was logged, scrubbed
    assert sorry.text == telegram_handlers.SORRY  # the user gets a generic reply
    assert all(c.token_ok for c in api.calls)  # the token was on every request all along


def test_webhook_checks_the_secret(seed_bot):
    from bot.telegram.webhook import webhook

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
