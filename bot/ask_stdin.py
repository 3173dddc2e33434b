"""`citebot ask` output: one answer, and questions piped on stdin (plain lines or JSON Lines).

Plain lines in text form: each answer follows a separator naming its line and the question
("Q: …"), so answers match questions even when a bad line was skipped. With --json: one JSON
object a line, a bad line's ``{"error": …}`` in its place. ``--input jsonl``: bot/jsonl_input.
"""

from __future__ import annotations

import json
import sys

import click

from index.errors import BadQuestion

from . import render
from .jsonl_input import answer_line
from .stdin_lines import NOT_UTF8, header, line_error, read_lines


def print_answer(bot, question, k, as_json, fmt=None, as_of=None):
    """Answer one question and print it as text, Markdown or JSON."""
    answer = bot.ask(question, k=k, as_of=as_of)
    if as_json:
        click.echo(render.answer_json(answer))
        return answer
    covered = None
    if not answer.answered:
        allowed = bot.articles_in_scope()
        covered = [a.title for a in bot.store.articles if allowed is None or a.id in allowed][:5]
    if fmt == "markdown":
        click.echo(render.answer_markdown(answer, covered=covered))
    else:
        click.echo(render.answer_text(answer, width=render.terminal_width(), covered=covered))
    return answer


def answer_stdin(bot, k, as_json, fmt=None, as_of=None, input_fmt="text") -> int:
    """Answer every line of stdin; the exit code: 2 when some line was refused, else 0."""
    bad = 0
    width = render.terminal_width()
    for n, line in read_lines():
        if input_fmt == "jsonl":
            out, ok = answer_line(bot, n, line, k, as_of)
            click.echo(out)
            bad += not ok
            sys.stdout.flush()  # a caller feeding one line at a time reads each answer now
            continue
        if line is not None and not line.strip():
            continue  # blank lines are skipped in plain-line input
        if not as_json:
            click.echo(header(n, line, width))
        try:
            if line is None:
                raise BadQuestion(NOT_UTF8)
            print_answer(bot, line, k, as_json, fmt=fmt, as_of=as_of)
        except BadQuestion as exc:
            bad += 1
            message = line_error(n, str(exc))
            if as_json:
                click.echo(json.dumps({"question": line, "line": n, "error": message},
                                      ensure_ascii=False))
            else:
                click.echo(f"(not answered: {exc})")
                click.echo(f"citebot: error: {message}", err=True)
        sys.stdout.flush()
    return 2 if bad else 0
