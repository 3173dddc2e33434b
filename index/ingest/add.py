"""Adding articles: files, folders and feed URLs become corpus files, each article once.

Every format's extractor (ingest_html, ingest_pdf, ingest_feed, plain text here) yields Drafts;
this module gives them ids, drops the ones already in the corpus (same URL or same text) and
writes each as ``<id>.md``, atomically. One unusable file or entry is reported and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..corpus.articles import (
    _FRONT,
    Article,
    article_files,
    parse_article,
    read_article,
    slugify,
    write_article,
)
from ..errors import (
    WRITE_ERRNOS,
    CitebotError,
    CorpusError,
    IngestError,
    StorageError,
    UsageError,
)
from ..fileio import folder_lock, write_atomic
from ..text import clean_paragraph
from .draft import Draft, normalize_date, text_key, url_key, word_count
from .fetch import FETCH_TIMEOUT, MAX_FETCH_BYTES  # noqa: F401 - the limits live in fetch.py

KINDS = {".html": "html", ".htm": "html", ".xhtml": "html", ".pdf": "pdf", ".xml": "feed",
         ".rss": "feed", ".atom": "feed", ".jsonl": "jsonl", ".ndjson": "jsonl",
         ".json": "json", ".md": "md", ".markdown": "md", ".txt": "txt"}
OVERRIDES = ("title", "source", "published", "url", "language")
# The longest article body `add` takes, in characters (~2 MB of English text, a long book
# chapter: a news article is 2,000-20,000). Building is linear in it (a 1 MB one-paragraph
# article builds in well under a minute, docs/benchmarks.md); longer inputs are refused.
MAX_ARTICLE_CHARS = 2_000_000
_URL = re.compile(r"^https?://", re.I)


@dataclass
class Outcome:
    """What became of one input (a file, a feed entry, a line of an export)."""

    origin: str
    status: str  # added | duplicate | failed
    article_id: str | None = None
    title: str | None = None
    message: str | None = None

    def to_dict(self) -> dict:
        return {"origin": self.origin, "status": self.status, "id": self.article_id,
                "title": self.title, "message": self.message}


@dataclass
class IngestReport:
    """Every outcome of one `add`, plus the files of a folder that are of no supported type."""

    outcomes: list[Outcome] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def of(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def exit_code(self) -> int:
        """2 when inputs failed and none was added or already there; else 0."""
        return 2 if self.of("failed") and not (self.of("added") or self.of("duplicate")) else 0

    def summary(self) -> str:
        parts = [f"{len(self.of('added'))} added",
                 f"{len(self.of('duplicate'))} already in the corpus",
                 f"{len(self.of('failed'))} failed"]
        if self.ignored:
            parts.append(f"{len(self.ignored)} files of other types ignored")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        return {"outcomes": [o.to_dict() for o in self.outcomes], "ignored": self.ignored,
                "added": len(self.of("added")), "duplicates": len(self.of("duplicate")),
                "failed": len(self.of("failed"))}


@contextmanager
def corpus_lock(corpus_dir: Path):
    """One writer at a time per corpus folder (ids and duplicate checks must not race).

    The lock is taken on the folder itself, so no lock file is left in the corpus (it would
    show in `git status` and in backups)."""
    with folder_lock(corpus_dir):
        yield


# -- inputs ---------------------------------------------------------------------------------
def collect(inputs: list[str], report: IngestReport) -> list[tuple[str, str]]:
    """(kind, path or URL) for every input; folders are walked, hidden entries skipped."""
    sources = []
    for raw in inputs:
        if _URL.match(raw):
            sources.append(("url", raw))
            continue
        path = Path(raw).expanduser()
        if path.is_dir():
            root = path.resolve()
            for p in sorted(path.rglob("*")):
                rel = p.relative_to(path).parts
                if not p.is_file() or any(part.startswith(".") for part in rel):
                    continue
                if not _inside(p, root):  # a link (or a linked folder) pointing elsewhere
                    report.outcomes.append(Outcome(str(p), "failed", message=(
                        "a symbolic link to a file outside the folder: not followed "
                        "(add that file by its own path if it is meant)")))
                    continue
                if p.suffix.lower() in KINDS:
                    sources.append((KINDS[p.suffix.lower()], str(p)))
                else:
                    report.ignored.append(str(p))
        elif path.is_file():
            kind = KINDS.get(path.suffix.lower())
            if kind:
                sources.append((kind, str(path)))
            else:
                report.outcomes.append(Outcome(raw, "failed", message=(
                    f"unsupported file type {path.suffix or '(none)'!r} "
                    f"(supported: {', '.join(sorted(KINDS))})")))
        else:
            report.outcomes.append(Outcome(raw, "failed", message="no such file or folder"))
    return sources


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, links resolved, is within the folder ``root`` (already resolved)."""
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError, RuntimeError):  # elsewhere, unreadable, or a link loop
        return False
    return True


def fetch_url(url: str, timeout: float = FETCH_TIMEOUT) -> tuple[bytes, str]:
    """The bytes and content type at a URL, within fetch.py's limits (deadline, redirects)."""
    from .fetch import fetch_url as bounded_fetch

    return bounded_fetch(url, timeout=timeout)


def sniff(data: bytes, content_type: str = "") -> str:
    """The kind of fetched content: pdf, feed, json or html."""
    head = data[:4096].lstrip().lower()
    if head.startswith(b"%pdf") or "pdf" in content_type:
        return "pdf"
    if b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head or \
            any(t in content_type for t in ("rss", "atom")):
        return "feed"
    if "json" in content_type or head[:1] in (b"{", b"["):
        return "jsonl" if b"\n{" in data.strip() and head[:1] == b"{" else "json"
    return "html"


def text_file_draft(data: bytes, origin: str, markdown: bool) -> Draft:
    """A .md or .txt article as citebot reads it today; its body is kept byte for byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{origin}: not valid UTF-8 text (byte {exc.start})") from exc
    text = text.removeprefix("\ufeff")
    stem_id = slugify(Path(origin).stem)
    art = parse_article(text, stem_id, origin, markdown=markdown)
    if word_count(art.body) == 0:
        raise IngestError(f"{origin}: the article has no text")
    framed = markdown and _FRONT.match(text) is not None
    title = art.title if framed else (clean_paragraph(art.title.lstrip("#")) or stem_id)
    return Draft(title=title, body=art.body, source=art.source,
                 published=normalize_date(art.published) or art.published, url=art.url,
                 language=art.language, origin=origin, extra=dict(art.extra),
                 raw=text if framed else None,
                 explicit_id=art.id if art.id != stem_id else None)


def extract(kind: str, location: str) -> tuple[list[Draft], list[tuple[str, str]]]:
    """Drafts (and failed entries) of one input, by kind; an IngestError fails it whole."""
    from . import feed as ingest_feed
    from . import html as ingest_html
    from . import pdf as ingest_pdf

    url = None
    if kind == "url":
        url = location
        data, ctype = fetch_url(location)
        kind = sniff(data, ctype)
    else:
        try:
            data = Path(location).read_bytes()
        except OSError as exc:
            raise IngestError(f"{location}: cannot be read ({exc.strerror})") from exc
    if kind == "html":
        return [ingest_html.extract_page(data, location, url=url)], []
    if kind == "pdf":
        return [ingest_pdf.extract_pdf(data, location)], []
    if kind == "feed":
        return ingest_feed.extract_feed(data, location)
    if kind == "jsonl":
        return ingest_feed.extract_json_lines(data, location)
    if kind == "json":
        return ingest_feed.extract_json(data, location)
    return [text_file_draft(data, location, markdown=kind == "md")], []


# -- the corpus as it is ----------------------------------------------------------------------
class Catalog:
    """The ids, URLs and texts already in a corpus folder, for ids and duplicate checks."""

    def __init__(self, corpus_dir: Path):
        self.taken: set[str] = set()
        self.by_url: dict[str, str] = {}
        self.by_text: dict[str, str] = {}
        if not corpus_dir.is_dir():
            return
        for path in article_files(corpus_dir):
            self.taken |= {path.stem, slugify(path.stem)}  # never overwrite any file
            try:
                art = read_article(path)
            except CorpusError:
                continue  # a broken file keeps its name; loading the corpus will report it
            self.remember(art.id, art.url, art.body)

    def remember(self, article_id: str, url: str | None, body: str) -> None:
        self.taken.add(article_id)
        if url_key(url):
            self.by_url.setdefault(url_key(url), article_id)
        self.by_text.setdefault(text_key(body), article_id)

    def duplicate_of(self, draft: Draft) -> str | None:
        """The id of the article that already holds this one: same URL, or same text."""
        return self.by_url.get(url_key(draft.url) or "\0") or self.by_text.get(text_key(draft.body))

    def new_id(self, draft: Draft) -> str:
        """The slug of the title; a suffix when another article already has it."""
        # A title in a non-Latin script has no ASCII slug: the URL's or file's name then.
        names = [draft.explicit_id, draft.title,
                 Path(urlsplit(draft.url).path).stem if draft.url else None,
                 Path(urlsplit(draft.origin).path if _URL.match(draft.origin)
                      else draft.origin).stem]
        base = next((slugify(n) for n in names if n and slugify(n) != "article"), "article")
        article_id, n = base, 2
        while article_id in self.taken:
            article_id, n = f"{base}-{n}", n + 1
        return article_id


def write_draft(corpus_dir: Path, draft: Draft, article_id: str) -> Path:
    """Write one draft as an article file of the corpus (`add`, and follow.py's rounds)."""
    if draft.raw is not None and draft.explicit_id in (None, article_id):
        path = corpus_dir / f"{article_id}.md"  # a .md file copied as it is
        write_atomic(path, draft.raw)
        return path
    extra = dict(draft.extra)
    if draft.author:
        extra["author"] = draft.author
    return write_article(corpus_dir, Article(
        id=article_id, title=draft.title or article_id, body=draft.body, source=draft.source,
        published=draft.published, url=draft.url, language=draft.language, extra=extra))


def check_overrides(overrides: dict | None) -> dict:
    """The given metadata overrides, cleaned; a date that is not a full date is an error."""
    out = {k: v for k, v in (overrides or {}).items() if k in OVERRIDES and v not in (None, "")}
    for key in ("title", "source", "url"):
        if key in out:
            out[key] = clean_paragraph(str(out[key]))
    if "published" in out:
        date = normalize_date(out["published"])
        if not date:
            raise UsageError(f"not a full date: {out['published']!r}", fix="use YYYY-MM-DD")
        out["published"] = date
    return out


def ingest(inputs: list[str], corpus_dir: Path, overrides: dict | None = None,
           progress: Callable[[str], None] | None = None) -> IngestReport:
    """Add every article of ``inputs`` to ``corpus_dir``; see IngestReport for the outcome."""
    say = progress or (lambda _m: None)
    corpus_dir = Path(corpus_dir)
    overrides = check_overrides(overrides)
    report = IngestReport()
    sources = collect(inputs, report)
    for o in report.outcomes:  # inputs that are missing or of no supported type
        say(f"skipped {o.origin}: {o.message}")
    drafts: list[Draft] = []
    for n, (kind, location) in enumerate(sources, 1):
        if len(sources) > 1:
            say(f"[{n}/{len(sources)}] {location}")
        try:
            found, failures = extract(kind, location)
        except CitebotError as exc:
            found, failures = [], [(location, exc.user_message())]
        except Exception as exc:  # noqa: BLE001 - a library choking on one file skips that file
            found, failures = [], [(location, f"{type(exc).__name__}: {exc}")]
        drafts += found
        for where, why in failures:
            why = why.removeprefix(f"{where}: ")
            say(f"skipped {where}: {why}")
            report.outcomes.append(Outcome(where, "failed", message=why))
    if len(drafts) > 1 and ({"title", "url"} & set(overrides)):
        raise UsageError(f"a title or URL override fits one article, but {len(drafts)} were "
                         "found", fix="add the files one at a time")
    with corpus_lock(corpus_dir):
        catalog = Catalog(corpus_dir)
        for draft in drafts:
            if overrides:
                draft.raw = None  # the front matter changes: write it anew
                for key, value in overrides.items():
                    setattr(draft, key, value)
            if len(draft.body) > MAX_ARTICLE_CHARS:
                report.outcomes.append(Outcome(draft.origin, "failed", title=draft.title, message=(
                    f"the article is {len(draft.body):,} characters long; the limit is "
                    f"{MAX_ARTICLE_CHARS:,} (split it into several articles)")))
                say(f"skipped {draft.origin}: {report.outcomes[-1].message}")
                continue
            same = catalog.duplicate_of(draft)
            if same:
                report.outcomes.append(Outcome(draft.origin, "duplicate", same, draft.title,
                                               f"already in the corpus as {same}"))
                continue
            article_id = catalog.new_id(draft)
            try:
                write_draft(corpus_dir, draft, article_id)
            except OSError as exc:
                if exc.errno not in WRITE_ERRNOS:
                    raise
                raise StorageError(f"cannot write to the corpus at {corpus_dir}: "
                                   f"{exc.strerror} ({len(report.of('added'))} articles "
                                   f"added before)") from exc
            catalog.remember(article_id, draft.url, draft.body)
            report.outcomes.append(Outcome(draft.origin, "added", article_id, draft.title))
    return report
