"""Listing and removing the articles of a corpus folder (`citebot list`, `citebot remove`)."""

from __future__ import annotations

import difflib
from collections import Counter
from pathlib import Path

from ..corpus.articles import Article, article_files, read_article, slugify
from ..errors import CorpusError, IndexError_, UsageError
from .add import corpus_lock


def corpus_files(corpus_dir: Path) -> dict[str, tuple[Path, Article | None]]:
    """Article id -> (file, article); None for a file that cannot be read (it stays removable)."""
    out = {}
    for path in article_files(corpus_dir):
        try:
            art = read_article(path)
            out[art.id] = (path, art)
        except CorpusError:
            out[slugify(path.stem)] = (path, None)
    return out


def remove_articles(corpus_dir: Path, article_ids: list[str]) -> list[tuple[str, Path]]:
    """Delete the files of these articles; an unknown id changes nothing and is an error.

    An id may be given with its file suffix (``mss-renewal.md``).
    """
    corpus_dir = Path(corpus_dir)
    article_files(corpus_dir)  # a missing corpus folder is reported as such
    with corpus_lock(corpus_dir):
        chosen = [(key, path) for key, path, _a in _choose(corpus_files(corpus_dir),
                                                           article_ids)]
        for _key, path in chosen:
            path.unlink(missing_ok=True)
    return chosen


def find_articles(corpus_dir: Path,
                  article_ids: list[str]) -> list[tuple[str, Path, Article | None]]:
    """(id, file, article) for each id, as ``remove_articles`` reads them (nothing is changed):
    what a front end shows before asking to confirm a removal."""
    article_files(Path(corpus_dir))  # a missing corpus folder is reported as such
    return _choose(corpus_files(Path(corpus_dir)), article_ids)


def _choose(files, article_ids):
    chosen = []
    for wanted in article_ids:
        key = wanted if wanted in files else slugify(Path(wanted).stem)
        if key not in files:
            near = difflib.get_close_matches(wanted, list(files), n=1)
            raise UsageError(f"no article with the id {wanted!r}"
                             + (f" (did you mean {near[0]!r}?)" if near else ""),
                             fix="`citebot list` shows the ids")
        chosen.append((key, *files[key]))
    return chosen


def list_articles(bot) -> list[dict]:
    """id, title, source, published, url and passages of every article of a Citebot's corpus.

    Passage counts come from the index when it is current, else they are counted here.
    """
    from ..corpus.passages import make_passages
    from ..store.store import IndexStore, read_manifest

    articles = [a for _p, a in corpus_files(bot.config.corpus).values() if a is not None]
    counts = None
    try:
        if articles and not bot.is_stale(read_manifest(bot.config.index)):
            store = IndexStore(bot.config.index, verify=False)
            counts = Counter(store.passage_counts())
    except (IndexError_, CorpusError):
        counts = None  # no usable index, or a broken file: count the passages here
    return [{"id": a.id, "title": a.title, "source": a.source, "published": a.published,
             "url": a.url,
             "passages": counts[a.id] if counts is not None else len(make_passages(a))}
            for a in sorted(articles, key=lambda a: a.id)]
