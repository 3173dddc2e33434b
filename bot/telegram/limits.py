"""Limits of the Telegram bot: per-user question budgets, and retries of Bot API calls."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.constants import FloodLimit
from telegram.error import BadRequest, ChatMigrated, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter

log = logging.getLogger("citebot.telegram")


class _OwnFloodLines(logging.Filter):
    """AIORateLimiter logs a traceback for every 429 it passes on; RetryingLimiter below logs
    its own line for each (and retries), so that one is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Rate limit hit after maximum of 0 retries")


logging.getLogger("telegram.ext.AIORateLimiter").addFilter(_OwnFloodLines())


class UserRateLimit:
    """A token bucket per user: ``capacity`` questions at once, refilled over ``period_s``.

    ``take`` returns 0 when the question may go ahead, else the seconds until it could.
    ``should_notify`` is true once per refused stretch, so a flood gets one polite reply.
    """

    def __init__(self, capacity: int, period_s: float, max_users: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.capacity = capacity
        self.rate = capacity / period_s if period_s > 0 else 0.0
        self.max_users = max_users
        self.clock = clock
        self._buckets: OrderedDict[Any, list[float]] = OrderedDict()  # key -> [tokens, at]
        self._notified: dict[Any, float] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0 and self.rate > 0

    def take(self, key) -> float:
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, [float(self.capacity), now])
            tokens = min(float(self.capacity), tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = [tokens - 1.0, now]
                self._notified.pop(key, None)
                wait = 0.0
            else:
                self._buckets[key] = [tokens, now]
                wait = (1.0 - tokens) / self.rate
            while len(self._buckets) > self.max_users:
                old, _ = self._buckets.popitem(last=False)
                self._notified.pop(old, None)
            return wait

    def should_notify(self, key, wait: float) -> bool:
        """True for the first refusal of a stretch (until the user may ask again)."""
        now = self.clock()
        with self._lock:
            if self._notified.get(key, 0.0) > now:
                return False
            self._notified[key] = now + wait
            return True


def parse_rate(text: str | None, default: tuple[int, float]) -> tuple[int, float]:
    """'10/60' -> (10, 60.0): at most 10 questions per 60 seconds; '0' or 'off' disables."""
    if text is None or not text.strip():
        return default
    text = text.strip().lower()
    if text in ("0", "off", "none", "no"):
        return (0, 0.0)
    count, _, period = text.partition("/")
    try:
        n, p = int(count), float(period or 60)
    except ValueError:
        raise ValueError(f"{text!r} is not a rate like 10/60 (questions/seconds)") from None
    if n < 0 or p <= 0:
        raise ValueError(f"{text!r} is not a rate like 10/60 (questions/seconds)")
    return (n, p)


def _seconds(value) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class RetryingLimiter(AIORateLimiter):
    """Every Bot API call but getUpdates goes through here: pacing, flood waits, retries.

    Pacing is python-telegram-bot's AIORateLimiter: calls to a chat at most
    ``messages_per_s`` a second over all chats (Telegram's limit for a bot is about 30),
    and at most ``group_messages_per_min`` a minute to one group or channel (Telegram's 20);
    bursts of that size pass at once. 0 turns either off.

    A message to a person (send*, copy*, forward*) is *delivered or given up on*: through
    network errors, timeouts, 5xx answers and 429s (``RetryAfter``, waited out as Telegram
    says) it is tried again, with exponential backoff capped at ``max_backoff_s``, until
    ``delivery_deadline_s`` has passed since its first try; only then does the error reach the
    handler, which apologises (bot/telegram/handlers.py). A single wait longer than
    ``max_flood_wait_s`` is not waited out. Other calls (answers to button taps and inline
    queries, which Telegram expires within seconds), and every call when
    ``delivery_deadline_s`` is None, get ``network_retries`` more tries after network errors
    and at most ``max_flood_wait_s`` of flood waits in all. Rejections (400, 403, 401) are
    final. A timed-out call is retried although Telegram may have carried it out: a message
    sent twice is better than an answer lost. ``stop_retrying`` (at shutdown) makes every
    pending retry give up at once, so that stopping never waits out an outage.
    """

    DELIVERED = ("send", "copy", "forward")  # endpoints that carry a message to a person

    def __init__(self, network_retries: int = 4, backoff_s: float = 0.5,
                 max_backoff_s: float = 15.0, max_flood_wait_s: float = 120.0,
                 messages_per_s: float = FloodLimit.MESSAGES_PER_SECOND,
                 delivery_deadline_s: float | None = None,
                 group_messages_per_min: float = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP):
        # 429s come back to process_request below at once (max_retries=0): it decides.
        super().__init__(overall_max_rate=messages_per_s, overall_time_period=1,
                         group_max_rate=group_messages_per_min, group_time_period=60,
                         max_retries=0)
        self.network_retries = network_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_flood_wait_s = max_flood_wait_s
        self.messages_per_s = messages_per_s
        self.delivery_deadline_s = delivery_deadline_s
        self.gave_up = 0  # calls that failed for good after retrying (deadline, or shutdown)
        self._stopping = False
        self._wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    async def _sleep(self, delay: float) -> bool:
        """Sleep before a retry; False when told to stop retrying meanwhile."""
        if self._stopping:
            return False
        loop = asyncio.get_running_loop()
        if self._wake is None or self._wake[0] is not loop:
            self._wake = (loop, asyncio.Event())
        try:
            await asyncio.wait_for(self._wake[1].wait(), delay)
        except asyncio.TimeoutError:
            return not self._stopping
        return False

    def stop_retrying(self) -> None:
        """Shutting down: calls still failing give up now instead of retrying."""
        self._stopping = True
        if self._wake is not None:
            self._wake[1].set()

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]],
                              args: Any, kwargs: dict[str, Any], endpoint: str,
                              data: dict[str, Any], rate_limit_args: None):
        failures, waited = 0, 0.0
        deliver = self.delivery_deadline_s is not None and endpoint.startswith(self.DELIVERED)
        started = time.monotonic()

        def too_late(delay: float) -> bool:
            if self._stopping:
                return True
            if deliver:
                return (time.monotonic() + delay - started > self.delivery_deadline_s
                        or (flood and delay > self.max_flood_wait_s))
            return waited + delay > self.max_flood_wait_s if flood else \
                failures > self.network_retries

        while True:
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, 0)
            except RetryAfter as exc:
                with warnings.catch_warnings():  # int vs timedelta: PTB 22 warns, both work
                    warnings.simplefilter("ignore")
                    delay = _seconds(exc.retry_after)
                flood = True
                if too_late(delay):
                    self.gave_up += 1
                    raise
                log.warning("flood control: Telegram asked to wait %.0f s before %s",
                            delay, endpoint)
                waited += delay
                if not await self._sleep(delay):
                    self.gave_up += 1
                    raise
            except (BadRequest, ChatMigrated):
                raise
            except NetworkError as exc:
                failures += 1
                flood = False
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** min(failures - 1, 30))
                if too_late(delay):
                    self.gave_up += 1
                    raise
                # A long outage retries many times: the first retries and every tenth are told.
                level = logging.WARNING if failures <= 3 or failures % 10 == 0 else logging.DEBUG
                log.log(level, "network error on %s (%s); retry %d in %.1f s", endpoint,
                        type(exc).__name__, failures, delay)
                if not await self._sleep(delay):
                    self.gave_up += 1
                    raise
