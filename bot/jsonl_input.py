"""`citebot ask --input jsonl`: one JSON object a line, one JSON answer (or error) a line.

A line reads ``{"question": "...", "as_of": "2022-06-16", "k": 3, "since": "2022-01-01",
"source": "..."}``; only ``question`` is required. Each line is answered with the usual JSON
answer, its ``as_of`` echoed; a bad line gets ``{"line": N, "error": "line N: ..."}`` in its
place and the rest are answered, so the output has exactly one line per input line, in order.
"""

from __future__ import annotations

import json

from index.errors import UsageError

from .dates import BadDate, parse_date
from .stdin_lines import NOT_UTF8, line_error

FIELDS = ("question", "as_of", "k", "since", "source")
MAX_K = 10


class BadLine(ValueError):
    """A line that cannot be asked: not JSON, not an object, or a field of the wrong kind."""


def parse_line(text: str | None, default_k: int, default_as_of) -> dict:
    """The request of one line: question, k, as_of (a date), since (ISO) and source."""
    if text is None:
        raise BadLine(NOT_UTF8)
    if not text.strip():
        raise BadLine("empty line (expected a JSON object with a \"question\")")
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise BadLine(f"not valid JSON ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(record, dict):
        raise BadLine(f"not a JSON object but {type(record).__name__}")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise BadLine('"question" must be a non-empty string')
    k = record.get("k", default_k)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise BadLine(f'"k" must be a whole number from 1 to {MAX_K}, not {k!r}')
    out = {"question": question, "k": k, "as_of": default_as_of, "since": None, "source": None}
    try:
        if record.get("as_of") is not None:
            out["as_of"] = parse_date(record["as_of"])
        if record.get("since") is not None:
            out["since"] = parse_date(record["since"]).isoformat()
    except BadDate as exc:
        raise BadLine(str(exc)) from None
    source = record.get("source")
    if source is not None and (not isinstance(source, str) or not source.strip()):
        raise BadLine('"source" must be a non-empty string')
    out["source"] = source
    return out


def answer_line(bot, n: int, text: str | None, default_k: int, default_as_of) -> tuple[str, bool]:
    """(the output line for input line ``n``, whether it was answered rather than refused)."""
    question = None
    try:
        req = parse_line(text, default_k, default_as_of)
        question = req["question"]
        articles = None
        if req["since"] or req["source"]:
            articles = bot.articles_in_scope(since=req["since"], source=req["source"])
        answer = bot.ask(question, k=req["k"], as_of=req["as_of"], articles=articles)
        return json.dumps(answer.to_dict(), ensure_ascii=False), True
    except (BadLine, UsageError) as exc:  # UsageError: BadQuestion, no article in scope
        msg = exc.user_message() if isinstance(exc, UsageError) else str(exc)
        out = {"line": n, "error": line_error(n, msg)}
        if question is not None:
            out["question"] = question
        return json.dumps(out, ensure_ascii=False), False
