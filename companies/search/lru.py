"""A bounded, thread-safe least-recently-used cache of computed values.

``functools.lru_cache`` fixes its size when the function is defined; this one reads its size
when it stores, so the setting can change (tests, ``override_settings``). The value is computed
outside the lock: two threads asking for the same new key may both compute it (the results are
equal), but no thread waits for another's model call.
"""

import threading
from collections import OrderedDict


class LRUCache:
    def __init__(self, max_size):
        """``max_size``: a number, or a callable giving it (0: store nothing)."""
        self._max_size = max_size if callable(max_size) else (lambda: max_size)
        self._items = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_compute(self, key, compute):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = compute()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > max(self._max_size(), 0):
                self._items.popitem(last=False)
        return value

    def __len__(self):
        return len(self._items)

    def clear(self):
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0
