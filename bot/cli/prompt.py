"""The interactive prompt: the model loads once, then question after question.

It is a conversation, like the Telegram bot: a short follow-up ("How many officers were in
it?") is read with the previous question (index/search/conversation.py) and the answer says so;
`/new` forgets the previous question. A corpus changed meanwhile is rebuilt in the background
(index/live/reloader.py) while questions are answered from the loaded index; the prompt says
when it switched. Line editing and history come from GNU readline where Python has it
(``start_history``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from index import BadQuestion, Conversations

from .. import render

_KEY = "prompt"
HISTORY_LINES = 1000


def interactive(bot, k: int = 3, as_json: bool = False,
                conversations: Conversations | None = None, check_every_s: float = 5.0,
                as_of=None) -> None:
    """Ask questions until EOF or `quit`; `/new` forgets the previous question."""
    from index import IndexMissing, LiveIndex

    save_history = start_history() or (lambda: None)  # arrow keys, Ctrl-R, saved questions
    click.echo("citebot: loading the index…", err=True)
    try:
        bot.load_newer()  # the index as it is: a changed corpus is rebuilt in the background
    except IndexMissing:
        pass  # none yet: built now, with nothing to answer from meanwhile
    _ = bot.searcher
    talk = conversations or Conversations()
    notes: list[str] = []  # said by the background threads; printed before the next answer
    live = LiveIndex(bot, on_event=lambda _level, message: notes.append(message))
    click.echo("Ask a question about the articles (/new: new topic; empty line or Ctrl-D to "
               "quit).", err=True)
    try:
        _loop(bot, talk, live, notes, k, as_json, check_every_s, as_of, save_history)
    finally:
        live.close(wait=False)  # a build still running is stopped: the next `ask` redoes it


def _loop(bot, talk, live, notes, k, as_json, check_every_s, as_of=None,
          save_history=lambda: None) -> None:
    last_check = float("-inf")  # the first question looks at once
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
        if time.monotonic() - last_check >= check_every_s:
            last_check = time.monotonic()
            live.check()  # in the background: this question is answered from the loaded index
        while notes:
            click.echo(f"citebot: {notes.pop(0)}", err=True)
        try:
            answer = talk.ask(bot, _KEY, line, k=k, as_of=as_of)
        except BadQuestion as exc:
            click.echo(f"citebot: {exc}", err=True)
            continue
        if as_json:
            click.echo(render.answer_json(answer))
        else:
            covered = None if answer.answered else [a.title for a in bot.articles_covered()][:5]
            click.echo(render.answer_text(answer, width=render.terminal_width(),
                                          covered=covered))


def history_path() -> Path:
    """Where the prompt's history lives: ``$XDG_STATE_HOME/citebot/history``
    (``~/.local/state/citebot/history``); CITEBOT_HISTORY overrides it."""
    if os.environ.get("CITEBOT_HISTORY"):
        return Path(os.environ["CITEBOT_HISTORY"]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state).expanduser() / "citebot" / "history"


def start_history():
    """Turn on line editing (importing readline gives ``input()`` arrow keys, Ctrl-R) and load
    the history; returns a function that saves it (None when readline is not available, as on
    some Windows Pythons). A history that cannot be read or written is only skipped."""
    try:
        import readline
    except ImportError:
        return None
    path = history_path()
    readline.set_history_length(HISTORY_LINES)
    try:
        readline.read_history_file(str(path))
    except (OSError, ValueError):
        pass  # no history yet, or unreadable: start empty

    def save() -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(str(path))
        except (OSError, ValueError):
            pass  # a read-only home or a full disk: the answers matter, not the history

    return save
