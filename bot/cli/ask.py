"""`citebot ask` and `citebot source`: questions answered with quotes, and a quote's source."""

from __future__ import annotations

import sys

import click

from .. import render
from .common import fail, index_options, open_bot, output_options


@click.command()
@click.argument("question", nargs=-1)
@click.option("-k", "k", default=3, show_default=True, type=click.IntRange(1, 10),
              help="At most this many quotes.")
@output_options()
@click.option("--threshold", type=float, help="Not-found threshold [env CITEBOT_THRESHOLD].")
@click.option("--since", metavar="DATE",
              help="Only articles published on or after this date (YYYY-MM-DD or ISO 8601; "
                   "undated ones left out).")
@click.option("--source", "source_name", help="Only articles from this source (any case).")
@click.option("--as-of", "as_of", metavar="DATE",
              help="Answer as of this date (YYYY-MM-DD or ISO 8601): later articles are not "
                   "used. Default: today.")
@click.option("--input", "input_fmt", type=click.Choice(["text", "jsonl"]), default="text",
              show_default=True, help="Stdin: a question a line, or JSON Lines "
                                      '({"question": ..., "as_of": ..., "k": ...}).')
@index_options
def ask(question, k, as_json, threshold, since, source_name, corpus, index_dir, model,
        fmt=None, as_of=None, input_fmt="text"):
    """Answer a question with quotes from the articles (stdin: one question per line)."""
    from ..dates import BadDate, parse_date, today
    from .ask_stdin import answer_stdin, print_answer

    as_json = as_json or fmt == "json"
    try:
        day = parse_date(as_of) if as_of is not None else today()
    except BadDate as exc:
        fail(f"--as-of: {exc}")
    try:
        since = parse_date(since) if since is not None else None
    except BadDate as exc:
        fail(f"--since: {exc}")
    if input_fmt == "jsonl" and (question or sys.stdin.isatty()):
        fail("--input jsonl reads JSON Lines from stdin, not arguments or a terminal "
             "(pipe a file in: citebot ask --input jsonl < questions.jsonl)")
    bot = open_bot(corpus, index_dir, model, threshold)
    if since or source_name:
        bot.scope = {"since": since and since.isoformat(), "source": source_name}
        bot.articles_in_scope()  # no matching article: say so now, before any question
    if question:
        print_answer(bot, " ".join(question), k, as_json, fmt=fmt, as_of=day)
        return
    bot.keep_warm()  # a stream of questions or the prompt: the index is mapped in once
    if not sys.stdin.isatty():
        answer_stdin(bot, k, as_json, fmt=fmt, as_of=day, input_fmt=input_fmt)
    from .prompt import interactive

    interactive(bot, k=k, as_json=as_json, as_of=day)


@click.command()
@click.argument("citation_id")
@output_options("JSON output.", markdown="the passage, to paste")
@click.option("--around", default=1, show_default=True, type=click.IntRange(0, 20),
              help="Paragraphs shown before and after.")
@index_options
def source(citation_id, as_json, around, corpus, index_dir, model, fmt=None):
    """Show a cited passage (art:p3 or art:120-240) with the text around it."""
    view = open_bot(corpus, index_dir, model).source(citation_id, around=around)
    if as_json or fmt == "json":
        click.echo(render.json_line(view.to_dict()))
    elif fmt == "markdown":
        click.echo(render.source_markdown(view), nl=False)
    else:
        click.echo(render.source_text(view, width=render.terminal_width()), nl=False)


