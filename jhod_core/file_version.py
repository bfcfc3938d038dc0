"""Keys for caches of loaded files: a file counts as changed when its size or modification time does."""

from __future__ import annotations

import os
from pathlib import Path


def file_version(*paths: str | os.PathLike) -> tuple:
    """((resolved path, size, modification time in ns), ...) of existing files, a hashable cache key:
    re-exported weights or an edited hand file get a new key, so a long-lived process reloads them."""
    versions = []
    for path in paths:
        path = Path(path)
        stat = path.stat()
        versions.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
    return tuple(versions)


class BoundedCache:
    """A small cache of loaded things (models, hand files) keyed by ``file_version``: holds the ``size`` most
    recently used entries, so a long-lived process (Blender) that re-exports weights does not keep every old copy."""

    def __init__(self, size: int = 2):
        self.size, self._items = size, {}

    def get(self, key, load):
        """The entry for ``key``, made with ``load()`` if absent."""
        if key in self._items:
            self._items[key] = self._items.pop(key)  # most recent last
            return self._items[key]
        value = load()
        self._items[key] = value
        while len(self._items) > self.size:
            self._items.pop(next(iter(self._items)))
        return value

    def clear(self) -> None:
        self._items.clear()
