"""Hostile and odd input through the Telegram front end, and the bot's secrets and access rules.

Every odd message gets one sane reply in valid, escaped Telegram HTML (the fake Bot API server
answers 400 to HTML Telegram would refuse) and nothing crashes; the token stays out of logs,
tracebacks, replies and the webhook; the webhook secret is compared in constant time; with an
allowlist nobody else gets an answer; the Docker image runs as a non-root user.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import textwrap

import httpx
from conftest import ROOT, body_of, run_cli
from fake_bot_api import FakeBotAPI
from telegram_harness import bot_settings, root_log_at_debug, run_bot
from telegram_html import OUR_TAGS, checked, codes_of, parse_telegram_html, quotes_of

from bot.telegram import handlers as telegram_handlers

FIRST = "When did the first Kenyan contingent arrive?"
VETO = "Which countries threatened a veto?"

# What a reply may be: an answer (quotes), "not found", or one of the refusals.
ANSWER, NOT_FOUND, TOO_LONG, NO_WORDS, EMPTY, TEXT_ONLY, UNKNOWN_ID, HELP, CITE = (
    "answer", "not found", "too long", "no words", "empty", "text only", "unknown id", "help",
    "cite")


def kind_of(parsed) -> str:
    """What kind of reply a message is (by its visible text and tags)."""
    for kind, marker in ((CITE, "word for word"), (NOT_FOUND, "Not found in the articles"),
                         (TOO_LONG, "too long"), (NO_WORDS, "no words to search for"),
                         (NO_WORDS, "no words to look up"),
                         (EMPTY, "Ask me a question about the articles"),
                         (EMPTY, "Sorry: the question is empty."),
                         (TEXT_ONLY, telegram_handlers.TEXT_ONLY),
                         (UNKNOWN_ID, "No such citation"), (HELP, "How to ask")):
        if marker in parsed.text:
            return kind
    return ANSWER if quotes_of(parsed) else "other: " + parsed.text[:100]


def entity(kind: str, text: str, part: str, **extra) -> dict:
    """A Telegram entity over ``part`` of ``text`` (offsets in UTF-16 units, as Telegram's)."""
    start = text.index(part)
    u16 = lambda s: len(s.encode("utf-16-le")) // 2  # noqa: E731
    return {"type": kind, "offset": u16(text[:start]), "length": u16(part), **extra}


ENTITY_TEXT = "Which countries threatened a veto? 🙂"
ENTITIES = [entity("bold", ENTITY_TEXT, "Which countries"), entity("italic", ENTITY_TEXT, "veto"),
            entity("text_link", ENTITY_TEXT, "threatened", url="javascript:alert(1)"),
            entity("spoiler", ENTITY_TEXT, "a veto"), entity("underline", ENTITY_TEXT, "?"),
            entity("custom_emoji", ENTITY_TEXT, "🙂", custom_emoji_id="5368324170671202286"),
            {"type": "mention", "offset": 5000, "length": 9}]  # past the end: still no crash
LINKS_TEXT = "Kenya police @someone https://evil.example/<b> mail@evil.example #Haiti $USD"
LINKS = [entity(k, LINKS_TEXT, part) for k, part in (
    ("mention", "@someone"), ("url", "https://evil.example/<b>"), ("email", "mail@evil.example"),
    ("hashtag", "#Haiti"), ("cashtag", "$USD"))]
# (text, extra message fields, the kinds of reply that are sane for it)
HOSTILE = [
    ("", {}, {TEXT_ONLY}),
    ("   \t \n  ", {}, {EMPTY}),
    ("\u200b\u200c\u200d\ufeff", {}, {NO_WORDS, EMPTY}),
    ("x" * 100_000, {}, {TOO_LONG}),
    ("<&>" * 40_000, {}, {TOO_LONG}),
    ("Who\x00 leads\x07 the mission?\x00", {}, {ANSWER, NOT_FOUND}),
    ("\u202eWhich countries threatened a veto?\u202c", {}, {ANSWER}),
    ("\u200fWho\u200b led the\u200d mission?\u200e", {}, {ANSWER, NOT_FOUND}),
    ("🙂🙂🙂👮‍♂️🇰🇪", {}, {NO_WORDS}),
    ("🇰🇪 Kenya police 👮‍♂️ arrive? 🙂", {}, {ANSWER, NOT_FOUND}),
    ('<b>x</b> & <script>alert(1)</script></blockquote><a href="javascript:alert(1)">veto</a>?',
     {}, {ANSWER, NOT_FOUND}),
    ("&lt;b&gt; &amp; &#60;i&#62; &nbsp; veto", {}, {ANSWER, NOT_FOUND}),
    ("**bold** _it_ [link](http://x) `code` ```pre``` ~~s~~ ||spoiler|| Kenya police?", {},
     {ANSWER, NOT_FOUND}),
    (ENTITY_TEXT, {"entities": ENTITIES}, {ANSWER}),
    (LINKS_TEXT, {"entities": LINKS}, {ANSWER, NOT_FOUND}),
    ("من يقود البعثة في هايتي؟", {}, {ANSWER, NOT_FOUND}),
    ("谁领导海地的多国安全支助团？", {}, {ANSWER, NOT_FOUND}),
    ("Какие страны угрожали вето?", {}, {ANSWER, NOT_FOUND}),
    ("हैती में मिशन का नेतृत्व कौन करता है?", {}, {ANSWER, NOT_FOUND}),
    ("¿Cuántos policías kenianos llegaron a Haití?", {}, {ANSWER, NOT_FOUND}),
    ("W̸̢h̷̛o̶̧ ̵l̴e̷a̶d̵s̷ ̶t̸h̴e̵ ̵m̶i̵s̸s̶i̵o̷n̸?", {}, {ANSWER, NOT_FOUND}),
    ("Which\ncountries\n\n\nthreatened\r\na veto?", {}, {ANSWER}),
    ("ﷺ" * 400, {}, {TOO_LONG}),  # 400 characters that NFKC turns into 7,200
    ("/ask " + "y" * 100_000, {}, {TOO_LONG}),
    ("/ask <i>unclosed & veto", {}, {ANSWER, NOT_FOUND}),
    ("/source <script>alert(1)</script>", {}, {UNKNOWN_ID}),
    ("/source " + "z" * 100_000, {}, {UNKNOWN_ID}),
    ("/source mss-renewal:p3\x00", {}, {ANSWER}),
    ("/start <b>payload</b>", {}, {HELP}),
    ("/cite the trust fund &&&& <<<< raised only 21 million dollars &&&&&&&&&&&&&& " * 3, {},
     {CITE}),
    ("/cite " + "& < > " * 150, {}, {NOT_FOUND, NO_WORDS}),
    ("/cite \x00\u202e the Haitian government's urgent request\u200b", {}, {CITE}),
]


def test_hostile_messages_each_get_one_sane_reply(seed_bot, seed_dir, caplog):
    async def scenario(api, app):
        for i, (text, extra, _) in enumerate(HOSTILE):
            api.message(700 + i, text, **extra)
        api.photo(700 + len(HOSTILE), caption="<b>caption</b> & veto?")
        await api.wait_for(count=len(HOSTILE) + 1, timeout=60)
        return api  # stopping the bot then waits until every fetched update is handled

    with caplog.at_level(logging.WARNING):
        api = run_bot(seed_bot, scenario)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # nothing crashed
    assert all(c.ok for c in api.calls_to("sendMessage", ok=None))  # Telegram took every one
    bodies = {a.id: body_of(a.id, seed_dir) for a in seed_bot.store.articles}
    for i, (text, _, sane) in enumerate(HOSTILE + [("photo", {}, {TEXT_ONLY})]):
        [reply] = api.sent(700 + i)  # one reply each
        parsed = checked(reply)  # valid Telegram HTML, our tags only, <= 4,096 characters
        assert kind_of(parsed) in sane, (text[:80], parsed.text[:200])
        for quote, cid in zip(quotes_of(parsed), codes_of(parsed)):  # quotes are verbatim
            if re.fullmatch(r".+:p\d+", cid):
                assert quote in bodies[cid.rsplit(":", 1)[0]]
        assert "<script>" not in reply.text and "javascript:" not in reply.text
    veto = checked(api.sent(700 + 6)[0])  # the right-to-left override around a real question
    assert "veto" in quotes_of(veto)[0]
    assert "That question is too long (100000 characters)" in api.sent(703)[0].text


def test_hostile_inline_queries_and_buttons(seed_bot, caplog):
    async def scenario(api, app):
        for i, query in enumerate(["<b>&amp;</b> veto", "🙂🙂", "x" * 300, "\x00\u202e",
                                   "Kenya</blockquote><a href='x'>"]):
            api.inline_query(800 + i, query)
        answer = api.message(805, FIRST)
        [sent] = await api.wait_for(chat_id=805)
        for data in ("more:<script>:0", "more:x:99999999999999999999999", "more::", "",
                     "more:" + "a" * 60 + ":0", "\x00"):
            api.callback(sent.result, data)
        await api.wait_for("answerInlineQuery", 5)
        await api.wait_for("answerCallbackQuery", 6)
        return api, answer

    with caplog.at_level(logging.WARNING):
        api, _ = run_bot(seed_bot, scenario)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    for call in api.calls_to("answerInlineQuery"):
        for result in call.params["results"]:
            parsed = parse_telegram_html(result["input_message_content"]["message_text"])
            assert {name for name, _, _ in parsed.tags} <= OUR_TAGS
    assert all(c.ok for c in api.calls_to("answerInlineQuery", ok=None))
    taps = api.calls_to("answerCallbackQuery")
    assert all("expired" in c.params["text"] or "No more" in c.params["text"] for c in taps)
    assert len(api.sent(805)) == 1  # no button tap sent anything


# -- the token --------------------------------------------------------------------------------
def test_token_stays_out_of_logged_tracebacks_at_every_level(seed_bot):
    """An error whose message, cause and notes hold the token, inside a handler: logged with
    its traceback at ERROR (and python-telegram-bot's DEBUG detail), scrubbed everywhere; the
    user gets the generic apology, never the error."""

    async def scenario(api, app):
        def boom(*args, **kwargs):
            try:
                raise ConnectionError(f"POST {api.base_url}{api.token}/sendMessage failed")
            except ConnectionError as cause:
                err = RuntimeError(f"token={api.token!r}")
                err.add_note(f"while calling with {api.token.split(':')[1]}")
                raise err from cause

        app.bot_data["handlers"].service.answer = boom
        api.message(811, FIRST)
        return (await api.wait_for(chat_id=811))[0], api

    with root_log_at_debug() as stream:
        sorry, api = run_bot(seed_bot, scenario)
    logged = stream.getvalue()
    assert "Traceback" in logged and "ConnectionError" in logged  # the traceback was logged
    assert "direct cause" in logged and "[REDACTED]" in logged  # with its cause, scrubbed
    assert api.token not in logged and api.token.split(":")[1] not in logged
    assert sorry.text == telegram_handlers.SORRY
    assert not [c for c in api.calls if api.token.split(":")[1] in str(c.params)]


def test_uncaught_tracebacks_are_scrubbed(tmp_path):
    """A traceback printed outside logging (CITEBOT_DEBUG=1, or a crashed thread)."""
    import subprocess

    secret = "9876543210:AAsecretPartOfTheTokenForThisTest0123"
    code = textwrap.dedent(f"""
        import sys, threading
        sys.path.insert(0, {str(ROOT)!r})
        from bot.telegram.logging import protect, scrub_tracebacks
        protect({secret!r})
        scrub_tracebacks()

        def worker():
            raise OSError({secret!r})

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        raise ValueError("bad URL https://x/bot{secret}/getMe")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "ValueError: bad URL https://x/bot[REDACTED]/getMe" in r.stderr
    assert "OSError: [REDACTED]" in r.stderr and "Exception in thread" in r.stderr
    assert secret not in r.stderr and secret.split(":")[1] not in r.stderr


def test_webhook_url_holding_the_token_is_refused():
    token = "7123456789:AAFakeTokenForTestsOnly_xyz0123456789"
    for url in (f"https://bot.example.org/{token}", "https://bot.example.org/hook/"
                + token.split(":")[1]):
        r = run_cli("telegram", "--webhook-url", url, env={"TELEGRAM_BOT_TOKEN": token}, process=True)
        err = r.stderr.decode()
        assert r.returncode == 2 and "must not contain the bot token" in err
        assert token.split(":")[1] not in err and len(err.strip().splitlines()) == 1


def test_webhook_secret_is_compared_in_constant_time(seed_bot, monkeypatch):
    """Every request's secret goes through hmac.compare_digest (constant time); odd headers
    are refused with 403, not an error."""
    import hmac

    from bot.telegram import webhook as telegram_webhook
    from bot.telegram.app import build_application

    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(telegram_webhook.hmac, "compare_digest", spy)
    secret = "Correct-Horse_Battery-Staple-42"

    async def main(api):
        app = build_application(seed_bot, bot_settings(api))
        update = {"update_id": 1, "message": api.make_message(821, FIRST)}
        async with telegram_webhook.webhook(app, "https://bot.example.org/hook", secret,
                                            "127.0.0.1", 0) as port:
            url = f"http://127.0.0.1:{port}/hook"
            statuses = []
            async with httpx.AsyncClient() as client:
                for given in (secret[:-1], secret + "x", "", "é" * 40, secret.lower(), secret):
                    headers = {"X-Telegram-Bot-Api-Secret-Token": given.encode("utf-8")}
                    statuses.append((await client.post(url, json=update,
                                                       headers=headers)).status_code)
            await api.wait_for(chat_id=821)
        return statuses

    with FakeBotAPI() as api:
        statuses = asyncio.run(main(api))
        assert statuses == [403, 403, 403, 403, 403, 200]
        assert len(api.sent(821)) == 1
    assert len(compared) == 6 and all(b == secret.encode() for _, b in compared)


# -- the allowlist ----------------------------------------------------------------------------
def test_with_an_allowlist_nobody_else_gets_an_answer(seed_bot):
    async def scenario(api, app):
        answer = api.message(31, FIRST)  # allowed: gets an answer, and a More sources button
        [sent] = await api.wait_for(chat_id=31)
        data = sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        stranger = 66
        for text in (FIRST, "/ask " + VETO, "/source mss-renewal:p3", "/help", "/start",
                     "/cite the Haitian government's urgent request", "/reload"):
            api.message(stranger, text)
        api.message(stranger, FIRST, forward_origin={"type": "hidden_user", "date": 0,
                                                       "sender_user_name": "X"})
        api.photo(stranger)
        api.edited_message(stranger, VETO)
        api.callback(dict(sent.result, chat=api.chat(stranger)), data, user_id=stranger)
        api.inline_query(stranger, "kenya court ruling")
        api.inline_query(31, "kenya court ruling")
        api.message(-900, "@citebot_test_bot " + FIRST, user_id=31)  # a group not allowed
        await api.wait_for("answerInlineQuery", 2)
        await api.wait_for("answerCallbackQuery", 1)
        await api.wait_for("leaveChat", 1)
        await api.wait_for(chat_id=stranger)
        return answer  # stopping the bot waits until every fetched update is handled

    with FakeBotAPI() as api:
        run_bot(seed_bot, scenario, api=api, allowed_chats=frozenset({31}),
                admin_chats=frozenset({66}))
        to_stranger = api.sent(66)
        assert [c.text for c in to_stranger] == [telegram_handlers.NOT_ALLOWED]  # once, only
        inline = {c.params["results"] != []: c for c in api.calls_to("answerInlineQuery")}
        assert set(inline) == {True, False}  # results for the allowed user only ...
        assert all(c.params["is_personal"] for c in inline.values())  # ... never shared
        [tap] = api.calls_to("answerCallbackQuery")
        assert tap.params["text"] == telegram_handlers.NOT_ALLOWED
        assert [c.params["chat_id"] for c in api.calls_to("leaveChat")] == [-900]
        assert {c.chat_id for c in api.sent()} == {31, 66}


# -- the container ----------------------------------------------------------------------------
def test_dockerfile_runs_as_non_root_with_a_read_only_index():
    """The image cannot be built here: its rules are checked on the Dockerfile itself."""
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    text = "\n".join(lines)
    user = [i for i, ln in enumerate(lines) if ln.startswith("USER ")]
    assert user and lines[user[-1]].split()[1] not in ("root", "0")
    assert not [ln for ln in lines[user[-1]:] if ln.startswith("RUN ")]  # nothing runs as root
    assert re.search(r"chmod -R a-w \S*/app/index", text)  # the index: read-only
    assert "HF_HUB_OFFLINE=1" in text and "CITEBOT_AUTO_BUILD=0" in text  # no downloads,
    assert re.search(r"^EXPOSE 8080$", text, re.M)  # no rebuild at run time; webhook port
    assert "TELEGRAM_BOT_TOKEN" not in text  # the token only ever comes from `docker run -e`
