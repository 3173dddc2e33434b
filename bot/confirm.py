"""Asking before a command deletes something (`citebot remove`).

On a terminal the user is asked (y/N; anything else, Enter, Ctrl-D or Ctrl-C keeps the files)
unless --yes was given. With stdin not a terminal (a script, a pipe, cron) there is nobody to
ask: the command proceeds, as scripts expect, and says what it removed.
"""

from __future__ import annotations

import sys

import click


def confirm_removal(chosen, corpus_dir, assume_yes: bool) -> bool:
    """True to go on: --yes, stdin not a terminal, or the user answered yes."""
    if assume_yes or not sys.stdin.isatty():
        return True
    names = [f"  {key} — {art.title if art is not None else path.name} ({path.name})"
             for key, path, art in chosen]
    click.echo(f"About to delete {len(chosen)} article file(s) from {corpus_dir}:", err=True)
    for line in names:
        click.echo(line, err=True)
    try:
        answer = input("Delete them? [y/N] ")
    except (EOFError, KeyboardInterrupt):
        click.echo("", err=True)
        return False
    return answer.strip().lower() in ("y", "yes")
