"""Scattered reads of memory-mapped arrays (index/store/pages.py): archive indexes only."""

from __future__ import annotations

import mmap

import numpy as np
import pytest

from index.store.pages import PAGE, RandomRows, map_of


@pytest.fixture
def mapped(tmp_path):
    """A float16 .npy of 1,001 rows of 384 (its end not on a page boundary), memory-mapped as
    the store maps sentence vectors (a plain-array view of the memmap)."""
    arr = np.random.default_rng(0).standard_normal((1001, 384)).astype(np.float16)
    np.save(tmp_path / "v.npy", arr)
    return arr, np.load(tmp_path / "v.npy", mmap_mode="r").view(np.ndarray)


def test_rows_are_found_in_the_mapping(mapped):
    arr, view = mapped
    rr = RandomRows(view)
    assert rr.map is map_of(view) and isinstance(rr.map, mmap.mmap)
    assert rr.start == 128 and rr.row == 768  # after the .npy header
    for r in (0, 1, 5, 500, 1000):  # the bytes the offsets point at are the row's
        assert rr.map[rr.start + r * rr.row:rr.start + (r + 1) * rr.row] == arr[r].tobytes()
    assert (rr.start + 1001 * rr.row) % PAGE  # the last page is partial: prefetch must cope


def test_prefetch_takes_any_rows(mapped):
    arr, view = mapped
    rr = RandomRows(view)
    rr.prefetch(np.array([1000, 3, 4, 5, 999, 0, 511]))  # unsorted, adjacent, first, last
    rr.prefetch(np.arange(1001))
    rr.prefetch(np.zeros(0, dtype=np.int64))
    assert np.array_equal(view[[1000, 3, 0]], arr[[1000, 3, 0]])


def test_arrays_in_memory_are_left_alone():
    rr = RandomRows(np.zeros((10, 4), dtype=np.float32))
    assert rr.map is None
    rr.prefetch(np.array([1, 2]))  # nothing to do, no error


@pytest.mark.parametrize("row", [100, 768, PAGE, 6000])
def test_prefetch_advises_exactly_the_rows_pages(mapped, row):
    """The runs advised cover every page of the rows asked and no other, one call per run of
    adjacent pages (rows smaller and larger than a page)."""
    class Recorder:  # stands in for the mapping: which ranges were advised
        calls = []

        def madvise(self, option, start, length):
            assert option == mmap.MADV_WILLNEED and start % PAGE == 0 and length % PAGE == 0
            self.calls.append((start // PAGE, (start + length) // PAGE - 1))

    rr = RandomRows(mapped[1])
    rr.map, rr.row = Recorder(), row
    rows = np.random.default_rng(row).integers(0, 5000, 300)
    rr.prefetch(rows)
    runs = rr.map.calls
    advised = {p for a, b in runs for p in range(a, b + 1)}
    wanted = {p for r in rows.tolist() for p in range((rr.start + r * row) // PAGE,
                                                      (rr.start + (r + 1) * row - 1) // PAGE + 1)}
    assert advised == wanted
    assert all(a[1] + 1 < b[0] for a, b in zip(runs, runs[1:]))  # sorted, not adjacent
