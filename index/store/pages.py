"""Random rows of memory-mapped files larger than the page cache (archive indexes).

A question over an archive index reads ~1,000 exact passage vectors and the sentence vectors of
its candidates, rows scattered over files of 7 and 21 GB at 10 million passages: more than
this machine's memory, so most reads go to the disk. Two kernel defaults made that slow:
- each page fault on a file mapping reads around it (the device's read_ahead_kb: 8 MB here),
  so ~1,300 scattered rows read hundreds of megabytes: MADV_RANDOM reads just the page;
- the faults come one at a time, each waiting for its read: MADV_WILLNEED on the rows' pages
  first issues all of their reads at once, and the disk serves them in parallel.
10M passages, 100 questions on a cold cache: 431 ms a full answer (p50) with neither, 123 ms
with MADV_RANDOM alone (docs/benchmarks.md, "Archive-size index").

Indexes that fit in memory do not use this: their pages stay cached, and warm.py maps them in
with sequential reads, which MADV_RANDOM would make one page at a time.
"""

from __future__ import annotations

import mmap

import numpy as np

PAGE = mmap.PAGESIZE


def map_of(arr) -> mmap.mmap | None:
    """The mmap under a memory-mapped array (np.load(mmap_mode=...) or a view of one)."""
    while arr is not None and not isinstance(arr, mmap.mmap):
        arr = getattr(arr, "base", None)
    return arr


class RandomRows:
    """Reads of scattered rows of a memory-mapped 2-D array: random-access advice on its
    mapping, and ``prefetch`` to start the reads of the rows about to be gathered."""

    def __init__(self, arr: np.ndarray):
        self.resident = False  # set once the whole array is known to be in memory (warm.py)
        self.map = map_of(arr) if hasattr(mmap, "MADV_RANDOM") else None
        if self.map is None or arr.ndim != 2 or not arr.flags.c_contiguous:
            self.map = None  # not a mapped file (or no madvise here): plain indexing
            return
        self.map.madvise(mmap.MADV_RANDOM)
        # Where the array starts in the mapping (after the .npy header): the mapping's own
        # address from a temporary read-only view of it.
        base = np.frombuffer(self.map, dtype=np.uint8).ctypes.data
        self.start, self.row = arr.ctypes.data - base, arr.strides[0]

    def prefetch(self, rows: np.ndarray) -> None:
        """Start reading the pages of ``rows`` (any order) so that gathering them waits for
        all of them together, not for one after another."""
        if self.map is None or self.resident or not len(rows):
            return
        rows = np.unique(np.asarray(rows, dtype=np.int64))  # sorted: pages in file order
        first = (self.start + rows * self.row) // PAGE
        last = (self.start + (rows + 1) * self.row - 1) // PAGE
        # One call per run of adjacent pages: a run starts at a row whose first page is past
        # the page after the last one of the row before it.
        starts = np.flatnonzero(np.r_[True, first[1:] > last[:-1] + 1])
        ends = np.r_[starts[1:] - 1, len(rows) - 1]
        for lo, hi in zip(first[starts].tolist(), last[ends].tolist()):
            self.map.madvise(mmap.MADV_WILLNEED, lo * PAGE, (hi - lo + 1) * PAGE)
