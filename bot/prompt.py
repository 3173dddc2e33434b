"""The interactive prompt: the model loads once, then question after question."""

from __future__ import annotations

import click

from index.errors import BadQuestion

from . import render


def interactive(bot, k: int = 3, as_json: bool = False) -> None:
    """Ask questions until EOF or `quit`; `/new` forgets the previous question."""
    click.echo("citebot: loading the index…", err=True)
    _ = bot.searcher
    click.echo("Ask a question about the articles (empty line or Ctrl-D to quit).", err=True)
    while True:
        try:
            line = input("? ")
        except (EOFError, KeyboardInterrupt):
            click.echo("", err=True)
            return
        if not line.strip() or line.strip() in ("quit", "exit"):
            return
        try:
            answer = bot.ask(line, k=k)
        except BadQuestion as exc:
            click.echo(f"citebot: {exc}", err=True)
            continue
        click.echo(render.answer_json(answer) if as_json else render.answer_text(answer))
