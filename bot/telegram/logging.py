"""Logging for the bot with the token kept out of every record.

The Bot API puts the token in every request URL, and httpx logs request URLs at INFO: the HTTP
client loggers are silenced below WARNING. As a second line of defence, a log record factory
replaces each registered secret in every record's message, arguments and traceback text, for
whatever handler is attached (files, journald, a test's capture).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback

REDACTED = "[REDACTED]"
_HTTP_LOGGERS = ("httpx", "httpcore", "hpack", "tornado.access")

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False
_compiled: tuple[frozenset, re.Pattern | None] | None = None


def _forms(secret: str) -> set[str]:
    """The secret as written and as URL-encoded (in a query string or a path)."""
    from urllib.parse import quote, quote_plus

    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}


def _pattern() -> re.Pattern | None:
    # Case-insensitive: python-telegram-bot capitalizes some error texts, and an upper- or
    # lower-cased token is still the token (so is %3a for %3A). Longest forms first.
    global _compiled
    with _lock:
        if _compiled is None or _compiled[0] != frozenset(_secrets):
            forms = sorted({f for s in _secrets if s for f in _forms(s)}, key=len, reverse=True)
            rx = re.compile("|".join(map(re.escape, forms)), re.I) if forms else None
            _compiled = (frozenset(_secrets), rx)
        return _compiled[1]


def scrub(text: str) -> str:
    """The text with every registered secret replaced, in any letter case or URL encoding."""
    rx = _pattern() if _secrets else None
    return rx.sub(REDACTED, text) if rx is not None and text else text


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logging's own business
        return
    clean = scrub(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        clean = scrub(text)
        if clean != text:
            # Formatters print exc_text when set; the exception itself still holds the secret.
            record.exc_text, record.exc_info = clean, None
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


def protect(*secrets: str) -> None:
    """Keep these strings out of every log record from now on (process-wide)."""
    global _installed
    with _lock:
        _secrets.update(s for s in secrets if s)
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs):
            record = previous(*args, **kwargs)
            if _secrets:
                _scrub_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def scrub_tracebacks() -> None:
    """Tracebacks printed outside logging (an uncaught exception, in the main thread or another
    one, e.g. with CITEBOT_DEBUG=1) are scrubbed too."""
    import sys

    def excepthook(typ, value, tb):
        sys.stderr.write(scrub("".join(traceback.format_exception(typ, value, tb))))

    def thread_excepthook(args):
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        sys.stderr.write(scrub(f"Exception in thread {name}:\n" + "".join(
            traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def quiet_http_logs() -> None:
    """The HTTP client logs request URLs (with the token) at INFO and DEBUG: warnings only."""
    for name in _HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure(level: str | int = "INFO") -> None:
    """Logging for `citebot telegram`: one line per record on stderr, secrets protected."""
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
        if not isinstance(level, int):
            level = logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    quiet_http_logs()
    scrub_tracebacks()
    if level > logging.DEBUG:  # faiss tells at INFO which CPU builds it did not find
        logging.getLogger("faiss.loader").setLevel(logging.WARNING)
