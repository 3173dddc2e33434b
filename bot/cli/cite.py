"""`citebot cite`: where does a quote come from, and is it quoted right?"""

from __future__ import annotations

import sys

import click

from index import UsageError

from .. import render
from .common import each_stdin_line, index_options, open_bot, output_options


def _render(result, fmt: str) -> str:
    if fmt == "json":
        return render.cite_json(result)
    if fmt == "markdown":
        return render.cite_markdown(result)
    return render.cite_text(result, width=render.terminal_width())


@click.command(name="cite")
@click.argument("text", nargs=-1)
@click.option("-n", "--limit", default=5, show_default=True, type=click.IntRange(1, 20),
              help="At most this many close matches.")
@output_options()
@index_options
def cite_cmd(text, limit, as_json, fmt, corpus, index_dir, model):
    """Find where a quote comes from and how its wording differs (stdin: one per line)."""
    from index import lookup_with_bot

    fmt = "json" if as_json else (fmt or "text")
    bot = open_bot(corpus, index_dir, model)
    if text:
        click.echo(_render(lookup_with_bot(bot, " ".join(text), limit=limit), fmt))
        return
    if sys.stdin.isatty():
        raise UsageError("no text to look up", fix='citebot cite "the words you have"')
    each_stdin_line(lambda line: click.echo(_render(lookup_with_bot(bot, line, limit=limit), fmt)),
                    fmt == "json", "query", blank_between=True)
