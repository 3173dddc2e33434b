"""The library's front door: open (or build) the index for a config, answer, look up sources."""

from __future__ import annotations

import fcntl
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .answer import Answer, ArticleRef
from .articles import corpus_fingerprint, corpus_stat_signature, load_corpus
from .build import ProgressFn, build_index
from .config import Config
from .errors import IndexMismatch, IndexMissing, StaleIndex, UnknownCitation, UsageError
from .search import SearchParams, Searcher
from .store import IndexStore, read_manifest

# The last colon splits: article ids from front matter may hold colons themselves.
_RANGE_ID = re.compile(r"^(?P<article>\S+):(?P<start>\d+)-(?P<end>\d+)$")
# Ids are printed as "[art:p3]" or "(art:120-240)": what was copied around them is dropped.
_ID_WRAPPING = " \t\r\n[]()<>`'\"“”‘’"


@contextmanager
def build_lock(index_dir: Path):
    """One build at a time per index folder (readers never need the lock)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class SourceView:
    """A cited passage with the paragraphs around it."""

    id: str
    article: ArticleRef
    paragraph: int | None
    text: str
    start: int
    end: int
    before: list[tuple[str, str]]  # (citation id, paragraph text)
    after: list[tuple[str, str]]

    def to_dict(self) -> dict:
        return {"id": self.id, "article": self.article.to_dict(), "paragraph": self.paragraph,
                "text": self.text, "start": self.start, "end": self.end,
                "before": [{"id": i, "text": t} for i, t in self.before],
                "after": [{"id": i, "text": t} for i, t in self.after]}


class Citebot:
    """Opens the index named by a config, building it first when needed, and answers."""

    def __init__(self, config: Config, progress: ProgressFn | None = None,
                 params: SearchParams | None = None):
        self.config = config
        self.progress = progress or (lambda _m: None)
        self.params = params or SearchParams()
        if config.threshold is not None:
            self.params.threshold = config.threshold
        self._index_embedder = None
        self._question_embedder = None  # (generation, embedder)
        self._store: IndexStore | None = None
        self._searcher: Searcher | None = None
        # --since / --source for a whole session: {"since": "YYYY-MM-DD", "source": "name"}.
        self.scope: dict = {}

    # -- embedders: torch is imported only when something must be embedded with it ----------
    def index_embedder(self):
        """The embedder used to build (loaded once): onnxruntime over the model's cached ONNX
        export when there is one (torch is not imported), else sentence-transformers."""
        if self._index_embedder is None:
            from .onnx_embed import indexing_embedder

            self._index_embedder = indexing_embedder(self.config.model)
        return self._index_embedder

    def question_embedder(self, manifest: dict):
        """What embeds questions for this index: it must be the model the index was built with
        (name, and the files' fingerprint for a model folder). The index's own ONNX export
        when it has one (no torch import: a one-shot `ask` stays under a second), else the
        index embedder."""
        from .embeddings import check_model
        from .onnx_embed import question_encoder

        cached = getattr(self, "_question_embedder", None)
        if cached is None or cached[0] != manifest.get("generation"):
            check_model(self.config.model, manifest)
            fast = question_encoder(self.config.index, manifest)
            cached = self._question_embedder = (manifest.get("generation"),
                                                fast or self.index_embedder())
        return cached[1]

    # -- index lifecycle ---------------------------------------------------------------------
    def build(self, show_bars: bool = False, encode=None) -> dict:
        """Build the index of the configured corpus (replacing any earlier one); ``encode``:
        build.build_index's pluggable embedding step (e.g. distributed.RayEncoder)."""
        with build_lock(self.config.index):
            manifest = build_index(self.config.corpus, self.config.index, self.index_embedder(),
                                   progress=self.progress, show_bars=show_bars, encode=encode)
        self._store = self._searcher = None
        return manifest

    def is_stale(self, manifest: dict) -> bool:
        """Has the corpus changed since the build? File stats first, contents when they differ."""
        if not self.config.corpus.is_dir():
            return False  # an index without its corpus folder still answers
        if corpus_stat_signature(self.config.corpus) == manifest.get("corpus_signature"):
            return False
        articles = load_corpus(self.config.corpus)
        return corpus_fingerprint(articles) != manifest.get("corpus_fingerprint")

    def ensure_index(self) -> dict:
        """The manifest of a current index: built when missing, rebuilt when the corpus changed.

        A damaged index (unreadable manifest, a file failing its checksum: IndexStore), or one
        of another format or model, is never rebuilt behind the user's back nor answered from:
        it raises, naming `citebot index build`. A folder with builds but no manifest.json (a
        first build killed before it finished, or a lost file) is an index that is not there:
        built when auto-build is on, and said so.
        """
        try:
            manifest = read_manifest(self.config.index)
        except IndexMissing as exc:
            lost = self.config.index.is_dir() and any(
                p.is_dir() for p in self.config.index.glob("gen-*"))
            if lost:
                exc = IndexMissing(f"the index at {self.config.index} has no manifest.json "
                                   f"(a build that did not finish, or a lost file)")
            if not self.config.auto_build:
                raise exc from None
            load_corpus(self.config.corpus)  # a missing corpus is the user's error, say it first
            self.progress(f"{exc}: building it again" if lost else
                          f"no index at {self.config.index}: building it (once)")
            return self.build()
        if self.is_stale(manifest):
            if not self.config.auto_build:
                raise StaleIndex(f"the corpus in {self.config.corpus} changed since the index "
                                 f"was built")
            self.progress("the corpus changed since the index was built: rebuilding")
            return self.build()
        return manifest

    @property
    def store(self) -> IndexStore:
        """The loaded, verified index (built or rebuilt first when needed), of this model."""
        if self._store is None:
            self.check_model_name(self.ensure_index())
            self._store = IndexStore(self.config.index)
        return self._store

    def check_model_name(self, manifest: dict) -> None:
        """IndexMismatch unless the index was built with this Citebot's model (its embedder's,
        or the configured one): every command refuses another model's index alike, even one
        that needs no vectors (`source`, an exact `cite`). Cheap: names only; the model files
        are compared when questions are embedded (question_embedder)."""
        from .embeddings import resolve_model

        wanted = getattr(self._index_embedder, "name", None) or resolve_model(
            self.config.model)[0]
        if manifest.get("model") != wanted:
            raise IndexMismatch(f"the index was built with the model {manifest.get('model')!r}, "
                                f"not {wanted!r}")

    @property
    def searcher(self) -> Searcher:
        """The index plus the question embedder (opened on first use)."""
        if self._searcher is None:
            store = self.store
            self._searcher = Searcher(store, self.question_embedder(store.manifest), self.params)
        return self._searcher

    def reload_if_changed(self) -> bool:
        """Pick up a corpus change or a newer build; True when something was reloaded."""
        if self._store is None:
            return False
        manifest = read_manifest(self.config.index)
        if (manifest["generation"] == self._store.manifest["generation"]
                and not self.is_stale(manifest)):
            return False
        old = (self._store, self._searcher)
        self._store = self._searcher = None
        try:
            _ = self.searcher
        except Exception:
            self._store, self._searcher = old  # keep answering from the loaded index
            raise
        return True

    # -- questions and lookups ---------------------------------------------------------------
    def articles_in_scope(self, since: str | None = None, source: str | None = None):
        """Ids of the articles published on or after ``since`` (undated ones excluded) and from
        ``source`` (case-insensitive); None when neither is given (every article)."""
        from .ingest_text import normalize_date

        since = since or self.scope.get("since")
        source = source or self.scope.get("source")
        if not since and not source:
            return None
        since_iso = normalize_date(since) if since else None
        if since and not since_iso:
            raise UsageError(f"not a full date: {since!r}", fix="use YYYY-MM-DD")
        wanted = " ".join(source.split()).casefold() if source else None
        articles = self.store.articles
        ids = {a.id for a in articles
               if (not since_iso or (normalize_date(a.published) or "") >= since_iso)
               and (not wanted or " ".join((a.source or "").split()).casefold() == wanted)}
        if not ids:
            asked = " and ".join(x for x in (since_iso and f"published since {since_iso}",
                                             source and f"from the source {source!r}") if x)
            known = sorted({a.source for a in articles if a.source})
            raise UsageError(f"no article is {asked}",
                             fix="sources: " + "; ".join(known) if known and source
                             else "`citebot list` shows each article's source and date")
        return ids

    def ask(self, question: str, k: int = 3, **kw) -> Answer:
        """Answer one question with up to ``k`` citations (within ``scope`` when it is set)."""
        if kw.get("articles") is None:
            kw["articles"] = self.articles_in_scope()
        return self.searcher.ask(question, k=k, **kw)

    def source(self, citation_id: str, around: int = 1) -> SourceView:
        """A passage by citation id (``art:p3``) or character range (``art:120-240``), in context."""
        store = self.store
        cid = (citation_id or "").strip(_ID_WRAPPING)
        m = _RANGE_ID.match(cid)
        if m:
            article = store.article_by_id.get(m["article"])
            start, end = int(m["start"]), int(m["end"])
            if article is None or not (0 <= start < end <= len(article.body)):
                raise UnknownCitation(f"no such citation: {cid!r}",
                                      fix="ids look like article-id:p3 or article-id:120-240")
            inside = [i for i, p in enumerate(store.passages) if p.article_id == article.id
                      and p.start < end and start < p.end]
            idx = inside[0] if inside else None
            last = inside[-1] if inside else None  # a range may span paragraphs
        else:
            idx = store.passage_by_id.get(cid)
            if idx is None:
                raise UnknownCitation(f"no such citation: {cid!r}",
                                      fix="ids look like article-id:p3; see `citebot ask`")
            article = store.article_by_id[store.passages[idx].article_id]
            start, end = store.passages[idx].start, store.passages[idx].end
            last = idx
        siblings = [i for i, p in enumerate(store.passages) if p.article_id == article.id]
        pos = siblings.index(idx) if idx is not None else 0

        def _text(i):
            p = store.passages[i]
            return p.id, article.body[p.start:p.end]

        before = [_text(i) for i in siblings[max(0, pos - around):pos]] if idx is not None else []
        pos_last = siblings.index(last) if last is not None else 0
        after = ([_text(i) for i in siblings[pos_last + 1:pos_last + 1 + around]]
                 if idx is not None else [])
        return SourceView(id=cid, article=ArticleRef(**article.meta()),
                          paragraph=store.passages[idx].paragraph if idx is not None else None,
                          text=article.body[start:end], start=start, end=end,
                          before=before, after=after)
