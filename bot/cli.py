"""The `citebot` command line: a thin layer over index.engine."""

from __future__ import annotations

import functools
import json
import os
import sys

import click

from index.errors import BadQuestion, CitebotError

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


def _read_stdin_lines():
    """Lines of stdin as (line number, text or None when not valid UTF-8)."""
    for n, raw in enumerate(sys.stdin.buffer, 1):
        try:
            yield n, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield n, None


def _print_answer(bot, question, k, as_json, threshold=None, fmt=None):
    answer = bot.ask(question, k=k)
    if as_json:
        click.echo(render.answer_json(answer))
    else:
        allowed = None if answer.answered else bot.articles_in_scope()
        covered = None if answer.answered else [
            a.title for a in bot.store.articles if allowed is None or a.id in allowed][:5]
        show = render.answer_markdown if fmt == "markdown" else render.answer_text
        click.echo(show(answer, covered=covered))
    return answer


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
@index_options
@handle_errors
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
        bad = 0
        for n, line in _read_stdin_lines():
            if line is not None and not line.strip():
                continue
            try:
                if line is None:
                    raise BadQuestion(f"line {n} is not valid UTF-8 text")
                _print_answer(bot, line, k, as_json, fmt=fmt)
            except BadQuestion as exc:
                bad += 1
                if as_json:
                    click.echo(json.dumps({"question": line, "error": str(exc)},
                                          ensure_ascii=False))
                else:
                    click.echo(f"citebot: error: line {n}: {exc}", err=True)
            sys.stdout.flush()
        sys.exit(2 if bad else 0)
    from .prompt import interactive

    interactive(bot, k=k, as_json=as_json)


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
        click.echo(render.source_text(view), nl=False)


@cli.group(name="index")
def index_group():
    """Build or describe the index."""


@index_group.command()
@index_options
@click.option("--ray", "ray_address", is_flag=False, flag_value="", default=None,
              metavar="[ADDRESS]", help="Embed on a Ray cluster: no ADDRESS starts a local "
              "Ray instance; 'auto' or 'ray://host:10001' joins one (pip install "
              "\"citebot[ray]\").")
@click.option("--ray-workers", type=click.IntRange(1), default=None,
              help="Ray workers (default: as many as the cluster's resources allow).")
@click.option("--ray-cpus-per-worker", type=click.FloatRange(0.01), default=1.0,
              show_default=True, help="CPUs each Ray worker reserves.")
@click.option("--ray-gpus-per-worker", type=click.FloatRange(0), default=0.0,
              show_default=True, help="GPUs each Ray worker reserves (0: CPU workers).")
@handle_errors
def build(corpus, index_dir, model, ray_address=None, ray_workers=None,
          ray_cpus_per_worker=1.0, ray_gpus_per_worker=0.0):
    """Build (or rebuild) the index of the corpus."""
    bot = open_bot(corpus, index_dir, model)
    if ray_address is None:
        if ray_workers is not None or ray_gpus_per_worker or ray_cpus_per_worker != 1.0:
            fail("--ray-workers / --ray-*-per-worker need --ray", 2)
        manifest = bot.build(show_bars=sys.stderr.isatty())
    else:
        from index.distributed import RayEncoder, import_ray

        import_ray()  # before loading anything: a plain install says what to install
        if not bot.config.corpus.is_dir():  # say it before starting a cluster
            fail(f"no corpus folder at {bot.config.corpus}", 2)
        with RayEncoder(bot.index_embedder(), bot.config.model, address=ray_address,
                        workers=ray_workers, cpus_per_worker=ray_cpus_per_worker,
                        gpus_per_worker=ray_gpus_per_worker, progress=bot.progress) as enc:
            manifest = bot.build(show_bars=sys.stderr.isatty(), encode=enc)
    click.echo(f"indexed {manifest['articles']} articles, {manifest['passages']} passages, "
               f"{manifest['sentences']} sentences into {bot.config.index}")


@index_group.command()
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@index_options
@handle_errors
def info(as_json, corpus, index_dir, model):
    """Describe the index: model, size, corpus, and whether the corpus changed since."""
    from index.archive import index_reason
    from index.store import read_manifest

    bot = open_bot(corpus, index_dir, model)
    manifest = read_manifest(bot.config.index)
    stale = bot.is_stale(manifest)
    info = {k: manifest.get(k) for k in ("model", "dim", "index_type", "articles", "passages",
                                         "sentences", "corpus_dir", "built_at", "generation",
                                         "format_version")}
    info["index_type_why"] = index_reason(manifest)
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
