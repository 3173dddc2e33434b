"""Per-user rate limits and the retrying Bot API limiter (bot/telegram/limits.py)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.telegram.limits import RetryingLimiter, UserRateLimit, parse_rate
from bot.telegram.logging import REDACTED, protect, scrub


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_rate_limit_is_a_bucket_per_user_with_one_notice_per_stretch():
    clock = Clock()
    limit = UserRateLimit(3, 60.0, clock=clock)
    assert [limit.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limit.take("a")
    assert wait == pytest.approx(20.0)  # one question back every 20 s
    assert limit.take("b") == 0.0  # others are not limited
    assert limit.should_notify("a", wait) is True
    assert limit.should_notify("a", limit.take("a")) is False  # one polite reply, not a flood
    clock.t += 20.0
    assert limit.take("a") == 0.0
    assert limit.take("a") > 0 and limit.should_notify("a", 20.0) is True  # a new stretch


def test_rate_limit_off_and_bounded():
    assert UserRateLimit(0, 0.0).take("x") == 0.0
    limit = UserRateLimit(1, 60.0, max_users=2, clock=Clock())
    for user in "abc":
        limit.take(user)
    assert limit.take("a") == 0.0  # "a" was forgotten when "c" came: memory stays bounded


def test_parse_rate():
    assert parse_rate("5/30", (10, 60.0)) == (5, 30.0)
    assert parse_rate(None, (10, 60.0)) == (10, 60.0)
    assert parse_rate("off", (10, 60.0)) == (0, 0.0)
    for bad in ("fast", "5/0", "-1/60"):
        with pytest.raises(ValueError):
            parse_rate(bad, (10, 60.0))


def run_limited(limiter, outcomes, endpoint="sendMessage"):
    """Feed the limiter a callback that raises or returns ``outcomes`` in turn."""
    calls = []

    async def callback():
        calls.append(time.monotonic())
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def main():
        return await limiter.process_request(callback, (), {}, endpoint, {}, None)

    try:
        return asyncio.run(main()), calls
    except Exception as exc:  # noqa: BLE001 - the test looks at what came out
        return exc, calls


def test_retry_after_is_waited_out_then_retried():
    limiter = RetryingLimiter(backoff_s=0.01)
    result, calls = run_limited(limiter, [RetryAfter(1), "sent"])
    assert result == "sent" and len(calls) == 2
    assert calls[1] - calls[0] >= 1.0
    result, calls = run_limited(RetryingLimiter(max_flood_wait_s=5), [RetryAfter(60), "sent"])
    assert isinstance(result, RetryAfter) and len(calls) == 1  # too long: give up, say so


def test_network_errors_are_retried_a_few_times_rejections_never():
    limiter = RetryingLimiter(network_retries=2, backoff_s=0.01)
    result, calls = run_limited(limiter, [NetworkError("502"), TimedOut(), "sent"])
    assert result == "sent" and len(calls) == 3
    result, calls = run_limited(limiter, [NetworkError("x")] * 3)
    assert isinstance(result, NetworkError) and len(calls) == 3
    for final in (BadRequest("can't parse entities"), Forbidden("blocked")):
        result, calls = run_limited(limiter, [final, "sent"])
        assert result is final and len(calls) == 1


def test_messages_are_paced_over_all_chats():
    limiter = RetryingLimiter(messages_per_s=20.0)

    async def main():
        stamps = []

        async def send():
            stamps.append(time.monotonic())

        await asyncio.gather(*(limiter.process_request(send, (), {}, "sendMessage",
                                                       {"chat_id": i}, None)
                               for i in range(30)))
        await limiter.process_request(send, (), {}, "answerCallbackQuery", {}, None)
        return stamps

    stamps = asyncio.run(main())
    assert len(stamps) == 31
    assert stamps[29] - stamps[0] >= 0.45  # 20 at once, then 10 more at 20 a second


def test_messages_to_one_group_are_paced_per_minute():
    """Telegram's 20 messages a minute per group (AIORateLimiter): the 21st waits its slot,
    other chats do not."""
    limiter = RetryingLimiter(messages_per_s=0, group_messages_per_min=20)

    async def main():
        stamps = {}

        async def send(chat):
            stamps.setdefault(chat, []).append(time.monotonic())

        calls = [limiter.process_request(send, (chat,), {}, "sendMessage", {"chat_id": chat},
                                         None) for chat in [-100] * 21 + [7] * 25]
        await asyncio.gather(*calls)
        return stamps

    stamps = asyncio.run(main())
    group, private = stamps[-100], stamps[7]
    assert len(group) == 21 and len(private) == 25
    assert group[19] - group[0] < 1.0  # a burst of 20 passes at once
    assert group[20] - group[0] >= 2.5  # then one every 3 s
    assert private[-1] - private[0] < 1.0  # private chats: no per-chat limit


def test_scrubbing_protects_every_record(caplog):
    protect("sekret-token-123456")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("citebot.test").debug("url https://x/botsekret-token-123456/getMe")
        try:
            raise ValueError("sekret-token-123456 in an exception")
        except ValueError:
            logging.getLogger("citebot.test").exception("failed %s", "sekret-token-123456")
    text = caplog.text
    assert "sekret-token-123456" not in text
    assert text.count(REDACTED) >= 3 and "ValueError" in text
    assert scrub("a sekret-token-123456 b") == f"a {REDACTED} b"
