"""A least-recently-used cache bounded by the characters it holds, not by its entries.

Citation lookups keep per-article derived text (a case-folded body, a normalized body with an
offset map) so that repeated lookups are fast. Kept for every article they cost ~39 bytes per
corpus character (a list of Python ints per character); bounded, they cost at most
CITE_CACHE_CHARS characters' worth (offsets held as 4-byte integers), whatever the corpus.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

CITE_CACHE_CHARS = 8_000_000  # ~70 MB at most (text + 4-byte offsets, and the folded text)


class CharBudgetCache:
    """``get(key, make, size)``: the cached value, or ``make()`` remembered; least recently
    used entries are dropped once the sizes add up past ``budget`` (one entry larger than the
    budget is returned but not kept)."""

    def __init__(self, budget: int | None = None):
        self.budget = CITE_CACHE_CHARS if budget is None else budget
        self.size = 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, make: Callable, size: Callable[[object], int]):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        value = make()
        n = size(value)
        if n > self.budget:
            return value
        with self._lock:
            if key not in self._items:
                self._items[key] = (value, n)
                self.size += n
            while self.size > self.budget:
                _k, (_v, m) = self._items.popitem(last=False)
                self.size -= m
        return value

    def __len__(self) -> int:
        return len(self._items)
