"""The `citebot` command line: a thin layer over index.engine."""

from __future__ import annotations

import functools
import json
import os
import sys

import click

from index.errors import CitebotError

from . import render


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
    from index.config import resolve
    from index.engine import Citebot

    say = (lambda _m: None) if quiet else (lambda m: click.echo(f"citebot: {m}", err=True))
    return Citebot(resolve(corpus, index_dir, model, threshold), progress=say)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="citebot")
def cli():
    """citebot: answers questions about news articles with verbatim, cited quotes."""


@cli.command()
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
@click.option("--as-of", "as_of", metavar="DATE",
              help="Answer as of this date (YYYY-MM-DD or ISO 8601): later articles are not "
                   "used. Default: today.")
@click.option("--input", "input_fmt", type=click.Choice(["text", "jsonl"]), default="text",
              show_default=True, help="Stdin: a question a line, or JSON Lines "
                                      '({"question": ..., "as_of": ..., "k": ...}).')
@index_options
@handle_errors
def ask(question, k, as_json, threshold, since, source_name, corpus, index_dir, model,
        fmt=None, as_of=None, input_fmt="text"):
    """Answer a question with quotes from the articles (stdin: one question per line)."""
    from .ask_stdin import answer_stdin, print_answer
    from .dates import BadDate, parse_date, today

    as_json = as_json or fmt == "json"
    try:
        day = parse_date(as_of) if as_of is not None else today()
    except BadDate as exc:
        fail(str(exc))
    if input_fmt == "jsonl" and (question or sys.stdin.isatty()):
        fail("--input jsonl reads JSON Lines from stdin, not arguments or a terminal "
             "(pipe a file in: citebot ask --input jsonl < questions.jsonl)")
    bot = open_bot(corpus, index_dir, model, threshold)
    if since or source_name:
        bot.scope = {"since": since and since.date().isoformat(), "source": source_name}
        bot.articles_in_scope()  # no matching article: say so now, before any question
    if question:
        print_answer(bot, " ".join(question), k, as_json, fmt=fmt, as_of=day)
        return
    if not sys.stdin.isatty():
        sys.exit(answer_stdin(bot, k, as_json, fmt=fmt, as_of=day, input_fmt=input_fmt))
    from .prompt import interactive

    interactive(bot, k=k, as_json=as_json, as_of=day)


@cli.command()
@click.argument("citation_id")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--format", "fmt", type=click.Choice(render.FORMATS), default=None,
              help="Output form: text (default), markdown (the passage, to paste) or json.")
@click.option("--around", default=1, show_default=True, type=click.IntRange(0, 20),
              help="Paragraphs shown before and after.")
@index_options
@handle_errors
def source(citation_id, as_json, around, corpus, index_dir, model, fmt=None):
    """Show a cited passage (art:p3 or art:120-240) with the text around it."""
    view = open_bot(corpus, index_dir, model).source(citation_id, around=around)
    if as_json or fmt == "json":
        click.echo(json.dumps(view.to_dict(), ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(render.source_markdown(view), nl=False)
    else:
        click.echo(render.source_text(view, width=render.terminal_width()), nl=False)


@cli.group(name="index")
def index_group():
    """Build or describe the index."""


@index_group.command()
@index_options
@handle_errors
def build(corpus, index_dir, model):
    """Build (or rebuild) the index of the corpus."""
    bot = open_bot(corpus, index_dir, model)
    manifest = bot.build(show_bars=sys.stderr.isatty())
    click.echo(f"indexed {manifest['articles']} articles, {manifest['passages']} passages, "
               f"{manifest['sentences']} sentences into {bot.config.index}")


@index_group.command()
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@index_options
@handle_errors
def info(as_json, corpus, index_dir, model):
    """Describe the index: model, size, corpus, and whether the corpus changed since."""
    from index.store import read_manifest

    bot = open_bot(corpus, index_dir, model)
    manifest = read_manifest(bot.config.index)
    stale = bot.is_stale(manifest)
    info = {k: manifest.get(k) for k in ("model", "dim", "index_type", "articles", "passages",
                                         "sentences", "corpus_dir", "built_at", "generation",
                                         "format_version")}
    info.update(index_dir=str(bot.config.index), corpus_changed=stale)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
        return
    for key, value in info.items():
        click.echo(f"{key:15} {value}")
    if stale:
        click.echo("the corpus changed since this build: run `citebot index build`")


# Further commands live in their own modules and are registered here.
# (register-commands)
from .cli_corpus import register as _register_corpus; _register_corpus(cli)  # noqa: E402,E702
from .cli_cite import cite_cmd; cli.add_command(cite_cmd)  # noqa: E402,E702
from .cli_telegram import telegram_cmd; cli.add_command(telegram_cmd)  # noqa: E402,E702
from .cli_verify import verify_cmd; index_group.add_command(verify_cmd)  # noqa: E402,E702
from .cli_eval import eval_cmd; cli.add_command(eval_cmd)  # noqa: E402,E702


def main():  # console script entry point
    cli(prog_name="citebot")
