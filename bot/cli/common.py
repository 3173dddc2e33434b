"""What every command shares: one-line errors, the index options, opening the index, stdin."""

from __future__ import annotations

import functools
import os
import sys

import click

from index import CitebotError


def fail(message: str, code: int = 2) -> None:
    """One readable line on stderr, then exit."""
    click.echo(f"citebot: error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn):
    """Turn the core's errors into one line and an exit code; never a traceback for users."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
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

    return wrapper


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
