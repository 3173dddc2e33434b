"""What every command shares: one-line errors, the index options, opening the index, stdin."""

from __future__ import annotations

import json
import os
import sys

import click

from index import BadQuestion, CitebotError


def fail(message: str, code: int = 2) -> None:
    """One readable line on stderr, then exit."""
    click.echo(f"citebot: error: {message}", err=True)
    sys.exit(code)


class CitebotGroup(click.Group):
    """The `citebot` group: every command's errors become one line and an exit code, never a
    traceback for users (the core's CitebotError: its message and code; anything else: an
    internal error, exit 1, traceback with CITEBOT_DEBUG=1)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CitebotError as exc:
            fail(exc.user_message(), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except BrokenPipeError:
            sys.exit(0)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("CITEBOT_DEBUG"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} "
                 "(set CITEBOT_DEBUG=1 to see the traceback)", 1)


def index_options(fn):
    """--corpus, --index and --model, shared by every command that opens the index."""
    fn = click.option("--model", help="Embedding model folder or name [env CITEBOT_MODEL].")(fn)
    fn = click.option("--index", "index_dir", type=click.Path(file_okay=False),
                      help="Index folder [env CITEBOT_INDEX].")(fn)
    fn = click.option("--corpus", type=click.Path(file_okay=False),
                      help="Folder of articles [env CITEBOT_CORPUS].")(fn)
    return fn


def open_bot(corpus=None, index_dir=None, model=None, threshold=None, quiet=False):
    """A Citebot for the resolved configuration; progress goes to stderr."""
    from index import Citebot, resolve

    say = (lambda _m: None) if quiet else (lambda m: click.echo(f"citebot: {m}", err=True))
    return Citebot(resolve(corpus, index_dir, model, threshold), progress=say)


def read_stdin_lines():
    """Lines of stdin as (line number, text or None when not valid UTF-8)."""
    for n, raw in enumerate(sys.stdin.buffer, 1):
        try:
            yield n, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield n, None


def each_stdin_line(handle, as_json: bool, key: str, blank_between: bool = False) -> None:
    """``handle`` each non-blank line of stdin, then exit: 2 when a line was refused
    (BadQuestion: one line on stderr, or a JSON object naming the line as ``key``)."""
    bad = 0
    for n, line in read_stdin_lines():
        if line is not None and not line.strip():
            continue
        try:
            if line is None:
                raise BadQuestion(f"line {n} is not valid UTF-8 text")
            handle(line)
        except BadQuestion as exc:
            bad += 1
            if as_json:
                click.echo(json.dumps({key: line, "error": str(exc)}, ensure_ascii=False))
            else:
                click.echo(f"citebot: error: line {n}: {exc}", err=True)
        if blank_between and not as_json:
            click.echo("")  # a blank line between results
        sys.stdout.flush()
    sys.exit(2 if bad else 0)
