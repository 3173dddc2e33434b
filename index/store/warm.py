"""Map a loaded index's files into a long-lived process ahead of its questions.

The index's arrays are memory-mapped (opening is instant at any size, and a one-shot `ask`
reads only the pages it needs). A question at a million passages then touches ~100 pages of
sentence vectors and posting lists that this process has not mapped yet, even when the kernel
holds them in its page cache: each is a page fault (~5 µs here), ~0.5 ms of a 5 ms answer
(docs/benchmarks.md, "Scale"). A bot or a prompt answers for hours, so it maps them once, in
a background thread, right after loading (Citebot.keep_warm): one read per page, no copy. Not
done when the files are a large share of the memory: warming would push out what the
process and the rest of the machine use more.
"""

from __future__ import annotations

import mmap
import os
import threading

import numpy as np

from .pages import map_of

# Warm only what fits comfortably: at most this share of the machine's memory. The pages are
# page cache (the kernel takes them back under pressure), and 0.45 lets in what every question
# at 10M archive passages reads (10.5 GB on the 24 GB machine; 0.25 left out its postings,
# 0.40 its sentence codes).
WARM_SHARE = 0.45
_PAGE = 4096
_CHUNK = 64 << 20  # bytes touched per numpy call: the GIL is free between two


def mapped_arrays(store) -> list[np.ndarray]:
    """The memory-mapped arrays a question reads at random: sentence vectors, the passage
    table's rows and spans, and the BM25 postings (loaded here if they were not).

    An archive index is larger than the memory (43 GB at 10M passages): only what every
    question reads is mapped in, the int8 passage vectors that score the PQ candidates, the
    sentences' PQ codes, the table's rows and spans, and the BM25 postings with their impact
    prefixes (10.5 GB at 10M; mapping the postings in took fresh questions from 61 to 25 ms
    p50 after a restart, docs/benchmarks.md); its sentence and exact vectors stay on disk
    (pages.py)."""
    common = [store.table.rows, store.table.spans,
              *(store.bm25.scores[name] for name in ("data", "indices", "indptr"))]
    if store.exact is not None:
        arrays = [*(store.codes or ()), *common]
        if store.sentence_codes is not None:
            arrays.append(store.sentence_codes.codes)
        if store.bm25.impacts is not None:
            arrays += store.bm25.impacts.mapped()
    else:
        arrays = [store.sentence_vectors, *common]
    return [a for a in arrays if a.size]


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not Linux-like: assume little
        return 0


def touch(arrays: list[np.ndarray]) -> int:
    """Read one byte of every page of each array (mapping it into this process); the number
    of bytes covered. (A generation replaced meanwhile stays readable: its mapping keeps the
    files.)"""
    done = 0
    for arr in arrays:
        if not arr.flags.c_contiguous:
            continue
        whole = map_of(arr)
        if whole is not None and hasattr(mmap, "MADV_WILLNEED"):
            # One request for the whole file: a mapping advised MADV_RANDOM (pages.py) would
            # otherwise be read a page per fault.
            whole.madvise(mmap.MADV_WILLNEED)
        flat = arr.reshape(-1).view(np.uint8)
        for start in range(0, len(flat), _CHUNK):
            int(flat[start:start + _CHUNK:_PAGE].max())
            done += min(_CHUNK, len(flat) - start)
    return done


def warm_in_background(store, share: float | None = None) -> threading.Thread | None:
    """Start mapping the store's arrays in a daemon thread; None when they are more than
    ``share`` (WARM_SHARE) of the machine's memory, or nothing is mapped."""
    arrays = mapped_arrays(store)
    size = sum(a.nbytes for a in arrays)
    limit = (WARM_SHARE if share is None else share) * physical_memory()
    if not arrays or size > limit:
        return None
    def run():
        touch(arrays)
        codes = getattr(store, "_random", {}).get("codes")
        if codes is not None:
            codes.resident = True  # in memory now: no read-ahead advice per question

    thread = threading.Thread(target=run, daemon=True, name="citebot-warm")
    thread.start()
    return thread
