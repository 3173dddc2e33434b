"""Questions (or lookups) read from stdin one a line, and how a bad line is reported.

The line number is added in one place only (``line_error``): messages raised for a line say
what is wrong with it, never "line N" themselves, so no message reads "line 2: line 2 …".
"""

from __future__ import annotations

import sys
import unicodedata

NOT_UTF8 = "not valid UTF-8 text"


def read_lines(stream=None):
    """Lines of stdin as (line number, text or None when not valid UTF-8)."""
    for n, raw in enumerate(stream or sys.stdin.buffer, 1):
        try:
            yield n, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield n, None


def line_error(n: int, message: str) -> str:
    """'line N: message': the one place a line's number is put before its error."""
    return f"line {n}: {message}"


def printable(text: str) -> str:
    """A question as it may be echoed to a terminal: control characters (escape sequences
    among them) shown as spaces, so an echoed line cannot move the cursor or retitle it."""
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)


def header(n: int, question: str | None, width: int) -> str:
    """What precedes each answer to piped questions in plain text: a separator naming the line
    and the question itself, so each answer can be matched to its question."""
    rule = f"── line {n} "
    rule += "─" * max(3, min(width, 60) - len(rule))
    if question is None:
        return rule
    return f"{rule}\nQ: {printable(question).strip()}"
