"""What every command shares: one-line errors, the index options, opening the index, stdin."""

from __future__ import annotations

import os
import signal
import sys
import threading

import click

from index import BadQuestion, CitebotError

from .. import render


def fail(message: str, code: int = 2) -> None:
    """One readable line on stderr (no registered secret, no terminal control), then exit."""
    from ..telegram.logging import scrub

    message = " ".join(render.clean(scrub(message)).split())  # one line, whatever it quotes
    if len(message) > 1000:
        message = f"{message[:600]}…{message[-300:]}"
    click.echo(f"citebot: error: {message}", err=True)
    sys.exit(code)


_interrupted = threading.Event()


def _on_sigint(_signum, _frame):
    # Remember the Ctrl-C: one that lands inside a C extension's import surfaces as
    # "ImportError: initialization failed", not as KeyboardInterrupt.
    _interrupted.set()
    raise KeyboardInterrupt


def _interrupt_in(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def interrupted() -> None:
    """Ctrl-C: one line and exit status 130 (what was being written is rolled back)."""
    click.echo("\ncitebot: interrupted (files being written were discarded)", err=True)
    # os._exit, not sys.exit: a Ctrl-C that landed in code a C extension ran with
    # PyRun_String marks the interpreter, which would then kill itself with SIGINT at exit
    # (status -2) although the interrupt was handled. The temporary files are gone by now.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(130)


class CitebotGroup(click.Group):
    """The `citebot` group: every command's errors become one line and an exit code, never a
    traceback for users (the core's CitebotError: its message and code; anything else: an
    internal error, exit 1, traceback with CITEBOT_DEBUG=1)."""

    def invoke(self, ctx: click.Context):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _on_sigint)
        try:
            return super().invoke(ctx)
        except CitebotError as exc:
            fail(exc.user_message(), exc.exit_code)
        except KeyboardInterrupt:
            interrupted()
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except BrokenPipeError:
            sys.exit(0)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if _interrupted.is_set() or _interrupt_in(exc):
                interrupted()
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


def output_options(json_help: str = "JSON output (JSON Lines for stdin).",
                   markdown: str = "to paste"):
    """--json and --format, shared by the commands that print answers, quotes or passages."""
    def decorate(fn):
        fn = click.option("--format", "fmt", type=click.Choice(render.FORMATS), default=None,
                          help=f"Output form: text (default), markdown ({markdown}) or json.")(fn)
        return click.option("--json", "as_json", is_flag=True, help=json_help)(fn)
    return decorate


def open_bot(corpus=None, index_dir=None, model=None, threshold=None, quiet=False,
             precision=None, device="auto", sentence_vectors=None):
    """A Citebot for the resolved configuration; progress goes to stderr."""
    from index import Citebot, resolve

    say = (lambda _m: None) if quiet else (
        lambda m: click.echo(render.clean(f"citebot: {m}"), err=True))
    return Citebot(resolve(corpus, index_dir, model, threshold, precision=precision,
                           sentence_vectors=sentence_vectors),
                   progress=say, device=device)


NOT_UTF8 = "not valid UTF-8 text"


def read_stdin_lines():
    """Lines of stdin as (line number, text or None when not valid UTF-8)."""
    for n, raw in enumerate(sys.stdin.buffer, 1):
        try:
            yield n, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield n, None


def line_error(n: int, message: str) -> str:
    """'line N: message': the one place a line's number is put before its error (messages
    raised for a line never say "line N" themselves, so none reads "line 2: line 2 ...")."""
    return f"line {n}: {message}"


def each_stdin_line(handle, as_json: bool, key: str, blank_between: bool = False,
                    header=None) -> None:
    """``handle`` each non-blank line of stdin, then exit: 2 when a line was refused
    (BadQuestion: one line on stderr, or a JSON object naming the line as ``key``).
    ``header(n, line)``: text printed before each result in text form (and "(not answered:
    ...)" in place of a refused one), so each answer can be matched to its line."""
    bad = 0
    for n, line in read_stdin_lines():
        if line is not None and not line.strip():
            continue
        if header is not None and not as_json:
            click.echo(render.clean(header(n, line)))
        try:
            if line is None:
                raise BadQuestion(NOT_UTF8)
            handle(line)
        except BadQuestion as exc:
            bad += 1
            if as_json:
                click.echo(render.json_line({key: line, "line": n,
                                             "error": line_error(n, str(exc))}))
            else:
                if header is not None:
                    click.echo(render.clean(f"(not answered: {exc})"))
                click.echo(render.clean(f"citebot: error: {line_error(n, str(exc))}"), err=True)
        if blank_between and not as_json:
            click.echo("")  # a blank line between results
        sys.stdout.flush()
    sys.exit(2 if bad else 0)


def confirm_removal(chosen, corpus_dir, assume_yes: bool) -> bool:
    """True to go on: --yes, stdin not a terminal (a script, a pipe, cron: nobody to ask, so
    it proceeds as scripts expect), or the user answered y/yes (Enter, Ctrl-D, Ctrl-C: no)."""
    if assume_yes or not sys.stdin.isatty():
        return True
    click.echo(render.clean(f"About to delete {len(chosen)} article file(s) from {corpus_dir}:"),
               err=True)
    for key, path, art in chosen:
        title = art.title if art is not None else path.name
        click.echo(render.clean(f"  {key} — {title} ({path.name})"), err=True)
    try:
        answer = input("Delete them? [y/N] ")
    except (EOFError, KeyboardInterrupt):
        click.echo("", err=True)
        return False
    return answer.strip().lower() in ("y", "yes")
