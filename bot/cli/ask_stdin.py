"""`citebot ask` output: one answer, and questions piped on stdin (plain lines or JSON Lines).

Plain lines in text form: each answer follows a separator naming its line and the question
("Q: …"), so answers match questions even when a bad line was skipped. With --json: one JSON
object a line, a bad line's ``{"error": …}`` in its place (common.each_stdin_line).
``--input jsonl``: one JSON object a line in, one JSON answer (or error) a line out.
"""

from __future__ import annotations

import json
import sys
import unicodedata

import click

from index import UsageError

from .. import render
from ..dates import BadDate, parse_date
from .common import NOT_UTF8, each_stdin_line, line_error, read_stdin_lines

MAX_K = 10


class BadLine(ValueError):
    """A JSON Lines line that cannot be asked: not JSON, not an object, a field of the wrong
    kind."""


def print_answer(bot, question, k, as_json, fmt=None, as_of=None):
    """Answer one question and print it as text, Markdown or JSON."""
    answer = bot.ask(question, k=k, as_of=as_of)
    if as_json:
        click.echo(render.answer_json(answer))
        return answer
    covered = None if answer.answered else [a.title for a in bot.articles_covered()][:5]
    if fmt == "markdown":
        click.echo(render.answer_markdown(answer, covered=covered))
    else:
        click.echo(render.answer_text(answer, width=render.terminal_width(), covered=covered))
    return answer


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


def answer_stdin(bot, k, as_json, fmt=None, as_of=None, input_fmt="text") -> None:
    """Answer every line of stdin, then exit: 2 when some line was refused, else 0."""
    if input_fmt != "jsonl":
        width = render.terminal_width()
        each_stdin_line(lambda line: print_answer(bot, line, k, as_json, fmt=fmt, as_of=as_of),
                        as_json, "question", header=lambda n, q: header(n, q, width))
    bad = 0
    for n, line in read_stdin_lines():
        out, ok = answer_line(bot, n, line, k, as_of)
        click.echo(out)
        bad += not ok
        sys.stdout.flush()  # a caller feeding one line at a time reads each answer now
    sys.exit(2 if bad else 0)


def parse_line(text: str | None, default_k: int, default_as_of) -> dict:
    """The request of one JSON Lines line: question, k, as_of (a date), since (ISO), source."""
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
    """(the output line for input line ``n``, whether it was answered rather than refused):
    exactly one line out per line in, in order."""
    question = None
    try:
        req = parse_line(text, default_k, default_as_of)
        question = req["question"]
        articles = None
        if req["since"] or req["source"]:
            articles = bot.articles_in_scope(since=req["since"], source=req["source"])
        answer = bot.ask(question, k=req["k"], as_of=req["as_of"], articles=articles)
        return render.json_line(answer.to_dict()), True
    except (BadLine, UsageError) as exc:  # UsageError: BadQuestion, no article in scope
        msg = exc.user_message() if isinstance(exc, UsageError) else str(exc)
        out = {"line": n, "error": line_error(n, msg)}
        if question is not None:
            out["question"] = question
        return render.json_line(out), False
