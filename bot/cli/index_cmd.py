"""`citebot index build` and `citebot index info` (`index verify` is in verify.py)."""

from __future__ import annotations

import sys

import click

from .. import render
from .common import fail, index_options, open_bot


@click.group(name="index")
def index_group():
    """Build or describe the index."""


@index_group.command()
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True,
              help="Where texts are embedded: auto uses a CUDA GPU when one is present. "
                   "Questions are always embedded on the CPU.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "int8"]), default=None,
              help="How a CPU build embeds (default: CITEBOT_PRECISION, else int8 if the "
                   "existing index is int8, else auto). auto: bf16 arithmetic on the fp32 "
                   "weights where the CPU and OpenVINO can (1.8x fp32, same answers), else "
                   "fp32. int8 weights are faster still; opt-in (SQuAD answer-in-quote -0.009, "
                   "docs/benchmarks.md).")
@click.option("--sentence-vectors", type=click.Choice(["late", "separate"]), default=None,
              help="late: each sentence's vector pooled from its paragraph's one pass (fewer "
                   "tokens embedded); separate: each sentence embedded on its own (default: "
                   "CITEBOT_SENTENCE_VECTORS, else what the existing index was built with, "
                   "else the default, docs/benchmarks.md).")
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
def build(device, precision, sentence_vectors, corpus, index_dir, model, ray_address=None,
          ray_workers=None, ray_cpus_per_worker=1.0, ray_gpus_per_worker=0.0):
    """Build (or rebuild) the index of the corpus."""
    from index import resolve_device

    if ray_address is None:
        if ray_workers is not None or ray_gpus_per_worker or ray_cpus_per_worker != 1.0:
            fail("--ray-workers / --ray-*-per-worker need --ray", 2)
        resolve_device(device)  # --device cuda without a GPU: one line, exit 2, nothing changed
        bot = open_bot(corpus, index_dir, model, precision=precision, device=device,
                       sentence_vectors=sentence_vectors)
        manifest = bot.build(show_bars=sys.stderr.isatty())
    else:
        from index import RayEncoder, import_ray

        import_ray()  # before loading anything: a plain install says what to install
        bot = open_bot(corpus, index_dir, model, precision=precision, device=device,
                       sentence_vectors=sentence_vectors)
        if bot.config.precision == "int8":  # Ray workers run the fp32 weights
            fail("--ray builds embed with the fp32 weights: leave out --precision int8 / "
                 "CITEBOT_PRECISION", 2)
        # ... so the index records fp32 weights, even where an earlier build was int8 (which a
        # rebuild not asked for a precision would otherwise keep: Citebot.build_precision).
        bot.config.precision_given = True
        if not bot.config.corpus.is_dir():  # say it before starting a cluster
            fail(f"no corpus folder at {bot.config.corpus}", 2)
        with RayEncoder(bot.index_embedder(), bot.config.model, address=ray_address,
                        workers=ray_workers, cpus_per_worker=ray_cpus_per_worker,
                        gpus_per_worker=ray_gpus_per_worker, progress=bot.progress,
                        precision=bot.config.precision) as enc:
            manifest = bot.build(show_bars=sys.stderr.isatty(), encode=enc)
    click.echo(f"indexed {manifest['articles']} articles, {manifest['passages']} passages, "
               f"{manifest['sentences']} sentences into {bot.config.index}")


@index_group.command()
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@index_options
def info(as_json, corpus, index_dir, model):
    """Describe the index: model, size, corpus, and whether the corpus changed since."""
    from index import index_reason, read_manifest

    bot = open_bot(corpus, index_dir, model)
    manifest = read_manifest(bot.config.index)
    stale = bot.is_stale(manifest)
    info = {k: manifest.get(k) for k in ("model", "dim", "index_type", "articles", "passages",
                                         "sentences", "sentence_vectors", "precision",
                                         "corpus_dir", "built_at", "generation",
                                         "format_version")}
    # Indexes built before the manifest said: int8 weights, else fp32.
    info["precision"] = info["precision"] or ("int8" if manifest.get("model_variant") else "fp32")
    info["index_type_why"] = index_reason(manifest)
    info.update(index_dir=str(bot.config.index), corpus_changed=stale)
    if as_json:
        click.echo(render.json_line(info))
        return
    for key, value in info.items():
        click.echo(render.clean(f"{key:15} {value}"))
    if stale:
        click.echo("the corpus changed since this build: run `citebot index build`")
