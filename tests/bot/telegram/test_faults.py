"""Faults of the Bot API server: 500s, timeouts, dropped connections and 429s for a while, on
sendMessage and on getUpdates. The real bot (python-telegram-bot Application) against the fake
server: it recovers by itself, and every question asked before or during an outage gets exactly
one reply once it is over: its answer, or, past the delivery deadline, an apology. Nothing is
lost silently. Small timings come from TelegramSettings, so each outage takes a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import threading
import time

import pytest
from fake_bot_api import FakeBotAPI
from telegram_harness import bot_settings, run_bot, running_bot
from telegram_traffic import QUESTIONS, Traffic, undelivered_text

from bot.telegram.limits import RetryingLimiter

pytestmark = pytest.mark.slow

# Quick retries, and a smaller "old" budget: before this bot had a delivery deadline, a reply
# gave up after 1 + network_retries tries (~7.5 s with the defaults) and so was lost.
FAST = dict(backoff_s=0.05, max_backoff_s=0.2, network_retries=2, messages_per_s=0)
OLD_TRIES = 1 + FAST["network_retries"]


async def until(predicate, what: str, timeout: float = 30.0) -> None:
    """Wait (without blocking the bot's event loop) until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.01)


def failed(api: FakeBotAPI, method: str = "sendMessage", chat_id=None) -> list:
    """Calls that did not succeed (error status, or no answer at all)."""
    return [c for c in api.calls_to(method, chat_id, ok=False)]


# -- the limiter's delivery deadline, on its own ------------------------------------------------
def limited(limiter, outcomes, endpoint="sendMessage", stop_after: float | None = None):
    """Run one call through ``limiter``; the callback raises or returns ``outcomes`` in turn
    (the last one forever). Returns (result or exception, number of tries)."""
    tries = []

    async def callback():
        tries.append(time.monotonic())
        outcome = outcomes[min(len(tries), len(outcomes)) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def main():
        if stop_after is not None:
            asyncio.get_running_loop().call_later(stop_after, limiter.stop_retrying)
        return await limiter.process_request(callback, (), {}, endpoint, {}, None)

    try:
        return asyncio.run(main()), len(tries)
    except Exception as exc:  # noqa: BLE001 - the test looks at what came out
        return exc, len(tries)


def test_messages_are_retried_until_the_delivery_deadline_other_calls_briefly():
    from telegram.error import NetworkError, RetryAfter, TimedOut

    def limiter(**kw):
        return RetryingLimiter(network_retries=2, backoff_s=0.01, max_backoff_s=0.02,
                               messages_per_s=0, **kw)

    down = [NetworkError("Bad Gateway"), TimedOut()] * 10 + ["sent"]
    assert limited(limiter(delivery_deadline_s=30), down) == ("sent", 21)  # 20 failures
    result, tries = limited(limiter(delivery_deadline_s=None), down)  # the old budget
    assert isinstance(result, NetworkError) and tries == 3
    result, tries = limited(limiter(delivery_deadline_s=30), down, endpoint="answerInlineQuery")
    assert isinstance(result, NetworkError) and tries == 3  # expires anyway: not worth waiting
    gives_up = limiter(delivery_deadline_s=0.3)
    result, tries = limited(gives_up, [NetworkError("down")])
    assert isinstance(result, NetworkError) and tries > 3 and gives_up.gave_up == 1
    flood = [RetryAfter(1), RetryAfter(1), RetryAfter(1), "sent"]
    assert limited(limiter(delivery_deadline_s=30, max_flood_wait_s=1.5), flood) == ("sent", 4)
    result, tries = limited(limiter(delivery_deadline_s=30, max_flood_wait_s=1.5),
                            [RetryAfter(5), "sent"])  # one wait longer than allowed: no
    assert isinstance(result, RetryAfter) and tries == 1
    stopping = limiter(delivery_deadline_s=600)
    t0 = time.monotonic()
    result, tries = limited(stopping, [NetworkError("down")], stop_after=0.3)
    assert isinstance(result, NetworkError) and time.monotonic() - t0 < 5  # not 600 s


OUTAGES = {  # name: (fault, extra settings, failed tries to see before recovery)
    "500": (dict(status=500), {}, OLD_TRIES + 2),
    "drop": (dict(kind="drop"), {}, OLD_TRIES + 2),
    "timeout": (dict(kind="timeout", delay=2.0), dict(request_timeout_s=1.0), OLD_TRIES + 1),
    # The old code waited out at most max_flood_wait_s of 429s in all; now only a single wait
    # that long is refused, and 429s go on being waited out until the delivery deadline.
    "429": (dict(retry_after=1), dict(max_flood_wait_s=1.5), 4),
}


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_replies_outlast_an_outage_longer_than_the_old_retry_window(seed_bot, outage):
    fault, extra, tries = OUTAGES[outage]

    async def scenario(api, app):
        traffic = Traffic(api, seed_bot)
        api.fail("sendMessage", times=None, **fault)
        for chat in (301, 302, 303):
            traffic.ask(chat, QUESTIONS[chat % 5])
        # Past the old budget: the first answer of chat 301 failed more often than it allowed.
        await until(lambda: len(failed(api, chat_id=301)) >= tries, "failed tries")
        # Questions asked during the outage, in those chats and a new one.
        for chat in (301, 302, 304):
            traffic.ask(chat, QUESTIONS[(chat + 1) % 5])
        await api.wait_confirmed(traffic.last_update_id)
        await until(lambda: failed(api, chat_id=304), "a try in the new chat")
        api.clear_faults()  # the server recovers
        await api.wait_for(count=traffic.questions, timeout=30)
        return traffic

    traffic = run_bot(seed_bot, scenario, **{**FAST, **extra})
    assert traffic.check_each_answered_once() == {"answered": 6}
    assert {c.fault for c in failed(traffic.api)} == {fault.get("kind", "error")}
    if outage == "429":
        waits = [c.at for c in traffic.api.calls_to("sendMessage", 301, ok=None)]
        assert waits[-1] - waits[0] >= 3.0  # 429s for longer than max_flood_wait_s, waited out


def test_polling_survives_get_updates_failures_while_sends_fail_too(seed_bot):
    async def scenario(api, app):
        traffic = Traffic(api, seed_bot)
        api.fail("sendMessage", status=502, times=None)
        rules = [api.fail("getUpdates", status=500), api.fail("getUpdates", kind="drop"),
                 api.fail("getUpdates", retry_after=1),
                 api.fail("getUpdates", kind="timeout", delay=3.0)]
        traffic.ask(311, QUESTIONS[0])  # fetched by the long poll already under way
        await until(lambda: failed(api, "getUpdates"), "a failed getUpdates")
        traffic.ask(312, QUESTIONS[1])  # asked while getUpdates fails
        traffic.ask(311, QUESTIONS[2])
        await until(lambda: all(r.times == 0 for r in rules), "every getUpdates fault")
        await api.wait_confirmed(traffic.last_update_id, timeout=30)  # polling came back
        await until(lambda: len(failed(api, chat_id=311)) >= OLD_TRIES + 1, "failed sends")
        api.clear_faults()
        await api.wait_for(count=traffic.questions, timeout=30)
        return traffic

    traffic = run_bot(seed_bot, scenario, request_timeout_s=1.0, **FAST)
    assert traffic.check_each_answered_once() == {"answered": 3}
    kinds = [(c.status, c.fault) for c in failed(traffic.api, "getUpdates")]
    assert kinds == [(500, "error"), (0, "drop"), (429, "error"), (0, "timeout")]


def test_past_the_delivery_deadline_each_question_gets_one_apology(seed_bot):
    async def scenario(api, app):
        traffic = Traffic(api, seed_bot)
        api.fail("sendMessage", status=503, times=None)
        for chat in (321, 322, 323):
            traffic.ask(chat, QUESTIONS[chat % 5])
        traffic.ask(323, QUESTIONS[4])  # waits behind the first question of its chat

        def apologising(chat):
            return any(c.text == undelivered_text(traffic.asked[chat][0])
                       for c in failed(api, chat_id=chat))

        # Each first answer was given up on at the deadline; its apology is being retried.
        await until(lambda: all(apologising(c) for c in (321, 322, 323)), "apologies")
        api.clear_faults()
        await api.wait_for(count=traffic.questions, timeout=30)
        return traffic

    traffic = run_bot(seed_bot, scenario, delivery_deadline_s=2.0, **FAST)
    assert traffic.check_each_answered_once(apologies_allowed=True) == {
        "answered": 1, "apologised": 3}
    late = traffic.api.sent(323)
    assert late[0].text == undelivered_text(QUESTIONS[3])  # in order: the apology, then ...
    assert late[1].text == traffic.reply_for(QUESTIONS[4])  # ... the next answer
    assert "“How much money has the trust fund raised?”" in late[0].text


def test_unreachable_to_the_end_is_logged_and_shutdown_does_not_wait(seed_bot, caplog):
    """Nothing delivered before the bot stops: each loss is an ERROR line, and stopping gives
    up the retries at once instead of waiting out the 10-minute delivery deadline."""
    api = FakeBotAPI().start()
    stopped_in = []

    async def main():
        async with running_bot(seed_bot, api, **FAST):
            api.fail("sendMessage", status=500, times=None)
            api.message(331, QUESTIONS[0])
            api.message(332, QUESTIONS[1])
            await until(lambda: len(failed(api, chat_id=332)) >= 3, "failed sends")
            t0 = time.monotonic()
        stopped_in.append(time.monotonic() - t0)

    try:
        with caplog.at_level(logging.ERROR, logger="citebot.telegram"):
            asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        api.stop()
    assert stopped_in  # (a hung shutdown would have hit wait_for's 60 s first)
    lost = [r.getMessage() for r in caplog.records if "went unanswered" in r.getMessage()]
    assert sorted(lost) == [f"could not deliver an apology in chat {c} either (NetworkError): "
                            "the update went unanswered" for c in (331, 332)]
    assert not api.sent()


def test_revoked_token_stops_the_bot_with_a_clear_error(seed_bot):
    """Telegram answering 401 to getUpdates (the token was revoked): the bot does not idle on
    forever; `citebot telegram` exits with the one-line "rejected the token" error."""
    import bot.cli  # noqa: F401 - the command line, as `citebot` loads it
    from bot.cli.telegram import _telegram_errors
    from bot.telegram.app import run_polling
    from index.errors import UsageError

    done = threading.Event()
    with FakeBotAPI() as api:
        settings = bot_settings(api, **FAST)

        def revoke():
            if api.wait_for_sync("getUpdates", timeout=60):  # the bot is polling
                api.token = "7123456789:AAnotherTokenNowThatTheOldOneIsRevoked"
            if not done.wait(30):  # a safety net: a bot that idles on is stopped, and fails
                os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=revoke, daemon=True).start()
        try:
            with pytest.raises(UsageError) as exc, _telegram_errors():
                run_polling(seed_bot, settings)
        finally:
            done.set()
    assert exc.value.user_message() == ("Telegram rejected the token in TELEGRAM_BOT_TOKEN "
                                        "(copy it again from @BotFather)")
    assert [c.status for c in api.calls_to("getUpdates", ok=None)][-1] == 401


def test_a_damaged_rebuild_is_refused_and_the_loaded_index_keeps_answering(
        seed_bot, embedder, seed_dir, tmp_path, caplog):
    from index.config import resolve
    from index.engine import Citebot
    from index.store.store import read_manifest

    index = tmp_path / "index"
    shutil.copytree(seed_bot.config.index, index)
    bot, builder = (Citebot(resolve(corpus=seed_dir, index=index), embedder=embedder)
                    for _ in range(2))
    loaded = read_manifest(index)["generation"]

    async def scenario(api, app):
        traffic = Traffic(api, seed_bot)
        traffic.ask(341, QUESTIONS[0])
        await api.wait_for(chat_id=341)
        # `citebot index build` elsewhere writes a new generation ...
        manifest = await asyncio.to_thread(builder.build)
        path = index / manifest["generation"] / "faiss.index"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x10  # ... whose vectors are then silently damaged
        path.write_bytes(bytes(data))
        traffic.ask(341, QUESTIONS[1])
        await api.wait_for(chat_id=341, count=2)
        return traffic

    with caplog.at_level(logging.WARNING, logger="citebot.telegram"):
        traffic = run_bot(bot, scenario, reload_every_s=0, **FAST)
    traffic.check_each_answered_once()
    assert bot.store.manifest["generation"] == loaded  # still the verified, loaded index
    assert any("could not be reloaded" in r.getMessage() and "checksum" in r.getMessage()
               for r in caplog.records)
