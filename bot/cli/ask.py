"""`citebot ask` and `citebot source`: questions answered with quotes, and a quote's source."""

from __future__ import annotations

import sys

import click

from .. import render
from .common import each_stdin_line, index_options, open_bot


def _print_answer(bot, question, k, as_json, fmt=None):
    answer = bot.ask(question, k=k)
    if as_json:
        click.echo(render.answer_json(answer))
    else:
        covered = None if answer.answered else [a.title for a in bot.articles_covered()][:5]
        show = render.answer_markdown if fmt == "markdown" else render.answer_text
        click.echo(show(answer, covered=covered))
    return answer


@click.command()
@click.argument("question", nargs=-1)
@click.option("-k", "k", default=3, show_default=True, type=click.IntRange(1, 10),
              help="At most this many quotes.")
@click.option("--json", "as_json", is_flag=True, help="JSON output (JSON Lines for stdin).")
@click.option("--format", "fmt", type=click.Choice(render.FORMATS), default=None,
              help="Output form: text (default), markdown (to paste) or json.")
@click.option("--threshold", type=float, help="Not-found threshold [env CITEBOT_THRESHOLD].")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Only articles published on or after this date (undated ones left out).")
@click.option("--source", "source_name", help="Only articles from this source (any case).")
@index_options
def ask(question, k, as_json, threshold, since, source_name, corpus, index_dir, model,
        fmt=None):
    """Answer a question with quotes from the articles (stdin: one question per line)."""
    as_json = as_json or fmt == "json"
    bot = open_bot(corpus, index_dir, model, threshold)
    if since or source_name:
        bot.scope = {"since": since and since.date().isoformat(), "source": source_name}
        bot.articles_in_scope()  # no matching article: say so now, before any question
    if question:
        _print_answer(bot, " ".join(question), k, as_json, fmt=fmt)
        return
    if not sys.stdin.isatty():
        each_stdin_line(lambda line: _print_answer(bot, line, k, as_json, fmt=fmt), as_json,
                        "question")
    from .prompt import interactive

    interactive(bot, k=k, as_json=as_json)


@click.command()
@click.argument("citation_id")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--format", "fmt", type=click.Choice(render.FORMATS), default=None,
              help="Output form: text (default), markdown (the passage, to paste) or json.")
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
        click.echo(render.source_text(view), nl=False)


