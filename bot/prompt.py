"""The interactive prompt: the model loads once, then question after question.

It is a conversation, like the Telegram bot: a short follow-up ("How many officers were in
it?") is read with the previous question (index/conversation.py) and the answer says so;
`/new` forgets the previous question.
"""

from __future__ import annotations

import click

from index.conversation import Conversations
from index.errors import BadQuestion

from . import render

_KEY = "prompt"


def interactive(bot, k: int = 3, as_json: bool = False,
                conversations: Conversations | None = None, as_of=None) -> None:
    """Ask questions until EOF or `quit`; `/new` forgets the previous question."""
    from .prompt_history import start_history

    save_history = start_history() or (lambda: None)  # arrow keys, Ctrl-R, saved questions
    click.echo("citebot: loading the index…", err=True)
    _ = bot.searcher
    talk = conversations or Conversations()
    click.echo("Ask a question about the articles (/new: new topic; empty line or Ctrl-D to "
               "quit).", err=True)
    while True:
        try:
            line = input("? ")
        except (EOFError, KeyboardInterrupt):
            click.echo("", err=True)
            return
        command = line.strip()
        if command:
            save_history()  # after each question: a killed prompt keeps what was asked
        if not command or command in ("quit", "exit"):
            return
        if command == "/new":
            talk.forget(_KEY)
            click.echo("citebot: new topic: the next question is read on its own.", err=True)
            continue
        try:
            answer = talk.ask(bot, _KEY, line, k=k, as_of=as_of)
        except BadQuestion as exc:
            click.echo(f"citebot: {exc}", err=True)
            continue
        if as_json:
            click.echo(render.answer_json(answer))
        else:
            covered = None if answer.answered else [a.title for a in bot.store.articles][:5]
            click.echo(render.answer_text(answer, width=render.terminal_width(),
                                          covered=covered))
