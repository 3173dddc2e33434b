"""Articles and corpus files: Markdown with YAML front matter, or plain text."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorpusError
from ..fileio import write_atomic

ARTICLE_SUFFIXES = (".md", ".markdown", ".txt")
META_FIELDS = ("title", "source", "published", "url", "language")
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S)


@dataclass
class Article:
    """One article: metadata plus the body, verbatim; every offset points into ``body``."""

    id: str
    title: str
    body: str
    source: str | None = None
    published: str | None = None
    url: str | None = None
    language: str | None = None
    path: str | None = None
    extra: dict = field(default_factory=dict)

    def meta(self) -> dict:
        """The citation fields, as the JSON answer shows them."""
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "published": self.published,
            "url": self.url,
        }


def slugify(text: str, max_len: int = 60) -> str:
    """A stable, readable id: ascii lower case words joined by hyphens."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "article"


def _read_text(path: Path) -> str:
    # Bytes decoded as they are (no newline translation), so offsets match the file.
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not valid UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot be read ({exc.strerror})") from None
    return text[1:] if text.startswith("\ufeff") else text


def parse_article(text: str, article_id: str, path: str | None = None,
                  markdown: bool = True) -> Article:
    """Split front matter from the body; the body is kept byte for byte."""
    meta: dict = {}
    body = text
    m = _FRONT.match(text) if markdown else None
    if m:
        import yaml  # only needed for front matter

        from .safe_yaml import load_front_matter

        try:
            loaded = load_front_matter(m.group(1) or "") or {}
        except yaml.YAMLError as exc:
            why = " ".join(str(exc).split())[:300]  # one line, however long the YAML error
            raise CorpusError(
                f"{path or article_id}: front matter is not valid YAML ({why})") from None
        if not isinstance(loaded, dict):
            raise CorpusError(f"{path or article_id}: front matter must be a mapping")
        meta = {str(k): v for k, v in loaded.items()}
        body = text[m.end():]
    title = meta.pop("title", None)
    if not title:
        if markdown and m:
            raise CorpusError(f"{path or article_id}: front matter has no `title`")
        first = next((ln.strip() for ln in body.splitlines() if ln.strip()), "")
        title = first if 0 < len(first) <= 200 else article_id
    fields = {k: (None if meta.get(k) is None else str(meta.pop(k))) for k in META_FIELDS[1:]}
    article_id = str(meta.pop("id", article_id))
    return Article(id=article_id, title=str(title).strip(), body=body, path=path,
                   extra={k: (v if isinstance(v, (str, int, float, bool)) else str(v))
                          for k, v in meta.items()},
                   **fields)


def article_files(corpus_dir: Path) -> list[Path]:
    """The article files of a corpus folder, sorted; hidden entries are skipped."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}",
                          fix="pass --corpus DIR or set CITEBOT_CORPUS")
    return sorted(p for p in corpus_dir.iterdir()
                  if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in ARTICLE_SUFFIXES)


def read_article(path: Path) -> Article:
    """Read one corpus file; its id is the file name without the suffix."""
    return parse_article(_read_text(path), slugify(path.stem), str(path),
                         markdown=path.suffix.lower() != ".txt")


def load_corpus(corpus_dir: Path) -> list[Article]:
    """Every article of the folder, with unique ids; an empty corpus is an error."""
    files = article_files(corpus_dir)
    if not files:
        raise CorpusError(f"no articles (.md or .txt files) in {corpus_dir}",
                          fix="add articles with `citebot add` or copy them there")
    articles, seen = [], {}
    for path in files:
        art = read_article(path)
        if art.id in seen:
            raise CorpusError(f"{path.name} and {seen[art.id]} share the article id {art.id!r}")
        seen[art.id] = path.name
        articles.append(art)
    return articles


def corpus_stat_signature(corpus_dir: Path) -> str:
    """Cheap signature (names, sizes, mtimes): equal means unchanged without reading files."""
    h = hashlib.sha256()
    for p in article_files(corpus_dir):
        st = p.stat()
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def corpus_fingerprint(articles: list[Article]) -> str:
    """Content fingerprint: changes whenever any article's id, metadata or body changes."""
    h = hashlib.sha256()
    for a in sorted(articles, key=lambda a: a.id):
        h.update(repr((a.id, a.title, a.source, a.published, a.url)).encode())
        h.update(hashlib.sha256(a.body.encode()).digest())
    return h.hexdigest()


def render_article(article: Article) -> str:
    """The Markdown-with-front-matter form of an article (what `citebot add` writes)."""
    import yaml

    meta = {"title": article.title}
    for key in META_FIELDS[1:]:
        if getattr(article, key):
            meta[key] = getattr(article, key)
    meta.update({k: v for k, v in article.extra.items() if v not in (None, "")})
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10_000)
    return f"---\n{head}---\n{article.body}"


def write_article(corpus_dir: Path, article: Article) -> Path:
    """Write an article atomically as ``<id>.md`` in the corpus folder."""
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    path = corpus_dir / f"{article.id}.md"
    write_atomic(path, render_article(article))
    return path
