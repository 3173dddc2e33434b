"""The passage table on disk: numpy arrays for passages and sentences, article bodies read lazily.

A JSON table of a million passages takes seconds and gigabytes to load; this one is opened in
milliseconds (memory-mapped arrays) and reads an article's body only when it is quoted::

    articles.json   article metadata (no bodies) and the distinct headings
    passages.npy    int64 rows: article index, paragraph, start, end, heading index (-1: none),
                    first sentence row
    spans.npy       int64 rows: sentence start, end (character offsets into the body)
    bodies.bin      the article bodies, UTF-8, one after the other (byte ranges in articles.json)

Passages are stored article by article with paragraphs 1..n in order, so a citation id
``<article>:p<n>`` maps to a row without any lookup table.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..corpus.articles import Article
from ..corpus.passages import Passage
from ..text import words_escape_tokens

_ARTICLE, _PARAGRAPH, _START, _END, _HEADING, _FIRST = range(6)


def write_table(folder: Path, articles: list[Article], passages: list[Passage]) -> None:
    """Write the table files of a generation folder."""
    table = TableWriter(folder, len(passages), sum(len(p.sentences) for p in passages))
    try:
        table.add(articles, passages)
    except BaseException:
        table.close(complete=False)
        raise
    table.close()


class NpyAppender:
    """A ``.npy`` file of known shape written a block of rows at a time: the same bytes as
    ``np.save`` of the whole array, which never has to be in memory."""

    def __init__(self, path: Path, dtype, shape: tuple[int, ...]):
        self.path, self._dtype, self._tail = Path(path), np.dtype(dtype), tuple(shape[1:])
        self._left = int(shape[0])
        self._fh = open(self.path, "wb")
        np.lib.format.write_array_header_1_0(self._fh, {
            "descr": np.lib.format.dtype_to_descr(self._dtype), "fortran_order": False,
            "shape": tuple(int(x) for x in shape)})

    def append(self, block) -> None:
        block = np.ascontiguousarray(block, dtype=self._dtype)
        if block.shape[1:] != self._tail or len(block) > self._left:
            raise ValueError(f"{self.path.name}: a block of shape {block.shape} does not fit")
        self._fh.write(block.data)
        self._left -= len(block)

    def close(self, complete: bool = True) -> None:
        """``complete``: ValueError if rows are missing (the file would not load)."""
        self._fh.close()
        if complete and self._left:
            raise ValueError(f"{self.path.name}: {self._left} rows were never written")


class TableWriter:
    """The table files written a chunk of articles at a time (``add``), for a build that never
    holds all of its articles (benchmarks/scale_writer.py); write_table is one chunk. Each
    chunk's passages belong to its own articles, articles in order, paragraphs 1..n."""

    def __init__(self, folder: Path, n_passages: int, n_sentences: int):
        folder = Path(folder)
        self._rows = NpyAppender(folder / "passages.npy", np.int64, (n_passages, 6))
        self._spans = NpyAppender(folder / "spans.npy", np.int64, (n_sentences, 2))
        self._bodies = open(folder / "bodies.bin", "wb")
        self._meta = open(folder / "articles.json", "w", encoding="utf-8")
        self._meta.write('{"articles": [')
        self._headings: dict[str, int] = {}
        self._scan: list[int] = []
        self._articles = self._offset = 0
        self._row, self._last_art, self._last_para = 0, -1, 0

    def add(self, articles: list[Article], passages: list[Passage]) -> None:
        base = self._articles
        index_of = {a.id: base + i for i, a in enumerate(articles)}
        rows = np.zeros((len(passages), 6), dtype=np.int64)
        spans = np.zeros((sum(len(p.sentences) for p in passages), 2), dtype=np.int64)
        row0 = row = self._row
        for i, p in enumerate(passages):
            art = index_of[p.article_id]
            expected = self._last_para + 1 if art == self._last_art else 1
            if art < self._last_art or p.paragraph != expected:
                raise ValueError(f"passages out of order at {p.id}: articles in order, "
                                 f"paragraphs 1..n")
            self._last_art, self._last_para = art, p.paragraph
            head = -1 if p.heading is None else self._headings.setdefault(
                p.heading, len(self._headings))
            rows[i] = (art, p.paragraph, p.start, p.end, head, row)
            if p.sentences:
                spans[row - row0:row - row0 + len(p.sentences)] = p.sentences
            row += len(p.sentences)
        self._rows.append(rows)
        self._spans.append(spans)
        self._row = row
        spans_of: dict[str, list] = {}
        for p in passages:
            spans_of.setdefault(p.article_id, []).append((p.start, p.end, p.heading))
        for i, a in enumerate(articles):
            if words_escape_tokens(a.body, spans_of.get(a.id, [])):
                self._scan.append(base + i)
            data = a.body.encode("utf-8", "surrogatepass")
            self._bodies.write(data)
            meta = {**a.meta(), "language": a.language, "extra": a.extra, "path": a.path,
                    "body": [self._offset, len(data)]}
            # json.dump's own separators: the same bytes as dumping the whole list at once
            self._meta.write((", " if base + i else "") + json.dumps(meta, ensure_ascii=False))
            self._offset += len(data)
        self._articles += len(articles)

    def close(self, complete: bool = True) -> None:
        """Finish the files (``complete``: ValueError unless every declared row was added;
        False after a failure, to just close them)."""
        self._meta.write(f'], "headings": {json.dumps(list(self._headings), ensure_ascii=False)}'
                         f', "cite_scan": {json.dumps(self._scan)}}}')
        self._bodies.close()
        self._meta.close()
        self._spans.close(complete)
        self._rows.close(complete)


class StoredArticle(Article):
    """An Article whose body is read from ``bodies.bin`` the first time it is used."""

    def __init__(self, reader, span, **meta):
        self._reader, self._span, self._body = reader, span, None
        for key in ("id", "title", "source", "published", "url", "language", "path"):
            setattr(self, key, meta.get(key))
        self.extra = meta.get("extra") or {}

    @property
    def body(self) -> str:
        if self._body is None:
            self._body = self._reader(*self._span)
        return self._body

    @body.setter
    def body(self, value: str) -> None:
        self._body = value


class PassageList(Sequence):
    """``Passage`` objects made on access from the memory-mapped rows."""

    def __init__(self, table: Table):
        self._t = table

    def __len__(self) -> int:
        return len(self._t.rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        i = int(i)
        if not -n <= i < n:
            raise IndexError("passage index out of range")
        i %= n
        # tolist(): Python ints at once (iterating memory-mapped rows makes an array per row)
        art, para, start, end, head, first = self._t.rows[i].tolist()
        hi = int(self._t.sentence_offsets[i + 1])
        aid = self._t.article_ids[art]
        return Passage(id=f"{aid}:p{para}", article_id=aid, paragraph=para, start=start,
                       end=end, sentences=[(s, e) for s, e in self._t.spans[first:hi].tolist()],
                       heading=None if head < 0 else self._t.headings[head])

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class PassageIds(Mapping):
    """Citation id (``art:p3``) -> passage row, computed rather than stored."""

    def __init__(self, table: Table):
        self._t = table

    def __getitem__(self, pid: str) -> int:
        aid, sep, para = str(pid).rpartition(":p")
        # "p3" only: "p03" or "p+3" name no passage, as with a table of ids.
        ok = sep and para.isascii() and para.isdigit() and para == str(int(para))
        art = self._t.article_index.get(aid) if ok else None
        if art is None:
            raise KeyError(pid)
        row = int(self._t.article_first[art]) + int(para) - 1
        if not int(self._t.article_first[art]) <= row < int(self._t.article_first[art + 1]):
            raise KeyError(pid)
        return row

    def __iter__(self):
        return (p.id for p in PassageList(self._t))

    def __len__(self) -> int:
        return len(self._t.rows)


class Table:
    """An opened passage table: articles, passages and their sentence spans."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        with open(folder / "articles.json", encoding="utf-8") as fh:
            meta = json.load(fh)
        self.headings = meta["headings"]
        # Articles exact citation lookups always read (text.words_escape_tokens); None: an
        # index built before the build recorded them.
        self.cite_scan = set(meta["cite_scan"]) if "cite_scan" in meta else None
        # Plain arrays over the memory maps: np.memmap's Python-level indexing costs
        # microseconds per access, and a question makes hundreds.
        self.rows = np.load(folder / "passages.npy", mmap_mode="r").view(np.ndarray)
        self.spans = np.load(folder / "spans.npy", mmap_mode="r").view(np.ndarray)
        if self.rows.ndim != 2 or self.rows.shape[1] != 6 or self.spans.ndim != 2:
            raise ValueError("passage table arrays have the wrong shape")
        size = (folder / "bodies.bin").stat().st_size
        with open(folder / "bodies.bin", "rb") as fh:
            self._bodies = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        # One reader and a tuple per article: a million-passage index has 100,000 articles,
        # and every object the garbage collector tracks lengthens its full collections.
        reader = self._read_body
        self.articles = [StoredArticle(reader, tuple(a.pop("body")), **a)
                         for a in meta["articles"]]
        self.article_ids = [a.id for a in self.articles]
        self.article_index = {aid: i for i, aid in enumerate(self.article_ids)}
        self.article_by_id = {a.id: a for a in self.articles}
        counts = np.bincount(np.asarray(self.rows[:, _ARTICLE]), minlength=len(self.articles))
        self.article_first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.sentence_offsets = np.concatenate(
            [np.asarray(self.rows[:, _FIRST]), [len(self.spans)]]).astype(np.int64)
        self.passages = PassageList(self)
        self.passage_by_id = PassageIds(self)

    def read_bodies_at_random(self) -> None:
        """Read each body's pages alone, not the disk's read-ahead around them (an archive
        index's bodies do not stay cached: pages.py)."""
        if isinstance(self._bodies, mmap.mmap) and hasattr(mmap, "MADV_RANDOM"):
            self._bodies.madvise(mmap.MADV_RANDOM)

    def prefetch_bodies(self, articles) -> None:
        """Start reading the bodies of these articles not read yet, all at once: a fresh
        question at 10M read the ~10 it quotes one after another (~3 ms; pages.py)."""
        if not isinstance(self._bodies, mmap.mmap) or not hasattr(mmap, "MADV_WILLNEED"):
            return
        for a in articles:
            if getattr(a, "_body", "") is None and a._span[1]:
                lo = a._span[0] - a._span[0] % mmap.PAGESIZE
                self._bodies.madvise(mmap.MADV_WILLNEED, lo, a._span[0] + a._span[1] - lo)

    def _read_body(self, offset: int, length: int) -> str:
        return bytes(self._bodies[offset:offset + length]).decode("utf-8", "surrogatepass")

    def passage_spans(self, article_id: str) -> list[tuple[int, int, str | None]]:
        """(start, end, heading) of one article's passages, read off the rows."""
        rows = self.rows[self.article_rows(article_id)]
        return [(int(r[_START]), int(r[_END]), None if r[_HEADING] < 0 else
                 self.headings[int(r[_HEADING])]) for r in rows]

    def article_rows(self, article_id: str) -> range:
        """The passage rows of one article, in paragraph order."""
        art = self.article_index[article_id]
        return range(int(self.article_first[art]), int(self.article_first[art + 1]))
